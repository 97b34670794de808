//! `/api/v1/operators` and `/api/v1/services/{did}/people`: the dashboard's people
//! (docs/dashboard.md). Operators are managed with the admin token only, which is how the first
//! admin can be made without the command line; a service's people (who has which role there) with
//! the admin token or the service's own. Passwords are never shown back; they are hashed
//! (argon2id) on the blocking pool. `psi admin` adds operators and sets passwords through
//! [`add_operator`] and [`change_operator`], so both ways apply the same rules.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use crate::db::operators::{self, Changed, Operator, Person, Role};
use crate::db::{Cursor, Db};
use crate::domain::password;
use crate::http::AppState;
use crate::http::auth::AdminAuth;
use crate::http::error::{ApiError, ErrorBody, ResultExt};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::scope::ServiceScope;

/// A new operator. (No `Debug`: it holds a password.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperator {
    /// 1 to 64 of a-z, 0-9, `.`, `_`, `-`, `@`; upper case is folded.
    #[schema(example = "ada")]
    pub username: String,
    /// At least 12 characters (at most 1024 bytes); never shown back.
    pub password: String,
    /// An admin manages services and people and opens every service as an owner.
    #[serde(default)]
    pub admin: bool,
}

/// What to change of an operator; what is absent stays. (No `Debug`: it may hold a password.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOperator {
    /// A new password, at least 12 characters: every session of the operator ends.
    pub password: Option<String>,
    /// Make or stop being an admin; the last admin cannot stop.
    pub admin: Option<bool>,
}

/// A role in a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Everything in the service, and its people.
    Owner,
    /// Changes the service's configuration.
    Editor,
    /// Looks, changes nothing.
    Viewer,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => RoleName::Owner,
            Role::Editor => RoleName::Editor,
            Role::Viewer => RoleName::Viewer,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Owner => Role::Owner,
            RoleName::Editor => Role::Editor,
            RoleName::Viewer => Role::Viewer,
        }
    }
}

/// An operator's role in one service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRole {
    /// The service's public DID.
    pub service_did: String,
    pub role: RoleName,
}

/// An operator (never with the password).
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorView {
    pub id: String,
    pub username: String,
    pub admin: bool,
    /// The operator's roles, by service DID (an admin may open every service without one).
    pub roles: Vec<ServiceRole>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// One of a service's people.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub operator_id: String,
    pub username: String,
    pub role: RoleName,
}

impl From<Person> for PersonView {
    fn from(person: Person) -> Self {
        PersonView {
            operator_id: person.operator_id,
            username: person.username,
            role: person.role.into(),
        }
    }
}

/// A role to give or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    pub role: RoleName,
}

/// A role to give an operator named by user name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveRole {
    #[schema(example = "bob")]
    pub username: String,
    pub role: RoleName,
}

/// The argon2id hash of `password`, made on the blocking pool (it costs tens of milliseconds of
/// CPU); a password too short or too long is 422.
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(anyhow::Error::new)?
        .map_err(|error| match error {
            password::HashError::Refused(refused) => ApiError::Validation(refused.to_string()),
            failed @ password::HashError::Failed(_) => {
                ApiError::Internal(anyhow::Error::new(failed))
            }
        })
}

/// Adds an operator, as `POST /api/v1/operators` and `psi admin add-operator` do: the user name
/// checked and folded (422), the password checked and hashed (422), a taken name 409.
pub async fn add_operator(
    db: &Db,
    username: &str,
    password: String,
    admin: bool,
) -> Result<Operator, ApiError> {
    let username =
        password::username(username).map_err(|refused| ApiError::Validation(refused.0))?;
    let hash = hash(password).await?;
    let operator = operators::insert(db, &username, &hash, admin)
        .await
        .on_unique(|| ApiError::Conflict(format!("the user name {username:?} is taken")))?;
    tracing::info!(username, admin, "operator added");
    Ok(operator)
}

/// Changes an operator's password or admin flag, as `PATCH /api/v1/operators/{id}` and
/// `psi admin set-password` do; returns how many of its sessions ended (a new password ends
/// them all). Demoting the last admin is 409.
pub async fn change_operator(
    db: &Db,
    id: &str,
    password: Option<String>,
    admin: Option<bool>,
) -> Result<u64, ApiError> {
    let hash = match password {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    match operators::update(db, id, hash.as_deref(), admin).await? {
        Changed::Done { sessions_ended } => {
            tracing::info!(
                operator = id,
                password = hash.is_some(),
                admin,
                sessions_ended,
                "operator changed"
            );
            Ok(sessions_ended)
        }
        Changed::NotFound => Err(ApiError::not_found("operator")),
        Changed::LastAdmin => Err(last_admin()),
    }
}

fn last_admin() -> ApiError {
    ApiError::Conflict(
        "this is the last admin: make another person an admin first, so that someone can still \
         manage services and people"
            .into(),
    )
}

/// The operators' views, with their roles.
async fn views(db: &Db, operators: Vec<Operator>) -> Result<Vec<OperatorView>, ApiError> {
    let ids: Vec<String> = operators.iter().map(|o| o.id.clone()).collect();
    let mut roles = operators::roles_of(db, &ids).await?;
    Ok(operators
        .into_iter()
        .map(|operator| {
            let (own, rest) = roles
                .drain(..)
                .partition(|role| role.operator_id == operator.id);
            roles = rest;
            OperatorView {
                roles: own
                    .into_iter()
                    .map(|role: operators::RoleIn| ServiceRole {
                        service_did: role.did,
                        role: role.role.into(),
                    })
                    .collect(),
                id: operator.id,
                username: operator.username,
                admin: operator.is_admin.0,
                created_at: operator.created_at,
            }
        })
        .collect())
}

async fn view(db: &Db, operator: Operator) -> Result<OperatorView, ApiError> {
    let mut one = views(db, vec![operator]).await?;
    one.pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("an operator without its view")))
}

async fn found(db: &Db, id: &str) -> Result<Operator, ApiError> {
    operators::get(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("operator"))
}

/// Add a person who signs in to the dashboard (the first admin too, with `"admin": true`).
#[utoipa::path(post, path = "/api/v1/operators", operation_id = "create_operator", tag = "operators",
    security(("bearer" = [])), request_body = CreateOperator,
    responses(
        (status = 201, description = "Added (the password is not shown back)", body = OperatorView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 409, description = "The user name is taken", body = ErrorBody),
        (status = 422, description = "Invalid user name or password", body = ErrorBody)))]
pub async fn create(
    _: AdminAuth,
    State(state): State<AppState>,
    Json(body): Json<CreateOperator>,
) -> Result<(StatusCode, Json<OperatorView>), ApiError> {
    let operator = add_operator(&state.db, &body.username, body.password, body.admin).await?;
    Ok((StatusCode::CREATED, Json(view(&state.db, operator).await?)))
}

/// List the operators, with their roles.
#[utoipa::path(get, path = "/api/v1/operators", operation_id = "list_operators", tag = "operators",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of operators, oldest first", body = Page<OperatorView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<OperatorView>>, ApiError> {
    let paging = query.paging()?;
    let rows = operators::list(&state.db, &paging).await?;
    let (rows, next) = paging.cut(rows);
    Ok(Json(Page {
        data: views(&state.db, rows).await?,
        next_cursor: next.as_ref().map(Cursor::encode),
    }))
}

/// Get one operator, with its roles.
#[utoipa::path(get, path = "/api/v1/operators/{id}", operation_id = "get_operator", tag = "operators",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The operator's id")),
    responses(
        (status = 200, description = "The operator", body = OperatorView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 404, description = "No such operator", body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OperatorView>, ApiError> {
    let operator = found(&state.db, &id).await?;
    Ok(Json(view(&state.db, operator).await?))
}

/// Set an operator's password (which ends its sessions) or make it an admin or not.
#[utoipa::path(patch, path = "/api/v1/operators/{id}", operation_id = "update_operator", tag = "operators",
    security(("bearer" = [])), request_body = UpdateOperator,
    params(("id" = String, Path, description = "The operator's id")),
    responses(
        (status = 200, description = "Changed", body = OperatorView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 404, description = "No such operator", body = ErrorBody),
        (status = 409, description = "It is the last admin", body = ErrorBody),
        (status = 422, description = "Invalid password", body = ErrorBody)))]
pub async fn update(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<UpdateOperator>,
) -> Result<Json<OperatorView>, ApiError> {
    change_operator(&state.db, &id, body.password, body.admin).await?;
    let operator = found(&state.db, &id).await?;
    Ok(Json(view(&state.db, operator).await?))
}

/// Remove an operator: its sessions end and its roles go.
#[utoipa::path(delete, path = "/api/v1/operators/{id}", operation_id = "delete_operator", tag = "operators",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The operator's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin token", body = ErrorBody),
        (status = 404, description = "No such operator", body = ErrorBody),
        (status = 409, description = "It is the last admin", body = ErrorBody)))]
pub async fn delete(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match operators::delete(&state.db, &id).await? {
        Changed::Done { sessions_ended } => {
            tracing::info!(operator = %id, sessions_ended, "operator removed");
            Ok(StatusCode::NO_CONTENT)
        }
        Changed::NotFound => Err(ApiError::not_found("operator")),
        Changed::LastAdmin => Err(last_admin()),
    }
}

/// List a service's people and their roles (an admin, who opens every service anyway, only when
/// given a role there).
#[utoipa::path(get, path = "/api/v1/services/{did}/people", operation_id = "list_people", tag = "operators",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The service's public DID"), PageQuery),
    responses(
        (status = 200, description = "A page of people, in the order they were added", body = Page<PersonView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "`limit` or `cursor` is invalid", body = ErrorBody)))]
pub async fn people(
    scope: ServiceScope,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<PersonView>>, ApiError> {
    let paging = query.paging()?;
    let people = operators::people(&state.db, &scope, &paging).await?;
    Ok(Json(Page::cut(&paging, people)))
}

/// Give an operator, named by user name, a role in the service (or change the one it has).
#[utoipa::path(post, path = "/api/v1/services/{did}/people", operation_id = "give_role", tag = "operators",
    security(("bearer" = [])), request_body = GiveRole,
    params(("did" = String, Path, description = "The service's public DID")),
    responses(
        (status = 200, description = "The person's role now", body = PersonView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service, or not the token's", body = ErrorBody),
        (status = 422, description = "No one has the user name, or the role is unknown", body = ErrorBody)))]
pub async fn give_role(
    scope: ServiceScope,
    State(state): State<AppState>,
    Json(body): Json<GiveRole>,
) -> Result<Json<PersonView>, ApiError> {
    let unknown = || ApiError::Validation(format!("no one has the user name {:?}", body.username));
    let username = password::username(&body.username).map_err(|_| unknown())?;
    let (operator, _) = operators::by_username(&state.db, &username)
        .await?
        .ok_or_else(unknown)?;
    set(&state.db, &scope, operator, body.role).await
}

/// Give an operator a role in the service, or change the one it has.
#[utoipa::path(put, path = "/api/v1/services/{did}/people/{operator_id}", operation_id = "set_role", tag = "operators",
    security(("bearer" = [])), request_body = SetRole,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("operator_id" = String, Path, description = "The operator's id")),
    responses(
        (status = 200, description = "The person's role now", body = PersonView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service (or not the token's), or no such operator", body = ErrorBody),
        (status = 422, description = "Unknown role", body = ErrorBody)))]
pub async fn set_role(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, operator_id)): Path<(String, String)>,
    Json(body): Json<SetRole>,
) -> Result<Json<PersonView>, ApiError> {
    let operator = found(&state.db, &operator_id).await?;
    set(&state.db, &scope, operator, body.role).await
}

async fn set(
    db: &Db,
    scope: &ServiceScope,
    operator: Operator,
    role: RoleName,
) -> Result<Json<PersonView>, ApiError> {
    operators::set_role(db, &operator.id, scope.service_id(), role.into())
        .await
        .on_referenced(|| ApiError::not_found("operator"))?;
    tracing::info!(did = %scope.did(), operator = %operator.id, role = Role::from(role).as_str(),
        "role given");
    Ok(Json(PersonView {
        operator_id: operator.id,
        username: operator.username,
        role,
    }))
}

/// Take an operator's role in the service away.
#[utoipa::path(delete, path = "/api/v1/services/{did}/people/{operator_id}", operation_id = "remove_role", tag = "operators",
    security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("operator_id" = String, Path, description = "The operator's id")),
    responses(
        (status = 204, description = "Removed from the service's people"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service (or not the token's), or not one of its people", body = ErrorBody)))]
pub async fn remove_role(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, operator_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if !operators::remove_role(&state.db, &operator_id, &scope).await? {
        return Err(ApiError::not_found("person"));
    }
    tracing::info!(did = %scope.did(), operator = %operator_id, "role removed");
    Ok(StatusCode::NO_CONTENT)
}
