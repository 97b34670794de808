//! Page sessions: the token that ties a start page (or an embed) to the event its link starts,
//! so the page can show the event's progress live.
//!
//! The token travels inside the link's JSON as an extra top-level field, `psiSession`, after the
//! protocol's fields. docs/protocol.md §2: unknown fields are ignored, so apps that do not know it are
//! unaffected; psi-link reads it as `LinkRequest::psi_session`. psi's wallet sends it back with the event
//! (`session` in `POST /wallet/v1/services/{did}/events`), and the engine stores it on the event.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_link::{LinkError, LinkRequest, LinkTarget};

use crate::crypto::random_bytes;

/// Random bytes in a session: 128 bits, unguessable, so the token is the only authority to read
/// the status.
const BYTES: usize = 16;
/// Characters of a session: base64url of [`BYTES`] without padding.
const LEN: usize = 22;

/// A session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session(String);

impl Session {
    /// A new random session.
    pub fn new() -> Self {
        Session(URL_SAFE_NO_PAD.encode(random_bytes(BYTES)))
    }

    /// Reads a session from a URL; anything but 22 base64url characters is `None`.
    ///
    /// ```
    /// use psi_server::pages::session::Session;
    /// assert!(Session::parse("AAAAAAAAAAAAAAAAAAAAAA").is_some());
    /// assert!(Session::parse("../../etc/passwd").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Session(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

/// The app link of `request` on `target`, carrying `session` in psi-link's `psiSession` field:
/// checked and encoded like any link (including its length limit).
///
/// ```
/// use psi_link::{Environment, LinkRequest, LinkTarget};
/// use psi_server::pages::session::{Session, app_link};
/// let request = LinkRequest {
///     action_id: Some("1".into()),
///     service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
///     ..Default::default()
/// };
/// let session = Session::new();
/// let link = app_link(&request, &LinkTarget::env(Environment::Production), &session)?;
/// let decoded = psi_link::decode(&link)?.request;
/// assert_eq!(decoded.psi_session.as_deref(), Some(session.as_str()));
/// # Ok::<(), psi_link::LinkError>(())
/// ```
pub fn app_link(
    request: &LinkRequest,
    target: &LinkTarget,
    session: &Session,
) -> Result<String, LinkError> {
    let request = LinkRequest {
        psi_session: Some(session.as_str().to_owned()),
        ..request.clone()
    };
    psi_link::encode(&request, target, psi_link::LinkKind::App)
}

#[cfg(test)]
mod tests {
    use super::*;
    use psi_link::Environment;

    #[test]
    fn the_session_follows_the_protocol_fields_and_decoders_ignore_it() {
        let mut request = LinkRequest {
            id: Some("7".into()),
            action_id: Some("1".into()),
            service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
            callback: Some("googlechrome://".into()),
            ..Default::default()
        };
        request.set_prefilled("GbzPqgnU4XsMs7xg9mYJW8:3:CL:2:t", "Name", "<b>\"x\"</b>");
        let session = Session::new();
        let link = app_link(&request, &LinkTarget::env(Environment::Test), &session).unwrap();
        assert!(link.starts_with("https://test.proofspace.id/native/execute/"));
        let payload = link.rsplit('/').next().unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let expected = format!(
            "{},\"psiSession\":\"{}\"}}",
            request.to_json().trim_end_matches('}'),
            session.as_str()
        );
        assert_eq!(json, expected);
        let decoded = psi_link::decode(&link).unwrap().request;
        assert_eq!(decoded.psi_session.as_deref(), Some(session.as_str()));
        assert_eq!(
            LinkRequest {
                psi_session: None,
                ..decoded
            },
            request
        );
        assert_ne!(Session::new(), session);
        assert_eq!(Session::parse(session.as_str()), Some(session));
    }

    #[test]
    fn a_request_psi_link_refuses_is_refused_with_or_without_a_session() {
        let request = LinkRequest {
            action_id: Some("1".into()),
            service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
            callback: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        let target = LinkTarget::env(Environment::Production);
        assert!(matches!(
            app_link(&request, &target, &Session::new()),
            Err(LinkError::RefusedCallbackScheme { .. })
        ));
    }
}
