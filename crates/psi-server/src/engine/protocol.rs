//! The webhook wire shapes of docs/protocol.md §4.1 (interaction webhook) and §4.2 (credential check):
//! requests exactly as specified, replies read leniently (unknown members ignored), as existing
//! receivers such as the public Node examples write them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::credentials::Field;
use crate::domain::Parameter;
use crate::event::issue::{IssuedValues, RevokeRef};

/// A credential as webhooks see it (`WebhookCredentialValues`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialValues {
    pub credential_id: String,
    pub schema_id: String,
    pub fields: Vec<Field>,
    /// Unix milliseconds.
    pub utc_issued_at: i64,
    pub revoked: bool,
}

/// The interaction webhook's request (§4.1), members in the documented order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionRequest<'a> {
    pub public_service_did: &'a str,
    pub subscriber_connect_did: &'a str,
    pub action_id: &'a str,
    pub action_instance_id: &'a str,
    pub action_event_id: &'a str,
    pub action_params: &'a [Parameter],
    pub received_credentials: &'a [CredentialValues],
    /// Where a receiver calls psi back (`{containerPrefix}/service/{serviceDid}/webhook-accept/
    /// credentials-issued`), so it needs no configuration of its own.
    pub container_prefix: &'a str,
}

/// The credential-check webhook's request (§4.2), plus `protocolVersion`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRequest<'a> {
    pub service_did: &'a str,
    pub subscriber_did: &'a str,
    pub credential_id: &'a str,
    pub schema_id: &'a str,
    pub fields: &'a [Field],
    pub protocol_version: u32,
}

/// The credential-check webhook's reply. Only `ok: true` passes: a reply without `ok` (the
/// public example omits it when the attribute it checks is missing) fails.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReply {
    #[serde(default)]
    pub ok: Value,
    #[serde(default)]
    pub error_message: Option<String>,
}

impl CheckReply {
    /// Whether the credential passed.
    pub fn passed(&self) -> bool {
        self.ok == Value::Bool(true)
    }
}

/// What the interaction webhook answered.
#[derive(Debug)]
pub enum InteractionReply {
    /// `issuedCredentials` (possibly empty) and `revokedCredentials`.
    Success {
        issued: Vec<IssuedValues>,
        revoked: Vec<RevokeRef>,
    },
    /// `{ok:false, message, integrationOutput?:{integrationId, logData}}`.
    Failure {
        message: String,
        log_data: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReply {
    #[serde(default)]
    ok: Option<Value>,
    #[serde(default, rename = "type")]
    kind: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    integration_output: Option<IntegrationOutput>,
    #[serde(default)]
    issued_credentials: Option<Vec<IssuedValues>>,
    #[serde(default)]
    revoked_credentials: Option<Vec<RevokeRef>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationOutput {
    #[serde(default)]
    integration_id: Option<Value>,
    #[serde(default)]
    log_data: Option<Value>,
}

/// The message shown when a failure reply carries none.
const DEFAULT_FAILURE: &str = "the service could not complete the interaction";

impl InteractionReply {
    /// Reads a reply. `ok: false` or `type: "failure"` is a failure; anything else a success.
    ///
    /// ```
    /// use psi_server::engine::protocol::InteractionReply;
    /// let reply = InteractionReply::parse(br#"{"ok":false,"message":"Unknown member",
    ///     "type":"failure","integrationOutput":{"integrationId":"crm","logData":"no row 7"}}"#).unwrap();
    /// let InteractionReply::Failure { message, log_data } = reply else { panic!() };
    /// assert_eq!(message, "Unknown member");
    /// assert_eq!(log_data.as_deref(), Some("crm: no row 7"));
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: RawReply = serde_json::from_slice(body)?;
        let failed = raw.ok == Some(Value::Bool(false))
            || raw.kind.as_ref().and_then(Value::as_str) == Some("failure");
        if !failed {
            return Ok(InteractionReply::Success {
                issued: raw.issued_credentials.unwrap_or_default(),
                revoked: raw.revoked_credentials.unwrap_or_default(),
            });
        }
        let message = raw
            .message
            .as_ref()
            .map(text_of)
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_FAILURE.to_owned());
        let log_data = raw.integration_output.and_then(|output| {
            let data = output.log_data.as_ref().map(text_of)?;
            Some(match output.integration_id.as_ref().map(text_of) {
                Some(id) if !id.is_empty() => format!("{id}: {data}"),
                _ => data,
            })
        });
        Ok(InteractionReply::Failure { message, log_data })
    }
}

/// A JSON value as text: strings as they are, anything else as compact JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interaction_request_has_the_documented_members_in_order() {
        let received = [CredentialValues {
            credential_id: "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:t".into(),
            schema_id: "GbzPqgnU4XsMs7xg9mYJW8:2:S:1.0".into(),
            fields: vec![Field {
                name: "Name".into(),
                value: "Ada".into(),
            }],
            utc_issued_at: 1_700_000_000_000,
            revoked: false,
        }];
        let params = [Parameter {
            name: "city".into(),
            value: "Berlin".into(),
        }];
        let request = InteractionRequest {
            public_service_did: "GbzPqgnU4XsMs7xg9mYJW8",
            subscriber_connect_did: "9s57yZDBqwfZHdodKXTjKH",
            action_id: "a1",
            action_instance_id: "i1",
            action_event_id: "e1",
            action_params: &params,
            received_credentials: &received,
            container_prefix: "https://psi.example/service-dashboard-backend",
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"publicServiceDid":"GbzPqgnU4XsMs7xg9mYJW8","subscriberConnectDid":"9s57yZDBqwfZHdodKXTjKH","actionId":"a1","actionInstanceId":"i1","actionEventId":"e1","actionParams":[{"name":"city","value":"Berlin"}],"receivedCredentials":[{"credentialId":"GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:t","schemaId":"GbzPqgnU4XsMs7xg9mYJW8:2:S:1.0","fields":[{"name":"Name","value":"Ada"}],"utcIssuedAt":1700000000000,"revoked":false}],"containerPrefix":"https://psi.example/service-dashboard-backend"}"#
        );
    }

    #[test]
    fn a_node_example_success_reply_is_read_as_it_is() {
        let reply = br#"{"serviceDid":"GbzPqgnU4XsMs7xg9mYJW8","subscriberConnectDid":"x",
            "actionEventId":"e1","issuedCredentials":[{"credentialId":"GbzPqgnU4XsMs7xg9mYJW8:3:CL:2:t",
            "schemaId":"GbzPqgnU4XsMs7xg9mYJW8:2:S:1.0","fields":[{"name":"Level","value":"1"}],
            "utcIssuedAt":1700000000000,"revoked":false}],"revokedCredentials":[],"ok":true}"#;
        let InteractionReply::Success { issued, revoked } = InteractionReply::parse(reply).unwrap()
        else {
            panic!("a success");
        };
        assert_eq!(issued.len(), 1);
        assert_eq!(issued[0].fields[0].value, "1");
        assert!(revoked.is_empty());
    }

    #[test]
    fn a_failure_without_a_message_gets_a_default_and_log_data_may_be_json() {
        let reply = br#"{"type":"failure","integrationOutput":{"logData":{"row":7}}}"#;
        let InteractionReply::Failure { message, log_data } =
            InteractionReply::parse(reply).unwrap()
        else {
            panic!("a failure");
        };
        assert_eq!(message, DEFAULT_FAILURE);
        assert_eq!(log_data.as_deref(), Some(r#"{"row":7}"#));
    }

    #[test]
    fn revoked_entries_are_ids_or_definitions() {
        let entries: Vec<RevokeRef> = serde_json::from_str(
            r#"["abc", {"jti": "def"}, {"credentialId": "D:3:CL:1:t", "fields": []}]"#,
        )
        .unwrap();
        assert!(matches!(&entries[0], RevokeRef::Jti(j) if j == "abc"));
        assert!(matches!(&entries[1], RevokeRef::ById { jti } if jti == "def"));
        assert!(matches!(&entries[2], RevokeRef::ByDefinition { fields, .. } if fields.is_empty()));
    }

    #[test]
    fn only_ok_true_passes_a_credential_check() {
        let passed = |json: &str| serde_json::from_str::<CheckReply>(json).unwrap().passed();
        assert!(passed(r#"{"ok":true}"#));
        assert!(!passed(r#"{"ok":false,"errorMessage":"no"}"#));
        assert!(!passed(r#"{"errorMessage":"attribute missing"}"#));
        assert!(!passed(r#"{"ok":"true"}"#));
    }
}
