//! The demo's third party: an interaction webhook inside psi, mounted only by `psi serve --demo`,
//! so the demo interaction runs end to end with `psi wallet run` and nothing else installed.
//!
//! It does what an integrator's receiver does (docs/protocol.md §4.1): verifies `X-Body-Signature` over
//! the exact body with the service's published `default` key, then answers the way the public
//! Node example does, issuing each credential the interaction issues. Values the holder presented
//! carry over by attribute name (the demo member's number becomes the membership's); the others
//! are made up by type: dates one year from now, numbers 1, text "demo", and for enumerations
//! the choice at the position given by the holder's member number (0 when there is none).
//!
//! Calls reach it through the guarded outbound client like any webhook: [`build`](crate::build)
//! admits exactly the URLs under [`allowed_prefix`], so a tenant's webhook cannot make psi call
//! the rest of its own API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use psi_webhook::{PublicKey, SIGNATURE_HEADER, Verifier};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::services::DEFAULT_KEY_NAME;
use crate::credentials::Field;
use crate::db::interactions::NewInteraction;
use crate::db::webhooks::NewWebhook;
use crate::db::{self, interactions::NewRequiredCredential, now_ms};
use crate::domain::{AttributeType, AuthScheme, Description, Name, WebhookUrl};
use crate::http::AppState;
use crate::http::path::Path;
use crate::scope::ServiceScope;
use psi_link::Did;

/// Where the receiver listens, under the server's own address.
const PATH: &str = "/demo/receiver/{serviceDid}";
/// What every receiver URL starts with, after the address.
const PREFIX: &str = "/demo/receiver/";
/// How long the engine waits for the receiver.
const TIMEOUT_MS: i64 = 5000;
/// The attribute whose value picks an enumeration's choice.
const MEMBER_NUMBER: &str = "Member number";
/// One year, in seconds: how long issued demo credentials are valid.
const YEAR_SECS: i64 = 365 * 24 * 60 * 60;

/// The receiver's route (no OpenAPI entry: it exists only in demo mode).
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, post(receive))
}

/// The base URL of this server as the receiver's webhooks call it: the bound address, with an
/// unspecified one (`0.0.0.0`, `::`) replaced by loopback, since that is where it answers.
pub fn webhook_base(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

/// The outbound exception that admits the receiver of the server bound to `bound`, and no other
/// path on that port.
pub fn allowed_prefix(bound: SocketAddr) -> psi_outbound::AllowedHost {
    psi_outbound::AllowedHost::UrlPrefix(
        url::Url::parse(&format!("http://{}{PREFIX}", webhook_base(bound)))
            .expect("an address and a fixed path make a URL"),
    )
}

/// Points the webhook of every interaction of the demo service at the receiver of the server
/// bound to `bound`, authenticated by `X-Body-Signature` with the `default` key. Run at every
/// start: the address may change between runs.
pub async fn attach(state: &AppState, did: &Did, bound: SocketAddr) -> anyhow::Result<()> {
    let scope = db::services::scope_for_did(&state.db, did)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo service {did} is missing"))?;
    let url = format!(
        "http://{}{}",
        webhook_base(bound),
        PATH.replace("{serviceDid}", did.as_str())
    );
    let webhook = NewWebhook {
        url: WebhookUrl::parse(&url)?,
        key_name: DEFAULT_KEY_NAME.to_owned(),
        auth: AuthScheme::Signature,
        timeout_ms: TIMEOUT_MS,
    };
    for interaction in db::interactions::list(&state.db, &scope).await? {
        if interaction
            .webhook
            .as_ref()
            .is_some_and(|w| w.url == webhook.url.as_str())
        {
            continue;
        }
        let new = NewInteraction {
            name: Name::parse(&interaction.name)?,
            description: Description::parse(&interaction.description)?,
            active: interaction.active,
            media: interaction.media,
            required: interaction
                .required
                .into_iter()
                .map(|r| NewRequiredCredential {
                    definition_id: r.definition_id,
                    prefill_from_qr: r.prefill_from_qr,
                    external_verification: r.external_verification,
                    only_last: r.only_last,
                })
                .collect(),
            required_schemas: interaction
                .required_schemas
                .into_iter()
                .map(Into::into)
                .collect(),
            issued: interaction
                .issued
                .into_iter()
                .map(|i| i.definition_id)
                .collect(),
            webhook: Some(webhook.clone()),
            completion_url: interaction.completion_url,
            waiting_deadline_secs: interaction.waiting_deadline_secs,
        };
        db::interactions::update(&state.db, &scope, &interaction.id, &new).await?;
    }
    Ok(())
}

/// What the receiver reads of a §4.1 request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    subscriber_connect_did: String,
    action_id: String,
    action_event_id: String,
    #[serde(default)]
    received_credentials: Vec<Received>,
}

#[derive(Deserialize)]
struct Received {
    #[serde(default)]
    fields: Vec<Field>,
}

/// The webhook: 403 for a bad signature, else the issuing reply.
async fn receive(
    State(state): State<AppState>,
    Path(did): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    match answer(&state, &did, &headers, &body).await {
        Ok(reply) => (StatusCode::OK, axum::Json(reply)),
        Err((status, message)) => {
            tracing::warn!(did, "demo receiver refused a call: {message}");
            (
                status,
                axum::Json(json!({"ok": false, "type": "failure", "message": message})),
            )
        }
    }
}

async fn answer(
    state: &AppState,
    did: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, (StatusCode, String)> {
    let internal = |e: &dyn std::fmt::Display| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let scope = match did.parse::<Did>() {
        Ok(did) => db::services::scope_for_did(&state.db, &did)
            .await
            .map_err(|e| internal(&e))?,
        Err(_) => None,
    }
    .ok_or((StatusCode::NOT_FOUND, format!("no service {did}")))?;
    let pem = db::keys::get(&state.db, &scope, DEFAULT_KEY_NAME)
        .await
        .map_err(|e| internal(&e))?
        .and_then(|key| key.public_pem)
        .ok_or((
            StatusCode::NOT_FOUND,
            "the service has no default key".into(),
        ))?;
    let key = PublicKey::from_pem(&pem).map_err(|e| internal(&e))?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    Verifier::rsa(key)
        .verify_signature(body, signature)
        .map_err(|e| (StatusCode::FORBIDDEN, format!("X-Body-Signature: {e}")))?;
    let request: Request = serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("not an interaction request: {e}"),
        )
    })?;
    let presented: Vec<Field> = request
        .received_credentials
        .into_iter()
        .flat_map(|c| c.fields)
        .collect();
    let issued = issued_credentials(state, &scope, &request.action_id, &presented)
        .await
        .map_err(|e| internal(&e))?;
    Ok(json!({
        "serviceDid": did,
        "subscriberConnectDid": request.subscriber_connect_did,
        "actionEventId": request.action_event_id,
        "issuedCredentials": issued,
        "revokedCredentials": [],
        "ok": true,
    }))
}

/// One credential of each definition the interaction issues, in the Node example's shape.
async fn issued_credentials(
    state: &AppState,
    scope: &ServiceScope,
    action_id: &str,
    presented: &[Field],
) -> anyhow::Result<Vec<Value>> {
    let Some(interaction) =
        db::interactions::get_cached(&state.db, scope, &action_id.into()).await?
    else {
        return Ok(Vec::new());
    };
    let now = now_ms();
    let mut issued = Vec::new();
    for credential in &interaction.issued {
        let definition =
            db::credential_definitions::get(&state.db, scope, &credential.definition_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("an issued definition is missing"))?;
        let fields: Vec<Field> = definition
            .schema
            .attributes
            .iter()
            .map(|attribute| Field {
                name: attribute.name.to_string(),
                value: value_for(attribute.name.as_str(), &attribute.ty, presented, now),
            })
            .collect();
        issued.push(json!({
            "credentialId": definition.credential_id.as_str(),
            "schemaId": definition.schema.schema_id.as_str(),
            "fields": fields,
            "utcIssuedAt": now,
            "revoked": false,
        }));
    }
    Ok(issued)
}

/// The value of attribute `name`: the holder's, else one made up by type.
fn value_for(name: &str, ty: &AttributeType, presented: &[Field], now_ms: i64) -> String {
    if let Some(field) = presented.iter().find(|f| f.name == name) {
        return field.value.clone();
    }
    match ty {
        AttributeType::Date => (now_ms / 1000 + YEAR_SECS).to_string(),
        AttributeType::Number => "1".to_owned(),
        AttributeType::Text | AttributeType::Image => "demo".to_owned(),
        AttributeType::Enumeration(choices) => {
            let number = presented
                .iter()
                .find(|f| f.name == MEMBER_NUMBER)
                .and_then(|f| f.value.parse::<usize>().ok())
                .unwrap_or(0);
            choices[number % choices.len()].value.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EnumValue;

    #[test]
    fn an_unspecified_bound_address_is_called_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(webhook_base(any).to_string(), "127.0.0.1:8080");
        let any6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(webhook_base(any6).to_string(), "[::1]:9000");
        let own: SocketAddr = "192.0.2.7:80".parse().unwrap();
        assert_eq!(webhook_base(own), own);
    }

    #[test]
    fn presented_values_carry_over_and_the_rest_follow_their_type() {
        let presented = [Field {
            name: MEMBER_NUMBER.into(),
            value: "7".into(),
        }];
        assert_eq!(
            value_for(MEMBER_NUMBER, &AttributeType::Number, &presented, 0),
            "7"
        );
        assert_eq!(
            value_for("Valid until", &AttributeType::Date, &presented, 1_000_000),
            (1000 + YEAR_SECS).to_string()
        );
        let choices = ["Bronze", "Silver", "Gold"]
            .iter()
            .enumerate()
            .map(|(i, name)| EnumValue {
                name: Name::parse(name).unwrap(),
                value: i.to_string(),
            })
            .collect();
        let level = AttributeType::Enumeration(choices);
        assert_eq!(value_for("Level", &level, &presented, 0), "1");
        assert_eq!(value_for("Level", &level, &[], 0), "0");
    }
}
