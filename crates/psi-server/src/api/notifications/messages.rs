//! `/api/v1/services/{did}/messages` and `/attempts`: what was sent, where each delivery
//! stands, every attempt, and replay.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::endpoints::ReplayView;
use crate::api::page::{Page, list_query};
use crate::delivery::messages::{
    self, Attempt, AttemptFilter, Delivery, DeliveryStatus, Message, MessageFilter, Replayed,
};
use crate::delivery::payload::EventType;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::{EndpointId, MessageId};
use crate::scope::ServiceScope;

/// Attempts shown with one message.
const MESSAGE_ATTEMPTS: i64 = 1000;

list_query! {
    /// Filters of the message list.
    pub struct MessageQuery {
        /// Only messages with a delivery to this endpoint.
        #[param(value_type = Option<String>)]
        pub endpoint: Option<EndpointId>,
        /// Only messages with a delivery in this state (to `endpoint` when given): `pending`,
        /// `succeeded`, `failed`.
        pub status: Option<DeliveryStatus>,
        /// Only messages of this type.
        pub event_type: Option<String>,
        /// Only messages created at or after this time (unix ms).
        pub since: Option<i64>,
    }
}

list_query! {
    /// Filters of the attempt list.
    pub struct AttemptQuery {
        /// Only attempts to this endpoint.
        #[param(value_type = Option<String>)]
        pub endpoint: Option<EndpointId>,
        /// Only attempts of this message.
        #[param(value_type = Option<String>)]
        pub message: Option<MessageId>,
        /// `succeeded` (a 2xx answer) or `failed`.
        pub status: Option<AttemptStatus>,
        /// Only attempts made at or after this time (unix ms).
        pub since: Option<i64>,
    }
}

/// How an attempt went.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Succeeded,
    Failed,
}

/// Replay to one endpoint only.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// Only to this endpoint (which then receives it even if it never did).
    #[param(value_type = Option<String>)]
    pub endpoint: Option<EndpointId>,
}

/// Where a message stands overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// A delivery is still waiting for an attempt.
    Pending,
    /// Every delivery succeeded.
    Succeeded,
    /// A delivery failed and none is pending.
    Failed,
    /// No endpoint wanted it.
    Undelivered,
}

/// A notification and its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Also `messageId` in the body and the `X-Psi-Message-Id` header.
    pub id: String,
    pub event_type: String,
    pub status: MessageStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    pub deliveries: Vec<Delivery>,
}

impl From<Message> for MessageView {
    fn from(message: Message) -> Self {
        let has = |status| message.deliveries.iter().any(|d| d.status == status);
        let status = if message.deliveries.is_empty() {
            MessageStatus::Undelivered
        } else if has(DeliveryStatus::Pending) {
            MessageStatus::Pending
        } else if has(DeliveryStatus::Failed) {
            MessageStatus::Failed
        } else {
            MessageStatus::Succeeded
        };
        MessageView {
            status,
            id: message.id.into(),
            event_type: message.event_type,
            created_at: message.created_at,
            deliveries: message.deliveries,
        }
    }
}

/// A message with its body and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: MessageView,
    /// The body every attempt sends.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// Newest first.
    pub attempts: Vec<Attempt>,
}

/// List the service's messages, newest first, with their deliveries.
#[utoipa::path(get, path = "/api/v1/services/{did}/messages", operation_id = "list_messages",
    tag = "notifications", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), MessageQuery),
    responses(
        (status = 200, description = "A page of messages, newest first", body = Page<MessageView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<MessageQuery>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let event_type = query
        .event_type
        .as_deref()
        .map(|text| {
            EventType::parse(text).ok_or_else(|| {
                ApiError::Validation(format!("`event_type`: {text:?} is not an event type"))
            })
        })
        .transpose()?;
    let paging = query.paging()?;
    let filter = MessageFilter {
        endpoint_id: query.endpoint.as_ref(),
        status: query.status,
        event_type,
        since: query.since,
        cursor: paging.after.clone(),
        limit: paging.fetch(),
    };
    let found = messages::list(&state.db, &scope, &filter).await?;
    Ok(Json(Page::cut(&paging, found)))
}

/// One message with its body, its deliveries and every attempt.
#[utoipa::path(get, path = "/api/v1/services/{did}/messages/{id}", operation_id = "get_message",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The message (`messageId`)")),
    responses(
        (status = 200, description = "The message", body = MessageDetail),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or message", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, MessageId)>,
) -> Result<Json<MessageDetail>, ApiError> {
    let (message, payload) = messages::get(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let filter = AttemptFilter {
        message_id: Some(&id),
        limit: MESSAGE_ATTEMPTS,
        ..AttemptFilter::default()
    };
    let attempts = messages::attempts(&state.db, &scope, &filter).await?;
    let payload = RawValue::from_string(payload).map_err(anyhow::Error::new)?;
    Ok(Json(MessageDetail {
        message: message.into(),
        payload,
        attempts,
    }))
}

/// Deliver a message again: its deliveries to enabled endpoints (or to `endpoint` only) start a
/// new schedule now, whatever their state.
#[utoipa::path(post, path = "/api/v1/services/{did}/messages/{id}/replay", operation_id = "replay_message",
    tag = "notifications", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The message (`messageId`)"),
        ReplayQuery),
    responses(
        (status = 202, description = "Deliveries started", body = ReplayView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, message or endpoint", body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody)))]
pub async fn replay(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, id)): Path<(String, MessageId)>,
    Query(query): Query<ReplayQuery>,
) -> Result<(StatusCode, Json<ReplayView>), ApiError> {
    match messages::replay_message(&state.db, &scope, &id, query.endpoint.as_ref()).await? {
        Replayed::Deliveries(replayed) => {
            tracing::info!(did = %scope.did(), message = %id, replayed, "message replay");
            Ok((StatusCode::ACCEPTED, Json(ReplayView { replayed })))
        }
        Replayed::NoMessage => Err(ApiError::not_found("message")),
        Replayed::NoEndpoint => Err(ApiError::not_found("endpoint")),
        Replayed::EndpointDisabled => Err(ApiError::Conflict(
            "the endpoint is disabled: enable it first".into(),
        )),
    }
}

/// List delivery attempts, newest first.
#[utoipa::path(get, path = "/api/v1/services/{did}/attempts", operation_id = "list_attempts",
    tag = "notifications", security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), AttemptQuery),
    responses(
        (status = 200, description = "A page of attempts, newest first", body = Page<Attempt>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
pub async fn attempts(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<AttemptQuery>,
) -> Result<Json<Page<Attempt>>, ApiError> {
    let paging = query.paging()?;
    let filter = AttemptFilter {
        endpoint_id: query.endpoint.as_ref(),
        message_id: query.message.as_ref(),
        succeeded: query.status.map(|s| matches!(s, AttemptStatus::Succeeded)),
        since: query.since,
        cursor: paging.after.clone(),
        limit: paging.fetch(),
    };
    let found = messages::attempts(&state.db, &scope, &filter).await?;
    Ok(Json(Page::cut(&paging, found)))
}
