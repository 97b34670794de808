//! The bodies of docs/protocol.md §4.3, read leniently (unknown members ignored, the aliases existing
//! senders use accepted), and psi's answer `{ok, error?: {code, message}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::Parameter;
use crate::event::issue::{IssuedValues, RevokeRef};

/// Where both calls go: the service, and the waiting event or the push interaction with its
/// holder. Older senders name the event `actionEventId`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Routing {
    /// The service's public DID: the path's.
    pub service_did: String,
    /// The holder's pairwise DID: required without `subscriberEventId`.
    #[serde(default)]
    pub subscriber_connect_did: Option<String>,
    /// The waiting event (`actionEventId` of the interaction webhook).
    #[serde(default, alias = "actionEventId")]
    pub subscriber_event_id: Option<String>,
    /// Without `subscriberEventId`: the push-from-server interaction (`actionId`).
    #[serde(default)]
    pub action_template: Option<String>,
    /// Picks the instance of `actionTemplate` with these parameters; absent: the default one.
    #[serde(default)]
    pub action_params: Option<Vec<Parameter>>,
}

/// `POST .../webhook-accept/credentials-issued`.
///
/// The public async-issue example sends `issuedCredentials` (not `credentials`), with
/// `revokedCredentials`, `issuedAt` and `ok: true`: read as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsIssued {
    #[serde(flatten)]
    pub routing: Routing,
    /// The credentials to issue (`WebhookCredentialValues`; `utcIssuedAt` and `revoked` are
    /// ignored: psi sets the issue time). A credential with empty `fields` is declined.
    #[serde(default, alias = "issuedCredentials")]
    #[schema(value_type = Vec<Object>)]
    pub credentials: Vec<IssuedValues>,
    /// Credentials to revoke: a `jti`, `{jti}`, or `{credentialId, fields?}` for the holder's
    /// credentials of a definition (those with these values).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub revoked_credentials: Vec<RevokeRef>,
    /// When the sender issued them, unix milliseconds; written to the event log.
    #[serde(default)]
    pub issued_at: Option<i64>,
}

/// `POST .../webhook-accept/credentials-issuing-failed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuingFailed {
    #[serde(flatten)]
    pub routing: Routing,
    /// Why issuing failed, for the event log (and the holder when there is no
    /// `subscriberErorrMessage`).
    #[serde(default)]
    pub error_message: Option<String>,
    /// What the holder is told; spelled so in the platform's documentation, and accepted as
    /// `subscriberErrorMessage` too.
    #[serde(default, alias = "subscriberErrorMessage")]
    pub subscriber_erorr_message: Option<String>,
    /// `{integrationId, logData}`: written to the event log.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub integration_output: Option<IntegrationOutput>,
}

impl AsRef<Routing> for CredentialsIssued {
    fn as_ref(&self) -> &Routing {
        &self.routing
    }
}

impl AsRef<Routing> for IssuingFailed {
    fn as_ref(&self) -> &Routing {
        &self.routing
    }
}

/// `integrationOutput` of a failure.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationOutput {
    #[serde(default)]
    pub integration_id: Option<Value>,
    #[serde(default)]
    pub log_data: Option<Value>,
}

impl IntegrationOutput {
    /// `<integrationId>: <logData>`, JSON values other than strings written compactly.
    pub fn log_line(&self) -> Option<String> {
        let data = text_of(self.log_data.as_ref()?);
        Some(match self.integration_id.as_ref().map(text_of) {
            Some(id) if !id.is_empty() => format!("{id}: {data}"),
            _ => data,
        })
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// psi's answer to both calls (docs/protocol.md §4.3 `{ok, error?: {message}}`), with what was done.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// Always true here: failures answer `{ok: false, error: {code, message}}` with a 4xx/5xx.
    pub ok: bool,
    /// The event completed, failed or recorded for a push.
    pub event_id: String,
    /// What was issued: each credential's `jti` (its id and revocation handle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issued: Vec<IssuedRef>,
    /// Credentials revoked by this call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<String>,
}

/// One credential issued by a call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedRef {
    pub jti: String,
    pub credential_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_async_issue_example_body_is_read_as_it_is() {
        let body = br#"{"serviceDid":"FhnK3hGQ6EeQHKztiHJ6pu","subscriberConnectDid":"9s57yZDBqwfZHdodKXTjKH",
            "subscriberEventId":"e1","issuedCredentials":[{"credentialId":"FhnK3hGQ6EeQHKztiHJ6pu:3:CL:649:tag",
            "schemaId":"FhnK3hGQ6EeQHKztiHJ6pu:2:Example Secret Access:1.0","fields":[{"name":"Document ID","value":"007"}],
            "utcIssuedAt":1700000000000,"revoked":false}],"revokedCredentials":[],"issuedAt":1700000000000,"ok":true}"#;
        let issued: CredentialsIssued = serde_json::from_slice(body).unwrap();
        assert_eq!(issued.routing.subscriber_event_id.as_deref(), Some("e1"));
        assert_eq!(issued.credentials.len(), 1);
        assert_eq!(issued.credentials[0].fields[0].value, "007");
        assert_eq!(issued.issued_at, Some(1_700_000_000_000));
    }

    #[test]
    fn a_failure_reads_both_spellings_of_the_holder_message() {
        let documented: IssuingFailed = serde_json::from_str(
            r#"{"serviceDid":"D","errorMessage":"crm down","subscriberErorrMessage":"try later","subscriberEventId":"e"}"#,
        )
        .unwrap();
        assert_eq!(
            documented.subscriber_erorr_message.as_deref(),
            Some("try later")
        );
        let corrected: IssuingFailed = serde_json::from_str(
            r#"{"serviceDid":"D","subscriberErrorMessage":"try later","actionTemplate":"a"}"#,
        )
        .unwrap();
        assert_eq!(
            corrected.subscriber_erorr_message.as_deref(),
            Some("try later")
        );
        assert_eq!(corrected.routing.action_template.as_deref(), Some("a"));
    }

    #[test]
    fn integration_output_is_logged_with_its_integration() {
        let output: IntegrationOutput =
            serde_json::from_str(r#"{"integrationId":"crm","logData":{"row":7}}"#).unwrap();
        assert_eq!(output.log_line().as_deref(), Some(r#"crm: {"row":7}"#));
    }
}
