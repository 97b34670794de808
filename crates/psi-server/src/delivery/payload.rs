//! What notifications carry: docs/protocol.md §4.1's camelCase style, with the event `type`, a stable
//! `messageId`, the service's DID and the time, then the members of each type.
//!
//! ```json
//! {"type": "event.completed", "messageId": "5f0c…", "publicServiceDid": "9s57…",
//!  "utcCreatedAt": 1767225600000, "subscriberConnectDid": "…", "actionId": "…",
//!  "actionInstanceId": "…", "actionEventId": "…", "outcome": {"ok": true},
//!  "issuedCredentials": [{"jti": "…", "credentialId": "…", "schemaId": "…",
//!  "fields": [{"name": "…", "value": "…"}], "utcIssuedAt": 1767225600000, "revoked": false}]}
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use crate::credentials::Field;
use crate::db::extensions::Attachment;
pub use crate::domain::EventType;
use crate::domain::extension::{self, SettingValues, Trigger};

/// Members every notification starts with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope<'a, T> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message_id: &'a str,
    pub public_service_did: &'a str,
    /// Unix milliseconds.
    pub utc_created_at: i64,
    #[serde(flatten)]
    pub data: &'a T,
}

/// How an event ended, as `event.completed` and `event.failed` report it (docs/protocol.md §5's
/// on-finish `outcome`).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub ok: bool,
    /// What the holder was told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `event.completed` and `event.failed`: §4.1's identifiers of the event, its outcome and the
/// credentials it issued.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNotification {
    pub subscriber_connect_did: String,
    pub action_id: String,
    pub action_instance_id: String,
    pub action_event_id: String,
    pub outcome: Outcome,
    pub issued_credentials: Vec<NotifiedCredential>,
}

/// `credential.issued` and `credential.revoked`: the holder, the event if there was one, and the
/// credentials.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialNotification {
    pub subscriber_connect_did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_event_id: Option<String>,
    pub credentials: Vec<NotifiedCredential>,
}

/// A credential in a notification: §4.1's `WebhookCredentialValues` plus its `jti` (the handle
/// to revoke it with).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedCredential {
    pub jti: String,
    pub credential_id: String,
    pub schema_id: String,
    pub fields: Vec<Field>,
    /// Unix milliseconds.
    pub utc_issued_at: i64,
    pub revoked: bool,
    /// Unix milliseconds, once revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_revoked_at: Option<i64>,
}

/// `event.issue_refused`: §4.1's identifiers of the event a third party's call named, which call
/// psi refused, and why, as the caller was answered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueRefused {
    pub subscriber_connect_did: String,
    pub action_id: String,
    pub action_instance_id: String,
    pub action_event_id: String,
    /// `credentials-issued` or `credentials-issuing-failed`.
    pub call: &'static str,
    /// The HTTP status of the refusal.
    pub status: u16,
    /// psi's error code (`forbidden`, `conflict`, `validation_failed`, ...).
    pub code: &'static str,
    /// The refusal's message.
    pub reason: String,
}

/// `oauth.signed_in`: §4.1's identifiers of the event whose holder signed in, the site's client
/// id, the flow, and the claims the site received besides the holder's DID.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    pub subscriber_connect_did: String,
    pub action_id: String,
    pub action_event_id: String,
    pub client_id: String,
    /// `device_code` or `authorization_code`.
    pub flow: &'static str,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// `endpoint.disabled`: which endpoint, since when it failed, and when psi disabled it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointDisabled {
    pub endpoint_id: String,
    pub url: String,
    /// Unix milliseconds of the first failure with no success since.
    pub failing_since: i64,
    /// Unix milliseconds.
    pub disabled_at: i64,
}

/// `test`: an example, sent on request to one endpoint.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestNotification {
    pub endpoint_id: String,
    pub message: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_puts_type_and_message_id_first_then_the_members_of_the_type() {
        let data = CredentialNotification {
            subscriber_connect_did: "holder".into(),
            action_event_id: None,
            credentials: vec![],
        };
        let text = serde_json::to_string(&Envelope {
            kind: EventType::CredentialRevoked.as_str(),
            message_id: "m1",
            public_service_did: "did",
            utc_created_at: 5,
            data: &data,
        })
        .unwrap();
        assert_eq!(
            text,
            r#"{"type":"credential.revoked","messageId":"m1","publicServiceDid":"did","utcCreatedAt":5,"subscriberConnectDid":"holder","credentials":[]}"#
        );
    }
}

/// The `extension` member of a trigger's call. No `Debug`: `on_receive`'s carries secrets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionMember<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub installation_id: &'a str,
    pub params: &'a std::collections::BTreeMap<String, String>,
    /// Defaults, then the installation's values, then the attachment's.
    pub settings: Map<String, Value>,
}

impl<'a> ExtensionMember<'a> {
    /// The member for `attachment`'s `trigger`, with `secrets` (opened) or without.
    pub fn of(
        attachment: &'a Attachment,
        trigger: &'a Trigger,
        secrets: Option<(Map<String, Value>, Map<String, Value>)>,
    ) -> Self {
        let installation = &attachment.installation;
        let (service_secrets, interaction_secrets) = secrets.unwrap_or_default();
        let settings = extension::merged(
            &installation.manifest,
            &SettingValues {
                plain: installation.settings.clone(),
                secrets: service_secrets,
            },
            &SettingValues {
                plain: attachment.settings.clone(),
                secrets: interaction_secrets,
            },
        );
        ExtensionMember {
            id: &installation.extension_id,
            name: &installation.extension_name,
            version: &installation.version,
            installation_id: &installation.id,
            params: &trigger.params,
            settings,
        }
    }
}

/// A notification for an extension's durable trigger: the service's notification plus the
/// `extension` member (without secret settings, which are never stored in clear).
#[derive(Serialize)]
pub struct ForExtension<'a, T> {
    #[serde(flatten)]
    pub data: &'a T,
    pub extension: ExtensionMember<'a>,
}
