//! `/api/v1/services/{did}/endpoints`: where the service wants notifications; enabling,
//! disabling, key rotation, a test message and replays.

use axum::extract::State;
use axum::http::StatusCode;
use psi_outbound::OutboundPolicy;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::page::{Page, list_query};
use crate::api::webhook_config;
use crate::db::now_ms;
use crate::delivery::endpoints::{self, DisabledReason, Endpoint, EndpointSettings};
use crate::delivery::messages;
use crate::delivery::outbox;
use crate::delivery::payload::{EventType, TestNotification};
use crate::domain::{self, AuthScheme, WebhookUrl};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::EndpointId;
use crate::scope::ServiceScope;

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 1000;
/// Default and longest overlap of a key rotation, in seconds.
const DEFAULT_OVERLAP_SECS: i64 = 24 * 3600;
const MAX_OVERLAP_SECS: i64 = 30 * 24 * 3600;

/// A new notification endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// An absolute http(s) URL without credentials. An address the outbound policy refuses
    /// (loopback, private, ...; `[outbound]`) is refused here; a host name is checked at each
    /// attempt.
    #[schema(example = "https://hooks.example.com/psi/notifications")]
    pub url: String,
    /// Name of the service's key that signs deliveries: an RSA key pair (`signature` or
    /// `bearer`) or a SHA secret (`bearer` or `standard_webhooks`).
    #[schema(example = "default")]
    pub key: String,
    pub auth: AuthScheme,
    /// The types it receives; empty or absent: every type.
    #[serde(default)]
    pub event_types: Vec<EventType>,
    /// For people, up to 1000 characters.
    #[serde(default)]
    pub description: String,
    /// How long an attempt waits for the answer, 100 to 60000 ms (default 10000).
    #[serde(default = "default_timeout")]
    #[schema(default = 10000)]
    pub timeout_ms: i64,
}

fn default_timeout() -> i64 {
    domain::webhook::DEFAULT_TIMEOUT_MS
}

/// Changes to an endpoint; absent members stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub description: Option<String>,
    pub timeout_ms: Option<i64>,
}

/// A new signing key for an endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// Name of the service's key that signs from now on.
    pub key: String,
    /// The scheme from now on; absent: unchanged.
    pub auth: Option<AuthScheme>,
    /// How long the replaced key keeps signing next to the new one, 0 to 2592000 seconds
    /// (default 86400). With `signature` auth, deliveries then carry `X-Body-Signature` (new key)
    /// and `X-Body-Signature-Previous` (replaced key); with `standard_webhooks`, `webhook-signature`
    /// holds a signature by each secret; with `bearer`, the token is signed with the new key and
    /// receivers should accept either key until the overlap ends. A replaced key that cannot sign
    /// with the new auth adds nothing.
    #[serde(default = "default_overlap")]
    #[schema(default = 86400)]
    pub overlap_secs: i64,
}

fn default_overlap() -> i64 {
    DEFAULT_OVERLAP_SECS
}

/// Replay everything since a time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySince {
    /// Unix milliseconds: messages created at or after this time.
    pub since: i64,
}

/// How many deliveries a replay started.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayView {
    pub replayed: u64,
}

/// The message a test sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestView {
    /// Also `messageId` in the body the endpoint receives.
    pub message_id: String,
}

/// The key a rotation replaced, while it still signs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviousKeyView {
    pub key: String,
    /// Unix milliseconds when it stops signing.
    pub until: i64,
}

/// Whether an outbox endpoint delivers, and since when it does not: a notification endpoint's,
/// or an extension trigger's.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointState {
    pub enabled: bool,
    /// Why it is disabled: `manual` (the API, or the installation disabled) or `failing` (psi
    /// disabled it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<DisabledReason>,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
    /// Unix milliseconds of the first failed attempt since the last success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
}

/// A notification endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Empty: every type.
    pub event_types: Vec<EventType>,
    /// The key that signs deliveries.
    pub key: String,
    pub auth: AuthScheme,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<PreviousKeyView>,
    pub timeout_ms: i64,
    #[serde(flatten)]
    pub state: EndpointState,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<Endpoint> for EndpointView {
    fn from(endpoint: Endpoint) -> Self {
        let now = now_ms();
        EndpointView {
            id: endpoint.id.into(),
            url: endpoint.url,
            description: endpoint.description,
            event_types: endpoint.event_types,
            key: endpoint.key_name,
            auth: endpoint.auth,
            previous_key: endpoint
                .previous_key
                .filter(|(_, until)| *until > now)
                .map(|(key, until)| PreviousKeyView { key, until }),
            timeout_ms: endpoint.timeout_ms,
            state: EndpointState {
                enabled: endpoint.enabled,
                disabled_reason: endpoint.disabled_reason,
                disabled_at: endpoint.disabled_at,
                failing_since: endpoint.failing_since,
            },
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// Checks the settings shared by create and update; `policy` checks a URL being set, not one
/// kept from before, which an endpoint keeps when the outbound policy changes.
fn settings(
    url: &str,
    policy: Option<&OutboundPolicy>,
    event_types: Vec<EventType>,
    description: String,
    timeout_ms: i64,
) -> Result<EndpointSettings, ApiError> {
    let url = match policy {
        Some(policy) => WebhookUrl::parse_for(url, policy),
        None => WebhookUrl::parse(url),
    }
    .map_err(|e| ApiError::Validation(e.to_string()))?;
    let timeout_ms =
        domain::check_timeout(timeout_ms).map_err(|e| ApiError::Validation(e.to_string()))?;
    if event_types.contains(&EventType::Test) {
        return Err(ApiError::Validation(
            "`event_types`: `test` messages are sent on request only, to one endpoint".into(),
        ));
    }
    let mut unique = Vec::with_capacity(event_types.len());
    for event_type in event_types {
        if !unique.contains(&event_type) {
            unique.push(event_type);
        }
    }
    let description = description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION
        || description
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(ApiError::Validation(format!(
            "`description` must be at most {MAX_DESCRIPTION} characters, without control characters"
        )));
    }
    Ok(EndpointSettings {
        url,
        description,
        event_types: unique,
        timeout_ms,
    })
}

/// Checks that the service's key `key` can sign with `auth` (400 otherwise, as for webhooks).
async fn check_key(
    state: &AppState,
    scope: &ServiceScope,
    key: &str,
    auth: AuthScheme,
) -> Result<(), ApiError> {
    let kind = webhook_config::key_kind(state, scope, "key", key).await?;
    domain::check_outgoing_key(key, kind, auth).map_err(|e| ApiError::Validation(e.to_string()))
}

async fn found(
    state: &AppState,
    scope: &ServiceScope,
    id: &EndpointId,
) -> Result<Endpoint, ApiError> {
    endpoints::get(&state.db, scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

/// Register a notification endpoint. It receives the types it subscribes to, signed with the
/// key named, from every change made after this call.
#[utoipa::path(post, path = "/api/v1/services/{did}/endpoints", operation_id = "create_endpoint",
    tag = "notifications", security(("bearer" = [])), request_body = CreateEndpoint,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 201, description = "Created, enabled", body = EndpointView),
        (status = 400, description = "No such key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "Invalid URL or one the outbound policy refuses (loopback, private, ...), types, description or timeout, or a key that cannot sign with this auth (a SHA secret needs `bearer` or `standard_webhooks`, `standard_webhooks` a SHA secret)", body = ErrorBody)))]
pub async fn create(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<CreateEndpoint>,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    let settings = settings(
        &body.url,
        Some(state.outbound.policy()),
        body.event_types,
        body.description,
        body.timeout_ms,
    )?;
    check_key(&state, &scope, &body.key, body.auth).await?;
    let endpoint = endpoints::insert(&state.db, &scope, &settings, &body.key, body.auth).await?;
    tracing::info!(did = %scope.did(), endpoint = %endpoint.id, "notification endpoint created");
    Ok((StatusCode::CREATED, Json(endpoint.into())))
}

list_query! {
    /// Filters of the endpoint list.
    pub struct EndpointQuery {
        /// Only the enabled (`true`) or the disabled (`false`) endpoints.
        pub enabled: Option<bool>,
    }
}

/// List the service's notification endpoints, oldest first.
#[utoipa::path(get, path = "/api/v1/services/{did}/endpoints", operation_id = "list_endpoints",
    tag = "notifications", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), EndpointQuery),
    responses(
        (status = 200, description = "A page of endpoints, oldest first", body = Page<EndpointView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter, `limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<EndpointQuery>,
) -> Result<Json<Page<EndpointView>>, ApiError> {
    let paging = query.paging()?;
    let found = endpoints::list(&state.db, &scope, query.enabled, &paging).await?;
    Ok(Json(Page::cut(&paging, found)))
}

/// One notification endpoint.
#[utoipa::path(get, path = "/api/v1/services/{did}/endpoints/{id}", operation_id = "get_endpoint",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(found(&state, &scope, &id).await?.into()))
}

/// Change an endpoint's URL, types, description or timeout.
#[utoipa::path(patch, path = "/api/v1/services/{did}/endpoints/{id}", operation_id = "update_endpoint",
    tag = "notifications", security(("bearer" = [])), request_body = UpdateEndpoint,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 200, description = "The endpoint, changed", body = EndpointView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody),
        (status = 422, description = "Invalid URL or one the outbound policy refuses (loopback, private, ...), types, description or timeout, or a key that cannot sign with this auth (a SHA secret needs `bearer` or `standard_webhooks`, `standard_webhooks` a SHA secret)", body = ErrorBody)))]
pub async fn update(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
    Json(body): Json<UpdateEndpoint>,
) -> Result<Json<EndpointView>, ApiError> {
    let current = found(&state, &scope, &id).await?;
    let settings = settings(
        body.url.as_deref().unwrap_or(&current.url),
        body.url.is_some().then(|| state.outbound.policy()),
        body.event_types.unwrap_or(current.event_types),
        body.description.unwrap_or(current.description),
        body.timeout_ms.unwrap_or(current.timeout_ms),
    )?;
    if !endpoints::update(&state.db, &scope, &id, &settings).await? {
        return Err(ApiError::not_found("endpoint"));
    }
    Ok(Json(found(&state, &scope, &id).await?.into()))
}

/// Delete an endpoint with its deliveries and their attempts. Messages stay.
#[utoipa::path(delete, path = "/api/v1/services/{did}/endpoints/{id}", operation_id = "delete_endpoint",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody)))]
pub async fn delete(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
) -> Result<StatusCode, ApiError> {
    if !endpoints::delete(&state.db, &scope, &id).await? {
        return Err(ApiError::not_found("endpoint"));
    }
    tracing::info!(did = %scope.did(), endpoint = %id, "notification endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Enable an endpoint. Deliveries held while it was disabled start a new schedule now; messages
/// made meanwhile are not sent (replay them with `.../replay`).
#[utoipa::path(post, path = "/api/v1/services/{did}/endpoints/{id}/enable", operation_id = "enable_endpoint",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 200, description = "The endpoint, enabled", body = EndpointView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody)))]
pub async fn enable(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
) -> Result<Json<EndpointView>, ApiError> {
    if !endpoints::enable(&state.db, &scope, &id).await? {
        return Err(ApiError::not_found("endpoint"));
    }
    Ok(Json(found(&state, &scope, &id).await?.into()))
}

/// Disable an endpoint: it receives nothing new, and its pending deliveries wait until it is
/// enabled again.
#[utoipa::path(post, path = "/api/v1/services/{did}/endpoints/{id}/disable", operation_id = "disable_endpoint",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 200, description = "The endpoint, disabled", body = EndpointView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody)))]
pub async fn disable(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
) -> Result<Json<EndpointView>, ApiError> {
    if !endpoints::disable(&state.db, &scope, &id).await? {
        return Err(ApiError::not_found("endpoint"));
    }
    Ok(Json(found(&state, &scope, &id).await?.into()))
}

/// Sign an endpoint's deliveries with another key. The replaced key keeps signing next to the
/// new one for `overlap_secs`, so the receiver can switch without refusing a delivery.
#[utoipa::path(post, path = "/api/v1/services/{did}/endpoints/{id}/rotate", operation_id = "rotate_endpoint_key",
    tag = "notifications", security(("bearer" = [])), request_body = RotateKey,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 200, description = "The endpoint, with its new key and the previous one", body = EndpointView),
        (status = 400, description = "No such key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody),
        (status = 422, description = "The key is the current one or cannot sign with this auth, or the overlap is out of range", body = ErrorBody)))]
pub async fn rotate(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
    Json(body): Json<RotateKey>,
) -> Result<Json<EndpointView>, ApiError> {
    let current = found(&state, &scope, &id).await?;
    if body.key == current.key_name {
        return Err(ApiError::Validation(format!(
            "`key`: {:?} already signs this endpoint's deliveries",
            body.key
        )));
    }
    if !(0..=MAX_OVERLAP_SECS).contains(&body.overlap_secs) {
        return Err(ApiError::Validation(format!(
            "`overlap_secs` must be from 0 to {MAX_OVERLAP_SECS}"
        )));
    }
    let auth = body.auth.unwrap_or(current.auth);
    check_key(&state, &scope, &body.key, auth).await?;
    let until = (body.overlap_secs > 0).then(|| now_ms() + body.overlap_secs * 1000);
    if !endpoints::rotate(&state.db, &scope, &id, &body.key, auth, until).await? {
        return Err(ApiError::not_found("endpoint"));
    }
    tracing::info!(did = %scope.did(), endpoint = %id, key = %body.key, "endpoint key rotated");
    Ok(Json(found(&state, &scope, &id).await?.into()))
}

/// Send a `test` message to this endpoint only, through the same outbox, signing, retries and
/// attempt log as every notification: try an endpoint, or load-test a receiver.
#[utoipa::path(post, path = "/api/v1/services/{did}/endpoints/{id}/test", operation_id = "test_endpoint",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 202, description = "Enqueued", body = TestView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody)))]
pub async fn test(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
) -> Result<(StatusCode, Json<TestView>), ApiError> {
    let notice = TestNotification {
        endpoint_id: id.to_string(),
        message: "a test message, sent on request",
    };
    // The write finds the endpoint itself; only a refusal looks up why.
    let Some(message_id) =
        outbox::enqueue_alone(&state.db, &scope, EventType::Test, &notice, &id).await?
    else {
        found(&state, &scope, &id).await?;
        return Err(ApiError::Conflict(
            "the endpoint is disabled: enable it first".into(),
        ));
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(TestView {
            message_id: message_id.into(),
        }),
    ))
}

/// Replay to this endpoint every message since a time whose delivery failed, and the messages
/// of its types it never received (sent while it was disabled, or before it existed). While the
/// endpoint is disabled they wait for it to be enabled.
#[utoipa::path(post, path = "/api/v1/services/{did}/endpoints/{id}/replay", operation_id = "replay_endpoint",
    tag = "notifications", security(("bearer" = [])), request_body = ReplaySince,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The endpoint")),
    responses(
        (status = 202, description = "Deliveries started", body = ReplayView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or endpoint", body = ErrorBody)))]
pub async fn replay(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, EndpointId)>,
    Json(body): Json<ReplaySince>,
) -> Result<(StatusCode, Json<ReplayView>), ApiError> {
    let replayed = messages::replay_since(&state.db, &scope, &id, body.since)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    tracing::info!(did = %scope.did(), endpoint = %id, replayed, "endpoint replay");
    Ok((StatusCode::ACCEPTED, Json(ReplayView { replayed })))
}
