//! Signed wallet calls: running an interaction (one event, run to its end inside the request) and
//! collecting credentials issued later and revocations.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::signed::{HolderHeaders, Signed};
use crate::credentials::IssuedCredential;
use crate::db::events::EventState;
use crate::db::{self, now_ms};
use crate::engine::present::{Prefilled, Presented};
use crate::engine::{self, EventRequest};
use crate::event;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::ids::{InstanceId, InteractionId};
use crate::pages::session::Session;
use crate::public::PublicService;

/// A holder's request to run an interaction, signed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartEvent {
    /// The interaction.
    #[schema(value_type = String)]
    pub action_id: InteractionId,
    /// The instance (a link's `id`); absent: the default instance.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub instance_id: Option<InstanceId>,
    /// The holder's pairwise DID with the service: base58 of the first 16 bytes of the signing
    /// key.
    pub holder_did: String,
    /// Unix milliseconds; refused when more than 5 minutes from the server's clock.
    pub timestamp: i64,
    /// Random, 8 to 128 characters, new for every call.
    pub nonce: String,
    /// The link's `preparedCredentials` as they are (or `[]`).
    #[serde(default)]
    pub prefilled: Vec<Prefilled>,
    /// Each required credential: `{credentialId, attributes}` when self-attested,
    /// `{credentialId, jwt}` when issued by the service.
    #[serde(default)]
    pub presented: Vec<Presented>,
    /// The link's callback, handed back after a success.
    #[serde(default)]
    pub callback: Option<String>,
    /// The link's `psiSession` (22 base64url characters), when it came from a start page: the
    /// page then shows this event's progress.
    #[serde(default)]
    pub session: Option<String>,
}

/// How the event ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOutcome {
    /// Also the `actionEventId` the service's webhook saw.
    pub event_id: String,
    /// `completed`, `waiting` (the service issues later: see the inbox) or `failed`.
    pub state: EventState,
    /// For the holder: why it failed, what was declined, that issuing comes later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Credentials issued now.
    pub issued: Vec<IssuedCredential>,
    /// The link's callback, to open after a success (absent after a failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

/// Run an interaction: verification, webhooks and issuing happen inside this request.
#[utoipa::path(post, path = "/wallet/v1/services/{serviceDid}/events", operation_id = "wallet_start_event",
    tag = "wallet",
    description = "Signed: `X-Holder-Verkey` (base58 Ed25519 public key) and `X-Holder-Signature` \
        (base64url Ed25519 signature over the exact body bytes). A failed event is still 200, \
        with `state: failed` and the holder's `message`.",
    params(("serviceDid" = String, Path, description = "The service's public DID"), HolderHeaders),
    request_body = StartEvent,
    responses(
        (status = 200, description = "The event ran to its end", body = EventOutcome),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "The signature headers are missing", body = ErrorBody),
        (status = 403, description = "Bad signature, DID not the key's, stale timestamp or a nonce used before", body = ErrorBody),
        (status = 404, description = "No such service, interaction or instance", body = ErrorBody),
        (status = 409, description = "The interaction is paused", body = ErrorBody),
        (status = 422, description = "A member is missing or malformed", body = ErrorBody)))]
pub async fn start(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    signed: Signed<StartEvent>,
) -> Result<Json<EventOutcome>, ApiError> {
    let body = signed.body;
    if let Some(callback) = &body.callback {
        check_callback(&scope, body.action_id.as_str(), callback)?;
    }
    if body
        .session
        .as_deref()
        .is_some_and(|s| Session::parse(s).is_none())
    {
        return Err(ApiError::Validation(
            "`session` must be a link's psiSession: 22 base64url characters".into(),
        ));
    }
    let request = EventRequest {
        session: body.session,
        action_id: body.action_id,
        instance_id: body.instance_id,
        holder: signed.holder,
        nonce: body.nonce,
        prefilled: body.prefilled,
        presented: body.presented,
        callback: body.callback.filter(|c| !c.is_empty()),
    };
    // A task of its own: the event settles even if the wallet hangs up.
    let outcome = tokio::spawn(engine::run(state, scope, request))
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("event task")))??;
    Ok(Json(EventOutcome {
        event_id: outcome.event_id.into(),
        state: outcome.state,
        message: outcome.message,
        issued: outcome.issued,
        callback: outcome.callback,
    }))
}

/// The link rules for callbacks (docs/protocol.md §2): no `javascript:`, `data:`, `file:` and the like.
fn check_callback(
    scope: &crate::scope::ServiceScope,
    action_id: &str,
    callback: &str,
) -> Result<(), ApiError> {
    let request = psi_link::LinkRequest {
        action_id: Some(action_id.to_owned()),
        service_did: Some(scope.did().to_string()),
        callback: Some(callback.to_owned()),
        ..Default::default()
    };
    request
        .validate()
        .map_err(|e| ApiError::Validation(format!("`callback`: {e}")))
}

/// A holder's request for its inbox, signed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InboxRequest {
    pub holder_did: String,
    /// Unix milliseconds.
    pub timestamp: i64,
    pub nonce: String,
}

holder_call!(StartEvent, InboxRequest);

/// Credentials issued later, and revocations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    /// Not delivered before; now marked collected.
    pub credentials: Vec<IssuedCredential>,
    /// Ids (`jti`) of every revoked credential the service issued to the holder.
    pub revoked: Vec<String>,
}

/// Collect credentials issued after their event, and learn of revocations.
#[utoipa::path(post, path = "/wallet/v1/services/{serviceDid}/inbox", operation_id = "wallet_inbox",
    tag = "wallet",
    description = "Signed like `POST .../events`. Each credential is delivered once.",
    params(("serviceDid" = String, Path, description = "The service's public DID"), HolderHeaders),
    request_body = InboxRequest,
    responses(
        (status = 200, description = "The inbox", body = Inbox),
        (status = 401, description = "The signature headers are missing", body = ErrorBody),
        (status = 403, description = "Bad signature, DID not the key's, stale timestamp or a nonce used before", body = ErrorBody),
        (status = 404, description = "No such service", body = ErrorBody)))]
pub async fn inbox(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    signed: Signed<InboxRequest>,
) -> Result<Json<Inbox>, ApiError> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let fresh = db::holder_nonces::accept(
        &mut tx,
        &scope,
        &signed.holder.verkey,
        &signed.body.nonce,
        now,
    )
    .await?;
    if !fresh {
        return Err(event::Error::NonceReused.into());
    }
    let (credentials, revoked) =
        db::credentials::collect_inbox(&mut tx, &scope, &signed.holder.did, now).await?;
    tx.commit().await?;
    Ok(Json(Inbox {
        credentials: credentials.into_iter().map(Into::into).collect(),
        revoked,
    }))
}
