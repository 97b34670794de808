//! **Admin**, for admins only (anyone else gets 403): the services (**Add service**), the people
//! with their roles (**Add person**, reset a password, make or remove an admin, remove a person),
//! and a service's API tokens (**Create token**, shown once; **Revoke**). Every form calls the
//! management API's handler with the admin's authority, as the admin token would.
//!
//! The frame is the one of every page, opened on the admin's first service; before any service
//! exists it shows no service's menu (an admin may open every service, so `services` is empty
//! only then).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::events::when;
use super::form::{Refused, again, answer, body, call, refused, see_other};
use super::session::{NoFields, Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::operators::{self as api_operators, OperatorView};
use crate::api::page::PageQuery;
use crate::api::services::{self as api_services, ServiceView};
use crate::api::tokens::{self as api_tokens, TokenView};
use crate::db::operators::{Membership, Role};
use crate::http::AppState;
use crate::http::auth::AdminAuth;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::pages::render::html;

/// Rows a list page shows.
const PAGE: i64 = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/admin/services", get(services).post(add_service))
        .route("/dashboard/admin/people", get(people).post(add_person))
        .route(
            "/dashboard/admin/people/{id}/password",
            post(reset_password),
        )
        .route("/dashboard/admin/people/{id}/admin", post(set_admin))
        .route("/dashboard/admin/people/{id}/delete", post(remove_person))
        .route(
            "/dashboard/services/{serviceDid}/tokens",
            get(tokens).post(create_token),
        )
        .route(
            "/dashboard/services/{serviceDid}/tokens/{id}/revoke",
            post(revoke_token),
        )
}

impl Nav {
    /// The frame of an admin page; anyone but an admin is refused.
    async fn admin(state: &AppState, signed_in: &SignedIn) -> Result<Nav, DashboardError> {
        refuse_non_admin(signed_in)?;
        let services = signed_in.memberships(state).await?;
        let service = services.first().cloned().unwrap_or(Membership {
            service_id: String::new(),
            did: String::new(),
            name: String::new(),
            role: Role::Owner,
        });
        Ok(Nav {
            username: signed_in.operator.username.clone(),
            csrf: signed_in.csrf.clone(),
            admin: true,
            service,
            services,
            section: "admin",
        })
    }

    /// The frame of a service's admin page (its tokens); anyone but an admin is refused.
    async fn admin_of(
        state: &AppState,
        signed_in: &SignedIn,
        did: &str,
    ) -> Result<Nav, DashboardError> {
        refuse_non_admin(signed_in)?;
        Nav::of(state, signed_in, did, "admin").await
    }
}

fn refuse_non_admin(signed_in: &SignedIn) -> Result<(), DashboardError> {
    if signed_in.operator.is_admin.0 {
        Ok(())
    } else {
        Err(DashboardError::Forbidden(
            "Only an admin manages services, people and API tokens.".into(),
        ))
    }
}

/// A list query: its page, and the pop-up to open without the script.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    /// `new`: the **Add** pop-up.
    edit: Option<String>,
    /// People: the operator whose **Reset password** pop-up is open.
    reset: Option<String>,
}

fn page_query(cursor: Option<String>) -> Query<PageQuery> {
    Query(PageQuery {
        limit: Some(PAGE),
        cursor,
    })
}

// Services.

#[derive(Template)]
#[template(path = "dashboard/admin_services.html")]
struct ServicesPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<ServiceRow>,
    next: Option<String>,
    name: String,
    open: bool,
    form_error: Option<String>,
}

struct ServiceRow {
    did: String,
    name: String,
    created: String,
}

async fn services_page(
    state: &AppState,
    nav: Nav,
    cursor: Option<String>,
) -> Result<ServicesPage, DashboardError> {
    let Json(page) =
        api_services::list(AdminAuth, State(state.clone()), page_query(cursor)).await?;
    Ok(ServicesPage {
        layout: &LAYOUT,
        nav,
        rows: page
            .data
            .into_iter()
            .map(|service: ServiceView| ServiceRow {
                created: when(service.created_at),
                did: service.did,
                name: service.name,
            })
            .collect(),
        next: page
            .next_cursor
            .map(|cursor| format!("/dashboard/admin/services?cursor={cursor}")),
        name: String::new(),
        open: false,
        form_error: None,
    })
}

/// `GET /dashboard/admin/services` (`?edit=new` opens **Add service**).
async fn services(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let mut page = services_page(&state, nav, query.cursor).await?;
    page.open = query.edit.as_deref() == Some("new");
    Ok(html(&page))
}

#[derive(Deserialize)]
struct ServiceForm {
    name: String,
}

/// `POST /dashboard/admin/services`: **Add service**, through the API's create; the new service
/// opens.
async fn add_service(
    State(state): State<AppState>,
    Posted { signed_in, form }: Posted<ServiceForm>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let created = call(serde_json::json!({ "name": form.name }), async |request| {
        api_services::create(AdminAuth, State(state.clone()), Json(request))
            .await
            .map(|(_, Json(service))| service.did)
    })
    .await;
    match created {
        Ok(did) => Ok(see_other(&format!(
            "/dashboard/services/{did}/interactions"
        ))),
        Err(error) => {
            let Refused { status, message } = refused(error)?;
            let mut page = services_page(&state, nav, None).await?;
            page.name = form.name;
            page.open = true;
            page.form_error = Some(message);
            Ok(again(status, &page))
        }
    }
}

// People.

#[derive(Template)]
#[template(path = "dashboard/admin_people.html")]
struct PeoplePage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<PersonRow>,
    next: Option<String>,
    /// What the API refused outside a pop-up (removing or demoting the last admin).
    error: Option<String>,
    /// **Add person**: what was typed, open, the API's refusal.
    username: String,
    admin: bool,
    open: bool,
    form_error: Option<String>,
    /// **Reset password**: the person whose pop-up is open, the API's refusal.
    resetting: Option<Resetting>,
    reset_error: Option<String>,
}

/// The person whose **Reset password** pop-up is open.
struct Resetting {
    id: String,
    username: String,
}

struct PersonRow {
    id: String,
    username: String,
    admin: bool,
    /// "Acme Bank (owner)", ...
    roles: Vec<String>,
    created: String,
}

impl PeoplePage {
    fn new(nav: Nav) -> Self {
        PeoplePage {
            layout: &LAYOUT,
            nav,
            rows: Vec::new(),
            next: None,
            error: None,
            username: String::new(),
            admin: false,
            open: false,
            form_error: None,
            resetting: None,
            reset_error: None,
        }
    }

    /// Fills the list's page at `cursor`; `resetting` names the person of the open **Reset
    /// password** pop-up.
    async fn show(
        mut self,
        state: &AppState,
        cursor: Option<String>,
        resetting: Option<&str>,
    ) -> Result<Self, DashboardError> {
        let Json(page) =
            api_operators::list(AdminAuth, State(state.clone()), page_query(cursor)).await?;
        let services = &self.nav.services;
        self.rows = page
            .data
            .into_iter()
            .map(|operator: OperatorView| PersonRow {
                roles: operator
                    .roles
                    .iter()
                    .map(|role| {
                        let name = services
                            .iter()
                            .find(|s| s.did == role.service_did)
                            .map_or(role.service_did.as_str(), |s| s.name.as_str());
                        format!("{name} ({})", Role::from(role.role).as_str())
                    })
                    .collect(),
                created: when(operator.created_at),
                id: operator.id,
                username: operator.username,
                admin: operator.admin,
            })
            .collect();
        self.next = page
            .next_cursor
            .map(|cursor| format!("/dashboard/admin/people?cursor={cursor}"));
        if let Some(id) = resetting {
            let Json(operator) =
                api_operators::get(AdminAuth, State(state.clone()), Path(id.to_owned())).await?;
            self.resetting = Some(Resetting {
                id: operator.id,
                username: operator.username,
            });
        }
        Ok(self)
    }
}

/// `GET /dashboard/admin/people` (`?edit=new` opens **Add person**, `?reset=<id>` **Reset
/// password**).
async fn people(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let mut page = PeoplePage::new(nav);
    page.open = query.edit.as_deref() == Some("new");
    let page = page
        .show(&state, query.cursor, query.reset.as_deref())
        .await?;
    Ok(html(&page))
}

#[derive(Deserialize)]
struct PersonForm {
    username: String,
    password: String,
    /// The checkbox: present when ticked.
    admin: Option<String>,
}

const PEOPLE: &str = "/dashboard/admin/people";

/// `POST /dashboard/admin/people`: **Add person**, through the API's create (the password is
/// never shown back, not even in the form the API refused).
async fn add_person(
    State(state): State<AppState>,
    Posted { signed_in, form }: Posted<PersonForm>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let admin = form.admin.is_some();
    let json = serde_json::json!({
        "username": form.username, "password": form.password, "admin": admin,
    });
    let created = call(json, async |request| {
        api_operators::create(AdminAuth, State(state.clone()), Json(request))
            .await
            .map(drop)
    })
    .await;
    answer(created, PEOPLE, async |message| {
        let mut page = PeoplePage::new(nav);
        page.username = form.username;
        page.admin = admin;
        page.open = true;
        page.form_error = Some(message);
        page.show(&state, None, None).await
    })
    .await
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

/// `POST /dashboard/admin/people/{id}/password`: **Reset password**, through the API's update,
/// which ends every session of the person.
async fn reset_password(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed_in, form }: Posted<PasswordForm>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let changed = change(
        &state,
        &id,
        serde_json::json!({ "password": form.password }),
    )
    .await;
    answer(changed, PEOPLE, async |message| {
        let mut page = PeoplePage::new(nav);
        page.reset_error = Some(message);
        page.show(&state, None, Some(&id)).await
    })
    .await
}

#[derive(Deserialize)]
struct AdminForm {
    /// `true` to make an admin, `false` to remove the flag.
    admin: bool,
}

/// `POST /dashboard/admin/people/{id}/admin`: **Make admin** or **Remove admin**, through the
/// API's update (which refuses to demote the last admin).
async fn set_admin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed_in, form }: Posted<AdminForm>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let changed = change(&state, &id, serde_json::json!({ "admin": form.admin })).await;
    answer(changed, PEOPLE, async |message| {
        let mut page = PeoplePage::new(nav);
        page.error = Some(message);
        page.show(&state, None, None).await
    })
    .await
}

async fn change(
    state: &AppState,
    id: &str,
    json: serde_json::Value,
) -> Result<(), crate::http::error::ApiError> {
    let request = body(json)?;
    api_operators::update(
        AdminAuth,
        State(state.clone()),
        Path(id.to_owned()),
        Json(request),
    )
    .await
    .map(drop)
}

/// `POST /dashboard/admin/people/{id}/delete`: **Remove**, through the API's delete (which
/// refuses the last admin).
async fn remove_person(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin(&state, &signed_in).await?;
    let removed = api_operators::delete(AdminAuth, State(state.clone()), Path(id))
        .await
        .map(drop);
    answer(removed, PEOPLE, async |message| {
        let mut page = PeoplePage::new(nav);
        page.error = Some(message);
        page.show(&state, None, None).await
    })
    .await
}

// A service's API tokens.

#[derive(Template)]
#[template(path = "dashboard/admin_tokens.html")]
struct TokensPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<TokenRow>,
    next: Option<String>,
    /// A token just created, on the page that answers its creation only.
    created: Option<CreatedToken>,
    name: String,
    open: bool,
    form_error: Option<String>,
}

struct TokenRow {
    id: String,
    name: String,
    created: String,
    revoked: Option<String>,
}

struct CreatedToken {
    name: String,
    token: String,
}

impl TokensPage {
    async fn show(
        nav: Nav,
        state: &AppState,
        cursor: Option<String>,
    ) -> Result<Self, DashboardError> {
        let Json(page) = api_tokens::list(
            AdminAuth,
            nav.scope()?,
            State(state.clone()),
            page_query(cursor),
        )
        .await?;
        let did = nav.service.did.clone();
        Ok(TokensPage {
            layout: &LAYOUT,
            nav,
            rows: page
                .data
                .into_iter()
                .map(|token: TokenView| TokenRow {
                    created: when(token.created_at),
                    revoked: token.revoked_at.map(when),
                    id: token.id,
                    name: token.name,
                })
                .collect(),
            next: page
                .next_cursor
                .map(|cursor| format!("/dashboard/services/{did}/tokens?cursor={cursor}")),
            created: None,
            name: String::new(),
            open: false,
            form_error: None,
        })
    }
}

/// `GET /dashboard/services/{serviceDid}/tokens` (`?edit=new` opens **Create token**).
async fn tokens(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin_of(&state, &signed_in, &did).await?;
    let mut page = TokensPage::show(nav, &state, query.cursor).await?;
    page.open = query.edit.as_deref() == Some("new");
    Ok(html(&page))
}

/// `POST .../tokens`: **Create token**, through the API's create. The token is shown on the
/// answer itself (201, never cached), since the API shows it once and psi keeps only its hash.
async fn create_token(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<ServiceForm>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin_of(&state, &signed_in, &did).await?;
    let scope = nav.scope()?;
    let created = call(serde_json::json!({ "name": form.name }), async |request| {
        api_tokens::create(AdminAuth, scope, State(state.clone()), Json(request))
            .await
            .map(|(_, Json(created))| created)
    })
    .await;
    match created {
        Ok(created) => {
            let mut page = TokensPage::show(nav, &state, None).await?;
            page.created = Some(CreatedToken {
                name: created.name,
                token: created.token,
            });
            Ok(again(StatusCode::CREATED, &page))
        }
        Err(error) => {
            let Refused { status, message } = refused(error)?;
            let mut page = TokensPage::show(nav, &state, None).await?;
            page.name = form.name;
            page.open = true;
            page.form_error = Some(message);
            Ok(again(status, &page))
        }
    }
}

/// `POST .../tokens/{id}/revoke`: **Revoke**, through the API's revoke.
async fn revoke_token(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let nav = Nav::admin_of(&state, &signed_in, &did).await?;
    api_tokens::revoke(
        AdminAuth,
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), id)),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/services/{did}/tokens")))
}
