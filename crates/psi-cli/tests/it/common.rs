//! Helpers shared by the integration tests: the real `psi` binary, the vectors, a QR reader and
//! a database per test on either backend.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// Runs the `psi` binary with arguments and standard input.
pub fn psi(args: &[&str], stdin: &str) -> Output {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_psi"))
        .args(args)
        .write_stdin(stdin)
        .output()
        .expect("the psi binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts the command failed with exit status `code` and an `error: ` line naming `cause`.
pub fn assert_fails(output: &Output, code: i32, cause: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    assert!(
        err.lines().any(|line| line.starts_with("error: ")),
        "stderr: {err}"
    );
    assert!(err.contains(cause), "expected {cause:?} in stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

pub fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../../vectors/links.json")).unwrap()
}

pub fn good_vectors() -> Vec<Value> {
    let links = vectors()["links"].as_array().unwrap().clone();
    assert!(!links.is_empty());
    links
}

/// Every bad vector's link with the error the codec library gives for it (the library's own
/// tests check that each is the right variant; these tests check the binary reports it).
pub fn bad_vectors() -> Vec<(String, psi_link::LinkError)> {
    let bad = vectors()["bad"].as_array().unwrap().clone();
    assert_eq!(bad.len(), 8);
    bad.iter()
        .map(|v| {
            let link = v["link"].as_str().unwrap().to_owned();
            let err = psi_link::decode(&link).expect_err("a bad vector fails");
            (link, err)
        })
        .collect()
}

/// Reads the one QR code in a PNG file with rqrr.
pub fn read_qr_png(path: &Path) -> String {
    let image = image::open(path).expect("a PNG file").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in {}", path.display());
    grids[0].decode().expect("a readable QR code").1
}

/// A loopback port free a moment ago, for a server whose address must be known before it starts
/// (the kernel picks it; another process could take it in between, which is rare enough here).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Which database a server under test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server the tests use: `PSI_TEST_POSTGRES_URL`, by default
/// `postgres://postgres@127.0.0.1:5432/test`.
pub fn postgres_base_url() -> String {
    std::env::var("PSI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A random `master_key` (base64 of 32 bytes), which psi requires on PostgreSQL.
pub fn random_master_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// A new, empty PostgreSQL schema for one test, selected with `search_path` in the options of
/// [`url`](PgSchema::url); dropped with everything in it when this is dropped, even when the
/// test fails.
pub struct PgSchema {
    name: String,
    url: String,
}

impl PgSchema {
    /// On PostgreSQL, a schema named `<prefix>_<random>`; on SQLite, none.
    pub async fn for_backend(backend: Backend, prefix: &str) -> Option<PgSchema> {
        match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgSchema::create(prefix).await),
        }
    }

    /// Creates a schema named `<prefix>_<random>`.
    pub async fn create(prefix: &str) -> PgSchema {
        use sqlx::Connection;
        let name = format!("{prefix}_{}", rand::random::<u64>());
        let base = postgres_base_url();
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} (set PSI_TEST_POSTGRES_URL): {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{name}");
        PgSchema { name, url }
    }

    /// The connection URL whose `search_path` is this schema: psi's `database_url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop may run inside a test's runtime, where blocking on one is not allowed; a
        // short-lived runtime on its own thread does the cleanup.
        let cleanup = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a cleanup runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_base_url()).await {
                    let _ = sqlx::query(&drop).execute(&mut admin).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
