//! The protocol vectors in `vectors/links.json`: exact encoding, decoding of every form, bad links.

use psi_link::{
    Decoder, Environment, LinkError, LinkKind, LinkOrigin, LinkRequest, LinkTarget, decode, encode,
    encode_payload,
};
use serde_json::Value;

struct Vector {
    env: Environment,
    /// The vector's payload exactly as written in the file.
    payload: Value,
    request: LinkRequest,
    app_link: String,
    deep_link: String,
    standard_base64_app_link: String,
}

fn file() -> Value {
    serde_json::from_str(include_str!("../../../../vectors/links.json")).unwrap()
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {key}"))
        .to_owned()
}

fn vectors() -> Vec<Vector> {
    let vectors: Vec<Vector> = file()["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            env: text(v, "env").parse().unwrap(),
            payload: v["payload"].clone(),
            request: serde_json::from_value(v["payload"].clone()).unwrap(),
            app_link: text(v, "app_link"),
            deep_link: text(v, "deep_link"),
            standard_base64_app_link: text(v, "standard_base64_app_link"),
        })
        .collect();
    assert!(vectors.len() >= 20, "the vector file lost its links");
    vectors
}

#[test]
fn the_environment_table_matches_the_vector_file() {
    let table = &file()["environments"];
    for env in Environment::ALL {
        assert_eq!(table[env.name()]["scheme"], env.scheme());
        assert_eq!(table[env.name()]["domain"], env.domain());
    }
    assert_eq!(table.as_object().unwrap().len(), Environment::ALL.len());
}

#[test]
fn encoding_each_vector_reproduces_its_app_and_deep_link_byte_for_byte() {
    for v in vectors() {
        let target = LinkTarget::env(v.env);
        assert_eq!(
            encode(&v.request, &target, LinkKind::App).unwrap(),
            v.app_link
        );
        assert_eq!(
            encode(&v.request, &target, LinkKind::Deep).unwrap(),
            v.deep_link
        );
        // The typed request keeps every field of the vector.
        assert_eq!(serde_json::to_value(&v.request).unwrap(), v.payload);
        assert!(v.app_link.ends_with(&encode_payload(&v.request)));
    }
}

#[test]
fn decoding_each_vector_link_gives_its_request_environment_and_kind() {
    for v in vectors() {
        let app = decode(&v.app_link).unwrap();
        assert_eq!(
            (&app.request, app.kind, &app.origin),
            (&v.request, LinkKind::App, &LinkOrigin::Environment(v.env))
        );
        let deep = decode(&v.deep_link).unwrap();
        assert_eq!(
            (&deep.request, deep.kind, &deep.origin),
            (&v.request, LinkKind::Deep, &LinkOrigin::Environment(v.env))
        );
    }
}

#[test]
fn decoding_the_standard_base64_link_gives_the_same_request_as_the_app_link() {
    let vectors = vectors();
    assert!(
        vectors
            .iter()
            .any(|v| v.standard_base64_app_link.ends_with('=')),
        "vectors include padded links"
    );
    for v in vectors {
        let decoded = decode(&v.standard_base64_app_link).unwrap();
        assert_eq!(decoded.request, decode(&v.app_link).unwrap().request);
        assert_eq!(decoded.origin, LinkOrigin::Environment(v.env));
    }
}

/// Each `bad` vector's `why`, mapped to the error it must give.
fn expected_code(why: &str) -> &'static str {
    match why {
        "empty payload" => "empty_payload",
        "not base64" => "bad_base64",
        "not JSON" => "not_json",
        "JSON but not an object" => "not_an_object",
        "wrong path" => "wrong_path",
        "unknown scheme" => "unknown_scheme",
        "callback with a script scheme" => "refused_callback_scheme",
        w if w.starts_with("sourceURL that is not a web URL") => "source_url_not_http",
        other => panic!("no expected error for bad vector `{other}`: add it here"),
    }
}

#[test]
fn every_bad_vector_fails_with_its_own_error() {
    let bad = file()["bad"].as_array().unwrap().clone();
    assert!(bad.len() >= 8);
    for v in bad {
        let (link, why) = (text(&v, "link"), text(&v, "why"));
        let err = decode(&link).expect_err(&why);
        assert_eq!(err.code(), expected_code(&why), "{why}: {err}");
    }
}

#[test]
fn the_bad_source_url_vector_is_refused_with_the_url_named() {
    let link = file()["bad"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| text(v, "why").starts_with("sourceURL"))
        .map(|v| text(v, "link"))
        .unwrap();
    assert_eq!(
        decode(&link).unwrap_err(),
        LinkError::SourceUrlNotHttp {
            url: "file:///etc/passwd".into()
        }
    );
}

fn payload_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

#[test]
fn every_platform_domain_and_scheme_decodes_with_its_origin() {
    let v = &vectors()[0];
    let payload = payload_of(&v.app_link);
    let cases = [
        (
            "https://proofspace.id",
            LinkKind::App,
            LinkOrigin::Environment(Environment::Production),
        ),
        (
            "https://test.proofspace.id",
            LinkKind::App,
            LinkOrigin::Environment(Environment::Test),
        ),
        (
            "https://stage.proofspace.id",
            LinkKind::App,
            LinkOrigin::Environment(Environment::Staging),
        ),
        (
            "https://prod-test.proofspace.id",
            LinkKind::App,
            LinkOrigin::Environment(Environment::Preprod),
        ),
        (
            "https://app.platform.proofspace.id",
            LinkKind::App,
            LinkOrigin::WebLibrary(Environment::Production),
        ),
        (
            "https://app.test.proofspace.id",
            LinkKind::App,
            LinkOrigin::WebLibrary(Environment::Test),
        ),
        (
            "https://app.stage.proofspace.id",
            LinkKind::App,
            LinkOrigin::WebLibrary(Environment::Staging),
        ),
        (
            "https://platform.proofspace.id",
            LinkKind::App,
            LinkOrigin::WebLibrary(Environment::Production),
        ),
        (
            "zakaio://proofspace.id",
            LinkKind::Deep,
            LinkOrigin::Environment(Environment::Production),
        ),
        (
            "testzakaio://test.proofspace.id",
            LinkKind::Deep,
            LinkOrigin::Environment(Environment::Test),
        ),
        (
            "stagezakaio://stage.proofspace.id",
            LinkKind::Deep,
            LinkOrigin::Environment(Environment::Staging),
        ),
        (
            "prodtestzakaio://prod-test.proofspace.id",
            LinkKind::Deep,
            LinkOrigin::Environment(Environment::Preprod),
        ),
        (
            "zakaio://app.platform.proofspace.id",
            LinkKind::Deep,
            LinkOrigin::WebLibrary(Environment::Production),
        ),
        (
            "HTTPS://APP.Test.ProofSpace.ID",
            LinkKind::App,
            LinkOrigin::WebLibrary(Environment::Test),
        ),
        (
            "ZakaIO://ProofSpace.id",
            LinkKind::Deep,
            LinkOrigin::Environment(Environment::Production),
        ),
    ];
    for (base, kind, origin) in cases {
        let decoded = decode(&format!("{base}/native/execute/{payload}"))
            .unwrap_or_else(|e| panic!("{base}: {e}"));
        assert_eq!((decoded.kind, &decoded.origin), (kind, &origin), "{base}");
        assert_eq!(decoded.request, v.request);
        assert_eq!(decoded.origin.environment(), origin.environment());
    }
}

#[test]
fn a_deep_link_whose_domain_is_of_another_environment_is_refused() {
    let payload = payload_of(&vectors()[0].app_link).to_owned();
    for base in [
        "zakaio://test.proofspace.id",
        "testzakaio://proofspace.id",
        "stagezakaio://app.test.proofspace.id",
    ] {
        let err = decode(&format!("{base}/native/execute/{payload}")).unwrap_err();
        assert_eq!(err.code(), "unknown_domain", "{base}");
    }
}

#[test]
fn unknown_domains_ports_and_user_info_are_refused() {
    let payload = payload_of(&vectors()[0].app_link).to_owned();
    for (host, shown) in [
        ("evil.example", "evil.example"),
        ("proofspace.id:443", "proofspace.id:443"),
        ("user@proofspace.id", "user@proofspace.id"),
        ("proofspace.id.evil.example", "proofspace.id.evil.example"),
        ("", ""),
    ] {
        let err = decode(&format!("https://{host}/native/execute/{payload}")).unwrap_err();
        assert_eq!(
            err,
            LinkError::UnknownDomain {
                domain: shown.into()
            }
        );
    }
}

#[test]
fn padding_percent_encoding_slash_query_fragment_and_whitespace_are_tolerated() {
    for v in vectors() {
        let standard = payload_of(&v.standard_base64_app_link);
        let url_safe = payload_of(&v.app_link);
        let base = format!("https://{}/native/execute/", v.env.domain());
        let percent = standard
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let padding = "=".repeat((4 - url_safe.len() % 4) % 4);
        let forms = [
            format!("{base}{percent}"),
            format!("{base}{url_safe}{padding}"),
            format!("{base}{}", standard.trim_end_matches('=')),
            format!("{base}{url_safe}/"),
            format!("{base}{standard}/"),
            format!("{base}{url_safe}?utm_source=qr&x=1"),
            format!("{base}{url_safe}#top"),
            format!("{base}{standard}/?a=b#c"),
            format!("  {base}{url_safe}\n"),
        ];
        for link in forms {
            assert_eq!(
                decode(&link)
                    .unwrap_or_else(|e| panic!("{link}: {e}"))
                    .request,
                v.request,
                "{link}"
            );
        }
    }
}

#[test]
fn the_path_must_be_native_execute() {
    let payload = payload_of(&vectors()[0].app_link).to_owned();
    for path in [
        "/native/Execute/",
        "/native/",
        "/execute/",
        "/x/native/execute/",
        "//native/execute/",
    ] {
        let err = decode(&format!("https://proofspace.id{path}{payload}")).unwrap_err();
        assert_eq!(err.code(), "wrong_path", "{path}");
    }
    assert_eq!(
        decode("https://proofspace.id").unwrap_err(),
        LinkError::WrongPath {
            path: String::new()
        }
    );
    for empty in [
        "/native/execute",
        "/native/execute/",
        "/native/execute//",
        "/native/execute/?x=1",
    ] {
        assert_eq!(
            decode(&format!("https://proofspace.id{empty}")).unwrap_err(),
            LinkError::EmptyPayload,
            "{empty}"
        );
    }
}

#[test]
fn text_that_is_not_a_link_is_refused_as_such() {
    for text in [
        "",
        "   ",
        "proofspace.id/native/execute/e30",
        "https:/proofspace.id/native/execute/e30",
        "://x",
        "1ab://x/y",
    ] {
        assert_eq!(decode(text).unwrap_err(), LinkError::NotALink, "{text:?}");
    }
}

#[test]
fn a_configured_target_is_accepted_only_by_a_decoder_that_knows_it() {
    let v = &vectors()[0];
    let own = LinkTarget::custom("links.example.org", "exampleapp").unwrap();
    let decoder = Decoder::new().with_target(own.clone());
    for kind in [LinkKind::App, LinkKind::Deep] {
        let link = encode(&v.request, &own, kind).unwrap();
        let decoded = decoder.decode(&link).unwrap();
        assert_eq!(
            (decoded.request.clone(), decoded.kind),
            (v.request.clone(), kind)
        );
        let scheme = (kind == LinkKind::Deep).then(|| "exampleapp".to_owned());
        assert_eq!(
            decoded.origin,
            LinkOrigin::Custom {
                domain: "links.example.org".into(),
                scheme
            }
        );
        assert_eq!(decoded.origin.environment(), None);
        assert!(
            decode(&link).is_err(),
            "the default decoder must not accept {link}"
        );
    }
    let payload = payload_of(&v.app_link);
    let wrong_domain = decoder.decode(&format!(
        "exampleapp://proofspace.id/native/execute/{payload}"
    ));
    assert_eq!(
        wrong_domain.unwrap_err(),
        LinkError::UnknownDomain {
            domain: "proofspace.id".into()
        }
    );
    // A deployment's own domain may be paired with a platform app's scheme.
    let paired = LinkTarget::custom("links.example.org", "zakaio").unwrap();
    let link = encode(&v.request, &paired, LinkKind::Deep).unwrap();
    assert_eq!(
        decode(&link).unwrap_err(),
        LinkError::UnknownDomain {
            domain: "links.example.org".into()
        }
    );
    let decoded = Decoder::new().with_target(paired).decode(&link).unwrap();
    assert_eq!(
        decoded.origin,
        LinkOrigin::Custom {
            domain: "links.example.org".into(),
            scheme: Some("zakaio".into())
        }
    );
    // The platform's own links still decode.
    assert_eq!(
        decoder.decode(&v.deep_link).unwrap().origin,
        LinkOrigin::Environment(v.env)
    );
}

#[test]
fn payload_errors_are_distinguished() {
    let link = |payload: &str| format!("https://proofspace.id/native/execute/{payload}");
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let code = |payload: &str| decode(&link(payload)).unwrap_err().code();
    assert_eq!(code(&b64(&[0xff, 0xfe, 0x7b])), "not_utf8");
    assert_eq!(code(&b64(b"{\"actionId\":")), "not_json");
    assert_eq!(code(&b64(b"{} x")), "not_json");
    assert_eq!(code(&b64(b"\"text\"")), "not_an_object");
    assert_eq!(code(&b64(b" null")), "not_an_object");
    assert_eq!(
        code(&b64(b"[\"a\",\"1\",\"GbzPqgnU4XsMs7xg9mYJW8\"]")),
        "not_an_object"
    );
    assert_eq!(
        code(&b64(
            b"{\"actionId\":5,\"serviceDid\":\"GbzPqgnU4XsMs7xg9mYJW8\"}"
        )),
        "invalid_field"
    );
    assert_eq!(
        code(&b64(b"{\"actionId\":\"1\",\"actionId\":\"2\"}")),
        "invalid_field"
    );
    assert_eq!(
        code(&b64(b"{\"serviceDid\":\"GbzPqgnU4XsMs7xg9mYJW8\"}")),
        "missing_field"
    );
    assert_eq!(
        code(&b64(
            b"{\"actionId\":\"1\",\"serviceDid\":\"x\",\"sourceURL\":\"https://a.example/\"}"
        )),
        "malformed_service_did"
    );
    assert_eq!(code("e30-+"), "bad_base64");
    assert_eq!(code("e"), "bad_base64");
}

#[test]
fn links_over_the_limit_are_refused_when_encoding_and_decoding() {
    let mut req = vectors()[0].request.clone();
    let cred = req.prepared_credentials.as_ref().unwrap()[0]
        .credential_id
        .clone();
    req.set_prefilled(&cred, "Photo", &"x".repeat(psi_link::MAX_LINK_LEN));
    let target = LinkTarget::env(Environment::Production);
    let err = encode(&req, &target, LinkKind::App).unwrap_err();
    assert!(
        matches!(err, LinkError::TooLong { max: psi_link::MAX_LINK_LEN, len } if len > psi_link::MAX_LINK_LEN)
    );

    let long_link = format!(
        "https://proofspace.id/native/execute/{}",
        encode_payload(&req)
    );
    assert!(matches!(
        decode(&long_link).unwrap_err(),
        LinkError::TooLong { .. }
    ));

    // Just under the limit still works.
    let mut fits = vectors()[0].request.clone();
    let base = encode(&fits, &target, LinkKind::App).unwrap().len();
    // Each 3 bytes of JSON become 4 base64 characters; the attribute adds `,{"name":"P","value":"…"}`.
    let room = (psi_link::MAX_LINK_LEN - base) * 3 / 4 - 30;
    fits.set_prefilled(&cred, "P", &"y".repeat(room));
    let link = encode(&fits, &target, LinkKind::App).unwrap();
    assert!(link.len() <= psi_link::MAX_LINK_LEN && link.len() > psi_link::MAX_LINK_LEN - 64);
    assert_eq!(decode(&link).unwrap().request, fits);
}

#[test]
fn encoding_validates_the_request_first() {
    let target = LinkTarget::env(Environment::Test);
    let no_action = LinkRequest {
        service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
        ..Default::default()
    };
    assert_eq!(
        encode(&no_action, &target, LinkKind::App),
        Err(LinkError::MissingField { field: "actionId" })
    );
}

#[test]
fn decoded_links_serialise_for_json_output() {
    let v = &vectors()[0];
    let json = serde_json::to_value(decode(&v.deep_link).unwrap()).unwrap();
    assert_eq!(json["kind"], "deep");
    assert_eq!(
        json["origin"],
        serde_json::json!({"environment": "production"})
    );
    assert_eq!(json["request"], v.payload);
}
