//! The kinds of notification, as endpoints subscribe to them and messages are stored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of notification. Endpoints subscribe to any of them but `test`, which goes only to
/// the endpoint it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// An event ended well: what it issued, if anything.
    #[serde(rename = "event.completed")]
    EventCompleted,
    /// An event failed: what the holder was told.
    #[serde(rename = "event.failed")]
    EventFailed,
    /// Credentials were issued (in an event, or later by the service).
    #[serde(rename = "credential.issued")]
    CredentialIssued,
    /// Credentials were revoked.
    #[serde(rename = "credential.revoked")]
    CredentialRevoked,
    /// psi refused a third party's `credentials-issued` or `credentials-issuing-failed` call
    /// about one of the service's events: why.
    #[serde(rename = "event.issue_refused")]
    EventIssueRefused,
    /// A site received the tokens of a holder's sign-in through SSI OAuth.
    #[serde(rename = "oauth.signed_in")]
    OAuthSignedIn,
    /// psi disabled one of the service's endpoints after it failed for too long.
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled,
    /// An example sent on request, to try an endpoint.
    #[serde(rename = "test")]
    Test,
}

impl EventType {
    /// Every type an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 7] = [
        EventType::EventCompleted,
        EventType::EventFailed,
        EventType::EventIssueRefused,
        EventType::CredentialIssued,
        EventType::CredentialRevoked,
        EventType::OAuthSignedIn,
        EventType::EndpointDisabled,
    ];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::EventCompleted => "event.completed",
            EventType::EventFailed => "event.failed",
            EventType::EventIssueRefused => "event.issue_refused",
            EventType::CredentialIssued => "credential.issued",
            EventType::CredentialRevoked => "credential.revoked",
            EventType::OAuthSignedIn => "oauth.signed_in",
            EventType::EndpointDisabled => "endpoint.disabled",
            EventType::Test => "test",
        }
    }

    /// The type of this name.
    ///
    /// ```
    /// use psi_server::domain::EventType;
    /// assert_eq!(EventType::parse("credential.revoked"), Some(EventType::CredentialRevoked));
    /// assert_eq!(EventType::parse("credential.deleted"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        [EventType::Test]
            .into_iter()
            .chain(Self::SUBSCRIBABLE)
            .find(|t| t.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name_and_serde_agrees() {
        for kind in EventType::SUBSCRIBABLE.into_iter().chain([EventType::Test]) {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
    }
}
