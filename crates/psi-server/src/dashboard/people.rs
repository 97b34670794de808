//! **People**, for a service's owners (and admins): who has which role in the service; **Give a
//! role** to an existing person by user name, change a role, **Remove**. Editors and viewers get
//! 403 on the page and its forms. Every form calls the management API's handler with the
//! service's scope, as the service's own token would.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::form::{answer, call};
use super::session::{NoFields, Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::operators::{self as api, PersonView};
use crate::api::page::PageQuery;
use crate::db::operators::Role;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::pages::render::html;

/// Rows a page shows.
const PAGE: i64 = 50;

/// The roles, most powerful first, as the forms offer them.
const ROLES: [&str; 3] = ["owner", "editor", "viewer"];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/dashboard/services/{serviceDid}/people",
            get(list).post(give),
        )
        .route(
            "/dashboard/services/{serviceDid}/people/{operatorId}",
            post(change),
        )
        .route(
            "/dashboard/services/{serviceDid}/people/{operatorId}/delete",
            post(remove),
        )
}

/// The frame of a People page or form: owners (and admins) only.
async fn owning(state: &AppState, signed_in: &SignedIn, did: &str) -> Result<Nav, DashboardError> {
    let nav = Nav::of(state, signed_in, did, "people").await?;
    if nav.service.role.manages_people() {
        Ok(nav)
    } else {
        Err(DashboardError::Forbidden(format!(
            "As {} of {} you cannot manage its people; its owners can.",
            match nav.service.role {
                Role::Editor => "an editor",
                _ => "a viewer",
            },
            nav.service.name
        )))
    }
}

/// One of the service's people.
struct Row {
    operator_id: String,
    username: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard/people.html")]
struct PeoplePage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Row>,
    next: Option<String>,
    roles: [&'static str; 3],
    /// What the API refused outside the pop-up (a change of role, a removal).
    error: Option<String>,
    /// **Give a role**: what was typed, open, the API's refusal.
    username: String,
    role: String,
    open: bool,
    form_error: Option<String>,
}

impl PeoplePage {
    fn new(nav: Nav) -> Self {
        PeoplePage {
            layout: &LAYOUT,
            nav,
            rows: Vec::new(),
            next: None,
            roles: ROLES,
            error: None,
            username: String::new(),
            role: "viewer".to_owned(),
            open: false,
            form_error: None,
        }
    }

    async fn show(
        mut self,
        state: &AppState,
        cursor: Option<String>,
    ) -> Result<Self, DashboardError> {
        let query = PageQuery {
            limit: Some(PAGE),
            cursor,
        };
        let Json(page) = api::people(self.nav.scope()?, State(state.clone()), Query(query)).await?;
        self.rows = page
            .data
            .into_iter()
            .map(|person: PersonView| Row {
                role: Role::from(person.role).as_str(),
                operator_id: person.operator_id,
                username: person.username,
            })
            .collect();
        let did = &self.nav.service.did;
        self.next = page
            .next_cursor
            .map(|cursor| format!("/dashboard/services/{did}/people?cursor={cursor}"));
        Ok(self)
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    /// `new`: the **Give a role** pop-up.
    edit: Option<String>,
}

/// `GET /dashboard/services/{serviceDid}/people` (`?edit=new` opens **Give a role**).
async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = owning(&state, &signed_in, &did).await?;
    let mut page = PeoplePage::new(nav);
    page.open = query.edit.as_deref() == Some("new");
    Ok(html(&page.show(&state, query.cursor).await?))
}

#[derive(Deserialize)]
struct GiveForm {
    username: String,
    role: String,
}

/// `POST .../people`: **Give a role** to a person by user name, through the API's.
async fn give(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<GiveForm>,
) -> Result<Response, DashboardError> {
    let nav = owning(&state, &signed_in, &did).await?;
    let scope = nav.scope()?;
    let given = call(
        serde_json::json!({"username": form.username, "role": form.role}),
        async |request| {
            api::give_role(scope, State(state.clone()), Json(request))
                .await
                .map(drop)
        },
    )
    .await;
    let to = format!("/dashboard/services/{did}/people");
    answer(given, &to, async |message| {
        let mut page = PeoplePage::new(nav);
        page.username = form.username;
        page.role = form.role;
        page.open = true;
        page.form_error = Some(message);
        page.show(&state, None).await
    })
    .await
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

/// `POST .../people/{operatorId}`: a person's new role, through the API's.
async fn change(
    State(state): State<AppState>,
    Path((did, operator_id)): Path<(String, String)>,
    Posted { signed_in, form }: Posted<RoleForm>,
) -> Result<Response, DashboardError> {
    let nav = owning(&state, &signed_in, &did).await?;
    let scope = nav.scope()?;
    let changed: Result<(), ApiError> =
        call(serde_json::json!({"role": form.role}), async |request| {
            api::set_role(
                scope,
                State(state.clone()),
                Path((did.clone(), operator_id)),
                Json(request),
            )
            .await
            .map(drop)
        })
        .await;
    refused_above_list(&state, nav, changed, &did).await
}

/// `POST .../people/{operatorId}/delete`: **Remove** the person from the service, through the
/// API's.
async fn remove(
    State(state): State<AppState>,
    Path((did, operator_id)): Path<(String, String)>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let nav = owning(&state, &signed_in, &did).await?;
    let removed = api::remove_role(
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), operator_id)),
    )
    .await
    .map(drop);
    refused_above_list(&state, nav, removed, &did).await
}

/// Back to the list, or the list with the API's refusal above it.
async fn refused_above_list(
    state: &AppState,
    nav: Nav,
    result: Result<(), ApiError>,
    did: &str,
) -> Result<Response, DashboardError> {
    let to = format!("/dashboard/services/{did}/people");
    answer(result, &to, async |message| {
        let mut page = PeoplePage::new(nav);
        page.error = Some(message);
        page.show(state, None).await
    })
    .await
}
