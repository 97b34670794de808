//! Helpers shared by the integration tests: the real `psi` binary, the vectors, a QR reader and
//! a database per test on either backend.

use std::path::{Path, PathBuf};
use std::process::Output;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
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

/// The workspace's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/browser`, where the browser and Node scripts and their `node_modules` are.
pub fn browser_scripts() -> PathBuf {
    repo_root().join("tests/browser")
}

/// Asserts that Chromium (`PSI_CHROMIUM`, by default `/usr/bin/chromium`) and the Node
/// `packages` in `tests/browser/node_modules` are present, saying what is missing and how to get
/// it when not; returns Chromium's path.
pub fn require_browser(test: &str, packages: &[&str]) -> String {
    let chromium = std::env::var("PSI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require(
        test,
        Some((PathBuf::from(&chromium), "apt-get install chromium")),
        packages,
    );
    chromium
}

/// Asserts that the Node `packages` in `tests/browser/node_modules` are present (without
/// Chromium), saying what is missing and how to get it when not.
pub fn require_node_packages(test: &str, packages: &[&str]) {
    require(test, None, packages);
}

fn require(test: &str, chromium: Option<(PathBuf, &str)>, packages: &[&str]) {
    let modules = browser_scripts().join("node_modules");
    let missing: Vec<String> = chromium
        .into_iter()
        .chain(
            packages
                .iter()
                .map(|package| (modules.join(package), "npm ci --prefix tests/browser")),
        )
        .filter(|(path, _)| !path.exists())
        .map(|(path, fix)| format!("{} (run `{fix}`)", path.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "the {test} test cannot run: missing {}",
        missing.join(", ")
    );
}

/// Node's standard output, line by line.
pub type NodeLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// Starts `node tests/browser/<script> <args>` with `envs` in `dir`, its standard output piped
/// and read by line; the process is killed when dropped.
pub fn spawn_node(
    script: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    dir: &Path,
) -> (tokio::process::Child, NodeLines) {
    use tokio::io::AsyncBufReadExt;
    let mut node = tokio::process::Command::new("node")
        .arg(browser_scripts().join(script))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    (node, lines)
}

/// Starts psi in this process on a free loopback port: the default configuration with SQLite in
/// a new temporary directory, `admin_token`, `log_level = "warn"`, and whatever `extra` merges
/// in (given the base URL). Returns the server, its base URL (`http://127.0.0.1:<port>`) and the
/// data directory, which must outlive the server.
pub async fn start_server(
    admin_token: &str,
    extra: impl FnOnce(Figment, &str) -> Figment,
) -> (psi_server::App, String, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let figment = Figment::from(Toml::string(psi_server::config::DEFAULT_TOML))
        .merge(Serialized::default("listen", format!("127.0.0.1:{port}")))
        .merge(Serialized::default("data_dir", data_dir.path()))
        .merge(Serialized::default("admin_token", admin_token))
        .merge(Serialized::default("log_level", "warn"));
    let config = psi_server::Config::from_figment(extra(figment, &base)).expect("configuration");
    let app = psi_server::build(config).await.expect("server starts");
    (app, base, data_dir)
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
