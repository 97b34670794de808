//! Service API tokens (`service_tokens` table), stored as SHA-256 hashes of their secret part.

use sqlx::FromRow;

use super::{Db, Order, Paging, now_ms};
use crate::scope::ServiceScope;
use psi_link::Did;

/// A token as listed (never with its secret).
#[derive(Debug, Clone, FromRow)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// What authentication needs to check a presented token.
#[derive(Debug, FromRow)]
pub struct TokenCredential {
    pub service_id: String,
    pub did: String,
    pub secret_sha256: Vec<u8>,
}

/// Stores a new token for the scoped service.
pub async fn insert(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
    name: &str,
    secret_sha256: &[u8],
) -> sqlx::Result<TokenInfo> {
    let created_at = now_ms();
    sqlx::query(
        "INSERT INTO service_tokens (id, service_id, name, secret_sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(scope.service_id())
    .bind(name)
    .bind(secret_sha256)
    .bind(created_at)
    .execute(db.pool())
    .await?;
    Ok(TokenInfo {
        id: id.to_owned(),
        name: name.to_owned(),
        created_at,
        revoked_at: None,
    })
}

super::positioned!(TokenInfo, created_at, id);

/// A page of the scoped service's tokens, revoked ones included, oldest first.
pub async fn list(db: &Db, scope: &ServiceScope, paging: &Paging) -> sqlx::Result<Vec<TokenInfo>> {
    let sql = format!(
        "SELECT id, name, created_at, revoked_at FROM service_tokens WHERE service_id = $1{}",
        Paging::sql("created_at", "id", 2, Order::Oldest)
    );
    paging
        .bind(sqlx::query_as(&sql).bind(scope.service_id()))
        .fetch_all(db.pool())
        .await
}

/// Revokes a token of the scoped service; returns false if it has no such token. Revoking twice
/// keeps the first time.
pub async fn revoke(db: &Db, scope: &ServiceScope, id: &str) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "UPDATE service_tokens SET revoked_at = COALESCE(revoked_at, $1) \
         WHERE id = $2 AND service_id = $3 RETURNING id",
    )
    .bind(now_ms())
    .bind(id)
    .bind(scope.service_id())
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// The unrevoked token with this id and its service, for authentication.
pub async fn find_active(db: &Db, id: &str) -> sqlx::Result<Option<TokenCredential>> {
    sqlx::query_as(
        "SELECT t.service_id, s.did, t.secret_sha256 FROM service_tokens t \
         JOIN services s ON s.id = t.service_id \
         WHERE t.id = $1 AND t.revoked_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await
}

impl TokenCredential {
    /// The scope this token grants, once its secret has been checked.
    pub(crate) fn into_scope(self) -> Option<ServiceScope> {
        let did: Did = self.did.parse().ok()?;
        Some(ServiceScope::new(self.service_id, did))
    }
}
