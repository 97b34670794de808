//! The **Events** screen: the open service's events, newest first, through the management API's
//! own list (its filters: interaction and state), refreshed live on the first page by
//! server-sent events; and an event's page with its log, the credentials shared and issued, and
//! every webhook call, as the API's event GET returns them.

use std::convert::Infallible;
use std::time::{Duration, UNIX_EPOCH};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::time::Instant;

use super::session::SignedIn;
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::events::{EventFilter, EventView};
use crate::db;
use crate::db::events::{LogEntry, LogKind, WebhookCall};
use crate::http::AppState;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::{EventId, InteractionId};
use crate::pages::render::html;
use crate::scope::ServiceScope;

/// Events a page shows.
const PAGE: i64 = 50;
/// How often the live stream looks for a new event.
const POLL: Duration = Duration::from_secs(2);
/// How long one live stream lasts before the browser reconnects (so no connection outlives a
/// graceful shutdown by long).
const STREAM_SECS: u64 = 25;
/// The states the API's `state` filter takes.
const STATES: [&str; 4] = ["started", "waiting", "completed", "failed"];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/services/{serviceDid}/events", get(list))
        .route("/dashboard/services/{serviceDid}/events/live", get(live))
        .route("/dashboard/services/{serviceDid}/events/{id}", get(detail))
}

/// A time (unix ms) as people read it, in UTC.
pub(super) fn when(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// One row of the list.
struct Row {
    id: String,
    at: String,
    interaction_id: String,
    interaction: String,
    holder: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard/events.html")]
struct ListPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Row>,
    states: [&'static str; 4],
    /// The filters as asked (empty: none).
    state: String,
    interaction: String,
    /// The interaction filtered on, by name.
    interaction_name: Option<String>,
    /// This list's address without a cursor: its first page, and the "Newer events" link.
    first: String,
    next: Option<String>,
    /// The live stream's address, on the first page only.
    live: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    interaction: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
}

/// An empty filter (as a form sends it) is no filter.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The list's query string for these filters.
fn filters(interaction: Option<&str>, state: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(interaction) = interaction {
        query.append_pair("interaction", interaction);
    }
    if let Some(state) = state {
        query.append_pair("state", state);
    }
    query.finish()
}

/// `GET /dashboard/services/{serviceDid}/events`.
async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "events").await?;
    let scope = nav.scope()?;
    let interaction = given(query.interaction);
    let event_state = given(query.state);
    let filter = EventFilter {
        interaction: interaction.clone().map(InteractionId::from),
        state: event_state.clone(),
        holder: None,
        limit: Some(PAGE),
        cursor: query.cursor.clone(),
    };
    let page = crate::api::events::list(scope.clone(), State(state.clone()), Query(filter))
        .await?
        .0;
    let mut ids: Vec<&str> = page
        .data
        .iter()
        .map(|e| e.interaction_id.as_str())
        .collect();
    ids.extend(interaction.as_deref());
    let names = db::interactions::names_of(&state.db, &scope, &ids).await?;
    let rows = page
        .data
        .iter()
        .map(|event: &EventView| Row {
            id: event.id.clone(),
            at: when(event.created_at),
            interaction: names
                .get(&event.interaction_id)
                .cloned()
                .unwrap_or_else(|| event.interaction_id.clone()),
            interaction_id: event.interaction_id.clone(),
            holder: event.holder_did.clone(),
            state: event.state.as_str(),
        })
        .collect();
    let base = format!("/dashboard/services/{}/events", nav.service.did);
    let query_string = filters(interaction.as_deref(), event_state.as_deref());
    let first = if query_string.is_empty() {
        base.clone()
    } else {
        format!("{base}?{query_string}")
    };
    let joiner = if query_string.is_empty() { "?" } else { "&" };
    let next = page
        .next_cursor
        .map(|cursor| format!("{first}{joiner}cursor={cursor}"));
    let live = query.cursor.is_none().then(|| {
        let newest = page.data.first().map_or("", |e| e.id.as_str());
        let mut live = format!("{base}/live?");
        if !query_string.is_empty() {
            live += &format!("{query_string}&");
        }
        live + &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("last", newest)
            .finish()
    });
    Ok(html(&ListPage {
        layout: &LAYOUT,
        interaction_name: interaction
            .as_ref()
            .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone())),
        nav,
        rows,
        states: STATES,
        state: event_state.unwrap_or_default(),
        interaction: interaction.unwrap_or_default(),
        first,
        next,
        live,
    }))
}

#[derive(Deserialize)]
pub(super) struct LiveQuery {
    interaction: Option<String>,
    state: Option<String>,
    /// The newest event the page shows (empty: none).
    #[serde(default)]
    last: String,
}

/// `GET .../events/live`: server-sent events; a `changed` event when the list's newest event is
/// no longer `last`, read through the API's list like the page.
async fn live(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<LiveQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "events").await?;
    let watch = Watch {
        state,
        scope: nav.scope()?,
        interaction: given(query.interaction),
        event_state: given(query.state),
        last: query.last,
        until: Instant::now() + Duration::from_secs(STREAM_SECS),
        done: false,
    };
    let mut response = Sse::new(changes(watch))
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

struct Watch {
    state: AppState,
    scope: ServiceScope,
    interaction: Option<String>,
    event_state: Option<String>,
    last: String,
    until: Instant,
    done: bool,
}

impl Watch {
    /// The id of the list's newest event (empty: none).
    async fn newest(&self) -> Result<String, crate::http::error::ApiError> {
        let filter = EventFilter {
            interaction: self.interaction.clone().map(InteractionId::from),
            state: self.event_state.clone(),
            holder: None,
            limit: Some(1),
            cursor: None,
        };
        let page =
            crate::api::events::list(self.scope.clone(), State(self.state.clone()), Query(filter))
                .await?
                .0;
        Ok(page.data.first().map(|e| e.id.clone()).unwrap_or_default())
    }
}

fn changes(watch: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(watch, |mut watch| async move {
        loop {
            if watch.done || Instant::now() >= watch.until {
                return None;
            }
            let newest = match watch.newest().await {
                Ok(newest) => newest,
                Err(error) => {
                    tracing::error!(%error, "reading the newest event for the dashboard");
                    return None;
                }
            };
            if newest == watch.last {
                tokio::time::sleep(POLL).await;
                continue;
            }
            // The page reloads its list and opens a new stream from there.
            watch.done = true;
            let event = Event::default()
                .event("changed")
                .retry(Duration::from_secs(2))
                .data(newest);
            return Some((Ok(event), watch));
        }
    })
}

/// One log entry, as shown.
struct Entry {
    at: String,
    kind: &'static str,
    detail: String,
}

impl From<&LogEntry> for Entry {
    fn from(entry: &LogEntry) -> Self {
        Entry {
            at: when(entry.at),
            kind: entry.kind.as_str(),
            detail: entry.detail.clone(),
        }
    }
}

/// One webhook call, as shown.
struct Call {
    at: String,
    kind: &'static str,
    url: String,
    status: String,
    duration_ms: i64,
    excerpt: String,
    error: Option<String>,
}

impl From<&WebhookCall> for Call {
    fn from(call: &WebhookCall) -> Self {
        Call {
            at: when(call.at),
            kind: match call.kind {
                db::events::CallKind::Interaction => "Interaction webhook",
                db::events::CallKind::CredentialCheck => "Credential check",
            },
            url: call.url.clone(),
            status: call
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
            duration_ms: call.duration_ms,
            excerpt: call.response_excerpt.clone(),
            error: call.error.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/event.html")]
struct DetailPage {
    layout: &'static Layout,
    nav: Nav,
    id: String,
    interaction_id: String,
    interaction: String,
    instance_id: String,
    holder: String,
    state: &'static str,
    message: Option<String>,
    callback: Option<String>,
    created_at: String,
    updated_at: String,
    log: Vec<Entry>,
    /// The log's entries about credentials: shared (received, verified) and issued (issued,
    /// denied, revoked).
    shared: Vec<Entry>,
    issued: Vec<Entry>,
    calls: Vec<Call>,
}

/// `GET .../events/{id}`: what the API's event GET returns, as a page.
async fn detail(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path((did, id)): Path<(String, EventId)>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "events").await?;
    let scope = nav.scope()?;
    let event = crate::api::events::get(scope.clone(), State(state.clone()), Path((did, id)))
        .await?
        .0;
    let names =
        db::interactions::names_of(&state.db, &scope, &[event.event.interaction_id.as_str()])
            .await?;
    let of = |kinds: &[LogKind]| -> Vec<Entry> {
        event
            .log
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .map(Entry::from)
            .collect()
    };
    let shared = of(&[LogKind::CredentialsReceived, LogKind::Verified]);
    let issued = of(&[LogKind::Issued, LogKind::Denied, LogKind::Revoked]);
    let view = &event.event;
    Ok(html(&DetailPage {
        layout: &LAYOUT,
        id: view.id.clone(),
        interaction: names
            .get(&view.interaction_id)
            .cloned()
            .unwrap_or_else(|| view.interaction_id.clone()),
        interaction_id: view.interaction_id.clone(),
        instance_id: view.instance_id.clone(),
        holder: view.holder_did.clone(),
        state: view.state.as_str(),
        message: view.message.clone(),
        callback: view.callback.clone(),
        created_at: when(view.created_at),
        updated_at: when(view.updated_at),
        log: event.log.iter().map(Entry::from).collect(),
        shared,
        issued,
        calls: event.calls.iter().map(Call::from).collect(),
        nav,
    }))
}
