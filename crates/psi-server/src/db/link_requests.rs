//! Stored link requests (`link_requests` table) for the sourceURL mode: a short link points at
//! `/r/<token>`, and the app downloads the full request from there.
//!
//! Storing is scoped by service. Reading is by token alone: the token is 128 random bits and is
//! itself the authority, as the app fetches it without credentials.

use super::{Db, now_ms};
use crate::scope::ServiceScope;

/// How long an expired request still answers "expired" (410) before it is purged and answers
/// "unknown" (404): a week, in milliseconds.
const KEEP_EXPIRED_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A request to store.
pub struct NewLinkRequest<'a> {
    /// The token (the row id).
    pub token: &'a str,
    /// The request JSON, served as it is.
    pub request: &'a str,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// Whether the first download consumes it.
    pub one_time: bool,
}

/// What reading a token found.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// The request JSON; a one-time request is now consumed.
    Request(String),
    /// The request has expired.
    Expired,
    /// The one-time request was already downloaded.
    Used,
    /// No such token (or purged long after it expired).
    Unknown,
}

/// Stores a request for the scoped service, and purges the service's requests that expired long
/// ago so the table does not grow without bound.
pub async fn insert(db: &Db, scope: &ServiceScope, new: &NewLinkRequest<'_>) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query("DELETE FROM link_requests WHERE service_id = $1 AND expires_at < $2")
        .bind(scope.service_id())
        .bind(now - KEEP_EXPIRED_MS)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO link_requests (id, service_id, request, created_at, expires_at, one_time) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.token)
    .bind(scope.service_id())
    .bind(new.request)
    .bind(now)
    .bind(new.expires_at)
    .bind(i64::from(new.one_time))
    .execute(db.pool())
    .await
    .map(drop)
}

/// Reads the request stored under `token`. A one-time request is consumed by the same statement
/// that reads it (`UPDATE ... WHERE used_at IS NULL ... RETURNING`), so of two concurrent reads
/// exactly one gets it.
pub async fn take(db: &Db, token: &str) -> sqlx::Result<Taken> {
    let now = now_ms();
    let request: Option<String> = sqlx::query_scalar(
        "UPDATE link_requests SET used_at = COALESCE(used_at, $2) \
         WHERE id = $1 AND expires_at > $2 AND (one_time = 0 OR used_at IS NULL) \
         RETURNING request",
    )
    .bind(token)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    if let Some(request) = request {
        return Ok(Taken::Request(request));
    }
    // Why not: a second, read-only look, on the failure path only.
    let expires_at: Option<i64> =
        sqlx::query_scalar("SELECT expires_at FROM link_requests WHERE id = $1")
            .bind(token)
            .fetch_optional(db.pool())
            .await?;
    Ok(match expires_at {
        None => Taken::Unknown,
        Some(expires_at) if expires_at <= now => Taken::Expired,
        Some(_) => Taken::Used,
    })
}
