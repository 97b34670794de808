//! Property tests: decoding never panics, and encode → decode is the identity on valid requests.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use psi_link::{
    Attribute, Decoder, Environment, LinkError, LinkKind, LinkRequest, LinkTarget, MAX_LINK_LEN,
    PreparedCredential, decode, encode, encode_payload,
};

/// Any text: every Unicode scalar value (controls, quotes, emoji, astral planes), short or long.
fn text() -> impl Strategy<Value = String> {
    let chars = |max| prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter);
    prop_oneof![
        4 => chars(12),
        2 => "[a-zA-Z0-9 ]{0,20}",
        2 => "[😀-🙏🇦-🇿 ]{0,8}",
        1 => Just(String::new()),
        1 => chars(600),
    ]
}

fn did() -> impl Strategy<Value = String> {
    "[1-9A-HJ-NP-Za-km-z]{21,22}"
}

fn credential() -> impl Strategy<Value = PreparedCredential> {
    let tag = text().prop_filter("tags are not empty", |t| !t.is_empty());
    let attributes = prop::collection::vec(
        (text(), text()).prop_map(|(name, value)| Attribute { name, value }),
        0..6,
    );
    (did(), any::<u32>(), tag, attributes).prop_map(|(did, seq, tag, attributes)| {
        PreparedCredential {
            credential_id: format!("{did}:3:CL:{seq}:{tag}"),
            attributes,
        }
    })
}

fn url_path() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..30).prop_map(|chars| {
        chars
            .into_iter()
            .filter(|c| !c.is_control() && !c.is_whitespace())
            .collect()
    })
}

fn callback() -> impl Strategy<Value = Option<String>> {
    let scheme = prop_oneof![
        Just("https".to_owned()),
        Just("http".to_owned()),
        Just("googlechrome".to_owned()),
        "[a-z][a-z0-9+.-]{0,12}".prop_filter("refused schemes are tested elsewhere", |s| {
            ![
                "javascript",
                "vbscript",
                "data",
                "file",
                "blob",
                "filesystem",
            ]
            .contains(&s.as_str())
        }),
    ];
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        Just(Some("googlechrome://".to_owned())),
        (scheme, "[a-z][a-z0-9-]{0,11}(\\.[a-z]{2,6})?", url_path())
            .prop_map(|(s, host, path)| Some(format!("{s}://{host}/{path}"))),
    ]
}

fn source_url() -> impl Strategy<Value = Option<String>> {
    let url = ("https?", "[a-z0-9]{1,10}\\.example", url_path())
        .prop_map(|(s, host, path)| format!("{s}://{host}/{path}"));
    prop_oneof![3 => Just(None), 1 => url.prop_map(Some)]
}

/// Requests that pass validation: with or without `sourceURL`, every optional field present or not.
fn valid_request() -> impl Strategy<Value = LinkRequest> {
    let credentials = prop_oneof![
        Just(None),
        Just(Some(Vec::new())),
        prop::collection::vec(credential(), 1..4).prop_map(Some),
        prop::collection::vec(credential(), 10..30).prop_map(Some),
    ];
    let nonempty = text().prop_filter("required ids are not empty", |t| !t.is_empty());
    (
        source_url(),
        prop::option::of(text()),
        nonempty,
        did(),
        credentials,
        callback(),
        any::<(bool, bool)>(),
        // psi's own extension: the start page's session.
        proptest::option::of("[A-Za-z0-9_-]{22}"),
    )
        .prop_map(
            |(
                source_url,
                id,
                action_id,
                service_did,
                prepared_credentials,
                callback,
                (drop_action, drop_did),
                psi_session,
            )| {
                // With a sourceURL the other fields are optional.
                let optional = source_url.is_some();
                LinkRequest {
                    id,
                    action_id: (!(optional && drop_action)).then_some(action_id),
                    service_did: (!(optional && drop_did)).then_some(service_did),
                    prepared_credentials,
                    callback,
                    source_url,
                    psi_session,
                }
            },
        )
}

fn target() -> impl Strategy<Value = LinkTarget> {
    prop_oneof![
        prop::sample::select(Environment::ALL.to_vec()).prop_map(LinkTarget::env),
        Just(LinkTarget::custom("links.example.org", "example-app").unwrap()),
    ]
}

fn decoder() -> Decoder {
    Decoder::new().with_target(LinkTarget::custom("links.example.org", "example-app").unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_the_identity_on_valid_requests(
        req in valid_request(),
        target in target(),
        deep in any::<bool>(),
    ) {
        prop_assert_eq!(req.validate(), Ok(()));
        let kind = if deep { LinkKind::Deep } else { LinkKind::App };
        match encode(&req, &target, kind) {
            Ok(link) => {
                let decoded = decoder().decode(&link).unwrap();
                prop_assert_eq!(&decoded.request, &req);
                prop_assert_eq!(decoded.kind, kind);
                // The standard alphabet with padding, as older library builds emitted it, decodes the same.
                let standard = STANDARD.encode(req.to_json());
                let old = format!("https://{}/native/execute/{standard}", target.domain());
                if old.len() <= MAX_LINK_LEN {
                    prop_assert_eq!(decoder().decode(&old).unwrap().request, req);
                }
            }
            Err(LinkError::TooLong { len, max }) => {
                let payload = encode_payload(&req);
                prop_assert!(len > max && payload.len() > max - 64, "{len} {max}");
            }
            Err(other) => prop_assert!(false, "valid request refused: {other}"),
        }
    }

    #[test]
    fn decoding_any_text_never_panics(text in any::<String>()) {
        let _ = decode(&text);
    }

    #[test]
    fn decoding_any_bytes_after_a_link_prefix_never_panics(
        prefix in prop::sample::select(vec![
            "https://proofspace.id/native/execute/",
            "zakaio://proofspace.id/native/execute/",
            "https://app.test.proofspace.id/native/execute/",
            "example-app://links.example.org/native/execute/",
            "https://proofspace.id/native/",
            "https://",
        ]),
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        as_base64 in any::<bool>(),
    ) {
        let rest = if as_base64 { URL_SAFE_NO_PAD.encode(&bytes) } else { String::from_utf8_lossy(&bytes).into_owned() };
        let _ = decoder().decode(&format!("{prefix}{rest}"));
    }

    #[test]
    fn decoding_json_like_payloads_never_panics(json in r#"[ {}\[\]":,0-9a-zA-Z\\.-]{0,120}"#) {
        let link = format!("https://proofspace.id/native/execute/{}", URL_SAFE_NO_PAD.encode(json));
        let _ = decode(&link);
    }

    #[test]
    fn decoding_a_mutated_link_never_panics(
        req in valid_request(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0..3u8), 1..6),
    ) {
        let Ok(link) = encode(&req, &LinkTarget::env(Environment::Production), LinkKind::App) else { return Ok(()) };
        let mut chars: Vec<char> = link.chars().collect();
        for (at, c, op) in edits {
            let i = at.index(chars.len());
            match op {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => { chars.remove(i); }
            }
            if chars.is_empty() { break; }
        }
        let _ = decode(&String::from_iter(chars));
    }
}
