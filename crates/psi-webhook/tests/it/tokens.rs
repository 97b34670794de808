//! Bearer tokens off the happy path: hand-built tokens with odd headers and claims, tampering,
//! algorithm confusion, body binding and the Authorization header.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use psi_webhook::{Claims, Error, PrivateKey, Signer, UnixTime, Validation, Verifier};
use sha2::Sha256;

use crate::common::vectors;

const DID: &str = "9s57yZDBqwfZHdodKXTjKH";
const NOW: UnixTime = UnixTime::from_secs(1_700_000_100);

/// An HS256-signed token with exactly this header and payload JSON.
fn hs256_token(key: &[u8], header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn secret_bytes() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(vectors().sha_secret_base64)
        .unwrap()
}

fn hs256_verify(token: &str) -> Result<Claims, Error> {
    Verifier::shared_secret(vectors().secret()).verify_bearer(token, b"", &Validation::new(), NOW)
}

const HS_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[test]
fn an_hs256_token_with_a_modified_payload_is_refused() {
    let v = vectors();
    let token = v.tokens.iter().find(|t| t.alg == "HS256").unwrap();
    let mut parts: Vec<&str> = token.token.split('.').collect();
    let longer = URL_SAFE_NO_PAD
        .encode(r#"{"iss":"9s57yZDBqwfZHdodKXTjKH","iat":1700000000,"exp":1999999999}"#);
    parts[1] = &longer;
    let forged = parts.join(".");
    let err = hs256_verify(&forged).unwrap_err();
    assert!(matches!(err, Error::TokenSignatureMismatch), "{err:?}");
}

#[test]
fn a_token_without_exp_is_refused() {
    let token = hs256_token(
        &secret_bytes(),
        HS_HEADER,
        r#"{"iss":"9s57yZDBqwfZHdodKXTjKH","iat":1700000000}"#,
    );
    let err = hs256_verify(&token).unwrap_err();
    assert!(matches!(err, Error::MissingExpiry), "{err:?}");
    assert_eq!(err.code(), "missing_exp");
}

#[test]
fn a_token_is_refused_before_its_nbf_and_accepted_within_the_leeway() {
    let key = secret_bytes();
    let early = hs256_token(&key, HS_HEADER, r#"{"nbf":1700000200,"exp":1700000900}"#);
    let err = hs256_verify(&early).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotYetValid {
                nbf: 1_700_000_200,
                now: 1_700_000_100
            }
        ),
        "{err:?}"
    );
    let within_leeway = hs256_token(&key, HS_HEADER, r#"{"nbf":1700000150,"exp":1700000900}"#);
    hs256_verify(&within_leeway).unwrap();
}

#[test]
fn an_audience_array_containing_the_service_did_is_accepted() {
    let token = hs256_token(
        &secret_bytes(),
        HS_HEADER,
        r#"{"aud":["other",  "9s57yZDBqwfZHdodKXTjKH"],"exp":1700000300}"#,
    );
    let claims = Verifier::shared_secret(vectors().secret())
        .verify_bearer(&token, b"", &Validation::new().expect_audience(DID), NOW)
        .unwrap();
    assert_eq!(claims.aud, ["other", DID]);
}

#[test]
fn claims_of_the_wrong_type_make_a_malformed_token() {
    let token = hs256_token(&secret_bytes(), HS_HEADER, r#"{"exp":"tomorrow"}"#);
    let err = hs256_verify(&token).unwrap_err();
    assert!(matches!(err, Error::TokenMalformed(_)), "{err:?}");
    assert_eq!(err.code(), "token_malformed");
}

#[test]
fn critical_header_extensions_are_refused() {
    let header = r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#;
    let token = hs256_token(&secret_bytes(), header, r#"{"exp":1700000300}"#);
    let err = hs256_verify(&token).unwrap_err();
    assert!(
        matches!(err, Error::TokenMalformed(m) if m.contains("crit")),
        "{err:?}"
    );
}

#[test]
fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(r#"{"exp":1700000300}"#);
    let token = format!("{header}.{payload}.");
    for verifier in [
        Verifier::shared_secret(vectors().secret()),
        Verifier::rsa(vectors().public_key()),
    ] {
        let err = verifier
            .verify_bearer(&token, b"", &Validation::new(), NOW)
            .unwrap_err();
        assert!(
            matches!(&err, Error::WrongAlgorithm { found, .. } if found == "none"),
            "{err:?}"
        );
        assert_eq!(err.code(), "wrong_algorithm");
    }
}

#[test]
fn an_hs256_token_keyed_with_the_rsa_public_key_pem_is_refused_by_the_rsa_verifier() {
    // The classic key-confusion forgery: HMAC with the (public) PEM text as the secret.
    let v = vectors();
    let token = hs256_token(
        v.rsa_public_key_spki_pem.as_bytes(),
        HS_HEADER,
        r#"{"exp":1700000300}"#,
    );
    let err = Verifier::rsa(v.public_key())
        .verify_bearer(&token, b"", &Validation::new(), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::WrongAlgorithm { .. }), "{err:?}");
}

#[test]
fn an_rs256_token_is_refused_by_a_shared_secret_verifier() {
    let v = vectors();
    let rs256 = v.tokens.iter().find(|t| t.alg == "RS256").unwrap();
    let err = hs256_verify(&rs256.token).unwrap_err();
    assert!(
        matches!(&err, Error::WrongAlgorithm { found, .. } if found == "RS256"),
        "{err:?}"
    );
}

#[test]
fn malformed_tokens_get_a_malformed_token_error() {
    let v = vectors();
    let good = &v.tokens[1].token;
    let (header, rest) = good.split_once('.').unwrap();
    let cases = [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{good}.extra"),
        format!("!!.{rest}"),
        format!("{}.{rest}", URL_SAFE_NO_PAD.encode("not json")),
        format!("{header}.{}", rest.replace('.', ".%")),
        format!("{header}.@@@.{}", rest.split_once('.').unwrap().1),
    ];
    for token in cases {
        let err = hs256_verify(&token).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TokenMalformed(_) | Error::TokenSignatureMismatch
            ),
            "{token:?}: {err:?}"
        );
    }
    assert!(matches!(
        hs256_verify("a.b").unwrap_err(),
        Error::TokenMalformed(_)
    ));
}

#[test]
fn a_token_bound_to_a_body_is_refused_for_another_body() {
    let signer = Signer::rsa(vectors().pkcs8_key());
    let verifier = Verifier::rsa(vectors().public_key());
    let body = br#"{"actionEventId":"evt-1"}"#;
    let claims = Claims::new(NOW)
        .with_issuer(DID)
        .with_jwt_id("delivery-1")
        .with_body(body);
    let token = signer.bearer_token(&claims).unwrap();

    let verified = verifier
        .verify_bearer(&token, body, &Validation::new().expect_issuer(DID), NOW)
        .unwrap();
    assert_eq!(verified, claims);
    assert_eq!(verified.jti.as_deref(), Some("delivery-1"));
    assert_eq!(verified.exp, NOW.as_secs() + 300);

    let err = verifier
        .verify_bearer(
            &token,
            br#"{"actionEventId":"evt-2"}"#,
            &Validation::new(),
            NOW,
        )
        .unwrap_err();
    assert!(matches!(err, Error::BodyHashMismatch), "{err:?}");
}

#[test]
fn a_body_hash_claim_that_is_not_base64url_is_refused() {
    let token = hs256_token(
        &secret_bytes(),
        HS_HEADER,
        r#"{"exp":1700000300,"body_sha3_256":"not base64!"}"#,
    );
    let err = hs256_verify(&token).unwrap_err();
    assert!(matches!(err, Error::BadBase64 { .. }), "{err:?}");
}

#[test]
fn the_authorization_header_needs_the_bearer_scheme() {
    let v = vectors();
    let token = &v.tokens[1];
    let verifier = v.verifier_for(token);
    let check = |header: Option<&str>| {
        verifier.verify_authorization(header, b"", &Validation::new(), token.valid_at())
    };
    check(Some(&format!("Bearer {}", token.token))).unwrap();
    check(Some(&format!("bearer   {} ", token.token))).unwrap();
    for header in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some(token.token.as_str()),
        Some("Basic dXNlcjpwYXNz"),
    ] {
        let err = check(header).unwrap_err();
        assert!(matches!(err, Error::MissingToken), "{header:?}: {err:?}");
        assert_eq!(err.code(), "missing_token");
    }
}

#[test]
fn signer_headers_carry_the_protocol_names() {
    let signer = Signer::shared_secret(vectors().secret());
    let (name, value) = signer.authorization_header(&Claims::new(NOW)).unwrap();
    assert_eq!(name, "Authorization");
    let token = value.strip_prefix("Bearer ").unwrap();
    hs256_verify(token).unwrap();
    assert_eq!(signer.algorithm().as_str(), "HS256");
    assert_eq!(
        Signer::rsa(PrivateKey::from_pem(&vectors().rsa_private_key_pkcs1_pem).unwrap())
            .algorithm()
            .to_string(),
        "RS256"
    );
}
