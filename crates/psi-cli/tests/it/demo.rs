//! The demo as a new user meets it, with the real `psi` binary in a fresh data directory:
//! `psi serve --demo --log-json` becomes ready, the wallet command it prints runs as pasted into a
//! shell (it names the running binary by its path),
//! its log lines are JSON objects that never carry the admin token or the master key, SIGTERM
//! stops it gracefully, and a restart on the same data directory keeps the demo service and
//! prints no new admin token. Its printed link call and start page make two database queries
//! each, and none when asked again.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::common::{free_port, stderr, stdout};

const TOKEN_LINE: &str = "admin token (shown once, store it now): ";
const NO_NEW_TOKEN_LINE: &str =
    "admin token: the configured one, or the one printed at the first start";
const DEMO_LINE: &str = "demo service ";
const STARTUP: Duration = Duration::from_secs(60);
/// How long a graceful stop may take after SIGTERM.
const GRACEFUL_STOP: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_end_to_end_with_the_printed_wallet_command_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = Demo::start(&data_dir);
    server.ready().await;
    let printed = server.printed().await;
    let token = printed
        .admin_token
        .clone()
        .expect("a first start prints the admin token");
    assert_eq!(
        printed.wallet.server, server.url,
        "the printed command targets this server"
    );

    let wallet = dir.path().join("wallet.json");
    let outcome = run_wallet(&printed.wallet, &wallet);
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let event_id = outcome["event_id"].as_str().expect("an event_id");
    assert!(!event_id.is_empty(), "{outcome}");
    assert_eq!(outcome["service"]["did"], printed.service_did.as_str());
    let issued = outcome["issued"].as_array().expect("an issued array");
    assert!(
        !issued.is_empty(),
        "the demo issues a credential: {outcome}"
    );
    let credential_id = issued[0]["credential_id"].as_str().unwrap();
    assert!(
        credential_id.ends_with(":membership"),
        "the demo issues its membership: {credential_id}"
    );
    assert_eq!(issued[0]["event_id"], event_id);
    assert!(wallet.exists(), "the wallet is stored where --wallet says");

    // Put the admin token (and a wrong one) on the wire, so a logged Authorization header would
    // show up in the log below.
    let services = server.services(&token).await;
    assert_eq!(services.len(), 1, "{services:?}");
    let wrong = "psi_admin_not-the-real-token";
    let status = server.get("/api/v1/services", Some(wrong)).await.status();
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);

    let status = server.stop().await;
    assert!(status.success(), "SIGTERM stops psi cleanly: {status}");
    let master_key = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    let logs = server.log_lines(&[&token, wrong, master_key.trim()]);
    let shutting_down = logs
        .iter()
        .position(|l| l["message"] == "shutting down")
        .expect("psi logs that it is shutting down");
    assert_eq!(logs[shutting_down]["signal"], "SIGTERM");
    assert!(
        logs[shutting_down..]
            .iter()
            .any(|l| l["message"] == "stopped"),
        "psi logs that it stopped after shutting down"
    );
}

/// The demo's printed link call (two pre-filled values, the admin token) and its start page each
/// read the database at most twice (the caller or the service, then the interaction with all a
/// link needs), and not at all when asked again: both come from the configuration cache then.
/// Counted in psi's own log of statements (a new pooled connection's set-up aside), with no
/// delivery worker polling meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_endpoint_and_the_start_page_make_two_queries_each_then_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start_with(
        dir.path(),
        &[
            ("PSI_LOG_LEVEL", "warn,sqlx::query=debug"),
            ("PSI_DELIVERY_WORKERS", "0"),
        ],
    );
    demo.ready().await;
    let token = demo.printed().await.admin_token.expect("a new token");
    let line = demo
        .wait_for_stdout(|l| l.contains("link JSON: curl"))
        .await;
    let url = line
        .rsplit('\'')
        .nth(1)
        .expect("the link call's quoted URL");
    let link = url
        .strip_prefix(&demo.url)
        .expect("a URL of this server")
        .to_owned();
    assert!(link.contains("prefill="), "{link}");
    let line = demo.wait_for_stdout(|l| l.contains("start page")).await;
    let url = line.rsplit(' ').next().expect("the start page's URL");
    let page = url
        .strip_prefix(&demo.url)
        .expect("a URL of this server")
        .to_owned();

    // The seed's statements: the log works, so a count of none means none.
    assert!(!demo.statements().is_empty(), "psi logs its statements");
    for (path, token) in [(link.as_str(), Some(token.as_str())), (page.as_str(), None)] {
        for (turn, most) in [("first", 2), ("again", 0)] {
            let before = demo.statements().len();
            let answer = demo.get(path, token).await;
            assert_eq!(answer.status(), reqwest::StatusCode::OK, "{path}");
            // The log reaches the reader thread a moment after the answer.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let made = &demo.statements()[before..];
            assert!(
                made.len() <= most,
                "{path}, {turn}: {} queries\n{}",
                made.len(),
                made.join("\n")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_demo_on_the_same_data_dir_keeps_its_service_and_prints_no_new_admin_token()
{
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut first = Demo::start(&data_dir);
    first.ready().await;
    let before = first.printed().await;
    let token = before.admin_token.clone().expect("the first start's token");
    assert!(first.stop().await.success());

    let mut second = Demo::start(&data_dir);
    second.ready().await;
    let after = second.printed().await;
    assert_eq!(after.admin_token, None, "the token is shown once only");
    second.wait_for_stdout(|l| l == NO_NEW_TOKEN_LINE).await;
    assert_eq!(after.service_did, before.service_did);
    assert_eq!(
        after.wallet.link, before.wallet.link,
        "the same interaction and instance"
    );
    assert_eq!(after.wallet.attrs, before.wallet.attrs);
    assert_eq!(
        after.wallet.server, second.url,
        "the command follows the new address"
    );
    let services = second.services(&token).await;
    assert_eq!(services.len(), 1, "the seed is idempotent: {services:?}");
    assert_eq!(services[0]["did"], before.service_did.as_str());

    assert!(second.stop().await.success());
    let logs = second.log_lines(&[&token]);
    assert!(
        !logs.iter().any(|l| l["message"] == "service created"),
        "a restart creates nothing"
    );
}

/// What `psi serve --demo` printed on standard output.
#[derive(Debug)]
struct Printed {
    admin_token: Option<String>,
    service_did: String,
    wallet: WalletCommand,
}

/// The printed `<path of psi> wallet run --server URL 'LINK' [--attr 'NAME=VALUE']...`.
#[derive(Debug)]
struct WalletCommand {
    /// The line as printed.
    line: String,
    server: String,
    link: String,
    attrs: Vec<String>,
}

/// Runs the printed wallet command as pasted into `sh`, with `--json` and a wallet file of the
/// test's own added, from a directory and `PATH` where no `psi` is found.
fn run_wallet(command: &WalletCommand, wallet: &Path) -> Value {
    let elsewhere = tempfile::tempdir().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{} --json --wallet \"$1\"", command.line))
        .arg("sh")
        .arg(wallet)
        .current_dir(elsewhere.path())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "psi wallet run: {}\n{}",
        output.status,
        stderr(&output)
    );
    serde_json::from_str(&stdout(&output)).expect("one JSON object")
}

/// Lines a child process wrote to one stream, collected by a thread as they come.
type Lines = Arc<Mutex<Vec<String>>>;

/// A `psi serve --demo --log-json` process; killed on drop if still running, so a failing test
/// leaves nothing behind.
struct Demo {
    child: Child,
    url: String,
    http: reqwest::Client,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<JoinHandle<()>>,
}

impl Demo {
    fn start(data_dir: &Path) -> Demo {
        Demo::start_with(data_dir, &[])
    }

    /// [`Demo::start`] with these environment variables.
    fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Demo {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_psi"));
        // Only the flags configure it: a PSI_* variable or RUST_LOG of whoever runs the tests
        // would change what is checked (RUST_LOG=warn hides the shutdown message).
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PSI_") {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().copied());
        let mut child = command
            .env_remove("RUST_LOG")
            .args(["serve", "--demo", "--log-json", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psi starts");
        let (stdout, out_reader) = collect(child.stdout.take().unwrap());
        let (stderr, err_reader) = collect(child.stderr.take().unwrap());
        Demo {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    /// Waits for `GET /readyz` to answer 200.
    async fn ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            // A refused connection only means it is not listening yet.
            let ready = self.http.get(format!("{}/readyz", self.url)).send().await;
            if ready.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                return;
            }
            self.assert_running();
            assert!(Instant::now() < deadline, "not ready: {}", self.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The admin token, the demo service and the wallet command, once printed. Ready comes
    /// before the demo is seeded, so this waits for the wallet command, printed after the rest.
    async fn printed(&mut self) -> Printed {
        let command = self
            .wait_for_stdout(|l| l.contains(" wallet run --server "))
            .await;
        let lines = self.stdout.lock().unwrap().clone();
        let admin_token = lines
            .iter()
            .find_map(|l| l.strip_prefix(TOKEN_LINE))
            .map(str::to_owned);
        let service_did = lines
            .iter()
            .find_map(|l| l.strip_prefix(DEMO_LINE))
            .and_then(|rest| rest.split([',', ' ']).next())
            .unwrap_or_else(|| panic!("no demo service line: {}", self.output()))
            .to_owned();
        Printed {
            admin_token,
            service_did,
            wallet: parse_wallet_command(&command),
        }
    }

    /// Waits for a line on standard output that `matches`; returns it.
    async fn wait_for_stdout(&mut self, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STARTUP;
        loop {
            let found = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| matches(l))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "missing output: {}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET /api/v1/services` with the admin token.
    async fn services(&self, token: &str) -> Vec<Value> {
        let response = self.get("/api/v1/services", Some(token)).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["data"].as_array().expect("a list of services").clone()
    }

    /// Sends SIGTERM and waits for the exit, then for the rest of its output.
    async fn stop(&mut self) -> ExitStatus {
        // No signal crate among the dependencies; kill(1) is everywhere SIGTERM is.
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + GRACEFUL_STOP;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {GRACEFUL_STOP:?} after SIGTERM: {}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        status
    }

    /// Every line the server logged (standard error), each checked to be a JSON log record
    /// that contains none of `secrets`. Standard output, where the token is printed on
    /// purpose, must carry no log records.
    fn log_lines(&self, secrets: &[&str]) -> Vec<Value> {
        let stderr = self.stderr.lock().unwrap().clone();
        assert!(!stderr.is_empty(), "psi logged nothing");
        let records: Vec<Value> = stderr
            .iter()
            .map(|line| {
                let record: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
                assert!(record.is_object(), "not an object: {line}");
                let level = record["level"].as_str().unwrap_or_default();
                assert!(
                    ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
                    "no level: {line}"
                );
                for field in ["timestamp", "target", "message"] {
                    assert!(record[field].is_string(), "no {field}: {line}");
                }
                assert_ne!(level, "ERROR", "a demo run logs no errors: {line}");
                for secret in secrets {
                    assert!(!secret.is_empty());
                    assert!(!line.contains(secret), "a secret in the log: {line}");
                }
                record
            })
            .collect();
        for line in self.stdout.lock().unwrap().iter() {
            assert!(
                serde_json::from_str::<Value>(line).is_err(),
                "a log record on standard output: {line}"
            );
        }
        records
    }

    /// The statements psi logged so far, without those that set up a new connection.
    fn statements(&self) -> Vec<String> {
        let stderr = self.stderr.lock().unwrap();
        stderr
            .iter()
            .filter(|l| l.contains("sqlx::query") && !l.contains("PRAGMA"))
            .cloned()
            .collect()
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("psi exited ({status}): {}", self.output());
        }
    }

    /// Both streams so far, for failure messages.
    fn output(&self) -> String {
        format!(
            "\nstdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `stream` line by line on a thread of its own, so neither pipe fills up.
fn collect(stream: impl Read + Send + 'static) -> (Lines, JoinHandle<()>) {
    let lines = Lines::default();
    let sink = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    (lines, reader)
}

/// Parses the printed wallet command as a shell would: the path of the binary that printed it,
/// `wallet run`, the server, one link and `--attr` values.
fn parse_wallet_command(line: &str) -> WalletCommand {
    let words = shell_words(line);
    let printed = Path::new(&words[0])
        .canonicalize()
        .expect("the printed path exists");
    let tested = Path::new(env!("CARGO_BIN_EXE_psi")).canonicalize().unwrap();
    assert_eq!(printed, tested, "{line}");
    assert_eq!(words[1..3], ["wallet", "run"], "{line}");
    let (mut server, mut link, mut attrs) = (None, None, Vec::new());
    let mut rest = words[3..].iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "--server" => server = rest.next().cloned(),
            "--attr" => attrs.push(rest.next().expect("a value after --attr").clone()),
            flag if flag.starts_with('-') => panic!("unexpected {flag} in {line}"),
            _ => {
                assert!(link.is_none(), "two links in {line}");
                link = Some(word.clone());
            }
        }
    }
    WalletCommand {
        line: line.trim().to_owned(),
        server: server.unwrap_or_else(|| panic!("no --server in {line}")),
        link: link.unwrap_or_else(|| panic!("no link in {line}")),
        attrs,
    }
}

/// Splits words at unquoted whitespace; single quotes keep what they enclose, as in a POSIX
/// shell (the demo prints no other quoting).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted) = (Vec::new(), None::<String>, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "an unclosed quote in {line}");
    words.extend(word);
    words
}
