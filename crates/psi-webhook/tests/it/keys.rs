//! Key loading and export, shared secrets, `Debug` redaction, and key/scheme errors.

use std::collections::HashSet;

use psi_webhook::{
    Error, GENERATED_KEY_BITS, PrivateKey, PublicKey, SharedSecret, Signer, Verifier,
};
use rsa::pkcs1::{EncodeRsaPublicKey, LineEnding};

use crate::common::vectors;

#[test]
fn pkcs8_and_pkcs1_private_keys_load_to_the_key_of_the_spki_public_key() {
    let v = vectors();
    assert_eq!(v.pkcs8_key().public_key(), v.public_key());
    assert_eq!(v.pkcs1_key().public_key(), v.public_key());
}

#[test]
fn pem_with_crlf_line_endings_and_surrounding_whitespace_loads() {
    let v = vectors();
    let private = format!(
        "\n  {}\n",
        v.rsa_private_key_pkcs1_pem.replace('\n', "\r\n")
    );
    let public = format!("{}\n\n", v.rsa_public_key_spki_pem.replace('\n', "\r\n"));
    assert_eq!(
        PrivateKey::from_pem(&private).unwrap().public_key(),
        PublicKey::from_pem(&public).unwrap()
    );
}

#[test]
fn a_pkcs1_public_key_pem_loads_and_verifies() {
    let v = vectors();
    let spki = rsa::PublicKey::from(
        &rsa::pkcs8::DecodePrivateKey::from_pkcs8_pem(&v.rsa_private_key_pkcs8_pem).unwrap(),
    );
    let pkcs1_pem = spki.to_pkcs1_pem(LineEnding::LF).unwrap();
    assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let key = PublicKey::from_pem(&pkcs1_pem).unwrap();
    assert_eq!(key, v.public_key());
    let case = &v.signatures[0];
    Verifier::rsa(key)
        .verify_signature(case.body.as_bytes(), Some(&case.x_body_signature))
        .unwrap();
}

#[test]
fn exporting_the_vector_keys_gives_back_the_vector_pem() {
    let v = vectors();
    assert_eq!(
        v.public_key().to_spki_pem().unwrap(),
        v.rsa_public_key_spki_pem
    );
    assert_eq!(
        *v.pkcs1_key().to_pkcs8_pem().unwrap(),
        v.rsa_private_key_pkcs8_pem
    );
}

#[test]
fn a_generated_key_round_trips_through_pem_and_signs() {
    let key = PrivateKey::generate().unwrap();
    assert_eq!(
        format!("{key:?}"),
        format!("PrivateKey {{ bits: {GENERATED_KEY_BITS}, .. }}")
    );
    let private_pem = key.to_pkcs8_pem().unwrap();
    let public_pem = key.public_key().to_spki_pem().unwrap();
    let (_, signature) = Signer::rsa(PrivateKey::from_pem(&private_pem).unwrap())
        .signature_header(b"hello")
        .unwrap();
    Verifier::rsa(PublicKey::from_pem(&public_pem).unwrap())
        .verify_signature(b"hello", Some(&signature))
        .unwrap();
    assert_ne!(
        PrivateKey::generate().unwrap().public_key(),
        key.public_key()
    );
}

#[test]
fn bad_pem_is_a_bad_pem_error_naming_what_was_expected() {
    let v = vectors();
    let garbled = v.rsa_private_key_pkcs8_pem.replace("MIIE", "MIIX");
    let private_cases = [
        "",
        "not a pem",
        v.rsa_public_key_spki_pem.as_str(),
        garbled.as_str(),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ];
    for pem in private_cases {
        let err = PrivateKey::from_pem(pem).unwrap_err();
        assert!(matches!(err, Error::BadPem { .. }), "{pem:?}: {err:?}");
        assert_eq!(err.code(), "bad_pem");
        assert!(err.to_string().contains("RSA private key"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }
    for pem in ["", v.rsa_private_key_pkcs1_pem.as_str()] {
        let err = PublicKey::from_pem(pem).unwrap_err();
        assert!(err.to_string().contains("RSA public key"), "{err}");
    }
}

#[test]
fn key_debug_output_shows_no_key_material() {
    let v = vectors();
    let secret = v.secret();
    let private = v.pkcs8_key();
    let public = v.public_key();
    let outputs = [
        format!("{private:?}"),
        format!("{public:?}"),
        format!("{secret:?}"),
        format!("{:?}", Signer::rsa(private.clone())),
        format!("{:?}", Signer::shared_secret(secret.clone())),
        format!("{:?}", Verifier::rsa(public.clone())),
        format!("{:?}", Verifier::shared_secret(secret.clone())),
    ];
    assert_eq!(outputs[0], "PrivateKey { bits: 2048, .. }");
    assert_eq!(outputs[1], "PublicKey { bits: 2048, .. }");
    assert_eq!(outputs[2], "SharedSecret { len: 32, .. }");
    for out in &outputs {
        assert!(!out.contains(&v.sha_secret_base64[..8]), "{out}");
        assert!(!out.contains("MII"), "{out}");
        assert!(out.len() < 120, "{out}");
    }
}

#[test]
fn shared_secrets_import_base64_and_refuse_short_or_invalid_input() {
    let v = vectors();
    let secret = v.secret();
    assert_eq!(*secret.to_base64(), v.sha_secret_base64);
    let unpadded = v.sha_secret_base64.trim_end_matches('=');
    assert_eq!(SharedSecret::from_base64(unpadded).unwrap(), secret);

    let err = SharedSecret::from_base64("c2hvcnQ=").unwrap_err();
    assert!(
        matches!(err, Error::SecretTooShort { len: 5, min: 32 }),
        "{err:?}"
    );
    let err = SharedSecret::from_base64("not base64 at all!").unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadBase64 {
                what: "shared secret"
            }
        ),
        "{err:?}"
    );

    let a = SharedSecret::generate().unwrap();
    let b = SharedSecret::generate().unwrap();
    assert_ne!(a, b);
    assert_eq!(SharedSecret::from_base64(&a.to_base64()).unwrap(), a);
}

#[test]
fn a_shared_secret_cannot_sign_or_verify_body_signatures() {
    let v = vectors();
    let err = Signer::shared_secret(v.secret())
        .signature_header(b"{}")
        .unwrap_err();
    assert!(matches!(err, Error::SecretNotForSignature), "{err:?}");
    let case = &v.signatures[0];
    let err = Verifier::shared_secret(v.secret())
        .verify_signature(case.body.as_bytes(), Some(&case.x_body_signature))
        .unwrap_err();
    assert_eq!(err.code(), "secret_not_for_signature");
}

#[test]
fn a_missing_or_undecodable_signature_header_has_its_own_error() {
    let v = vectors();
    let verifier = Verifier::rsa(v.public_key());
    for header in [None, Some(""), Some("  ")] {
        let err = verifier.verify_signature(b"{}", header).unwrap_err();
        assert!(matches!(err, Error::MissingSignature), "{err:?}");
    }
    let err = verifier
        .verify_signature(b"{}", Some("***not base64***"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadBase64 {
                what: "X-Body-Signature"
            }
        ),
        "{err:?}"
    );
    // Valid base64 of the wrong length is simply not a matching signature.
    let err = verifier.verify_signature(b"{}", Some("AAAA")).unwrap_err();
    assert!(matches!(err, Error::SignatureMismatch), "{err:?}");
    // Padding is optional on input; surrounding whitespace from header parsing is ignored.
    let case = &v.signatures[0];
    let unpadded = case.x_body_signature.trim_end_matches('=');
    verifier
        .verify_signature(case.body.as_bytes(), Some(unpadded))
        .unwrap();
    verifier
        .verify_signature(
            case.body.as_bytes(),
            Some(&format!(" {} ", case.x_body_signature)),
        )
        .unwrap();
}

#[test]
fn error_codes_are_distinct_snake_case() {
    let samples = [
        PrivateKey::from_pem("").unwrap_err(),
        SharedSecret::from_bytes(b"short").unwrap_err(),
        Error::SecretNotForSignature,
        Error::MissingSignature,
        Error::BadBase64 { what: "x" },
        Error::SignatureMismatch,
        Error::MissingToken,
        Error::TokenMalformed("x"),
        Error::WrongAlgorithm {
            expected: psi_webhook::Algorithm::Rs256,
            found: "none".into(),
        },
        Error::TokenSignatureMismatch,
        Error::MissingExpiry,
        Error::Expired {
            exp: 1,
            now: 2,
            leeway_secs: 0,
        },
        Error::NotYetValid { nbf: 2, now: 1 },
        Error::WrongAudience {
            expected: "a".into(),
        },
        Error::WrongIssuer {
            expected: "i".into(),
        },
        Error::BodyHashMismatch,
        Error::KeyGeneration("x".into()),
        Error::KeyEncoding("x".into()),
        Error::Random("x".into()),
        Error::Signing("x".into()),
    ];
    let codes: HashSet<&str> = samples.iter().map(Error::code).collect();
    assert_eq!(codes.len(), samples.len());
    for code in codes {
        assert!(
            code.starts_with(|c: char| c.is_ascii_lowercase())
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{code}"
        );
    }
}

/// The vector key's modulus as printed by OpenSSL, an implementation independent of the `rsa`
/// crate, computed once with
/// `openssl rsa -pubin -in vector_public_key.pem -noout -modulus` (the file holding
/// `rsa_public_key_spki_pem`); `-text` on the same key prints `Exponent: 65537 (0x10001)`.
const VECTOR_MODULUS_HEX_FROM_OPENSSL: &str = "BB04556BC2E42E9917AFE9051A781411703F395303A4D933C80E47444EAF4D7E0697592AA83BE5A0B2B61A2F00F2165646962AD7C8D799CA8EF8A3F096A909B68F7320E4D06181484EAE55C9155BB7294FEF6D68816938D7A2795FFB81528B9A15846ECB64A3A89F1537B064F5B4B6C15AFEE240C5359C1C587B71927A453CE9786565316D7AD9F67D669D92A6788456436E6AC675BBF6AFDBD29FFF3AE1424CD841E57F0D558C2868E9F6409A3D72BFCC64595B47BD9C02A09940BAC6472ED02A984FD1ABD0039901685569BA08BDB1D4372C2B11E0E4BB876113248EB2F762CE3C6DA7711E60FD90B46B5AB7295F893A30039B52B8D3956807E615F67F06CF";

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn the_vector_key_as_jwk_has_the_modulus_and_exponent_openssl_reads() {
    let modulus: Vec<u8> = (0..VECTOR_MODULUS_HEX_FROM_OPENSSL.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&VECTOR_MODULUS_HEX_FROM_OPENSSL[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(modulus.len(), 256);
    let jwk = vectors().public_key().to_jwk();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["n"], base64url(&modulus));
    assert_eq!(jwk["e"], base64url(&65537u32.to_be_bytes()[1..]));
    assert_eq!(jwk["e"], "AQAB");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    let n = jwk["n"].as_str().unwrap();
    assert!(!n.contains(['=', '+', '/']), "{n}");
    let members: Vec<&String> = jwk.as_object().unwrap().keys().collect();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
}

#[test]
fn the_jwk_kid_is_the_rfc_7638_thumbprint_of_the_rfc_example_key() {
    use base64::Engine as _;
    use rsa::pkcs8::EncodePublicKey;

    // RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let e = "AQAB";
    let decode = |b64: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .unwrap()
    };
    let rfc_key = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&decode(n)),
        rsa::BoxedUint::from_be_slice_vartime(&decode(e)),
    )
    .unwrap();
    let pem = rfc_key.to_public_key_pem(LineEnding::LF).unwrap();

    let jwk = PublicKey::from_pem(&pem).unwrap().to_jwk();
    assert_eq!(jwk["n"], n);
    assert_eq!(jwk["e"], e);
    assert_eq!(jwk["kid"], "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");

    let other = PrivateKey::generate().unwrap().public_key().to_jwk();
    assert_ne!(other["kid"], jwk["kid"]);
}
