//! Property tests: whatever the body, what we sign verifies, and changing any one byte of the
//! body makes verification fail.

use std::sync::LazyLock;

use proptest::prelude::*;
use psi_webhook::{Claims, Error, Signer, UnixTime, Validation, Verifier};

struct Keys {
    rsa_signer: Signer,
    rsa_verifier: Verifier,
    hs_signer: Signer,
    hs_verifier: Verifier,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let v = crate::common::vectors();
    Keys {
        rsa_signer: Signer::rsa(v.pkcs8_key()),
        rsa_verifier: Verifier::rsa(v.public_key()),
        hs_signer: Signer::shared_secret(v.secret()),
        hs_verifier: Verifier::shared_secret(v.secret()),
    }
});

/// A non-empty body plus one position in it and a non-zero XOR mask for that byte.
fn body_and_change() -> impl Strategy<Value = (Vec<u8>, usize, u8)> {
    proptest::collection::vec(any::<u8>(), 1..2048).prop_flat_map(|body| {
        let len = body.len();
        (Just(body), 0..len, 1..=u8::MAX)
    })
}

fn changed(body: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut other = body.to_vec();
    other[at] ^= mask;
    other
}

proptest! {
    #[test]
    fn body_signatures_round_trip_and_any_changed_byte_fails((body, at, mask) in body_and_change()) {
        let (_, signature) = KEYS.rsa_signer.signature_header(&body).unwrap();
        prop_assert!(KEYS.rsa_verifier.verify_signature(&body, Some(&signature)).is_ok());
        let err = KEYS
            .rsa_verifier
            .verify_signature(&changed(&body, at, mask), Some(&signature))
            .unwrap_err();
        prop_assert!(matches!(err, Error::SignatureMismatch), "{:?}", err);
    }

    #[test]
    fn body_bound_tokens_round_trip_and_any_changed_byte_fails(
        (body, at, mask) in body_and_change(),
        jti in "[A-Za-z0-9-]{1,40}",
        iat in 0u64..4_000_000_000,
        rsa in any::<bool>(),
    ) {
        let (signer, verifier) = if rsa {
            (&KEYS.rsa_signer, &KEYS.rsa_verifier)
        } else {
            (&KEYS.hs_signer, &KEYS.hs_verifier)
        };
        let now = UnixTime::from_secs(iat);
        let claims = Claims::new(now).with_issuer("9s57yZDBqwfZHdodKXTjKH").with_jwt_id(jti).with_body(&body);
        let token = signer.bearer_token(&claims).unwrap();
        let verified = verifier.verify_bearer(&token, &body, &Validation::new(), now).unwrap();
        prop_assert_eq!(verified, claims);
        let err = verifier
            .verify_bearer(&token, &changed(&body, at, mask), &Validation::new(), now)
            .unwrap_err();
        prop_assert!(matches!(err, Error::BodyHashMismatch), "{:?}", err);
    }

    #[test]
    fn any_changed_character_of_an_hs256_token_fails(
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(b"ABCabc019-_".to_vec()),
    ) {
        let now = UnixTime::from_secs(1_700_000_000);
        let token = KEYS.hs_signer.bearer_token(&Claims::new(now).with_jwt_id("d-1")).unwrap();
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != b'.' && bytes[i] != replacement);
        bytes[i] = replacement;
        let forged = String::from_utf8(bytes).unwrap();
        prop_assert!(KEYS.hs_verifier.verify_bearer(&forged, b"", &Validation::new(), now).is_err());
    }
}
