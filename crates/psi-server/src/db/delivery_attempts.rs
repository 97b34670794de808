//! Delivery attempts (`delivery_attempts`): every call made to deliver a message, with its
//! answer. The workers insert them; the management API lists them, scoped to a service.

use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, FromRow, Row};
use utoipa::ToSchema;

use super::Cursor;
use super::Db;
use super::deliveries::Claimed;
use super::interaction_counts::{Health, health_columns, health_of};
use crate::ids::{EndpointId, MessageId};
use crate::scope::ServiceScope;

/// One try to deliver a message to an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema, FromRow)]
pub struct Attempt {
    /// Also the `jti` of the Bearer token the attempt carried.
    pub id: String,
    #[schema(value_type = String)]
    pub message_id: MessageId,
    #[schema(value_type = String)]
    pub endpoint_id: EndpointId,
    /// Unix milliseconds when the call started.
    pub at: i64,
    /// HTTP status; absent when no answer came.
    pub status: Option<i64>,
    pub duration_ms: i64,
    /// The answer's first 1 KiB.
    pub response_excerpt: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// What one attempt gave.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub claimed: Claimed,
    pub attempt_id: String,
    /// Unix ms when the call started.
    pub at: i64,
    pub status: Option<u16>,
    pub duration_ms: i64,
    pub response_excerpt: String,
    pub error: Option<String>,
    /// The receiver's `Retry-After`, as a wait.
    pub retry_after: Option<Duration>,
}

impl Outcome {
    pub(crate) fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Parameters of each row of [`insert_sql`].
pub(crate) const COLUMNS: usize = 10;

/// An attempt row for each of `outcomes`, in one statement.
pub(crate) async fn insert(conn: &mut AnyConnection, outcomes: &[Outcome]) -> sqlx::Result<()> {
    let sql = insert_sql(outcomes.len());
    bind_rows(sqlx::query(&sql), outcomes)
        .execute(conn)
        .await
        .map(drop)
}

/// The `INSERT` of `rows` attempt rows, whose parameters are `$1` to `$(rows × COLUMNS)`.
pub(crate) fn insert_sql(rows: usize) -> String {
    let rows: Vec<String> = (0..rows)
        .map(|row| {
            let cells: Vec<String> = (1..=COLUMNS)
                .map(|column| format!("${}", row * COLUMNS + column))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO delivery_attempts (id, delivery_id, message_id, endpoint_id, service_id, at, \
         status, duration_ms, response_excerpt, error) VALUES {}",
        rows.join(", ")
    )
}

/// Binds the parameters of [`insert_sql`] for `outcomes`.
pub(crate) fn bind_rows<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    outcomes: &'q [Outcome],
) -> Query<'q, Any, AnyArguments<'q>> {
    for outcome in outcomes {
        let claimed = &outcome.claimed;
        query = query
            .bind(&outcome.attempt_id)
            .bind(&claimed.delivery_id)
            .bind(&claimed.message_id)
            .bind(&claimed.endpoint_id)
            .bind(&claimed.service_id)
            .bind(outcome.at)
            .bind(outcome.status.map(i64::from))
            .bind(outcome.duration_ms)
            .bind(&outcome.response_excerpt)
            .bind(&outcome.error);
    }
    query
}

super::positioned!(Attempt, at, id);

/// Filters of [`list`].
#[derive(Debug, Default)]
pub struct AttemptFilter<'a> {
    pub endpoint_id: Option<&'a EndpointId>,
    pub message_id: Option<&'a MessageId>,
    /// `Some(true)`: 2xx answers only; `Some(false)`: the others.
    pub succeeded: Option<bool>,
    /// Only attempts made at or after this time (unix ms).
    pub since: Option<i64>,
    pub cursor: Option<Cursor>,
    /// Rows to read ([`super::Paging::fetch`]).
    pub limit: i64,
}

/// The scoped service's attempts, newest first.
pub async fn list(
    db: &Db,
    scope: &ServiceScope,
    filter: &AttemptFilter<'_>,
) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(
        "SELECT id, message_id, endpoint_id, at, status, duration_ms, response_excerpt, error \
         FROM delivery_attempts WHERE service_id = $1 \
         AND ($2 IS NULL OR endpoint_id = $2) AND ($3 IS NULL OR message_id = $3) \
         AND ($4 IS NULL OR ($4 = 1) = (status IS NOT NULL AND status BETWEEN 200 AND 299)) \
         AND ($5 IS NULL OR at >= $5) \
         AND ($6 IS NULL OR at < $6 OR (at = $6 AND id < $7)) \
         ORDER BY at DESC, id DESC LIMIT $8",
    )
    .bind(scope.service_id())
    .bind(filter.endpoint_id)
    .bind(filter.message_id)
    .bind(filter.succeeded.map(i64::from))
    .bind(filter.since)
    .bind(filter.cursor.as_ref().map(|c| c.at))
    .bind(filter.cursor.as_ref().map(|c| c.id.as_str()))
    .bind(filter.limit)
    .fetch_all(db.pool())
    .await
}

/// The scoped service's delivery attempts made since `since` (unix ms), per endpoint, as
/// `(endpoint id, its URL, health)`: how many, how many succeeded (a 2xx answer without error)
/// and their latencies, in one query read in the order of migration 0021's index; endpoints
/// without attempts are absent.
pub async fn health_since(
    db: &Db,
    scope: &ServiceScope,
    since: i64,
) -> sqlx::Result<Vec<(String, String, Health)>> {
    let sql = format!(
        "SELECT d.id, d.url, a.* FROM \
         (SELECT endpoint_id, {} FROM delivery_attempts \
          WHERE service_id = $1 AND at >= $2 GROUP BY endpoint_id) a \
         JOIN delivery_endpoints d ON d.id = a.endpoint_id ORDER BY d.created_at, d.id",
        health_columns()
    );
    let rows = sqlx::query(&sql)
        .bind(scope.service_id())
        .bind(since)
        .fetch_all(db.pool())
        .await?;
    // Columns: id, url, endpoint_id, then the health.
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, health_of(row, 3)?)))
        .collect()
}
