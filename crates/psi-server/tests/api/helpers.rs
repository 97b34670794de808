//! The test harness: a server on 127.0.0.1 port 0 over a fresh database, on either backend.
//!
//! SQLite: a new temporary data directory per test. PostgreSQL (`PSI_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): a new schema per test, selected with `search_path`
//! in the connection options and dropped when the test ends (even when it fails).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use psi_server::{App, Config};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{AnyPool, Connection, PgConnection};
use tempfile::TempDir;

/// The admin token the harness configures.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(backend: Backend)` once per backend, as the tests
/// `name::sqlite` and `name::postgres`. A test function left out of the list is dead code, which
/// the build reports.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )+};
}

/// A fresh, empty database (and data directory), removed when dropped.
pub struct TestDb {
    pub data_dir: TempDir,
    /// `None` for SQLite: the server puts `psi.db` in the data directory.
    pub database_url: Option<String>,
    /// The same for every server on this database (PostgreSQL requires one).
    pub master_key: String,
    postgres_schema: Option<String>,
}

fn postgres_base_url() -> String {
    std::env::var("PSI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let master_key = STANDARD.encode(rand::random::<[u8; 32]>());
        let (database_url, postgres_schema) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let schema = format!("psi_test_{}", uuid::Uuid::new_v4().simple());
                let base = postgres_base_url();
                let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {base} (set PSI_TEST_POSTGRES_URL): {e}")
                });
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .await
                    .expect("create the test schema");
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                (Some(url), Some(schema))
            }
        };
        TestDb {
            data_dir,
            database_url,
            master_key,
            postgres_schema,
        }
    }

    /// The configuration layers of a server on this database: defaults, port 0, the data
    /// directory, the database, the master key and [`ADMIN_TOKEN`]. Tests merge more on top.
    pub fn figment(&self) -> Figment {
        let mut figment = Figment::from(Toml::string(psi_server::config::DEFAULT_TOML))
            .merge(Serialized::default("listen", "127.0.0.1:0"))
            .merge(Serialized::default("data_dir", self.data_dir.path()))
            .merge(Serialized::default("admin_token", ADMIN_TOKEN))
            .merge(Serialized::default("log_level", "warn"));
        if let Some(url) = &self.database_url {
            figment = figment
                .merge(Serialized::default("database_url", url))
                .merge(Serialized::default("master_key", &self.master_key));
        }
        figment
    }

    /// A pool on this database, to look at its rows directly.
    pub async fn raw_pool(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.path().join("psi.db").display()),
        };
        AnyPool::connect(&url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.postgres_schema.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&postgres_base_url()).await {
                    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(&drop).execute(&mut admin).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub app: App,
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
}

/// A server on a fresh database of `backend`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    let figment = db.figment();
    spawn_app_on(db, figment).await
}

/// A server on `db` with the configuration `figment`.
pub async fn spawn_app_on(db: TestDb, figment: Figment) -> TestApp {
    let app = start(figment).await;
    TestApp {
        address: format!("http://{}", app.addr),
        app,
        client: reqwest::Client::new(),
        db,
    }
}

/// Starts a server with this configuration.
pub async fn start(figment: Figment) -> App {
    let config = Config::from_figment(figment).expect("valid test configuration");
    psi_server::build(config).await.expect("server starts")
}

impl TestApp {
    /// Stops this server and starts a new one on the same database and configuration.
    pub async fn restart(self) -> TestApp {
        self.restart_with(TestDb::figment).await
    }

    /// Stops this server and starts a new one on the same database, configured by `configure`.
    pub async fn restart_with(self, configure: impl FnOnce(&TestDb) -> Figment) -> TestApp {
        self.app.stop().await.expect("server stops cleanly");
        let figment = configure(&self.db);
        spawn_app_on(self.db, figment).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Creates a service as the admin; returns its DID.
    pub async fn create_service(&self, name: &str) -> String {
        let response = self
            .post("/api/v1/services", ADMIN_TOKEN, &json!({ "name": name }))
            .await;
        let body = expect_json(response, StatusCode::CREATED).await;
        body["did"].as_str().expect("did").to_owned()
    }

    /// Creates a service token as the admin; returns its (id, token).
    pub async fn create_token(&self, did: &str) -> (String, String) {
        let path = format!("/api/v1/services/{did}/tokens");
        let response = self
            .post(&path, ADMIN_TOKEN, &json!({ "name": "test" }))
            .await;
        let body = expect_json(response, StatusCode::CREATED).await;
        (
            body["id"].as_str().expect("id").to_owned(),
            body["token"].as_str().expect("token").to_owned(),
        )
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts an error answer: the status and `{"error":{"code","message"}}` with this code;
/// returns the message.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}

/// What the server logs at WARN and above while this lives, as text. The tests' runtime runs on
/// the test's thread (`#[tokio::test]` is current-thread), so the server's tasks log here too.
pub struct Logs {
    buffer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    pub fn capture() -> Self {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = LogWriter(std::sync::Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        Logs {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().expect("log buffer")).into_owned()
    }
}

#[derive(Clone)]
struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
