//! Interaction counts (`interaction_counts`): per interaction and UTC day, the start pages psi
//! rendered and the links it handed out, which the dashboard's Overview shows before an event
//! exists. Both happen on hot paths (a start page must answer in a few milliseconds, from the
//! configuration cache, without a statement), so they are counted in memory ([`Pending`]) and
//! added to the table by a background task every few seconds ([`run`]) and once more when the
//! server stops, in one write transaction of additive upserts: several processes on one
//! database add up.
//!
//! Also the latency histogram the Overview reads webhook calls and delivery attempts into
//! ([`Health`]): percentiles in one grouped query on both backends (SQLite has no percentile
//! function), exact to the histogram's bounds.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Db, now_ms};
use crate::scope::ServiceScope;

/// A day in unix ms.
pub const DAY_MS: i64 = 86_400_000;

/// How long counts wait in memory after the first one since the last flush. Long enough that a
/// burst of page views costs one transaction, short enough that the Overview (itself kept 15 s)
/// is never far behind.
pub const FLUSH_AFTER: Duration = Duration::from_secs(5);

/// Midnight UTC of the day of `at` (unix ms).
pub fn day_of(at: i64) -> i64 {
    at - at.rem_euclid(DAY_MS)
}

/// One interaction's counts of one day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    page_views: i64,
    link_fetches: i64,
}

/// Start pages opened and links fetched since the last flush, by day and interaction id.
#[derive(Debug, Default)]
pub struct Pending {
    counts: Mutex<HashMap<i64, HashMap<String, Counts>>>,
    /// Told when the first count since the last flush arrives, so an idle server writes nothing.
    counted: Notify,
}

impl Pending {
    /// A start page of interaction `interaction_id` was rendered.
    pub fn page_view(&self, interaction_id: &str) {
        self.add(interaction_id, |c| c.page_views += 1);
    }

    /// A link to interaction `interaction_id` was handed out (`link.json`, a sourceURL download).
    pub fn link_fetch(&self, interaction_id: &str) {
        self.add(interaction_id, |c| c.link_fetches += 1);
    }

    fn add(&self, interaction_id: &str, count: impl FnOnce(&mut Counts)) {
        let day = day_of(now_ms());
        let first = {
            let mut days = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let first = days.is_empty();
            let of_day = days.entry(day).or_default();
            // Looked up by `&str` first: no allocation for an interaction already counted today.
            match of_day.get_mut(interaction_id) {
                Some(counts) => count(counts),
                None => count(of_day.entry(interaction_id.to_owned()).or_default()),
            }
            first
        };
        if first {
            self.counted.notify_one();
        }
    }

    /// Adds what was counted to the table, in one transaction; what a failed write held is kept
    /// for the next flush. The rows are written in key order, so that processes flushing at the
    /// same time on PostgreSQL lock them in the same order.
    pub async fn flush(&self, db: &Db) -> sqlx::Result<()> {
        let taken = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.is_empty() {
            return Ok(());
        }
        let rows: BTreeMap<(&str, i64), Counts> = taken
            .iter()
            .flat_map(|(day, of_day)| {
                of_day
                    .iter()
                    .map(|(id, counts)| ((id.as_str(), *day), *counts))
            })
            .collect();
        let result = add(db, &rows).await;
        if result.is_err() {
            let mut days = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            for ((id, day), counts) in rows {
                let kept = days
                    .entry(day)
                    .or_default()
                    .entry(id.to_owned())
                    .or_default();
                kept.page_views += counts.page_views;
                kept.link_fetches += counts.link_fetches;
            }
            drop(days);
            // Try again after another wait, even if nothing new is counted.
            self.counted.notify_one();
        }
        result
    }
}

/// The upserts of one flush. The service is the interaction's, read in the same statement; an
/// interaction deleted meanwhile (its service deleted) adds nothing.
async fn add(db: &Db, rows: &BTreeMap<(&str, i64), Counts>) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    for ((interaction_id, day), counts) in rows {
        sqlx::query(
            "INSERT INTO interaction_counts \
             (service_id, interaction_id, day, page_views, link_fetches) \
             SELECT service_id, id, $2, $3, $4 FROM interactions WHERE id = $1 \
             ON CONFLICT (interaction_id, day) DO UPDATE SET \
             page_views = interaction_counts.page_views + excluded.page_views, \
             link_fetches = interaction_counts.link_fetches + excluded.link_fetches",
        )
        .bind(*interaction_id)
        .bind(*day)
        .bind(counts.page_views)
        .bind(counts.link_fetches)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Flushes `pending` [`FLUSH_AFTER`] the first count since the last flush, until `shutdown`.
/// The last flush is the caller's, once the server has answered its last request.
pub async fn run(pending: std::sync::Arc<Pending>, db: Db, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = pending.counted.notified() => {}
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(FLUSH_AFTER) => {}
        }
        if let Err(e) = pending.flush(&db).await {
            tracing::warn!(error = %e, "writing the counts of start pages and links");
        }
    }
}

/// The scoped service's start pages opened and links fetched per interaction, from day `day`
/// (midnight UTC) on, as `(interaction id, page views, link fetches)`; interactions without any
/// are absent.
pub async fn since(
    db: &Db,
    scope: &ServiceScope,
    day: i64,
) -> sqlx::Result<Vec<(String, i64, i64)>> {
    sqlx::query_as(
        "SELECT interaction_id, CAST(SUM(page_views) AS BIGINT), CAST(SUM(link_fetches) AS BIGINT) \
         FROM interaction_counts WHERE service_id = $1 AND day >= $2 GROUP BY interaction_id",
    )
    .bind(scope.service_id())
    .bind(day)
    .fetch_all(db.pool())
    .await
}

/// The upper bounds (ms) of the latency histogram, a 1-2-5 series; a slower call is past the last.
pub const LATENCY_BOUNDS_MS: [i64; 13] = [
    5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000,
];

/// SQL: the aggregates of calls (rows with `status`, `error` and `duration_ms`) that
/// [`health_of`] reads: how many, how many succeeded (a 2xx answer without error), and how many
/// ended within each bound of [`LATENCY_BOUNDS_MS`]. Sums, not a `GROUP BY` of buckets: a group
/// per receiver is read in index order, without sorting every call.
pub(crate) fn health_columns() -> String {
    let within: String = LATENCY_BOUNDS_MS
        .iter()
        .enumerate()
        .map(|(n, bound)| {
            format!(
                ", CAST(SUM(CASE WHEN duration_ms <= {bound} THEN 1 ELSE 0 END) AS BIGINT) \
                 AS within_{n}"
            )
        })
        .collect();
    format!(
        "COUNT(*) AS calls, CAST(SUM(CASE WHEN error IS NULL AND status BETWEEN 200 AND 299 \
         THEN 1 ELSE 0 END) AS BIGINT) AS succeeded{within}"
    )
}

/// Reads [`health_columns`] from `row`, the first of them at column `first`.
pub(crate) fn health_of(row: &AnyRow, first: usize) -> sqlx::Result<Health> {
    let mut within = [0; LATENCY_BOUNDS_MS.len()];
    for (n, count) in within.iter_mut().enumerate() {
        *count = row.try_get(first + 2 + n)?;
    }
    Ok(Health {
        calls: row.try_get(first)?,
        succeeded: row.try_get(first + 1)?,
        within,
    })
}

/// Calls to one receiver in a window: how many, how many succeeded, and their latencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub calls: i64,
    pub succeeded: i64,
    /// Calls that ended within each bound of [`LATENCY_BOUNDS_MS`].
    within: [i64; LATENCY_BOUNDS_MS.len()],
}

/// A latency percentile, to the histogram's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentile {
    /// At most this many ms.
    AtMost(i64),
    /// Slower than the last bound.
    Over(i64),
}

impl Percentile {
    /// The bound in ms, for a chart's scale.
    pub fn ms(self) -> i64 {
        match self {
            Percentile::AtMost(ms) | Percentile::Over(ms) => ms,
        }
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Percentile::AtMost(ms) => write!(f, "≤ {ms} ms"),
            Percentile::Over(ms) => write!(f, "> {ms} ms"),
        }
    }
}

impl Health {
    /// The latency under which `percent` of the calls ended (nearest rank), to the histogram's
    /// bounds; none without calls.
    pub fn percentile(&self, percent: i64) -> Option<Percentile> {
        if self.calls == 0 {
            return None;
        }
        let rank = ((percent * self.calls + 99) / 100).max(1);
        let last = LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1];
        Some(
            LATENCY_BOUNDS_MS
                .iter()
                .zip(self.within)
                .find(|(_, within)| *within >= rank)
                .map_or(Percentile::Over(last), |(bound, _)| {
                    Percentile::AtMost(*bound)
                }),
        )
    }

    /// The share of calls that succeeded, in whole percent (rounded down, so that 100 % means
    /// every call); none without calls.
    pub fn success_percent(&self) -> Option<i64> {
        (self.calls > 0).then(|| self.succeeded * 100 / self.calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_read_to_the_histograms_bounds() {
        let mut health = Health::default();
        assert_eq!(health.percentile(50), None);
        assert_eq!(health.success_percent(), None);
        // 10 calls: 6 within 50 ms, 3 more within 200 ms, 1 slower than a minute.
        let mut within = [0; LATENCY_BOUNDS_MS.len()];
        within[3..5].fill(6);
        within[5..].fill(9);
        health = Health {
            calls: 10,
            succeeded: 8,
            within,
        };
        assert_eq!(health.success_percent(), Some(80));
        assert_eq!(health.percentile(50), Some(Percentile::AtMost(50)));
        assert_eq!(health.percentile(60), Some(Percentile::AtMost(50)));
        assert_eq!(health.percentile(61), Some(Percentile::AtMost(200)));
        assert_eq!(health.percentile(95), Some(Percentile::Over(60_000)));
        assert_eq!(health.percentile(95).unwrap().to_string(), "> 60000 ms");
        assert_eq!(Percentile::AtMost(5).to_string(), "≤ 5 ms");
    }

    #[test]
    fn the_health_sql_counts_within_every_bound_in_order() {
        let sql = health_columns();
        assert!(sql.starts_with("COUNT(*) AS calls, "));
        assert!(sql.contains("WHEN duration_ms <= 5 THEN 1 ELSE 0 END) AS BIGINT) AS within_0,"));
        assert!(
            sql.ends_with("WHEN duration_ms <= 60000 THEN 1 ELSE 0 END) AS BIGINT) AS within_12")
        );
    }

    #[test]
    fn counts_add_up_by_day_and_interaction() {
        let pending = Pending::default();
        pending.page_view("a");
        pending.page_view("a");
        pending.link_fetch("a");
        pending.link_fetch("b");
        let days = pending.counts.lock().unwrap();
        let today = &days[&day_of(now_ms())];
        assert_eq!(
            today["a"],
            Counts {
                page_views: 2,
                link_fetches: 1
            }
        );
        assert_eq!(today["b"].link_fetches, 1);
        assert_eq!(day_of(DAY_MS + 5), DAY_MS);
    }
}
