//! The dashboard (docs/dashboard.md): server-rendered pages for a service's operators, over the
//! same rules and storage as the management API (it adds no behaviour the API lacks).
//!
//! - `session.rs`: who is signed in (cookie), and `Posted`, the checked form (CSRF token, origin);
//! - `accounts.rs`: signing in and out, everywhere too, with failed sign-ins throttled; `psi admin`;
//! - `form.rs`: what every form does around the API handler it calls (a viewer is refused, the
//!   API's refusal is shown in the form);
//! - one module per screen: `interactions.rs` (the list), `interaction.rs` (an interaction's
//!   Details), `extensions.rs` (Extensions, and an interaction's Extensions tab), `links.rs`
//!   (QR codes and deeplinks, Embed), `model.rs` (Keys, Schemas, Credential definitions),
//!   `events.rs` (Events, live), `webhooks.rs` (Webhooks: endpoints, messages, replay),
//!   `overview.rs` (Overview: funnel and delivery health as SVG charts);
//! - `admin.rs` (Admin: services, people, API tokens; admins only) and `people.rs` (a service's
//!   People, its owners only);
//! - `recent.rs`: aggregates a screen reuses for 15 s (events today, the Overview's figures).
//!
//! Pages are askama templates under `templates/dashboard/`, styled by `assets/dashboard.css`;
//! the Content-Security-Policy allows no inline script or style, and forms post only here.

pub mod accounts;
mod admin;
mod events;
mod extensions;
mod form;
mod interaction;
mod interactions;
mod links;
mod model;
mod overview;
mod people;
mod recent;
pub mod session;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::db::operators::{Membership, Role};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::pages::render::html;
use session::SignedIn;

/// The dashboard's routes, under `/dashboard`, and `/` leading there.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard/", get(home))
        .route(
            "/dashboard/sign-in",
            get(accounts::sign_in_page).post(accounts::sign_in),
        )
        .route("/dashboard/sign-out", post(accounts::sign_out))
        .route(
            "/dashboard/sign-out-everywhere",
            post(accounts::sign_out_everywhere),
        )
        .route("/dashboard/open", get(open))
        .route(
            "/dashboard/services/{serviceDid}/interactions",
            get(interactions::list),
        )
        .route(
            "/dashboard/services/{serviceDid}/interactions/{id}/active",
            post(interactions::set_active),
        )
        .merge(interaction::routes())
        .merge(extensions::routes())
        .merge(links::routes())
        .merge(model::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .merge(admin::routes())
        .merge(people::routes())
        .merge(overview::routes())
        .layer(axum::middleware::from_fn(
            crate::pages::security::dashboard_headers,
        ))
}

/// What went wrong, as a page.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for DashboardError {
    fn from(error: sqlx::Error) -> Self {
        DashboardError::Internal(error.into())
    }
}

impl From<ApiError> for DashboardError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::NotFound(message) => DashboardError::NotFound(message),
            ApiError::Validation(message) => DashboardError::Invalid(message),
            ApiError::Forbidden(message) => DashboardError::Forbidden(message),
            other => DashboardError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage<'a> {
    layout: &'static Layout,
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            DashboardError::Invalid(message) => {
                (StatusCode::BAD_REQUEST, "Cannot do that", message.clone())
            }
            DashboardError::Forbidden(message) => {
                (StatusCode::FORBIDDEN, "Not allowed", message.clone())
            }
            DashboardError::NotFound(message) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("Nothing here: {message}."),
            ),
            DashboardError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "dashboard page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "psi could not show this page; the cause is in psi's log.".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            layout: &LAYOUT,
            title,
            message: &message,
        };
        (status, html(&page)).into_response()
    }
}

/// The dashboard's stylesheets, script and icon.
#[derive(Debug)]
pub struct Layout {
    pub theme: String,
    pub css: String,
    pub script: String,
    pub icon: String,
}

pub static LAYOUT: std::sync::LazyLock<Layout> = std::sync::LazyLock::new(|| Layout {
    theme: crate::pages::assets::THEME_CSS.url(),
    script: crate::pages::assets::DASHBOARD_JS.url(),
    css: crate::pages::assets::DASHBOARD_CSS.url(),
    icon: crate::pages::assets::ICON.url(),
});

/// What the frame of every signed-in page shows: the service open, the others, the operator.
#[derive(Debug)]
pub struct Nav {
    pub username: String,
    pub csrf: String,
    /// Whether the operator is an admin (the frame offers **Admin**).
    pub admin: bool,
    /// The service open, and the operator's role in it.
    pub service: Membership,
    pub services: Vec<Membership>,
    /// The main menu's entry of this page.
    pub section: &'static str,
}

impl Nav {
    /// The frame of a page of service `did` for the signed-in operator, who must be one of its
    /// people (another service's answers 404, as in the API).
    pub async fn of(
        state: &AppState,
        signed_in: &SignedIn,
        did: &str,
        section: &'static str,
    ) -> Result<Self, DashboardError> {
        let services = signed_in.memberships(state).await?;
        let service = services
            .iter()
            .find(|m| m.did == did)
            .cloned()
            .ok_or_else(|| DashboardError::NotFound("no such service".into()))?;
        Ok(Nav {
            username: signed_in.operator.username.clone(),
            csrf: signed_in.csrf.clone(),
            admin: signed_in.operator.is_admin.0,
            service,
            services,
            section,
        })
    }

    /// The scope of the open service.
    pub fn scope(&self) -> Result<crate::scope::ServiceScope, DashboardError> {
        let did = self
            .service
            .did
            .parse()
            .map_err(|e| DashboardError::Internal(anyhow::Error::new(e)))?;
        Ok(crate::scope::ServiceScope::new(
            self.service.service_id.clone(),
            did,
        ))
    }

    /// Refuses a change to a viewer.
    pub fn can_edit(&self) -> Result<(), DashboardError> {
        if self.service.role.can_edit() {
            Ok(())
        } else {
            Err(DashboardError::Forbidden(format!(
                "As a {} of {} you can look, not change.",
                Role::Viewer.as_str(),
                self.service.name
            )))
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/no_service.html")]
struct NoService {
    layout: &'static Layout,
    username: String,
    csrf: String,
}

/// `/dashboard/`: the first service's interactions, or what to do without one.
async fn home(
    signed_in: SignedIn,
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Response, DashboardError> {
    match signed_in.memberships(&state).await?.first() {
        Some(first) => Ok(
            Redirect::to(&format!("/dashboard/services/{}/interactions", first.did))
                .into_response(),
        ),
        // An admin's first step: a service.
        None if signed_in.operator.is_admin.0 => {
            Ok(Redirect::to("/dashboard/admin/services").into_response())
        }
        None => Ok(html(&NoService {
            layout: &LAYOUT,
            username: signed_in.operator.username.clone(),
            csrf: signed_in.csrf.clone(),
        })),
    }
}

#[derive(serde::Deserialize)]
struct OpenQuery {
    service: String,
}

/// `/dashboard/open?service=<DID>`: the service picker's target.
async fn open(
    _signed_in: SignedIn,
    axum::extract::Query(query): axum::extract::Query<OpenQuery>,
) -> Response {
    let did: String = query
        .service
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    Redirect::to(&format!("/dashboard/services/{did}/interactions")).into_response()
}
