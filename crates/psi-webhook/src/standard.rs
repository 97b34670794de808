//! Standard Webhooks (<https://www.standardwebhooks.com/>), symmetric scheme `v1`: the headers
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`, a space-separated
//! list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per signing secret (two
//! while a secret is being rotated).

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::encoding::STANDARD_LENIENT;
use crate::error::{Error, Result};
use crate::time::UnixTime;

/// The message id: the same on every retry of one message, so receivers act on it once.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// When the message was signed, unix seconds.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signatures: `v1,<base64>`, space-separated.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";
/// How far `webhook-timestamp` may be from the verifier's clock, either way, in the official
/// libraries: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The symmetric scheme's version tag.
const VERSION: &str = "v1";

/// The three headers of a received call, as given (`None` when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// A header's value, trimmed; absent or empty: an error naming it.
fn present<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Error::MissingWebhookHeader { name })
}

/// The MAC of `{id}.{timestamp}.{body}`, after checking the id.
fn mac(key: &[u8], id: &str, timestamp: UnixTime, body: &[u8]) -> Result<Hmac<Sha256>> {
    // The spec's rule: a `.` in the id would let one signed content be split another way.
    if id.is_empty() || id.contains('.') || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::BadWebhookId);
    }
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_secs().to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// `v1,<base64 signature>` of `body` sent as message `id` at `timestamp`.
pub(crate) fn sign(key: &[u8], id: &str, timestamp: UnixTime, body: &[u8]) -> Result<String> {
    let signature = mac(key, id, timestamp, body)?.finalize().into_bytes();
    Ok(format!("{VERSION},{}", STANDARD_LENIENT.encode(signature)))
}

/// Checks the headers against `body`: one `v1` signature made with `key` (other versions are
/// skipped, as the spec asks), then the timestamp within `tolerance` of `now`. Returns the
/// timestamp.
pub(crate) fn verify(
    key: &[u8],
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: UnixTime,
    tolerance: Duration,
) -> Result<UnixTime> {
    let id = present(headers.id, WEBHOOK_ID_HEADER)?;
    let timestamp_text = present(headers.timestamp, WEBHOOK_TIMESTAMP_HEADER)?;
    let signatures = present(headers.signature, WEBHOOK_SIGNATURE_HEADER)?;
    let timestamp = timestamp_text
        .parse::<u64>()
        .map(UnixTime::from_secs)
        .map_err(|_| Error::BadWebhookTimestamp)?;
    let expected = mac(key, id, timestamp, body)?;
    let matches = signatures
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, signature)| STANDARD_LENIENT.decode(signature).ok())
        // verify_slice compares in constant time.
        .any(|signature| expected.clone().verify_slice(&signature).is_ok());
    if !matches {
        return Err(Error::WebhookSignatureMismatch);
    }
    let (then, now) = (timestamp.as_secs(), now.as_secs());
    if then.abs_diff(now) > tolerance.as_secs() {
        return Err(Error::WebhookTimestampOutOfTolerance {
            timestamp: then,
            now,
            tolerance_secs: tolerance.as_secs(),
        });
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing test of the spec's libraries (`test_sign_function`): secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw` (24 bytes), message `msg_p5jXN8AQM9LWM0D4loKWxJek`
    /// at 1614265330, payload `{"test": 2432232314}`.
    const SECRET: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: UnixTime = UnixTime::from_secs(1_614_265_330);
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn key() -> Vec<u8> {
        STANDARD_LENIENT.decode(SECRET).unwrap()
    }

    fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders {
            id: Some(id),
            timestamp: Some(timestamp),
            signature: Some(signature),
        }
    }

    #[test]
    fn the_specs_vector_is_reproduced_and_verifies() {
        assert_eq!(sign(&key(), ID, AT, PAYLOAD).unwrap(), EXPECTED);
        let at = AT.as_secs().to_string();
        let verified = verify(
            &key(),
            &headers(ID, &at, EXPECTED),
            PAYLOAD,
            AT,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(verified.unwrap(), AT);
    }

    #[test]
    fn one_matching_v1_signature_among_others_is_enough() {
        let at = AT.as_secs().to_string();
        let list = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,{0} garbage v1a,{0} {EXPECTED}",
            &EXPECTED[3..]
        );
        assert!(
            verify(
                &key(),
                &headers(ID, &at, &list),
                PAYLOAD,
                AT,
                DEFAULT_TOLERANCE
            )
            .is_ok()
        );
        // The same signature under another version tag does not count.
        let only_v2 = format!("v2,{}", &EXPECTED[3..]);
        assert!(matches!(
            verify(
                &key(),
                &headers(ID, &at, &only_v2),
                PAYLOAD,
                AT,
                DEFAULT_TOLERANCE
            ),
            Err(Error::WebhookSignatureMismatch)
        ));
    }

    #[test]
    fn another_body_id_timestamp_or_key_does_not_verify() {
        let at = AT.as_secs().to_string();
        let later = (AT.as_secs() + 1).to_string();
        let cases = [
            (
                key(),
                headers(ID, &at, EXPECTED),
                &b"{\"test\": 2432232315}"[..],
            ),
            (key(), headers("msg_other", &at, EXPECTED), PAYLOAD),
            (key(), headers(ID, &later, EXPECTED), PAYLOAD),
            (vec![7; 32], headers(ID, &at, EXPECTED), PAYLOAD),
        ];
        for (key, headers, body) in cases {
            let result = verify(&key, &headers, body, AT, DEFAULT_TOLERANCE);
            assert!(
                matches!(result, Err(Error::WebhookSignatureMismatch)),
                "{headers:?}: {result:?}"
            );
        }
    }

    #[test]
    fn timestamps_beyond_the_tolerance_either_way_are_refused() {
        let tolerance = Duration::from_secs(300);
        for (offset, ok) in [(-300, true), (300, true), (-301, false), (301, false)] {
            let then = AT.as_secs().checked_add_signed(offset).unwrap();
            let then_time = UnixTime::from_secs(then);
            let signature = sign(&key(), ID, then_time, PAYLOAD).unwrap();
            let text = then.to_string();
            let result = verify(
                &key(),
                &headers(ID, &text, &signature),
                PAYLOAD,
                AT,
                tolerance,
            );
            assert_eq!(result.is_ok(), ok, "{offset}: {result:?}");
            if !ok {
                assert_eq!(
                    result.unwrap_err().code(),
                    "webhook_timestamp_out_of_tolerance"
                );
            }
        }
    }

    #[test]
    fn missing_headers_bad_timestamps_and_ids_with_dots_are_refused() {
        let at = AT.as_secs().to_string();
        let missing = WebhookHeaders {
            id: Some(ID),
            timestamp: None,
            signature: Some(EXPECTED),
        };
        let error = verify(&key(), &missing, PAYLOAD, AT, DEFAULT_TOLERANCE).unwrap_err();
        assert_eq!(error.to_string(), "missing webhook-timestamp header");
        for bad in ["1614265330.5", "-1", "soon", "1e9"] {
            let result = verify(
                &key(),
                &headers(ID, bad, EXPECTED),
                PAYLOAD,
                AT,
                DEFAULT_TOLERANCE,
            );
            assert!(matches!(result, Err(Error::BadWebhookTimestamp)), "{bad}");
        }
        for bad in ["msg.1", "msg 1"] {
            assert!(matches!(
                sign(&key(), bad, AT, PAYLOAD),
                Err(Error::BadWebhookId)
            ));
            let result = verify(
                &key(),
                &headers(bad, &at, EXPECTED),
                PAYLOAD,
                AT,
                DEFAULT_TOLERANCE,
            );
            assert!(matches!(result, Err(Error::BadWebhookId)), "{bad}");
        }
    }
}
