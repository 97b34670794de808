//! Every case in `vectors/signatures.json`, in both directions: we verify what the vectors
//! signed, and signing the same input with the same key reproduces the vectors byte for byte.

use std::time::Duration;

use psi_webhook::{
    Claims, DEFAULT_LEEWAY, Error, PrivateKey, SharedSecret, Signer, UnixTime, Validation, Verifier,
};

use crate::common::vectors;

#[test]
fn every_vector_signature_verifies_with_the_spki_key() {
    let v = vectors();
    let verifier = Verifier::rsa(v.public_key());
    assert_eq!(v.signatures.len(), 3);
    for case in &v.signatures {
        verifier
            .verify_signature(case.body.as_bytes(), Some(&case.x_body_signature))
            .unwrap_or_else(|e| panic!("{:?} did not verify: {e}", case.body));
    }
}

#[test]
fn signing_with_the_pkcs8_or_the_pkcs1_key_reproduces_every_vector_signature() {
    let v = vectors();
    for key in [v.pkcs8_key(), v.pkcs1_key()] {
        let signer = Signer::rsa(key);
        for case in &v.signatures {
            let (name, value) = signer.signature_header(case.body.as_bytes()).unwrap();
            assert_eq!(name, "X-Body-Signature");
            assert_eq!(value, case.x_body_signature, "body {:?}", case.body);
        }
    }
}

#[test]
fn the_tampered_body_is_refused() {
    let v = vectors();
    assert!(!v.tampered.valid);
    let err = Verifier::rsa(v.public_key())
        .verify_signature(
            v.tampered.body.as_bytes(),
            Some(&v.tampered.x_body_signature),
        )
        .unwrap_err();
    assert!(matches!(err, Error::SignatureMismatch), "{err:?}");
    assert_eq!(err.code(), "signature_mismatch");
}

#[test]
fn vector_signatures_fail_with_another_rsa_key() {
    let v = vectors();
    let other = Verifier::rsa(PrivateKey::generate().unwrap().public_key());
    for case in &v.signatures {
        let err = other
            .verify_signature(case.body.as_bytes(), Some(&case.x_body_signature))
            .unwrap_err();
        assert!(matches!(err, Error::SignatureMismatch), "{err:?}");
    }
}

#[test]
fn every_vector_token_verifies_at_a_clock_inside_its_lifetime() {
    let v = vectors();
    assert_eq!(v.tokens.len(), 3);
    for token in &v.tokens {
        let claims = v
            .verifier_for(token)
            .verify_bearer(&token.token, b"", &Validation::new(), token.valid_at())
            .unwrap_or_else(|e| panic!("{} token ({}) refused: {e}", token.alg, token.direction));
        assert_eq!(claims.iss, token.claims.iss);
        assert_eq!(claims.aud, Vec::from_iter(token.claims.aud.clone()));
        assert_eq!(claims.iat, Some(token.claims.iat));
        assert_eq!(claims.exp, token.claims.exp);
        assert_eq!(claims.jti, None);
        assert_eq!(claims.body_sha3_256, None);
    }
}

#[test]
fn every_vector_token_expires_once_the_clock_passes_exp_plus_leeway() {
    let v = vectors();
    let leeway = DEFAULT_LEEWAY.as_secs();
    for token in &v.tokens {
        let verifier = v.verifier_for(token);
        let last_valid = UnixTime::from_secs(token.claims.exp + leeway - 1);
        verifier
            .verify_bearer(&token.token, b"", &Validation::new(), last_valid)
            .unwrap();
        for late in [token.claims.exp + leeway, token.claims.exp + 3600] {
            let err = verifier
                .verify_bearer(
                    &token.token,
                    b"",
                    &Validation::new(),
                    UnixTime::from_secs(late),
                )
                .unwrap_err();
            assert!(
                matches!(err, Error::Expired { exp, now, leeway_secs: 60 } if exp == token.claims.exp && now == late),
                "{err:?}"
            );
            assert_eq!(err.code(), "token_expired");
        }
        // Today's clock: the vectors are expired on purpose.
        let err = verifier
            .verify_bearer(&token.token, b"", &Validation::new(), UnixTime::now())
            .unwrap_err();
        assert_eq!(err.code(), "token_expired");
    }
}

#[test]
fn leeway_is_configurable() {
    let v = vectors();
    let token = &v.tokens[0];
    let at = UnixTime::from_secs(token.claims.exp + 30);
    let strict = Validation::new().with_leeway(Duration::ZERO);
    let lenient = Validation::new().with_leeway(Duration::from_secs(31));
    let verifier = v.verifier_for(token);
    assert_eq!(
        verifier
            .verify_bearer(&token.token, b"", &strict, at)
            .unwrap_err()
            .code(),
        "token_expired"
    );
    verifier
        .verify_bearer(&token.token, b"", &lenient, at)
        .unwrap();
}

#[test]
fn vector_tokens_fail_with_the_wrong_key() {
    let v = vectors();
    let other_rsa = Verifier::rsa(PrivateKey::generate().unwrap().public_key());
    let other_secret = Verifier::shared_secret(SharedSecret::generate().unwrap());
    for token in &v.tokens {
        let wrong = if token.alg == "RS256" {
            &other_rsa
        } else {
            &other_secret
        };
        let err = wrong
            .verify_bearer(&token.token, b"", &Validation::new(), token.valid_at())
            .unwrap_err();
        assert!(matches!(err, Error::TokenSignatureMismatch), "{err:?}");
    }
}

#[test]
fn the_hs256_key_is_the_base64_decoded_secret_not_its_text() {
    let v = vectors();
    let token = v.tokens.iter().find(|t| t.alg == "HS256").unwrap();
    assert!(token.secret_is_base64);
    let text_as_key = SharedSecret::from_bytes(v.sha_secret_base64.as_bytes()).unwrap();
    let err = Verifier::shared_secret(text_as_key)
        .verify_bearer(&token.token, b"", &Validation::new(), token.valid_at())
        .unwrap_err();
    assert!(matches!(err, Error::TokenSignatureMismatch), "{err:?}");
}

#[test]
fn signing_the_vector_claims_reproduces_every_vector_token() {
    let v = vectors();
    for token in &v.tokens {
        let signer = match token.alg.as_str() {
            "RS256" => Signer::rsa(v.pkcs8_key()),
            _ => Signer::shared_secret(v.secret()),
        };
        let mut claims = Claims::new(UnixTime::from_secs(token.claims.iat));
        if let Some(iss) = &token.claims.iss {
            claims = claims.with_issuer(iss);
        }
        if let Some(aud) = &token.claims.aud {
            claims = claims.with_audience(aud);
        }
        assert_eq!(claims.exp, token.claims.exp, "5-minute lifetime");
        assert_eq!(signer.bearer_token(&claims).unwrap(), token.token);
    }
}

#[test]
fn the_audience_is_checked_on_calls_to_the_platform() {
    let v = vectors();
    let inbound = v
        .tokens
        .iter()
        .find(|t| t.direction == "third party to platform")
        .unwrap();
    let verifier = v.verifier_for(inbound);
    let at = inbound.valid_at();
    verifier
        .verify_bearer(
            &inbound.token,
            b"",
            &Validation::new().expect_audience(&v.service_did),
            at,
        )
        .unwrap();
    let err = verifier
        .verify_bearer(
            &inbound.token,
            b"",
            &Validation::new().expect_audience("GbzPqgnU4XsMs7xg9mYJW8"),
            at,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::WrongAudience { expected } if expected == "GbzPqgnU4XsMs7xg9mYJW8"),
        "{err:?}"
    );

    // A platform-to-third-party token has no aud, so it cannot be replayed to the platform.
    let outbound = v
        .tokens
        .iter()
        .find(|t| t.direction == "platform to third party" && t.alg == "RS256")
        .unwrap();
    let err = verifier
        .verify_bearer(
            &outbound.token,
            b"",
            &Validation::new().expect_audience(&v.service_did),
            outbound.valid_at(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "wrong_audience");
}

#[test]
fn the_issuer_is_checked_on_webhooks_from_the_platform() {
    let v = vectors();
    for token in v
        .tokens
        .iter()
        .filter(|t| t.direction == "platform to third party")
    {
        let verifier = v.verifier_for(token);
        let at = token.valid_at();
        let ok = Validation::new().expect_issuer(&v.service_did);
        verifier.verify_bearer(&token.token, b"", &ok, at).unwrap();
        let wrong = Validation::new().expect_issuer("GbzPqgnU4XsMs7xg9mYJW8");
        let err = verifier
            .verify_bearer(&token.token, b"", &wrong, at)
            .unwrap_err();
        assert_eq!(err.code(), "wrong_issuer");
    }
}
