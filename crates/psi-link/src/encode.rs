//! Requests to links.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{LinkError, LinkKind, LinkRequest, LinkTarget, MAX_LINK_LEN};

/// The path every link's payload follows.
pub(crate) const EXECUTE_PATH: &str = "/native/execute/";

/// The link payload of a request: its compact JSON ([`LinkRequest::to_json`]) in URL-safe base64
/// without padding. The request is not validated; [`encode`] does that.
///
/// ```
/// use psi_link::{encode_payload, LinkRequest};
/// let req = LinkRequest { action_id: Some("1".into()), ..Default::default() };
/// assert_eq!(encode_payload(&req), "eyJhY3Rpb25JZCI6IjEifQ"); // {"actionId":"1"}
/// ```
pub fn encode_payload(req: &LinkRequest) -> String {
    URL_SAFE_NO_PAD.encode(req.to_json())
}

/// Validates `req` ([`LinkRequest::validate`]) and encodes it as an app link
/// (`https://<domain>/native/execute/<payload>`) or a deep link (`<scheme>://<domain>/native/execute/<payload>`).
///
/// Fails with [`LinkError::TooLong`] when the link would exceed [`MAX_LINK_LEN`]; a `sourceURL`
/// link keeps any request short.
///
/// ```
/// use psi_link::{encode, Environment, LinkKind, LinkRequest, LinkTarget};
/// let req = LinkRequest {
///     action_id: Some("100".into()),
///     service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
///     ..Default::default()
/// };
/// let link = encode(&req, &LinkTarget::env(Environment::Test), LinkKind::Deep).unwrap();
/// assert!(link.starts_with("testzakaio://test.proofspace.id/native/execute/eyJ"));
/// ```
pub fn encode(req: &LinkRequest, target: &LinkTarget, kind: LinkKind) -> Result<String, LinkError> {
    req.validate()?;
    let scheme = match kind {
        LinkKind::App => "https",
        LinkKind::Deep => target.scheme(),
    };
    let link = format!(
        "{scheme}://{}{EXECUTE_PATH}{}",
        target.domain(),
        encode_payload(req)
    );
    if link.len() > MAX_LINK_LEN {
        return Err(LinkError::TooLong {
            len: link.len(),
            max: MAX_LINK_LEN,
        });
    }
    Ok(link)
}
