//! Calls third parties make to psi (docs/protocol.md §4.3): `credentials-issued` issues credentials later
//! (completing a waiting event, or pushing to a holder's inbox) and `credentials-issuing-failed`
//! fails a waiting event with a message for the holder.
//!
//! Served under both base paths in circulation (`/service-dashboard-backend/service/{serviceDid}`
//! and `/service-backend/v1/service/{serviceDid}`) and both spellings (`credentials-` and the
//! documentation's `credendials-`). Each call goes through the same steps, and stops at the first
//! that refuses it, before anything is written:
//!
//! 1. the service from the path (404) and the body, at most [`MAX_BODY_BYTES`] (413);
//! 2. authentication ([`auth`]): `X-Body-Signature`, a Bearer token or Standard Webhooks, by a
//!    key some definition authorises, or with `X-Psi-Extension` by the named installation's
//!    extension's inbound key (403; a Bearer token bound to neither a `jti` nor the body: 401);
//! 3. the body ([`wire`]): JSON (400), its members (422), `serviceDid` = the path's (400);
//! 4. what it acts on ([`target`]): the event or the push interaction (404, 409, 422);
//! 5. authorisation: the key among the `issuers` of each definition acted on (for an extension:
//!    the installation enabled and attached to the interaction, which issues each definition
//!    acted on), the caller's address within their `source_ip_prefixes` (403);
//! 6. a repeated call gets the stored answer ([`idempotency`]); any other call's `jti` or
//!    `webhook-id` is accepted once (403 when used before);
//! 7. the credentials checked and signed as the engine issues them ([`crate::event::issue`];
//!    422), then everything written in one transaction ([`apply`], with
//!    [`crate::event::settle`]).
//!
//! Answers are `{ok: true, eventId, issued?, revoked?}`, refusals `{ok: false, error: {code,
//! message}}`. Credentials issued here wait in the holder's inbox (`POST /wallet/v1/services/
//! {serviceDid}/inbox`, read by `psi wallet sync`).

pub mod apply;
pub mod auth;
pub mod config;
pub mod deadline;
pub mod error;
pub mod idempotency;
pub mod refused;
pub mod target;
pub mod wire;

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::credential_definitions::CredentialDefinition;
use crate::db::events::{EventState, LogKind};
use crate::db::interactions::Interaction;
use crate::db::{self, Db, now_ms};
use crate::event::settle::Ending;
use crate::event::{Definitions, Journal, issue};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::public::{BACKEND_BASE, DASHBOARD_BASE, PublicService};
use crate::scope::ServiceScope;
use auth::{Caller, Need};
use error::Refusal;
use idempotency::{Answer, Idempotency};
use target::Target;
use wire::{CredentialsIssued, IssuingFailed, Reply, Routing};

/// Largest body accepted: 256 KiB, far above any real call, so a flood of large bodies costs little.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How often expired ids and answers are deleted.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// What the holder is told when the service reports a failure without a message for them.
const DEFAULT_FAILURE: &str = "the service could not issue your credentials";

/// The routes, on both base paths and both spellings, with and without a trailing slash (newer
/// platform documents write one).
pub fn routes() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(credentials_issued))
        .routes(routes!(credentials_issuing_failed));
    for base in [DASHBOARD_BASE, BACKEND_BASE] {
        for spelling in ["credentials", "credendials"] {
            for slash in ["", "/"] {
                if (base, spelling, slash) == (DASHBOARD_BASE, "credentials", "") {
                    continue; // documented above
                }
                let path =
                    |suffix: &str| format!("{base}/webhook-accept/{spelling}-{suffix}{slash}");
                router = router
                    .route(&path("issued"), post(credentials_issued))
                    .route(&path("issuing-failed"), post(credentials_issuing_failed));
            }
        }
    }
    router.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Deletes expired ids and answers (`db::inbound::purge`), SSI OAuth's grants a day after they
/// expired (`db::oauth::purge`) and the dashboard's expired sessions, every [`PURGE_INTERVAL`],
/// until `shutdown`.
pub fn spawn_purge(db: Db, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PURGE_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match db::inbound::purge(&db, now_ms()).await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "purged inbound ids and answers"),
                Err(e) => tracing::warn!(error = %e, "purging inbound ids and answers"),
            }
            match db::oauth::purge(&db, now_ms()).await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "purged expired SSI OAuth grants"),
                Err(e) => tracing::warn!(error = %e, "purging expired SSI OAuth grants"),
            }
            match db::operators::purge_sessions(&db, now_ms()).await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "purged expired dashboard sessions"),
                Err(e) => tracing::warn!(error = %e, "purging expired dashboard sessions"),
            }
        }
    })
}

/// Issue credentials later.
#[utoipa::path(post,
    path = "/service-dashboard-backend/service/{serviceDid}/webhook-accept/credentials-issued",
    operation_id = "inbound_credentials_issued", tag = "third parties",
    description = "docs/protocol.md §4.3. Authenticated with a key the credential definitions involved \
        list in `issuers`, from their `source_ip_prefixes` where set, by `X-Body-Signature`, by \
        `Authorization: Bearer` (RS256 or HS256, `aud` = the service's DID, `exp` required and \
        at most `[inbound] token_exp_horizon` ahead, each `jti` once, `body_sha3_256` required \
        without `jti`) or by Standard Webhooks (`webhook-id` once, `webhook-timestamp` within \
        `[inbound] standard_webhooks_tolerance`, a `v1` `webhook-signature` by a SHA secret). \
        With `subscriberEventId` the waiting event completes; with `actionTemplate` (and \
        `actionParams`) a push-from-server interaction runs for `subscriberConnectDid`. Either \
        way the credentials wait in the holder's inbox. The same body (for good when signed with \
        `X-Body-Signature`, else within 24 hours), or the same `Idempotency-Key` within 24 \
        hours, gets the same answer (`Idempotent-Replayed: true`) and acts once. Also served \
        under `/service-backend/v1/service/{serviceDid}/...`, as `credendials-issued` and with a \
        trailing slash.",
    params(("serviceDid" = String, Path, description = "The service's public DID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Names the call: a repeat answers the same"),
        ("X-Psi-Extension" = Option<String>, Header, description = "An installation of the service: the call is made on its extension's behalf, authenticated by the extension's inbound key (not the definitions' `issuers`) and allowed only on interactions the installation is attached to while enabled (docs/extensions.md)")),
    request_body = CredentialsIssued,
    responses(
        (status = 200, description = "Issued (`ok: true`)", body = Reply),
        (status = 400, description = "Not JSON, or `serviceDid` is not the path's", body = ErrorBody),
        (status = 401, description = "A Bearer token with neither `jti` nor `body_sha3_256`", body = ErrorBody),
        (status = 403, description = "Missing or bad authentication, a key or address not authorised, a `jti` or `webhook-id` used before", body = ErrorBody),
        (status = 404, description = "No such service, event, interaction or instance", body = ErrorBody),
        (status = 409, description = "The event is not waiting; the interaction is not push-from-server or is paused", body = ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = ErrorBody),
        (status = 422, description = "A member is missing or malformed, or a credential does not fit its definition", body = ErrorBody)))]
pub async fn credentials_issued(
    State(state): State<AppState>,
    received: Received,
) -> Result<Answer, Refusal> {
    // A task of its own: the call settles even if the sender hangs up.
    Ok(spawned(state, received, "credentials-issued", issued).await?)
}

/// Report that issuing failed.
#[utoipa::path(post,
    path = "/service-dashboard-backend/service/{serviceDid}/webhook-accept/credentials-issuing-failed",
    operation_id = "inbound_credentials_issuing_failed", tag = "third parties",
    description = "docs/protocol.md §4.3. Authenticated as `credentials-issued`, with a key authorised on \
        any credential definition the event's interaction issues. The waiting event \
        (`subscriberEventId`) fails; the holder is told `subscriberErorrMessage` (or \
        `subscriberErrorMessage`, else `errorMessage`); `errorMessage` and \
        `integrationOutput.logData` go to the event log. With `actionTemplate` instead, a failed \
        push event is recorded for `subscriberConnectDid`. Also served under \
        `/service-backend/v1/service/{serviceDid}/...`, as `credendials-issuing-failed` and with a \
        trailing slash.",
    params(("serviceDid" = String, Path, description = "The service's public DID"),
        ("Idempotency-Key" = Option<String>, Header, description = "Names the call: a repeat answers the same"),
        ("X-Psi-Extension" = Option<String>, Header, description = "An installation of the service: the call is made on its extension's behalf, authenticated by the extension's inbound key (not the definitions' `issuers`) and allowed only on interactions the installation is attached to while enabled (docs/extensions.md)")),
    request_body = IssuingFailed,
    responses(
        (status = 200, description = "The event failed (`ok: true`)", body = Reply),
        (status = 400, description = "Not JSON, or `serviceDid` is not the path's", body = ErrorBody),
        (status = 401, description = "A Bearer token with neither `jti` nor `body_sha3_256`", body = ErrorBody),
        (status = 403, description = "Missing or bad authentication, a key or address not authorised, a `jti` or `webhook-id` used before", body = ErrorBody),
        (status = 404, description = "No such service, event, interaction or instance", body = ErrorBody),
        (status = 409, description = "The event is not waiting; the interaction is not push-from-server or is paused", body = ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = ErrorBody),
        (status = 422, description = "A member is missing or malformed", body = ErrorBody)))]
pub async fn credentials_issuing_failed(
    State(state): State<AppState>,
    received: Received,
) -> Result<Answer, Refusal> {
    Ok(spawned(
        state,
        received,
        "credentials-issuing-failed",
        issuing_failed,
    )
    .await?)
}

/// Handles `received` with `handle` in a task of its own, and records a refusal ([`refused`]).
async fn spawned<F>(
    state: AppState,
    received: Received,
    call: &'static str,
    handle: fn(AppState, Received) -> F,
) -> Result<Answer, ApiError>
where
    F: Future<Output = Result<Answer, ApiError>> + Send + 'static,
{
    let task = tokio::spawn(async move {
        let (scope, body) = (received.scope.clone(), received.body.clone());
        let result = handle(state.clone(), received).await;
        if let Err(refusal) = &result
            && !matches!(refusal, ApiError::Internal(_))
        {
            refused::record(&state, &scope, call, &body, refusal).await;
        }
        result
    });
    task.await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("inbound call task")))?
}

async fn issued(state: AppState, received: Received) -> Result<Answer, ApiError> {
    let call: Call<CredentialsIssued> = received.into_call(&state, "credentials-issued").await?;
    let target = target::resolve(&state.db, &call.scope, call.body.as_ref()).await?;
    let mut journal = Journal::default();
    journal.log(
        LogKind::CredentialsReceived,
        format!(
            "the service issued {} credential(s) later ({}{})",
            call.body.credentials.len(),
            call.caller.who(),
            call.body
                .issued_at
                .map(|at| format!(", issued at {at} ms"))
                .unwrap_or_default()
        ),
    );
    let interaction = target.interaction();
    let own = issue::issued_definitions(interaction, &call.definitions, &call.body.credentials)
        .map_err(crate::event::Error::from)?;
    let revocations = issue::revocations(
        &state,
        &call.scope,
        &call.definitions,
        target.holder_did(),
        &call.body.revoked_credentials,
        &mut journal,
    )
    .await?;
    let mut acted_on: Vec<&CredentialDefinition> = own.clone();
    acted_on.extend(
        revocations
            .iter()
            .map(|r| &call.definitions[&r.definition_id]),
    );
    let mut seen = HashSet::new();
    acted_on.retain(|d| seen.insert(d.id.clone()));
    let need = if acted_on.is_empty() {
        Need::Any(interaction_definitions(&target, &call.definitions))
    } else {
        Need::All(acted_on)
    };
    if let Some(answer) = call.admit(&state, interaction, &need).await? {
        return Ok(answer);
    }
    if let Target::Event { event, .. } = &target {
        target::await_waiting(&state.db, &call.scope, event).await?;
    }
    let signing = issue::sign(
        &state,
        &call.scope,
        target.holder_did(),
        &call.body.credentials,
        &own,
        &mut journal,
    )
    .await?;
    let ending = Ending {
        state: EventState::Completed,
        message: signing.declined_message(),
        batch: signing.batch,
        revoke: revocations.into_iter().map(|r| r.jti).collect(),
    };
    apply::commit(
        &state,
        &call.scope,
        &target,
        ending,
        journal,
        &call.idempotency,
    )
    .await
}

async fn issuing_failed(state: AppState, received: Received) -> Result<Answer, ApiError> {
    let call: Call<IssuingFailed> = received
        .into_call(&state, "credentials-issuing-failed")
        .await?;
    let target = target::resolve(&state.db, &call.scope, call.body.as_ref()).await?;
    let need = Need::Any(interaction_definitions(&target, &call.definitions));
    if let Some(answer) = call.admit(&state, target.interaction(), &need).await? {
        return Ok(answer);
    }
    if let Target::Event { event, .. } = &target {
        target::await_waiting(&state.db, &call.scope, event).await?;
    }
    let body = &call.body;
    let non_empty = |m: &Option<String>| m.clone().filter(|m| !m.trim().is_empty());
    let message = non_empty(&body.subscriber_erorr_message)
        .or_else(|| non_empty(&body.error_message))
        .unwrap_or_else(|| DEFAULT_FAILURE.to_owned());
    let mut journal = Journal::default();
    if let Some(line) = body.integration_output.as_ref().and_then(|o| o.log_line()) {
        journal.log(LogKind::IntegrationOutput, line);
    }
    journal.log(
        LogKind::Failed,
        format!(
            "the service reported that issuing failed ({}): {}",
            call.caller.who(),
            non_empty(&body.error_message).unwrap_or_else(|| message.clone())
        ),
    );
    apply::commit(
        &state,
        &call.scope,
        &target,
        Ending::failed(message),
        journal,
        &call.idempotency,
    )
    .await
}

/// The definitions the target's interaction issues.
fn interaction_definitions<'a>(
    target: &Target,
    definitions: &'a Definitions,
) -> Vec<&'a CredentialDefinition> {
    target
        .interaction()
        .issued
        .iter()
        .filter_map(|c| definitions.get(&c.definition_id))
        .collect()
}

/// A call as received: its service, headers, raw body and where it came from.
#[derive(Debug)]
pub struct Received {
    scope: ServiceScope,
    headers: HeaderMap,
    address: Option<std::net::IpAddr>,
    body: Bytes,
}

impl FromRequest<AppState> for Received {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Refusal> {
        let (mut parts, body) = request.into_parts();
        let PublicService(scope) = PublicService::from_request_parts(&mut parts, state).await?;
        let address =
            crate::http::throttle::peer_address(&parts, state.config.inbound.trust_forwarded_for);
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest(e.body_text()),
            })?;
        Ok(Received {
            scope,
            headers,
            address,
            body,
        })
    }
}

/// An authenticated call with its body read.
struct Call<B> {
    scope: ServiceScope,
    caller: Caller,
    body: B,
    definitions: Definitions,
    idempotency: Idempotency,
}

impl Received {
    /// Authenticates the call, then reads its body. `endpoint` names the call for repeats.
    async fn into_call<B: DeserializeOwned + AsRef<Routing>>(
        self,
        state: &AppState,
        endpoint: &str,
    ) -> Result<Call<B>, ApiError> {
        let definitions = db::credential_definitions::list_cached(&state.db, &self.scope).await?;
        let caller = auth::authenticate(
            state,
            &self.scope,
            &definitions,
            &self.headers,
            &self.body,
            self.address,
        )
        .await?;
        let body: B = serde_json::from_slice(&self.body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::Validation(e.to_string()),
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {e}")),
        })?;
        let service_did = &body.as_ref().service_did;
        if service_did != self.scope.did().as_str() {
            return Err(ApiError::BadRequest(format!(
                "`serviceDid` {service_did:?} is not the service of the path ({})",
                self.scope.did()
            )));
        }
        let signed = caller.scheme == auth::Scheme::Signature;
        let idempotency = Idempotency::new(endpoint, &self.headers, &self.body, signed)?;
        Ok(Call {
            scope: self.scope,
            caller,
            body,
            definitions: definitions.into_iter().map(|d| (d.id.clone(), d)).collect(),
            idempotency,
        })
    }
}

impl<B> Call<B> {
    /// Authorises the call for `need` on `interaction`; returns the stored answer when the call
    /// was made before, else accepts its `jti` or `webhook-id` once. A sender retrying the very
    /// same request (same token or id, same body) after a lost answer gets that answer, not a
    /// refusal of its id; the id still cannot carry any other call.
    async fn admit(
        &self,
        state: &AppState,
        interaction: &Interaction,
        need: &Need<'_>,
    ) -> Result<Option<Answer>, ApiError> {
        auth::authorise(&self.caller, interaction, need)?;
        if let Some(earlier) = self.idempotency.earlier(&state.db, &self.scope).await? {
            return Ok(Some(earlier));
        }
        auth::accept_once(state, &self.scope, &self.caller).await?;
        Ok(None)
    }
}
