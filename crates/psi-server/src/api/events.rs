//! `/api/v1/services/{did}/events`: runs of the service's interactions by holders, with their
//! timestamped log and the webhook calls they made.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{Page, list_query};
use crate::db::events::{self, EventState, LogEntry, WebhookCall};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::{EventId, InteractionId};
use crate::scope::ServiceScope;

list_query! {
    /// Filters of the event list.
    pub struct EventFilter {
        /// Only events of this interaction (`actionId`).
        #[param(value_type = Option<String>)]
        pub interaction: Option<InteractionId>,
        /// Only events in this state: `started`, `waiting`, `completed`, `failed`.
        pub state: Option<String>,
        /// Only events of this holder (pairwise DID).
        pub holder: Option<String>,
    }
}

/// An event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Also the `actionEventId` webhooks see.
    pub id: String,
    /// The interaction (`actionId`).
    pub interaction_id: String,
    /// The instance (`actionInstanceId`).
    pub instance_id: String,
    /// The holder's pairwise DID (`subscriberConnectDid`).
    pub holder_did: String,
    pub state: EventState,
    /// What the holder was told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<events::Event> for EventView {
    fn from(event: events::Event) -> Self {
        EventView {
            id: event.id.into(),
            interaction_id: event.interaction_id.into(),
            instance_id: event.instance_id.into(),
            holder_did: event.holder_did.into(),
            state: event.state,
            message: event.message,
            callback: event.callback,
            created_at: event.created_at,
            updated_at: event.updated_at,
        }
    }
}

/// An event with its log and webhook calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventView,
    /// In order: `started`, `credentials_received`, `verified`, `webhook_called`,
    /// `integration_output`, `issued`, `denied`, `revoked`, then `completed`, `waiting` or
    /// `failed` (with the reason).
    pub log: Vec<LogEntry>,
    /// Every webhook call, with status, duration and the answer's first 1 KiB.
    pub calls: Vec<WebhookCall>,
}

/// List the service's events, newest first.
#[utoipa::path(get, path = "/api/v1/services/{did}/events", operation_id = "list_events", tag = "events",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), EventFilter),
    responses(
        (status = 200, description = "A page of events, newest first", body = Page<EventView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
pub async fn list(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(filter): Query<EventFilter>,
) -> Result<Json<Page<EventView>>, ApiError> {
    let event_state = filter
        .state
        .as_deref()
        .map(|s| {
            EventState::parse(s).ok_or_else(|| {
                ApiError::Validation("`state` must be started, waiting, completed or failed".into())
            })
        })
        .transpose()?;
    let paging = filter.paging()?;
    let filter = events::Filter {
        interaction_id: filter.interaction.as_ref(),
        state: event_state,
        holder_did: filter.holder.as_deref(),
        cursor: paging.after.as_ref(),
        limit: paging.fetch(),
    };
    let found = events::list(&state.db, &scope, &filter).await?;
    Ok(Json(Page::cut(&paging, found)))
}

/// One event with its log and webhook calls.
#[utoipa::path(get, path = "/api/v1/services/{did}/events/{id}", operation_id = "get_event", tag = "events",
    security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The event (`actionEventId`)")),
    responses(
        (status = 200, description = "The event", body = EventDetail),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or event", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, EventId)>,
) -> Result<Json<EventDetail>, ApiError> {
    let (_did, id) = path;
    let event = events::get(&state.db, &scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(EventDetail {
        log: events::log(&state.db, &scope, &id).await?,
        calls: events::calls(&state.db, &scope, &id).await?,
        event: event.into(),
    }))
}
