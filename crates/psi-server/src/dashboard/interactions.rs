//! The **Interactions** screen: the open service's interactions, active or paused, with their
//! media and how many events each had today (since midnight UTC; counted at most every 15 s).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::form::editing;
use super::recent::Recent;
use super::session::{Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::page::{Page, paging};
use crate::db::interaction_counts::day_of;
use crate::db::{self, now_ms};
use crate::domain::interaction::Medium;
use crate::http::AppState;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::pages::render::html;
use crate::scope::ServiceScope;

/// The counts of today's events (since midnight UTC) per interaction of a service, by service id
/// and day, for at most 1,000 services ([`Recent`]: reused 15 s).
static TODAY: Recent<(String, i64), Vec<(String, i64)>> = Recent::new(1_000);

async fn events_today(
    state: &AppState,
    scope: &ServiceScope,
) -> Result<std::sync::Arc<Vec<(String, i64)>>, DashboardError> {
    let now = now_ms();
    let since = day_of(now);
    let read = db::events::counts_since(&state.db, scope, since);
    Ok(TODAY
        .get((scope.service_id().to_owned(), since), read)
        .await?)
}

/// Interactions a page shows.
const PAGE: i64 = 50;

/// One row of the list.
struct Row {
    id: String,
    name: String,
    active: bool,
    media: String,
    instances: usize,
    events_today: i64,
}

#[derive(Template)]
#[template(path = "dashboard/interactions.html")]
struct ListPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Row>,
    /// The next page's URL.
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    cursor: Option<String>,
}

/// `GET /dashboard/services/{serviceDid}/interactions`.
pub(super) async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "interactions").await?;
    let scope = nav.scope()?;
    let paging = paging(Some(PAGE), query.cursor.as_deref())?;
    let interactions = db::interactions::page(&state.db, &scope, None, &paging).await?;
    let page: Page<db::interactions::Interaction> = Page::cut(&paging, interactions);
    let counts = events_today(&state, &scope).await?;
    let rows = page
        .data
        .iter()
        .map(|interaction| Row {
            id: interaction.id.to_string(),
            name: interaction.name.clone(),
            active: interaction.active,
            media: media_names(&interaction.media),
            instances: interaction.instances.len(),
            events_today: counts
                .iter()
                .find(|(id, _)| id == interaction.id.as_str())
                .map_or(0, |(_, count)| *count),
        })
        .collect();
    let next = page.next_cursor.map(|cursor| {
        format!(
            "/dashboard/services/{}/interactions?cursor={}",
            nav.service.did, cursor
        )
    });
    Ok(html(&ListPage {
        layout: &LAYOUT,
        nav,
        rows,
        next,
    }))
}

/// An interaction's media as the list and its Details name them.
pub(super) fn media_names(media: &[Medium]) -> String {
    media
        .iter()
        .map(|medium| match medium {
            Medium::Qr => "QR code",
            Medium::Push => "Push",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize)]
pub(super) struct ActiveForm {
    active: bool,
}

/// `POST .../interactions/{id}/active`: pause or resume, through the API's own update.
pub(super) async fn set_active(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<ActiveForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let body = serde_json::from_value(serde_json::json!({"active": form.active}))
        .map_err(anyhow::Error::new)?;
    crate::api::interactions::update(
        nav.scope()?,
        State(state),
        Path((did.clone(), id)),
        Json(body),
    )
    .await?;
    Ok(Redirect::to(&format!("/dashboard/services/{did}/interactions")).into_response())
}
