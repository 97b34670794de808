//! Storage: one code path over SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! Queries use `$1`-style placeholders (both dialects accept them). Column types that decode to
//! the same Rust type on both backends:
//!
//! | value | SQLite | PostgreSQL | Rust |
//! | --- | --- | --- | --- |
//! | text, JSON | `TEXT` | `TEXT` | `String` |
//! | time (unix ms), count | `INTEGER` | `BIGINT` | `i64` |
//! | boolean | `INTEGER` 0/1 | `BIGINT` 0/1 | `i64` |
//! | number | `DOUBLE PRECISION` | `DOUBLE PRECISION` | `f64` |
//! | bytes | `BLOB` | `BYTEA` | `Vec<u8>` |
//!
//! Not `BOOLEAN`: sqlx's `Any` driver cannot read it from SQLite.
//!
//! Functions on service-owned rows take a [`ServiceScope`], so no query can forget the tenant;
//! the few that must run across services (a service by its DID, the delivery workers' claims and
//! outcomes in `deliveries` and `delivery_endpoints`, keys by id, purges) name their rows by id.
//! Unique violations surface as `sqlx::Error`s that the caller maps where the query runs
//! ([`crate::http::error::ResultExt::on_unique`]).
//!
//! [`ServiceScope`]: crate::scope::ServiceScope

pub mod cache;
pub mod credential_definitions;
pub mod credentials;
pub mod deliveries;
pub mod delivery_attempts;
pub mod delivery_endpoints;
pub mod delivery_messages;
pub mod events;
pub mod extension_inbound;
pub mod extensions;
pub mod holder_nonces;
pub mod inbound;
pub mod instances;
pub mod interaction_counts;
pub mod interactions;
pub mod keys;
pub mod link_requests;
pub(crate) mod listen;
pub mod oauth;
pub mod operators;
pub mod public_reads;
pub mod schemas;
pub mod services;
pub mod settings;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyPool, Executor};

use crate::config::Config;
use cache::ConfigCache;
pub use cache::ConfigVersion;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Db`] talks to, for the rare query that differs by dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, the default.
    Sqlite,
    /// A server that several psi processes may share.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    ///
    /// ```
    /// use psi_server::db::Backend;
    /// assert_eq!(Backend::from_url("sqlite://psi.db"), Some(Backend::Sqlite));
    /// assert_eq!(Backend::from_url("postgres://db/psi"), Some(Backend::Postgres));
    /// assert_eq!(Backend::from_url("mysql://db/psi"), None);
    /// ```
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The dialect's JSON array aggregate and object constructor, for reads that bring a row's
    /// parts along in one query (cast the aggregate to `TEXT`; read it with [`json_elements`]).
    pub(crate) fn json_functions(self) -> (&'static str, &'static str) {
        match self {
            Backend::Postgres => ("json_agg", "json_build_object"),
            Backend::Sqlite => ("json_group_array", "json_object"),
        }
    }

    /// A table of the entries of the JSON object bound at `param`, as `(key, value)` rows.
    pub(crate) fn json_entries(self, param: &str) -> String {
        match self {
            Backend::Postgres => format!("jsonb_each_text(CAST({param} AS jsonb))"),
            Backend::Sqlite => format!("json_each({param})"),
        }
    }
}

/// `$first, $first+1, …`: the placeholders of `count` values bound one after another, as in an
/// `IN (...)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The elements of a JSON array column made with [`Backend::json_functions`]; `None` (an
/// aggregate of no row on PostgreSQL) is none.
pub(crate) fn json_elements<T: serde::de::DeserializeOwned>(
    json: Option<&str>,
) -> sqlx::Result<Vec<T>> {
    json.map_or(Ok(Vec::new()), serde_json::from_str)
        .map_err(|e| sqlx::Error::Decode(e.into()))
}

/// The connection pools and the backend they talk to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// Where write transactions run. SQLite: one connection, so writers queue here in order
    /// instead of failing with `SQLITE_BUSY` when a transaction that read first tries to write.
    /// PostgreSQL: the same pool as `pool`.
    writer: AnyPool,
    /// PostgreSQL: where the delivery workers' bookkeeping runs (claims, lease renewals,
    /// outcomes), a few connections whose commits do not wait for the WAL flush
    /// (`synchronous_commit = off`). SQLite: none, the bookkeeping runs as the other writes.
    relaxed: Option<AnyPool>,
    backend: Backend,
    /// The configuration rows kept between reads, with their version ([`cache`]).
    cache: Arc<ConfigCache>,
}

impl Db {
    /// Connects to `config.database_url`. A SQLite file (and its directory) is created if missing,
    /// and every SQLite connection runs in WAL mode with foreign keys enforced.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let mut url = config.database_url.expose_secret().to_owned();
        if config.backend == Backend::Sqlite {
            url = sqlite_create_if_missing(&url)?;
        }
        let options: AnyConnectOptions = url.parse().context("database_url")?;
        let backend = config.backend;
        let connect = |max: u32, acquire_timeout: Duration| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(acquire_timeout)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            (&mut *conn).execute("PRAGMA foreign_keys = ON").await?;
                            (&mut *conn).execute("PRAGMA journal_mode = WAL").await?;
                            // Autocommit writes on reader connections wait for the writer.
                            (&mut *conn).execute("PRAGMA busy_timeout = 10000").await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(options.clone())
        };
        let failed = || format!("cannot connect to the {backend:?} database");
        let pool = connect(config.database_max_connections, Duration::from_secs(10))
            .await
            .with_context(failed)?;
        let writer = match backend {
            // Writers wait their turn for as long as a request may run.
            Backend::Sqlite => connect(1, Duration::from_secs(config.request_timeout_secs))
                .await
                .with_context(failed)?,
            Backend::Postgres => pool.clone(),
        };
        let relaxed = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                // Opened on first use: a process without workers never connects it.
                let relaxed = AnyPoolOptions::new()
                    .max_connections(relaxed_connections(config))
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            (&mut *conn)
                                .execute("SET synchronous_commit = off")
                                .await
                                .map(drop)
                        })
                    })
                    .connect_lazy_with(options.clone());
                Some(relaxed)
            }
        };
        Ok(Db {
            pool,
            writer,
            relaxed,
            backend,
            cache: Arc::new(ConfigCache::new(ConfigVersion::default())),
        })
    }

    /// Starts a transaction that writes. SQLite: on the single writer connection, with
    /// `BEGIN IMMEDIATE`, so it holds the write lock from its first statement and concurrent
    /// writers queue instead of failing; PostgreSQL: an ordinary transaction.
    pub async fn begin(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Connections for writes that may be lost in a database crash (not a psi crash) because
    /// losing them only makes work be done again: a delivery's lease or outcome, after which the
    /// delivery is made again (at least once, receivers drop duplicates by `messageId`). On
    /// PostgreSQL their commits return before the WAL reaches the disk, which takes a flush off
    /// every claim and record; a later ordinary commit flushes them too. Nothing a caller was told
    /// is stored goes through them, and a transaction that writes what is sent at once (an
    /// outcome that disables an endpoint writes its notice) sets `synchronous_commit` back on.
    /// SQLite: [`Db::pool`].
    pub(crate) fn relaxed_pool(&self) -> &AnyPool {
        self.relaxed.as_ref().unwrap_or(&self.pool)
    }

    /// A write transaction on [`Db::relaxed_pool`]'s connections (SQLite: [`Db::begin`]).
    pub(crate) async fn begin_relaxed(
        &self,
    ) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match &self.relaxed {
            Some(relaxed) => relaxed.begin().await,
            None => self.begin().await,
        }
    }

    /// Applies the migrations this backend has not run yet (PostgreSQL: under an advisory lock, so
    /// servers starting together do not race).
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    /// The pool, to run queries on.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The backend, for dialect-specific SQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The version of the services' configuration, which the public reads show.
    pub fn config_version(&self) -> &ConfigVersion {
        self.cache.version()
    }

    /// The configuration rows kept between reads.
    fn cache(&self) -> &ConfigCache {
        &self.cache
    }

    /// Called by the writes to the services' configuration, after they are committed.
    fn config_changed(&self) {
        self.cache.version().written();
    }

    /// Closes every connection (after the server has stopped).
    pub async fn close(&self) {
        if let Some(relaxed) = &self.relaxed {
            relaxed.close().await;
        }
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// The relaxed pool's size: a process's workers claim one at a time, and each records and
/// renews on its own, so one connection per worker and one to claim.
fn relaxed_connections(config: &Config) -> u32 {
    let workers = u32::try_from(config.delivery.workers).unwrap_or(u32::MAX);
    workers
        .saturating_add(1)
        .clamp(1, config.database_max_connections)
}

/// Creates `dir` and its missing parents readable by the owner only (the database, the master
/// key and secrets live there). An existing directory keeps its mode.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Adds `mode=rwc` (create if missing) unless the URL sets a mode, creates the file's directory,
/// and the file itself readable by the owner only (SQLite gives its journal files the database
/// file's mode).
fn sqlite_create_if_missing(url: &str) -> anyhow::Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let in_memory = path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory");
    if !in_memory && !path.is_empty() {
        let file = std::path::Path::new(path);
        if let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
        {
            create_private_dir(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(file) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", file.display())),
        }
    }
    if query.split('&').any(|pair| pair.starts_with("mode=")) {
        return Ok(url.to_owned());
    }
    let separator = if query.is_empty() { "?" } else { "&" };
    Ok(format!("{url}{separator}mode=rwc"))
}

/// The current time in unix milliseconds, as stored.
pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// A position in a list: the sort key (a time in unix ms, or a credential definition's number)
/// and the id of the last item seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub id: String,
}

/// A row of a list read in pages: its place in the list's order, which a [`Cursor`] names.
pub trait Positioned {
    fn position(&self) -> Cursor;
}

/// Implements [`Positioned`] for a row type whose list is ordered by its field `$key`, then
/// `$id`.
macro_rules! positioned {
    ($type:ty, $key:ident, $id:ident) => {
        impl $crate::db::Positioned for $type {
            fn position(&self) -> $crate::db::Cursor {
                $crate::db::Cursor {
                    at: self.$key,
                    id: self.$id.to_string(),
                }
            }
        }
    };
}
pub(crate) use positioned;

/// Which way a list read in pages runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Ascending key, then id: configuration, oldest first.
    Oldest,
    /// Descending key, then id: what happened, newest first.
    Newest,
}

/// One page of a list read in its order (keyset pagination, so a page costs the same however
/// deep it is): the rows after `after`, at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paging {
    pub after: Option<Cursor>,
    pub limit: i64,
}

impl Paging {
    /// How many rows to read: one more than the page, which tells whether another one follows.
    pub fn fetch(&self) -> i64 {
        self.limit.saturating_add(1)
    }

    /// `rows` read with [`Paging::fetch`] cut to the page, and the position of its last row
    /// when another page follows.
    pub fn cut<T: Positioned>(&self, mut rows: Vec<T>) -> (Vec<T>, Option<Cursor>) {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        if rows.len() <= limit {
            return (rows, None);
        }
        rows.truncate(limit);
        let next = rows.last().map(Positioned::position);
        (rows, next)
    }

    /// The end of a list query: the rows after the cursor (its key at `$n`, its id at `$n+1`;
    /// every row without one) in `order` of `key` then `id`, [`Paging::fetch`] of them
    /// (`$n+2`). [`Paging::bind`] binds the three.
    pub(crate) fn sql(key: &str, id: &str, n: usize, order: Order) -> String {
        let (after, direction) = match order {
            Order::Oldest => (">", ""),
            Order::Newest => ("<", " DESC"),
        };
        let (id_at, limit_at) = (n + 1, n + 2);
        format!(
            " AND (${n} IS NULL OR {key} {after} ${n} OR ({key} = ${n} AND {id} {after} ${id_at})) \
             ORDER BY {key}{direction}, {id}{direction} LIMIT ${limit_at}"
        )
    }

    /// The end of a query for [`Paging::read`]: the rows whose `column` is `$2` (all when it is
    /// null), then [`Paging::sql`] from `$3`.
    pub(crate) fn filtered_sql(column: &str, key: &str, id: &str, order: Order) -> String {
        let page = Self::sql(key, id, 3, order);
        format!(" AND ($2 IS NULL OR {column} = $2){page}")
    }

    /// Binds the parameters of [`Paging::sql`], after the caller's.
    pub(crate) fn bind<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        let after = self.after.as_ref();
        query
            .bind(after.map(|c| c.at))
            .bind(after.map(|c| c.id.as_str()))
            .bind(self.fetch())
    }

    /// Reads one page of the scoped service's rows: `sql` takes the service at `$1` and ends
    /// with [`Paging::filtered_sql`], whose column is compared with `filter`.
    pub(crate) async fn read<'q, O, F>(
        &'q self,
        db: &Db,
        sql: &'q str,
        scope: &'q crate::scope::ServiceScope,
        filter: F,
    ) -> sqlx::Result<Vec<O>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
        F: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let query = sqlx::query_as(sql).bind(scope.service_id()).bind(filter);
        self.bind(query).fetch_all(db.pool()).await
    }
}

impl Cursor {
    /// The cursor's text, `<key>.<id>`: clients pass it back as it is.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at, self.id)
    }

    /// Reads [`Cursor::encode`]'s text.
    ///
    /// ```
    /// use psi_server::db::Cursor;
    /// let cursor = Cursor { at: 17, id: "ab12".into() };
    /// assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    /// assert_eq!(Cursor::decode("17"), None);
    /// assert_eq!(Cursor::decode("17.a'b"), None);
    /// ```
    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        // Row ids are letters and digits (hex, or the short ids of interactions and instances).
        let valid_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
        Some(Cursor {
            at: at.parse().ok()?,
            id: valid_id.then(|| id.to_owned())?,
        })
    }
}

/// A new random row id: 32 hex characters.
pub fn new_id() -> String {
    crate::ids::random()
}
