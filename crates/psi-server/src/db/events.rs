//! Events (`events` table): one run of an interaction by one holder, with its timestamped log
//! (`event_log`) and the webhook calls it made (`webhook_calls`).
//!
//! An event is written twice: when it starts (the row and the first log entries) and when it
//! settles (its state, the rest of the log, the calls), each time in the caller's transaction.

use std::collections::HashMap;

use serde::de::{DeserializeOwned, IntoDeserializer, value};
use serde::{Deserialize, Serialize};
use sqlx::{Any, FromRow, Transaction};
use utoipa::ToSchema;

use super::interaction_counts::{Health, health_columns, health_of};
use super::{Backend, Cursor, Db};
use crate::ids::{EventId, HolderDid, InstanceId, InteractionId};
use crate::scope::ServiceScope;

/// The value of a unit-variant enum named `text` in its serde (snake_case) form.
fn by_name<T: DeserializeOwned>(text: &str) -> Option<T> {
    T::deserialize(IntoDeserializer::<value::Error>::into_deserializer(text)).ok()
}

/// Where an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Running: verifying, calling webhooks.
    Started,
    /// Nothing issued yet; the service may issue later.
    Waiting,
    /// Ended well (credentials issued, or denied by the service).
    Completed,
    /// Ended with a failure the holder was told about.
    Failed,
}

impl EventState {
    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Started => "started",
            EventState::Waiting => "waiting",
            EventState::Completed => "completed",
            EventState::Failed => "failed",
        }
    }

    /// Reads the name.
    pub fn parse(text: &str) -> Option<Self> {
        by_name(text)
    }
}

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    Started,
    CredentialsReceived,
    Verified,
    WebhookCalled,
    /// `integrationOutput.logData` of a webhook's reply.
    IntegrationOutput,
    Issued,
    /// The service declined to issue a credential (an empty credential in the reply).
    Denied,
    Revoked,
    Waiting,
    Completed,
    Failed,
    /// A third party's call about the event (`credentials-issued`, `credentials-issuing-failed`)
    /// was refused: why.
    IssueRefused,
    /// SSI OAuth gave a site the tokens of the holder's sign-in.
    SignedIn,
}

impl LogKind {
    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Started => "started",
            LogKind::CredentialsReceived => "credentials_received",
            LogKind::Verified => "verified",
            LogKind::WebhookCalled => "webhook_called",
            LogKind::IntegrationOutput => "integration_output",
            LogKind::Issued => "issued",
            LogKind::Denied => "denied",
            LogKind::Revoked => "revoked",
            LogKind::Waiting => "waiting",
            LogKind::Completed => "completed",
            LogKind::Failed => "failed",
            LogKind::IssueRefused => "issue_refused",
            LogKind::SignedIn => "signed_in",
        }
    }

    fn parse(text: &str) -> sqlx::Result<Self> {
        by_name(text)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown log kind {text:?}").into()))
    }
}

/// One line of an event's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LogEntry {
    /// Unix milliseconds.
    pub at: i64,
    pub kind: LogKind,
    pub detail: String,
}

/// Which webhook a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// The interaction webhook (docs/protocol.md §4.1).
    Interaction,
    /// A credential-check webhook (§4.2).
    CredentialCheck,
}

impl CallKind {
    fn as_str(self) -> &'static str {
        match self {
            CallKind::Interaction => "interaction",
            CallKind::CredentialCheck => "credential_check",
        }
    }

    fn parse(text: &str) -> sqlx::Result<Self> {
        by_name(text)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown call kind {text:?}").into()))
    }
}

/// One webhook call and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookCall {
    /// Also the `jti` of the Bearer token sent.
    pub id: String,
    pub kind: CallKind,
    pub url: String,
    /// HTTP status; absent when no answer came.
    pub status: Option<u16>,
    pub duration_ms: i64,
    /// The answer's first 1 KiB.
    pub response_excerpt: String,
    /// Why the call failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Unix milliseconds, when the call was made.
    pub at: i64,
}

/// An event as listed.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub interaction_id: InteractionId,
    pub instance_id: InstanceId,
    pub holder_did: HolderDid,
    pub state: EventState,
    pub message: Option<String>,
    pub callback: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct EventRow {
    id: EventId,
    interaction_id: InteractionId,
    instance_id: InstanceId,
    holder_did: HolderDid,
    state: String,
    message: Option<String>,
    callback: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EventRow> for Event {
    type Error = sqlx::Error;

    fn try_from(row: EventRow) -> sqlx::Result<Self> {
        Ok(Event {
            state: EventState::parse(&row.state).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown event state {:?}", row.state).into())
            })?,
            id: row.id,
            interaction_id: row.interaction_id,
            instance_id: row.instance_id,
            holder_did: row.holder_did,
            message: row.message,
            callback: row.callback,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Which event: its id and what it is a run of, by whom.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// `actionEventId`.
    pub id: &'a EventId,
    /// `actionId`.
    pub interaction_id: &'a InteractionId,
    /// `actionInstanceId`.
    pub instance_id: &'a InstanceId,
    /// `subscriberConnectDid`.
    pub holder_did: &'a HolderDid,
}

/// A new event, in state `started`.
pub struct NewEvent<'a> {
    pub id: &'a EventId,
    pub interaction_id: &'a InteractionId,
    pub instance_id: &'a InstanceId,
    pub holder_did: &'a HolderDid,
    pub callback: Option<&'a str>,
    /// The start page's session, when the event came from a page's link.
    pub session: Option<&'a str>,
    pub now: i64,
}

/// Stores a new event with the first entries of its log.
pub async fn start(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event: &NewEvent<'_>,
    log: &[LogEntry],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO events (id, service_id, interaction_id, instance_id, holder_did, state, \
         callback, session, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'started', $6, $7, $8, $8)",
    )
    .bind(event.id)
    .bind(scope.service_id())
    .bind(event.interaction_id)
    .bind(event.instance_id)
    .bind(event.holder_did)
    .bind(event.callback)
    .bind(event.session)
    .bind(event.now)
    .execute(&mut **tx)
    .await?;
    append_log(tx, scope, event.id, 0, log).await
}

/// Appends log entries numbered from `first_seq`, in one statement: each statement is a round
/// trip (to SQLite's worker thread or to PostgreSQL), and an event writes several entries at once.
async fn append_log(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_id: &EventId,
    first_seq: usize,
    log: &[LogEntry],
) -> sqlx::Result<()> {
    if log.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..log.len())
        .map(|i| {
            let p = 4 * i + 3;
            format!("($1, $2, ${p}, ${}, ${}, ${})", p + 1, p + 2, p + 3)
        })
        .collect();
    let sql = format!(
        "INSERT INTO event_log (event_id, service_id, seq, at, kind, detail) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(event_id).bind(scope.service_id());
    for (seq, entry) in (first_seq..).zip(log) {
        query = query
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(entry.at)
            .bind(entry.kind.as_str())
            .bind(&entry.detail);
    }
    query.execute(&mut **tx).await.map(drop)
}

/// Appends `entry` to the log of the scoped service's event `event_id`, unless its log holds
/// `cap` entries of that kind already. The event's row is locked first, so a settlement of the
/// same event (which numbers its entries after those stored) waits for this one. Returns the
/// event, or `None` when the service has no such event or the cap is reached.
pub async fn append_capped(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_id: &EventId,
    entry: &LogEntry,
    cap: i64,
) -> sqlx::Result<Option<Event>> {
    let sql = format!(
        "UPDATE events SET updated_at = updated_at WHERE service_id = $1 AND id = $2 \
         RETURNING {EVENT_COLUMNS}"
    );
    let Some(row) = sqlx::query_as::<_, EventRow>(&sql)
        .bind(scope.service_id())
        .bind(event_id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    let (all, of_kind): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN kind = $3 THEN 1 ELSE 0 END), 0) \
         FROM event_log WHERE service_id = $1 AND event_id = $2",
    )
    .bind(scope.service_id())
    .bind(event_id)
    .bind(entry.kind.as_str())
    .fetch_one(&mut **tx)
    .await?;
    if of_kind >= cap {
        return Ok(None);
    }
    let seq = usize::try_from(all).unwrap_or(0);
    append_log(tx, scope, event_id, seq, std::slice::from_ref(entry)).await?;
    row.try_into().map(Some)
}

/// A waiting event past its interaction's waiting deadline, with its service.
#[derive(Debug)]
pub struct Overdue {
    pub scope: ServiceScope,
    pub event: Event,
    pub waiting_deadline_secs: i64,
}

#[derive(FromRow)]
struct OverdueRow {
    service_id: String,
    did: String,
    waiting_deadline_secs: i64,
    #[sqlx(flatten)]
    event: EventRow,
}

/// Up to `limit` waiting events, of any service, that have waited longer than their interaction's
/// `waiting_deadline_secs` at `now`, longest waiting first. The partial index on waiting events
/// (migration 0015) keeps this a read of the waiting ones alone.
pub async fn overdue(db: &Db, now: i64, limit: i64) -> sqlx::Result<Vec<Overdue>> {
    let columns = EVENT_COLUMNS
        .split(", ")
        .map(|column| format!("e.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT e.service_id, s.did, i.waiting_deadline_secs, {columns} FROM events e \
         JOIN interactions i ON i.id = e.interaction_id AND i.service_id = e.service_id \
         JOIN services s ON s.id = e.service_id \
         WHERE e.state = 'waiting' AND e.updated_at < $1 \
         AND e.updated_at + i.waiting_deadline_secs * 1000 <= $1 \
         ORDER BY e.updated_at LIMIT $2"
    );
    let rows = sqlx::query_as::<_, OverdueRow>(&sql)
        .bind(now)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.into_iter()
        .map(|row| {
            let did = row
                .did
                .parse()
                .map_err(|e| sqlx::Error::Decode(format!("service DID: {e}").into()))?;
            Ok(Overdue {
                scope: ServiceScope::new(row.service_id, did),
                event: row.event.try_into()?,
                waiting_deadline_secs: row.waiting_deadline_secs,
            })
        })
        .collect()
}

/// How an event settles: its state, the holder's message, the log entries after the first
/// `first_seq` ones, and the webhook calls made.
pub struct Settlement<'a> {
    pub state: EventState,
    pub message: Option<&'a str>,
    pub first_seq: usize,
    pub log: &'a [LogEntry],
    pub calls: &'a [WebhookCall],
    pub now: i64,
}

/// Writes how an event settled.
pub async fn settle(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event_id: &EventId,
    settlement: &Settlement<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE events SET state = $3, message = $4, updated_at = $5 \
         WHERE service_id = $1 AND id = $2",
    )
    .bind(scope.service_id())
    .bind(event_id)
    .bind(settlement.state.as_str())
    .bind(settlement.message)
    .bind(settlement.now)
    .execute(&mut **tx)
    .await?;
    append_log(tx, scope, event_id, settlement.first_seq, settlement.log).await?;
    for call in settlement.calls {
        sqlx::query(
            "INSERT INTO webhook_calls (id, event_id, service_id, kind, url, status, duration_ms, \
             response_excerpt, error, at, interaction_id) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, (SELECT interaction_id FROM events WHERE id = $2))",
        )
        .bind(&call.id)
        .bind(event_id)
        .bind(scope.service_id())
        .bind(call.kind.as_str())
        .bind(&call.url)
        .bind(call.status.map(i64::from))
        .bind(call.duration_ms)
        .bind(&call.response_excerpt)
        .bind(&call.error)
        .bind(call.at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

super::positioned!(Event, created_at, id);

/// Filters of [`list`].
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub interaction_id: Option<&'a InteractionId>,
    pub state: Option<EventState>,
    pub holder_did: Option<&'a str>,
    /// Only events after this position (newest first): the last event of the previous page.
    pub cursor: Option<&'a Cursor>,
    /// Rows to read ([`super::Paging::fetch`]).
    pub limit: i64,
}

const EVENT_COLUMNS: &str = "id, interaction_id, instance_id, holder_did, state, message, \
    callback, created_at, updated_at";

/// The scoped service's events, newest first. Only the clauses a filter needs are written, so
/// each combination gets its own plan: an index on `(service_id, <filter>, created_at, id)`
/// read in order, whatever the number of events (migration 0014).
pub async fn list(db: &Db, scope: &ServiceScope, filter: &Filter<'_>) -> sqlx::Result<Vec<Event>> {
    let sql = list_sql(filter, "");
    let rows = bind_list(sqlx::query(&sql), scope, filter)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Event::try_from(EventRow::from_row(row)?))
        .collect()
}

/// How the database runs [`list`] for `filter`: the lines of its plan (`EXPLAIN`), to check
/// that lists read an index in order.
pub async fn list_plan(
    db: &Db,
    scope: &ServiceScope,
    filter: &Filter<'_>,
) -> sqlx::Result<Vec<String>> {
    let explain = match db.backend() {
        Backend::Postgres => "EXPLAIN ",
        Backend::Sqlite => "EXPLAIN QUERY PLAN ",
    };
    let sql = list_sql(filter, explain);
    let rows = bind_list(sqlx::query(&sql), scope, filter)
        .fetch_all(db.pool())
        .await?;
    // PostgreSQL: one text column; SQLite: (id, parent, notused, detail).
    let column = match db.backend() {
        Backend::Postgres => 0,
        Backend::Sqlite => 3,
    };
    rows.iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, column))
        .collect()
}

/// The list query for `filter`, its placeholders numbered in the order [`bind_list`] binds.
fn list_sql(filter: &Filter<'_>, prefix: &str) -> String {
    let mut sql = format!("{prefix}SELECT {EVENT_COLUMNS} FROM events WHERE service_id = $1");
    let mut next = 1;
    let mut placeholder = || {
        next += 1;
        format!("${next}")
    };
    if filter.interaction_id.is_some() {
        sql += &format!(" AND interaction_id = {}", placeholder());
    }
    if filter.state.is_some() {
        sql += &format!(" AND state = {}", placeholder());
    }
    if filter.holder_did.is_some() {
        sql += &format!(" AND holder_did = {}", placeholder());
    }
    if filter.cursor.is_some() {
        let (at, id) = (placeholder(), placeholder());
        sql += &format!(" AND (created_at, id) < ({at}, {id})");
    }
    sql + &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", placeholder())
}

fn bind_list<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    scope: &'q ServiceScope,
    filter: &Filter<'q>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    query = query.bind(scope.service_id());
    if let Some(id) = filter.interaction_id {
        query = query.bind(id);
    }
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    if let Some(holder) = filter.holder_did {
        query = query.bind(holder);
    }
    if let Some(cursor) = filter.cursor {
        query = query.bind(cursor.at).bind(&cursor.id);
    }
    query.bind(filter.limit)
}

/// The scoped service's event with this id.
pub async fn get(db: &Db, scope: &ServiceScope, id: &EventId) -> sqlx::Result<Option<Event>> {
    let row: Option<EventRow> = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE service_id = $1 AND id = $2"
    ))
    .bind(scope.service_id())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(Event::try_from).transpose()
}

/// The log of the scoped service's event, in order.
pub async fn log(db: &Db, scope: &ServiceScope, event_id: &EventId) -> sqlx::Result<Vec<LogEntry>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT at, kind, detail FROM event_log WHERE service_id = $1 AND event_id = $2 \
         ORDER BY seq",
    )
    .bind(scope.service_id())
    .bind(event_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(at, kind, detail)| {
            Ok(LogEntry {
                at,
                kind: LogKind::parse(&kind)?,
                detail,
            })
        })
        .collect()
}

#[derive(FromRow)]
struct CallRow {
    id: String,
    kind: String,
    url: String,
    status: Option<i64>,
    duration_ms: i64,
    response_excerpt: String,
    error: Option<String>,
    at: i64,
}

/// The webhook calls of the scoped service's event, in order.
pub async fn calls(
    db: &Db,
    scope: &ServiceScope,
    event_id: &EventId,
) -> sqlx::Result<Vec<WebhookCall>> {
    let rows: Vec<CallRow> = sqlx::query_as(
        "SELECT id, kind, url, status, duration_ms, response_excerpt, error, at \
         FROM webhook_calls WHERE service_id = $1 AND event_id = $2 ORDER BY at, id",
    )
    .bind(scope.service_id())
    .bind(event_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(WebhookCall {
                kind: CallKind::parse(&row.kind)?,
                status: row.status.and_then(|s| u16::try_from(s).ok()),
                id: row.id,
                url: row.url,
                duration_ms: row.duration_ms,
                response_excerpt: row.response_excerpt,
                error: row.error,
                at: row.at,
            })
        })
        .collect()
}

/// The state and message of the scoped service's latest event of a start page's session.
pub async fn latest_of_session(
    db: &Db,
    scope: &ServiceScope,
    session: &str,
) -> sqlx::Result<Option<(String, Option<String>)>> {
    sqlx::query_as(
        "SELECT state, message FROM events WHERE service_id = $1 AND session = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(scope.service_id())
    .bind(session)
    .fetch_optional(db.pool())
    .await
}

/// How many events each of the scoped service's interactions had since `since` (unix ms); the
/// interactions without any are absent.
pub async fn counts_since(
    db: &Db,
    scope: &ServiceScope,
    since: i64,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT interaction_id, COUNT(*) FROM events \
         WHERE service_id = $1 AND created_at >= $2 GROUP BY interaction_id",
    )
    .bind(scope.service_id())
    .bind(since)
    .fetch_all(db.pool())
    .await
}

/// The scoped service's events created since `since` (unix ms), per interaction and state, as
/// `(interaction id, state, events)`: the Overview's funnel, in one grouped query.
pub async fn states_since(
    db: &Db,
    scope: &ServiceScope,
    since: i64,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT interaction_id, state, COUNT(*) FROM events \
         WHERE service_id = $1 AND created_at >= $2 GROUP BY interaction_id, state",
    )
    .bind(scope.service_id())
    .bind(since)
    .fetch_all(db.pool())
    .await
}

/// The scoped service's webhook calls (interaction and credential-check webhooks) made since
/// `since` (unix ms), per interaction: how many, how many succeeded (a 2xx answer without
/// error) and their latencies, in one query read in the order of migration 0021's index.
pub async fn call_health_since(
    db: &Db,
    scope: &ServiceScope,
    since: i64,
) -> sqlx::Result<HashMap<String, Health>> {
    let sql = format!(
        "SELECT interaction_id, {} FROM webhook_calls \
         WHERE service_id = $1 AND at >= $2 GROUP BY interaction_id",
        health_columns()
    );
    let rows = sqlx::query(&sql)
        .bind(scope.service_id())
        .bind(since)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((sqlx::Row::try_get(row, 0)?, health_of(row, 1)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_they_are_written() {
        for state in [
            EventState::Started,
            EventState::Waiting,
            EventState::Completed,
            EventState::Failed,
        ] {
            assert_eq!(EventState::parse(state.as_str()), Some(state));
        }
        for kind in [
            LogKind::CredentialsReceived,
            LogKind::IntegrationOutput,
            LogKind::Failed,
        ] {
            assert_eq!(LogKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert_eq!(
            CallKind::parse("credential_check").unwrap(),
            CallKind::CredentialCheck
        );
        assert_eq!(EventState::parse("done"), None);
        assert!(LogKind::parse("Failed").is_err());
    }
}
