//! The **Webhooks** screen: the open service's notification endpoints (**Add endpoint**, **Send
//! test**, **Enable** / **Disable**, **Rotate key**), the messages sent to them with each
//! delivery's state, a message's attempts with **Replay**, and **Replay failed since** a time.
//! Every change is the management API's own handler (`api::notifications`), called as a function.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::when;
use super::form::{Refused, body, editing, refused, see_other};
use super::session::{Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::notifications::endpoints::{self as api_endpoints, EndpointQuery, EndpointView};
use crate::api::notifications::messages::{
    self as api_messages, MessageQuery, MessageStatus, MessageView, ReplayQuery,
};
use crate::db::keys::{self, DEFAULT_KEY_NAME, KeyKind};
use crate::delivery::endpoints::DisabledReason;
use crate::delivery::messages::DeliveryStatus;
use crate::domain::{AuthScheme, EventType};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::{EndpointId, MessageId};
use crate::pages::render::html;
use crate::scope::ServiceScope;

/// Endpoints and messages a page shows.
const PAGE: i64 = 50;
/// Endpoints one request of "Replay failed since" on every endpoint reads at a time.
const ALL_ENDPOINTS: i64 = 500;
const HOUR_SECS: i64 = 3600;

pub(super) fn routes() -> Router<AppState> {
    let base = "/dashboard/services/{serviceDid}/webhooks";
    Router::new()
        .route(base, get(list))
        .route(&format!("{base}/endpoints"), post(add))
        .route(&format!("{base}/endpoints/{{id}}"), get(endpoint))
        .route(&format!("{base}/endpoints/{{id}}/test"), post(test))
        .route(&format!("{base}/endpoints/{{id}}/enable"), post(enable))
        .route(&format!("{base}/endpoints/{{id}}/disable"), post(disable))
        .route(&format!("{base}/endpoints/{{id}}/rotate"), post(rotate))
        .route(&format!("{base}/replay"), post(replay_since))
        .route(&format!("{base}/messages/{{id}}"), get(message))
        .route(
            &format!("{base}/messages/{{id}}/replay"),
            post(replay_message),
        )
}

fn base(did: &str) -> String {
    format!("/dashboard/services/{did}/webhooks")
}

/// The guide's names of the authentication types.
fn auth_label(auth: AuthScheme) -> &'static str {
    match auth {
        AuthScheme::Signature => "Request Signature",
        AuthScheme::Bearer => "Bearer Token",
        AuthScheme::StandardWebhooks => "Standard Webhooks",
    }
}

const AUTHS: [AuthScheme; 3] = [
    AuthScheme::Signature,
    AuthScheme::Bearer,
    AuthScheme::StandardWebhooks,
];

/// An option of a select: value, label.
struct Choice {
    value: String,
    label: String,
}

fn auth_choices() -> Vec<Choice> {
    AUTHS
        .iter()
        .map(|auth| Choice {
            value: auth.as_str().to_owned(),
            label: auth_label(*auth).to_owned(),
        })
        .collect()
}

/// The service's keys that can sign deliveries (RSA key pairs and SHA secrets).
async fn signing_keys(
    state: &AppState,
    scope: &ServiceScope,
) -> Result<Vec<Choice>, DashboardError> {
    Ok(keys::list(&state.db, scope)
        .await?
        .into_iter()
        .filter(|key| key.kind != KeyKind::RsaPublicKey)
        .map(|key| Choice {
            label: format!(
                "{} ({})",
                key.name,
                match key.kind {
                    KeyKind::ShaSecret => "SHA secret",
                    _ => "RSA key pair",
                }
            ),
            value: key.name,
        })
        .collect())
}

/// An endpoint, as a row or a page shows it.
struct EndpointRow {
    id: String,
    url: String,
    description: String,
    /// "Every type" when it subscribes to none in particular.
    event_types: String,
    key: String,
    previous_key: Option<String>,
    auth: &'static str,
    enabled: bool,
    /// Healthy, failing since, or why disabled.
    health: String,
    healthy: bool,
}

impl From<&EndpointView> for EndpointRow {
    fn from(view: &EndpointView) -> Self {
        let state = &view.state;
        let health = match (state.enabled, state.disabled_reason, state.failing_since) {
            (true, _, None) => "Healthy".to_owned(),
            (true, _, Some(since)) => format!("Failing since {}", when(since)),
            (false, Some(DisabledReason::Failing), _) => format!(
                "Disabled by psi after failing{}",
                state
                    .disabled_at
                    .map(|at| format!(" ({})", when(at)))
                    .unwrap_or_default()
            ),
            (false, _, _) => "Disabled".to_owned(),
        };
        EndpointRow {
            id: view.id.clone(),
            url: view.url.clone(),
            description: view.description.clone(),
            event_types: if view.event_types.is_empty() {
                "Every type".to_owned()
            } else {
                view.event_types
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            key: view.key.clone(),
            previous_key: view
                .previous_key
                .as_ref()
                .map(|p| format!("{} until {}", p.key, when(p.until))),
            auth: auth_label(view.auth),
            enabled: state.enabled,
            healthy: state.enabled && state.failing_since.is_none(),
            health,
        }
    }
}

/// A message, as a row shows it.
struct MessageRow {
    id: String,
    at: String,
    event_type: String,
    status: &'static str,
    /// Each delivery: endpoint (URL when known), its state and attempts.
    deliveries: Vec<String>,
}

fn message_status(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "pending",
        MessageStatus::Succeeded => "succeeded",
        MessageStatus::Failed => "failed",
        MessageStatus::Undelivered => "undelivered",
    }
}

fn delivery_status(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
    }
}

fn message_row(message: &MessageView, endpoints: &[EndpointView]) -> MessageRow {
    MessageRow {
        id: message.id.clone(),
        at: when(message.created_at),
        event_type: message.event_type.clone(),
        status: message_status(message.status),
        deliveries: message
            .deliveries
            .iter()
            .map(|d| {
                let to = endpoints
                    .iter()
                    .find(|e| e.id == d.endpoint_id.as_str())
                    .map_or_else(|| d.endpoint_id.to_string(), |e| e.url.clone());
                format!(
                    "{to}: {} ({} attempt{})",
                    delivery_status(d.status),
                    d.attempts,
                    if d.attempts == 1 { "" } else { "s" }
                )
            })
            .collect(),
    }
}

/// What the **Add endpoint** pop-up holds.
#[derive(Default)]
struct AddValues {
    url: String,
    description: String,
    event_types: Vec<String>,
    key: String,
    auth: String,
}

/// What a finished form says after its redirect (a fixed text per action, never the address's).
fn notice(done: Option<&str>, count: Option<u64>) -> Option<String> {
    let n = count.unwrap_or(0);
    Some(match done? {
        "added" => "Endpoint added.".to_owned(),
        "test" => "Test message sent: it is the newest of the messages.".to_owned(),
        "enabled" => "Endpoint enabled.".to_owned(),
        "disabled" => "Endpoint disabled.".to_owned(),
        "rotated" => "Key rotated.".to_owned(),
        "replayed" => format!(
            "Replay started: {n} deliver{}.",
            if n == 1 { "y" } else { "ies" }
        ),
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct ListPage {
    layout: &'static Layout,
    nav: Nav,
    endpoints: Vec<EndpointRow>,
    endpoints_next: Option<String>,
    messages: Vec<MessageRow>,
    messages_next: Option<String>,
    /// The message filter (empty: any).
    status: String,
    statuses: [&'static str; 3],
    keys: Vec<Choice>,
    auths: Vec<Choice>,
    event_types: Vec<&'static str>,
    add: AddValues,
    add_open: bool,
    add_error: Option<String>,
    since: String,
    replay_endpoint: String,
    replay_error: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    add: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    endpoints: Option<String>,
    done: Option<String>,
    n: Option<u64>,
}

/// The default of "Replay failed since": a day ago, as a `datetime-local` value (UTC).
fn a_day_ago() -> String {
    let text = when(crate::db::now_ms() - 24 * HOUR_SECS * 1000);
    // "YYYY-MM-DD HH:MM:SS UTC" -> "YYYY-MM-DDTHH:MM"
    text.get(..16).unwrap_or_default().replace(' ', "T")
}

/// The list page, with a form's values and error when it is shown again.
async fn render_list(
    state: &AppState,
    nav: Nav,
    query: ListQuery,
    add: Option<(AddValues, Option<Refused>)>,
    replay: Option<(String, String, Refused)>,
    error: Option<Refused>,
) -> Result<Response, DashboardError> {
    let scope = nav.scope()?;
    let endpoint_page = api_endpoints::list(
        scope.clone(),
        State(state.clone()),
        Query(EndpointQuery {
            enabled: None,
            limit: Some(PAGE),
            cursor: query.endpoints.clone(),
        }),
    )
    .await?
    .0;
    let status = query.status.filter(|s| !s.is_empty());
    let message_query: MessageQuery = body(json!({
        "status": status,
        "limit": PAGE,
        "cursor": query.cursor,
    }))?;
    let message_page =
        api_messages::list(scope.clone(), State(state.clone()), Query(message_query))
            .await?
            .0;
    let base = base(&nav.service.did);
    let filter = status
        .as_ref()
        .map(|s| format!("status={s}&"))
        .unwrap_or_default();
    let messages_next = message_page
        .next_cursor
        .map(|cursor| format!("{base}?{filter}cursor={cursor}#messages"));
    let endpoints_next = endpoint_page
        .next_cursor
        .map(|cursor| format!("{base}?endpoints={cursor}"));
    let mut keys = signing_keys(state, &scope).await?;
    keys.sort_by_key(|k| k.value != DEFAULT_KEY_NAME);
    let status_code = add
        .as_ref()
        .and_then(|(_, f)| f.as_ref().map(|f| f.status))
        .or(replay.as_ref().map(|(_, _, f)| f.status))
        .or(error.as_ref().map(|f| f.status))
        .unwrap_or(StatusCode::OK);
    let add_open = add.is_some() || query.add.is_some();
    let (add, add_error) = match add {
        Some((values, failure)) => (values, failure.map(|f| f.message)),
        None => (
            AddValues {
                key: DEFAULT_KEY_NAME.to_owned(),
                auth: AuthScheme::Signature.as_str().to_owned(),
                ..AddValues::default()
            },
            None,
        ),
    };
    let (replay_endpoint, since, replay_error) = match replay {
        Some((endpoint, since, failure)) => (endpoint, since, Some(failure.message)),
        None => (String::new(), a_day_ago(), None),
    };
    let page = ListPage {
        layout: &LAYOUT,
        messages: message_page
            .data
            .iter()
            .map(|m| message_row(m, &endpoint_page.data))
            .collect(),
        endpoints: endpoint_page.data.iter().map(EndpointRow::from).collect(),
        endpoints_next,
        messages_next,
        status: status.unwrap_or_default(),
        statuses: ["pending", "succeeded", "failed"],
        keys,
        auths: auth_choices(),
        event_types: EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect(),
        add,
        add_open,
        add_error,
        since,
        replay_endpoint,
        replay_error,
        notice: notice(query.done.as_deref(), query.n),
        error: error.map(|f| f.message),
        nav,
    };
    Ok((status_code, html(&page)).into_response())
}

/// `GET /dashboard/services/{serviceDid}/webhooks`.
async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "webhooks").await?;
    render_list(&state, nav, query, None, None, None).await
}

/// `POST .../webhooks/endpoints`: **Add endpoint**, through the API's create.
async fn add(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<Vec<(String, String)>>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let values = AddValues {
        url: field("url"),
        description: field("description"),
        event_types: form
            .iter()
            .filter(|(n, _)| n == "event_types")
            .map(|(_, v)| v.clone())
            .collect(),
        key: field("key"),
        auth: field("auth"),
    };
    let request = body(json!({
        "url": values.url,
        "key": values.key,
        "auth": values.auth,
        "event_types": values.event_types,
        "description": values.description,
    }));
    let created = match request {
        Ok(request) => {
            api_endpoints::create(nav.scope()?, State(state.clone()), Json(request)).await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok(_) => Ok(see_other(&format!("{}?done=added", base(&did)))),
        Err(error) => {
            let failure = refused(error)?;
            render_list(
                &state,
                nav,
                ListQuery::default(),
                Some((values, Some(failure))),
                None,
                None,
            )
            .await
        }
    }
}

/// Where a button on an endpoint returns: its page or the list.
#[derive(Deserialize)]
pub(super) struct Back {
    #[serde(default)]
    back: String,
}

fn back_to(did: &str, id: &EndpointId, back: &str, done: &str) -> Response {
    let to = if back == "endpoint" {
        format!("{}/endpoints/{id}?done={done}", base(did))
    } else {
        format!("{}?done={done}", base(did))
    };
    see_other(&to)
}

/// An endpoint button the API refused: shown on the page the button was on.
async fn button_refused(
    state: &AppState,
    nav: Nav,
    id: EndpointId,
    back: &str,
    failure: Refused,
) -> Result<Response, DashboardError> {
    if back == "endpoint" {
        let shown = Shown {
            error: Some(failure),
            ..Shown::default()
        };
        render_endpoint(state, nav, id, shown).await
    } else {
        render_list(state, nav, ListQuery::default(), None, None, Some(failure)).await
    }
}

/// `POST .../endpoints/{id}/test`: **Send test**.
async fn test(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, EndpointId)>,
    Posted { signed_in, form }: Posted<Back>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    let answer = api_endpoints::test(
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), id.clone())),
    )
    .await;
    match answer {
        Ok(_) => Ok(back_to(&did, &id, &form.back, "test")),
        Err(error) => button_refused(&state, nav, id, &form.back, refused(error)?).await,
    }
}

/// `POST .../endpoints/{id}/enable`: **Enable**.
async fn enable(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, EndpointId)>,
    Posted { signed_in, form }: Posted<Back>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    api_endpoints::enable(nav.scope()?, State(state), Path((did.clone(), id.clone()))).await?;
    Ok(back_to(&did, &id, &form.back, "enabled"))
}

/// `POST .../endpoints/{id}/disable`: **Disable**.
async fn disable(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, EndpointId)>,
    Posted { signed_in, form }: Posted<Back>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    api_endpoints::disable(nav.scope()?, State(state), Path((did.clone(), id.clone()))).await?;
    Ok(back_to(&did, &id, &form.back, "disabled"))
}

/// What the **Rotate key** pop-up holds.
#[derive(Deserialize, Default)]
pub(super) struct RotateForm {
    #[serde(default)]
    key: String,
    /// Empty: unchanged.
    #[serde(default)]
    auth: String,
    #[serde(default)]
    overlap_hours: String,
}

/// `POST .../endpoints/{id}/rotate`: **Rotate key**, through the API's rotate.
async fn rotate(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, EndpointId)>,
    Posted { signed_in, form }: Posted<RotateForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    let hours = form.overlap_hours.trim();
    let overlap = if hours.is_empty() {
        Ok(24)
    } else {
        hours
            .parse::<i64>()
            .map_err(|_| ApiError::Validation("the overlap must be a whole number of hours".into()))
    };
    let mut request = json!({"key": form.key});
    if !form.auth.is_empty() {
        request["auth"] = json!(form.auth);
    }
    let answer = match overlap.and_then(|hours| {
        request["overlap_secs"] = json!(hours.saturating_mul(HOUR_SECS));
        body(request)
    }) {
        Ok(request) => {
            api_endpoints::rotate(
                nav.scope()?,
                State(state.clone()),
                Path((did.clone(), id.clone())),
                Json(request),
            )
            .await
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok(_) => Ok(back_to(&did, &id, "endpoint", "rotated")),
        Err(error) => {
            let failure = refused(error)?;
            let shown = Shown {
                rotate: Some((form, Some(failure))),
                ..Shown::default()
            };
            render_endpoint(&state, nav, id, shown).await
        }
    }
}

/// The "Replay failed since" form.
#[derive(Deserialize)]
pub(super) struct ReplayForm {
    /// Empty: every endpoint.
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    back: String,
}

/// A `datetime-local` value, read as UTC, in unix ms.
fn since_ms(text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    let full = if text.len() == 16 {
        format!("{text}:00Z")
    } else {
        format!("{text}Z")
    };
    humantime::parse_rfc3339_weak(&full)
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| ApiError::Validation("Since: give a date and a time (UTC)".into()))
}

/// Every endpoint of the service, through the API's list.
async fn every_endpoint(
    state: &AppState,
    scope: &ServiceScope,
) -> Result<Vec<EndpointView>, ApiError> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = api_endpoints::list(
            scope.clone(),
            State(state.clone()),
            Query(EndpointQuery {
                enabled: None,
                limit: Some(ALL_ENDPOINTS),
                cursor,
            }),
        )
        .await?
        .0;
        all.extend(page.data);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// `POST .../webhooks/replay`: **Replay failed since** a time, to one endpoint or to each, through
/// the API's endpoint replay.
async fn replay_since(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<ReplayForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    let scope = nav.scope()?;
    let replayed = async {
        let since = since_ms(&form.since)?;
        let targets: Vec<EndpointId> = if form.endpoint.is_empty() {
            every_endpoint(&state, &scope)
                .await?
                .into_iter()
                .map(|e| EndpointId::from(e.id))
                .collect()
        } else {
            vec![EndpointId::from(form.endpoint.as_str())]
        };
        let mut replayed = 0;
        for id in targets {
            let request = body(json!({"since": since}))?;
            let (_, Json(view)) = api_endpoints::replay(
                scope.clone(),
                State(state.clone()),
                Path((did.clone(), id)),
                Json(request),
            )
            .await?;
            replayed += view.replayed;
        }
        Ok::<u64, ApiError>(replayed)
    }
    .await;
    match replayed {
        Ok(n) => {
            let to = if form.back == "endpoint" && !form.endpoint.is_empty() {
                format!(
                    "{}/endpoints/{}?done=replayed&n={n}",
                    base(&did),
                    form.endpoint
                )
            } else {
                format!("{}?done=replayed&n={n}#messages", base(&did))
            };
            Ok(see_other(&to))
        }
        Err(error) => {
            let failure = refused(error)?;
            if form.back == "endpoint" && !form.endpoint.is_empty() {
                let id = EndpointId::from(form.endpoint.as_str());
                let shown = Shown {
                    error: Some(failure),
                    ..Shown::default()
                };
                render_endpoint(&state, nav, id, shown).await
            } else {
                let replay = Some((form.endpoint, form.since, failure));
                render_list(&state, nav, ListQuery::default(), None, replay, None).await
            }
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/endpoint.html")]
struct EndpointPage {
    layout: &'static Layout,
    nav: Nav,
    endpoint: EndpointRow,
    timeout_ms: i64,
    created_at: String,
    messages: Vec<MessageRow>,
    messages_next: Option<String>,
    keys: Vec<Choice>,
    auths: Vec<Choice>,
    rotate_open: bool,
    rotate: RotateForm,
    rotate_error: Option<String>,
    since: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct EndpointPageQuery {
    rotate: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    n: Option<u64>,
}

/// `GET .../webhooks/endpoints/{id}`: one endpoint and its messages.
async fn endpoint(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path((did, id)): Path<(String, EndpointId)>,
    Query(query): Query<EndpointPageQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "webhooks").await?;
    let shown = Shown {
        cursor: query.cursor,
        notice: notice(query.done.as_deref(), query.n),
        rotate: query
            .rotate
            .is_some()
            .then(|| (RotateForm::default(), None)),
        error: None,
    };
    render_endpoint(&state, nav, id, shown).await
}

/// What the endpoint page shows besides the endpoint.
#[derive(Default)]
struct Shown {
    /// The messages' page.
    cursor: Option<String>,
    notice: Option<String>,
    /// The **Rotate key** pop-up, open, with its values and error.
    rotate: Option<(RotateForm, Option<Refused>)>,
    /// A button's refusal.
    error: Option<Refused>,
}

async fn render_endpoint(
    state: &AppState,
    nav: Nav,
    id: EndpointId,
    shown: Shown,
) -> Result<Response, DashboardError> {
    let scope = nav.scope()?;
    let view = api_endpoints::get(
        scope.clone(),
        State(state.clone()),
        Path((nav.service.did.clone(), id.clone())),
    )
    .await?
    .0;
    let message_query = MessageQuery {
        endpoint: Some(id.clone()),
        status: None,
        event_type: None,
        since: None,
        limit: Some(PAGE),
        cursor: shown.cursor,
    };
    let message_page =
        api_messages::list(scope.clone(), State(state.clone()), Query(message_query))
            .await?
            .0;
    let here = format!("{}/endpoints/{id}", base(&nav.service.did));
    let messages_next = message_page
        .next_cursor
        .map(|cursor| format!("{here}?cursor={cursor}#messages"));
    let status = shown
        .rotate
        .as_ref()
        .and_then(|(_, f)| f.as_ref().map(|f| f.status))
        .or(shown.error.as_ref().map(|f| f.status))
        .unwrap_or(StatusCode::OK);
    let rotate_open = shown.rotate.is_some();
    let (rotate, rotate_error) = match shown.rotate {
        Some((form, failure)) => (form, failure.map(|f| f.message)),
        None => (RotateForm::default(), None),
    };
    let endpoints = [view];
    let page = EndpointPage {
        layout: &LAYOUT,
        messages: message_page
            .data
            .iter()
            .map(|m| message_row(m, &endpoints))
            .collect(),
        endpoint: EndpointRow::from(&endpoints[0]),
        timeout_ms: endpoints[0].timeout_ms,
        created_at: when(endpoints[0].created_at),
        messages_next,
        keys: signing_keys(state, &scope).await?,
        auths: auth_choices(),
        rotate_open,
        rotate,
        rotate_error,
        since: a_day_ago(),
        notice: shown.notice,
        error: shown.error.map(|f| f.message),
        nav,
    };
    Ok((status, html(&page)).into_response())
}

#[derive(Template)]
#[template(path = "dashboard/message.html")]
struct MessagePage {
    layout: &'static Layout,
    nav: Nav,
    message: MessageRow,
    payload: String,
    attempts: Vec<AttemptRow>,
    notice: Option<String>,
    error: Option<String>,
}

/// An attempt, as a row shows it.
struct AttemptRow {
    at: String,
    endpoint: String,
    status: String,
    succeeded: bool,
    duration_ms: i64,
    excerpt: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MessagePageQuery {
    done: Option<String>,
    n: Option<u64>,
}

/// `GET .../webhooks/messages/{id}`: a message, its deliveries and every attempt.
async fn message(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path((did, id)): Path<(String, MessageId)>,
    Query(query): Query<MessagePageQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "webhooks").await?;
    let notice = notice(query.done.as_deref(), query.n);
    render_message(&state, nav, id, notice, None).await
}

async fn render_message(
    state: &AppState,
    nav: Nav,
    id: MessageId,
    notice: Option<String>,
    error: Option<Refused>,
) -> Result<Response, DashboardError> {
    let scope = nav.scope()?;
    let detail = api_messages::get(
        scope.clone(),
        State(state.clone()),
        Path((nav.service.did.clone(), id)),
    )
    .await?
    .0;
    // The endpoints of its deliveries, by URL (a message has a delivery per endpoint, few).
    let mut endpoints = Vec::new();
    for delivery in &detail.message.deliveries {
        if let Some(found) =
            crate::delivery::endpoints::get(&state.db, &scope, &delivery.endpoint_id).await?
        {
            endpoints.push(EndpointView::from(found));
        }
    }
    let url_of = |endpoint_id: &EndpointId| {
        endpoints
            .iter()
            .find(|e| e.id == endpoint_id.as_str())
            .map_or_else(|| endpoint_id.to_string(), |e| e.url.clone())
    };
    let attempts = detail
        .attempts
        .iter()
        .map(|a| AttemptRow {
            at: when(a.at),
            endpoint: url_of(&a.endpoint_id),
            status: a
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
            succeeded: a.error.is_none(),
            duration_ms: a.duration_ms,
            excerpt: a.response_excerpt.clone(),
            error: a.error.clone(),
        })
        .collect();
    let payload = serde_json::from_str::<Value>(detail.payload.get())
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| detail.payload.get().to_owned());
    let status = error.as_ref().map_or(StatusCode::OK, |f| f.status);
    let page = MessagePage {
        layout: &LAYOUT,
        message: message_row(&detail.message, &endpoints),
        payload,
        attempts,
        notice,
        error: error.map(|f| f.message),
        nav,
    };
    Ok((status, html(&page)).into_response())
}

/// `POST .../webhooks/messages/{id}/replay`: **Replay**, through the API's message replay.
async fn replay_message(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, MessageId)>,
    Posted { signed_in, .. }: Posted<super::session::NoFields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "webhooks").await?;
    let answer = api_messages::replay(
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), id.clone())),
        Query(ReplayQuery { endpoint: None }),
    )
    .await;
    match answer {
        Ok((_, Json(view))) => Ok(see_other(&format!(
            "{}/messages/{id}?done=replayed&n={}",
            base(&did),
            view.replayed
        ))),
        Err(error) => {
            let failure = refused(error)?;
            render_message(&state, nav, id, None, Some(failure)).await
        }
    }
}
