//! The **Overview** screen: per interaction of the open service, the funnel of a window (start
//! page opened, link fetched, started, completed, failed) and the health of its webhooks
//! (success rate, p50/p95 latency), and the health of the service's notification endpoints, as
//! SVG charts drawn here (no script) with the same numbers in a table for screen readers.
//!
//! The figures come from five grouped queries per service and window, whatever the number of
//! interactions (`db::interaction_counts`, `db::events`, `db::delivery_attempts`), reused for
//! 15 s ([`Recent`]); the interactions are ordered by what happened to them, the most active
//! first, then by name, 50 a page.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::recent::Recent;
use super::session::SignedIn;
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::db::interaction_counts::{DAY_MS, Health, day_of};
use crate::db::{self, Db, now_ms};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::pages::render::html;
use crate::scope::ServiceScope;

/// Interactions a page shows.
const PAGE: usize = 50;
/// The width of every chart's `viewBox`, in its own units (it scales to the page; the template
/// draws at this width).
const WIDTH: i64 = 300;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/dashboard/services/{serviceDid}/overview", get(page))
}

/// The time the figures cover: up to now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
enum Window {
    #[serde(rename = "24h")]
    Day,
    #[default]
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Window {
    const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    fn days(self) -> i64 {
        match self {
            Window::Day => 1,
            Window::Week => 7,
            Window::Month => 30,
        }
    }

    /// Its value in the query string.
    fn param(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Window::Day => "Last 24 hours",
            Window::Week => "Last 7 days",
            Window::Month => "Last 30 days",
        }
    }
}

/// One interaction's figures in a window.
#[derive(Debug, Default)]
struct Figures {
    id: String,
    name: String,
    page_views: i64,
    link_fetches: i64,
    /// Events created in the window, whatever their state now.
    started: i64,
    completed: i64,
    failed: i64,
    /// Its webhook and credential-check calls.
    calls: Health,
}

/// A service's figures in a window: every interaction, most active first, and its notification
/// endpoints with deliveries in the window.
#[derive(Debug)]
struct Aggregates {
    interactions: Vec<Figures>,
    endpoints: Vec<(String, String, Health)>,
}

/// By service id and window, for at most 1,000 of them ([`Recent`]: reused 15 s); one read
/// serves every page of the list.
static AGGREGATES: Recent<(String, Window), Aggregates> = Recent::new(1_000);

async fn read(db: &Db, scope: &ServiceScope, window: Window) -> sqlx::Result<Aggregates> {
    let since = now_ms() - window.days() * DAY_MS;
    let (names, counts, states, mut calls, endpoints) = tokio::try_join!(
        db::interactions::names(db, scope),
        // Kept per UTC day: the window's first day counts whole.
        db::interaction_counts::since(db, scope, day_of(since)),
        db::events::states_since(db, scope, since),
        db::events::call_health_since(db, scope, since),
        db::delivery_attempts::health_since(db, scope, since),
    )?;
    let mut figures: HashMap<String, Figures> = names
        .into_iter()
        .map(|(id, name)| {
            let calls = calls.remove(&id).unwrap_or_default();
            let figures = Figures {
                id: id.clone(),
                name,
                calls,
                ..Figures::default()
            };
            (id, figures)
        })
        .collect();
    for (id, page_views, link_fetches) in counts {
        if let Some(f) = figures.get_mut(&id) {
            (f.page_views, f.link_fetches) = (page_views, link_fetches);
        }
    }
    for (id, state, events) in states {
        if let Some(f) = figures.get_mut(&id) {
            f.started += events;
            match state.as_str() {
                "completed" => f.completed += events,
                "failed" => f.failed += events,
                _ => {}
            }
        }
    }
    let mut interactions: Vec<Figures> = figures.into_values().collect();
    interactions.sort_by(|a, b| {
        (b.started, b.page_views, b.link_fetches)
            .cmp(&(a.started, a.page_views, a.link_fetches))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(Aggregates {
        interactions,
        endpoints,
    })
}

/// A bar's length for `value` on a scale whose longest bar is `max`: at least a sliver for any
/// value above zero, so that it shows.
fn length(value: i64, max: i64) -> i64 {
    if value <= 0 || max <= 0 {
        0
    } else {
        (value * WIDTH / max).max(2)
    }
}

/// One step of a funnel as drawn: its label and count, its share of the first step, the
/// length of its bar and where its row starts.
struct Step {
    label: &'static str,
    /// Names the bar's colour (`assets/dashboard.css`).
    class: &'static str,
    count: i64,
    /// "40 %", or "–" when the first step has none.
    percent: String,
    width: i64,
    y: i64,
}

/// The height of a step's row in a funnel chart: a line of text above a bar.
const STEP_HEIGHT: i64 = 32;

fn funnel(f: &Figures) -> Vec<Step> {
    let steps = [
        ("Start page opened", "step", f.page_views),
        ("Link fetched", "step", f.link_fetches),
        ("Started", "step", f.started),
        ("Completed", "ok", f.completed),
        ("Failed", "bad", f.failed),
    ];
    let first = f.page_views;
    let max = steps.iter().map(|(_, _, count)| *count).max().unwrap_or(0);
    steps
        .into_iter()
        .zip(0..)
        .map(|((label, class, count), row)| Step {
            label,
            class,
            count,
            percent: if first > 0 {
                format!("{} %", count * 100 / first)
            } else {
                "–".to_owned()
            },
            width: length(count, max),
            y: row * STEP_HEIGHT,
        })
        .collect()
}

/// The health of calls to one receiver as drawn.
struct HealthChart {
    calls: i64,
    succeeded: i64,
    success: i64,
    /// The length of the success rate's green part; the rest of the bar is red.
    ok_width: i64,
    p50: String,
    p95: String,
    p50_width: i64,
    p95_width: i64,
}

impl HealthChart {
    fn of(health: &Health) -> Option<Self> {
        let success = health.success_percent()?;
        let (p50, p95) = (health.percentile(50)?, health.percentile(95)?);
        Some(HealthChart {
            calls: health.calls,
            succeeded: health.succeeded,
            success,
            ok_width: health.succeeded * WIDTH / health.calls,
            p50: p50.to_string(),
            p95: p95.to_string(),
            p50_width: length(p50.ms(), p95.ms()),
            p95_width: WIDTH,
        })
    }
}

/// An interaction as the page shows it.
struct Item {
    id: String,
    name: String,
    funnel: Vec<Step>,
    webhooks: Option<HealthChart>,
}

/// A notification endpoint as the page shows it.
struct EndpointItem {
    id: String,
    url: String,
    health: HealthChart,
}

/// A choice of the window selector.
struct Choice {
    param: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    layout: &'static Layout,
    nav: Nav,
    window: &'static str,
    choices: Vec<Choice>,
    items: Vec<Item>,
    endpoints: Vec<EndpointItem>,
    /// Interactions in all, on every page.
    total: usize,
    funnel_height: i64,
    /// The next page's URL.
    next: Option<String>,
}

#[derive(Deserialize)]
struct OverviewQuery {
    #[serde(default)]
    window: Window,
    /// From 1.
    page: Option<usize>,
}

/// `GET /dashboard/services/{serviceDid}/overview?window=7d&page=1`.
async fn page(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    query: Result<Query<OverviewQuery>, ApiError>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "overview").await?;
    // A window or page the query cannot name is refused as a page, not as the API's JSON.
    let Query(query) = query?;
    let scope = nav.scope()?;
    let window = query.window;
    let number = query.page.unwrap_or(1);
    if number == 0 {
        return Err(DashboardError::Invalid("pages are numbered from 1".into()));
    }
    let aggregates = AGGREGATES
        .get(
            (scope.service_id().to_owned(), window),
            read(&state.db, &scope, window),
        )
        .await?;
    let total = aggregates.interactions.len();
    let start = (number - 1).saturating_mul(PAGE);
    if start > total {
        return Err(DashboardError::Invalid(format!(
            "there is no page {number}: the Overview has {} pages",
            total.div_ceil(PAGE).max(1)
        )));
    }
    let items = aggregates
        .interactions
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|f| Item {
            id: f.id.clone(),
            name: f.name.clone(),
            funnel: funnel(f),
            webhooks: HealthChart::of(&f.calls),
        })
        .collect();
    let endpoints = aggregates
        .endpoints
        .iter()
        .filter_map(|(id, url, health)| {
            Some(EndpointItem {
                id: id.clone(),
                url: url.clone(),
                health: HealthChart::of(health)?,
            })
        })
        .collect();
    let next = (start.saturating_add(PAGE) < total).then(|| {
        format!(
            "/dashboard/services/{}/overview?window={}&page={}",
            nav.service.did,
            window.param(),
            number + 1
        )
    });
    Ok(html(&OverviewPage {
        layout: &LAYOUT,
        nav,
        window: window.label(),
        choices: Window::ALL
            .into_iter()
            .map(|w| Choice {
                param: w.param(),
                label: w.label(),
                selected: w == window,
            })
            .collect(),
        items,
        endpoints,
        total,
        funnel_height: 5 * STEP_HEIGHT,
        next,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_funnel_is_drawn_to_its_longest_step_and_shares_of_the_first() {
        let figures = Figures {
            page_views: 10,
            link_fetches: 20,
            started: 5,
            completed: 3,
            failed: 1,
            ..Figures::default()
        };
        let steps = funnel(&figures);
        let shown: Vec<(i64, &str, i64)> = steps
            .iter()
            .map(|s| (s.count, s.percent.as_str(), s.width))
            .collect();
        assert_eq!(
            shown,
            [
                (10, "100 %", 150),
                (20, "200 %", 300),
                (5, "50 %", 75),
                (3, "30 %", 45),
                (1, "10 %", 15)
            ]
        );
        let none = funnel(&Figures {
            started: 1,
            ..Figures::default()
        });
        assert_eq!(none[2].percent, "–");
        assert_eq!((none[0].width, none[2].width), (0, WIDTH));
        assert_eq!(length(1, 1_000), 2, "a sliver shows");
    }
}
