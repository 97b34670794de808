//! The dashboard's accounts (docs/dashboard.md): operators, their roles in services and their
//! signed-in sessions (`operators`, `operator_roles`, `operator_sessions`). Session tokens are
//! stored and found by their hash only.

use sqlx::FromRow;

use super::{Backend, Db, Order, Paging, new_id, now_ms, placeholders};
use crate::scope::ServiceScope;

/// What an operator may do in a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Editor,
    /// Everything, and the service's people.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Role::Owner, Role::Editor, Role::Viewer]
            .into_iter()
            .find(|role| role.as_str() == text)
    }

    /// Whether the role may change the service's configuration.
    pub fn can_edit(self) -> bool {
        self >= Role::Editor
    }

    /// Whether the role may manage the service's people.
    pub fn manages_people(self) -> bool {
        self == Role::Owner
    }
}

impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Role::parse(&text).ok_or_else(|| format!("unknown role {text:?}"))
    }
}

/// An operator, without the password hash.
#[derive(Debug, Clone, FromRow)]
pub struct Operator {
    pub id: String,
    pub username: String,
    #[sqlx(try_from = "i64")]
    pub is_admin: IsAdmin,
    pub created_at: i64,
}

/// `is_admin` as stored (0 or 1 on both backends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsAdmin(pub bool);

impl From<i64> for IsAdmin {
    fn from(value: i64) -> Self {
        IsAdmin(value != 0)
    }
}

const OPERATOR_COLUMNS: &str = "o.id, o.username, o.is_admin, o.created_at";

/// Stores an operator; a user name in use is a unique violation.
pub async fn insert(
    db: &Db,
    username: &str,
    password_hash: &str,
    is_admin: bool,
) -> sqlx::Result<Operator> {
    let operator = Operator {
        id: new_id(),
        username: username.to_owned(),
        is_admin: IsAdmin(is_admin),
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO operators (id, username, password_hash, is_admin, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&operator.id)
    .bind(&operator.username)
    .bind(password_hash)
    .bind(i64::from(is_admin))
    .bind(operator.created_at)
    .execute(db.pool())
    .await?;
    Ok(operator)
}

/// The operator of a user name, with the password hash to check.
pub async fn by_username(db: &Db, username: &str) -> sqlx::Result<Option<(Operator, String)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        operator: Operator,
        password_hash: String,
    }
    let sql = format!(
        "SELECT {OPERATOR_COLUMNS}, o.password_hash FROM operators o WHERE o.username = $1"
    );
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(username)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|row| (row.operator, row.password_hash)))
}

super::positioned!(Operator, created_at, id);

/// The operator with this id.
pub async fn get(db: &Db, id: &str) -> sqlx::Result<Option<Operator>> {
    let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators o WHERE o.id = $1");
    sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await
}

/// A page of the operators, oldest first.
pub async fn list(db: &Db, paging: &Paging) -> sqlx::Result<Vec<Operator>> {
    let sql = format!(
        "SELECT {OPERATOR_COLUMNS} FROM operators o WHERE 1 = 1{}",
        Paging::sql("o.created_at", "o.id", 1, Order::Oldest)
    );
    paging.bind(sqlx::query_as(&sql)).fetch_all(db.pool()).await
}

/// One role of an operator: the service's DID and the role there.
#[derive(Debug, Clone, FromRow)]
pub struct RoleIn {
    pub operator_id: String,
    pub did: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

/// The roles of these operators, by service DID.
pub async fn roles_of(db: &Db, operator_ids: &[String]) -> sqlx::Result<Vec<RoleIn>> {
    if operator_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.operator_id, s.did, r.role FROM operator_roles r \
         JOIN services s ON s.id = r.service_id WHERE r.operator_id IN ({}) ORDER BY s.did",
        placeholders(1, operator_ids.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in operator_ids {
        query = query.bind(id);
    }
    query.fetch_all(db.pool()).await
}

/// What a change to an operator came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Done; the operator's sessions that ended.
    Done {
        sessions_ended: u64,
    },
    NotFound,
    /// Refused: it would leave no admin.
    LastAdmin,
}

/// Sets an operator's password hash and admin flag (each when given), in one transaction that
/// refuses to demote the last admin. A new password ends every session of the operator.
pub async fn update(
    db: &Db,
    id: &str,
    password_hash: Option<&str>,
    is_admin: Option<bool>,
) -> sqlx::Result<Changed> {
    let mut tx = db.begin().await?;
    let admins = if is_admin == Some(false) {
        Some(locked_admins(&mut tx, db.backend()).await?)
    } else {
        None
    };
    if !exists(&mut tx, id).await? {
        return Ok(Changed::NotFound);
    }
    if admins.is_some_and(|admins| last_of(&admins, id)) {
        return Ok(Changed::LastAdmin);
    }
    if let Some(admin) = is_admin {
        sqlx::query("UPDATE operators SET is_admin = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(admin))
            .execute(&mut *tx)
            .await?;
    }
    let mut sessions_ended = 0;
    if let Some(hash) = password_hash {
        sqlx::query("UPDATE operators SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        sessions_ended = sqlx::query("DELETE FROM operator_sessions WHERE operator_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(Changed::Done { sessions_ended })
}

/// Deletes an operator with its roles and sessions, unless it is the last admin.
pub async fn delete(db: &Db, id: &str) -> sqlx::Result<Changed> {
    let mut tx = db.begin().await?;
    let admins = locked_admins(&mut tx, db.backend()).await?;
    if !exists(&mut tx, id).await? {
        return Ok(Changed::NotFound);
    }
    if last_of(&admins, id) {
        return Ok(Changed::LastAdmin);
    }
    let sessions_ended = sqlx::query("DELETE FROM operator_sessions WHERE operator_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM operator_roles WHERE operator_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM operators WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Changed::Done { sessions_ended })
}

async fn exists(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM operators WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

/// The admins' ids. On PostgreSQL their rows stay locked until the transaction ends, taken in the
/// order of their ids, so two admins demoted at once wait for each other instead of both seeing
/// the other one left (or deadlocking); SQLite's writer runs one transaction at a time.
async fn locked_admins(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
) -> sqlx::Result<Vec<String>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!("SELECT id FROM operators WHERE is_admin = 1 ORDER BY id{lock}");
    sqlx::query_scalar(&sql).fetch_all(&mut **tx).await
}

/// Whether `id` is the only one of `admins`.
fn last_of(admins: &[String], id: &str) -> bool {
    admins.len() <= 1 && admins.iter().any(|admin| admin == id)
}

/// Gives the operator `role` in the service (replacing the role it had there).
pub async fn set_role(
    db: &Db,
    operator_id: &str,
    service_id: &str,
    role: Role,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO operator_roles (operator_id, service_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (operator_id, service_id) DO UPDATE SET role = excluded.role",
    )
    .bind(operator_id)
    .bind(service_id)
    .bind(role.as_str())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Takes the operator's role in the service away; returns false if it had none there.
pub async fn remove_role(db: &Db, operator_id: &str, scope: &ServiceScope) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM operator_roles WHERE operator_id = $1 AND service_id = $2")
        .bind(operator_id)
        .bind(scope.service_id())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// One of a service's people: the operator and the role there.
#[derive(Debug, Clone, FromRow)]
pub struct Person {
    pub operator_id: String,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// When the operator was added (the list's order).
    pub created_at: i64,
}

super::positioned!(Person, created_at, operator_id);

/// A page of the scoped service's people, in the order the operators were added.
pub async fn people(db: &Db, scope: &ServiceScope, paging: &Paging) -> sqlx::Result<Vec<Person>> {
    let sql = format!(
        "SELECT o.id AS operator_id, o.username, r.role, o.created_at FROM operator_roles r \
         JOIN operators o ON o.id = r.operator_id WHERE r.service_id = $1{}",
        Paging::sql("o.created_at", "o.id", 2, Order::Oldest)
    );
    paging
        .bind(sqlx::query_as(&sql).bind(scope.service_id()))
        .fetch_all(db.pool())
        .await
}

/// A service an operator may open, and the role there.
#[derive(Debug, Clone)]
pub struct Membership {
    pub service_id: String,
    pub did: String,
    pub name: String,
    pub role: Role,
}

/// The services an operator may open, by name: all of them, as owner, for an admin.
pub async fn memberships(db: &Db, operator: &Operator) -> sqlx::Result<Vec<Membership>> {
    let rows: Vec<(String, String, String, String)> = if operator.is_admin.0 {
        sqlx::query_as("SELECT id, did, name, 'owner' FROM services ORDER BY name, did")
            .fetch_all(db.pool())
            .await?
    } else {
        sqlx::query_as(
            "SELECT s.id, s.did, s.name, r.role FROM operator_roles r \
             JOIN services s ON s.id = r.service_id WHERE r.operator_id = $1 \
             ORDER BY s.name, s.did",
        )
        .bind(&operator.id)
        .fetch_all(db.pool())
        .await?
    };
    rows.into_iter()
        .map(|(service_id, did, name, role)| {
            let role = Role::parse(&role)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?;
            Ok(Membership {
                service_id,
                did,
                name,
                role,
            })
        })
        .collect()
}

/// Stores a signed-in session until `expires_at`.
pub async fn start_session(
    db: &Db,
    token_hash: &str,
    operator_id: &str,
    csrf_token: &str,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO operator_sessions (token_hash, operator_id, csrf_token, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(operator_id)
    .bind(csrf_token)
    .bind(now_ms())
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The operator of an unexpired session, and the session's CSRF token.
pub async fn session(db: &Db, token_hash: &str) -> sqlx::Result<Option<(Operator, String)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        operator: Operator,
        csrf_token: String,
    }
    let sql = format!(
        "SELECT {OPERATOR_COLUMNS}, s.csrf_token FROM operator_sessions s \
         JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = $1 AND s.expires_at > $2"
    );
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|row| (row.operator, row.csrf_token)))
}

/// Ends one session.
pub async fn end_session(db: &Db, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Ends every session of the operator (signing out everywhere); returns how many.
pub async fn end_sessions(db: &Db, operator_id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM operator_sessions WHERE operator_id = $1")
        .bind(operator_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Deletes the sessions that expired before `now`; returns how many.
pub async fn purge_sessions(db: &Db, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM operator_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
