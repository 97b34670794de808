//! psi shipped as a server: the container image (`Dockerfile`) and the systemd unit
//! (`deploy/systemd/psi.service`). Their facts are read from the files on every machine; where a
//! container runtime answers (build.rs decides, else the test is reported as ignored) the image
//! is built and run: it becomes healthy through its own health check, runs as a user other than
//! root, keeps its data in the volume and answers `/healthz` on the published port.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A Dockerfile's instructions as (keyword in capitals, arguments), continuation lines joined
/// and comments left out, each stage starting at its `FROM`.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((current.as_str(), ""));
                instructions.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

/// An exec-form argument list, `["psi", "serve"]`.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not an exec-form list ({e}): {args}"))
}

/// The workspace's `rust-version`.
fn rust_version() -> String {
    let manifest = read("Cargo.toml");
    let line = manifest
        .lines()
        .find(|line| line.starts_with("rust-version"))
        .expect("the workspace sets rust-version");
    line.split('"').nth(1).expect("a quoted version").to_owned()
}

#[test]
fn the_dockerfile_builds_psi_and_runs_psi_serve_as_non_root_with_a_volume_and_a_health_check() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let all = |keyword: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, args)| args.as_str())
            .collect()
    };
    let froms = all("FROM");
    assert!(
        froms.len() >= 2,
        "a build stage and a runtime stage: {froms:?}"
    );
    let toolchain = format!("rust:{}-", rust_version());
    assert!(
        froms[0].starts_with(&toolchain),
        "the build stage uses the workspace's toolchain ({toolchain}...): {}",
        froms[0]
    );
    assert!(
        all("RUN")
            .iter()
            .any(|run| run.contains("cargo build --release --locked --bin psi")),
        "the build stage builds the psi binary from Cargo.lock"
    );

    let last_from = instructions.iter().rposition(|(k, _)| k == "FROM").unwrap();
    let runtime = &instructions[last_from + 1..];
    let last = |keyword: &str| -> &str {
        runtime
            .iter()
            .rev()
            .find(|(k, _)| k == keyword)
            .map(|(_, args)| args.as_str())
            .unwrap_or_else(|| panic!("the runtime stage has no {keyword}"))
    };
    let user = last("USER").split(':').next().unwrap();
    assert!(!matches!(user, "root" | "0"), "USER {user} is root");
    assert_eq!(exec_form(last("ENTRYPOINT")), ["psi"]);
    assert_eq!(exec_form(last("CMD")), ["serve"]);
    let (_, probe) = last("HEALTHCHECK")
        .split_once("CMD")
        .expect("HEALTHCHECK ... CMD");
    assert_eq!(
        exec_form(probe.trim())[..2],
        ["psi", "health"],
        "the health check needs no curl"
    );

    let env: Vec<(&str, &str)> = runtime
        .iter()
        .filter(|(k, _)| k == "ENV")
        .flat_map(|(_, args)| args.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let var = |name: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("the runtime stage sets no {name}"))
    };
    let volumes = exec_form(last("VOLUME"));
    let data_dir = var("PSI_DATA_DIR");
    assert!(
        volumes.iter().any(|v| v == data_dir),
        "{data_dir} is a volume: {volumes:?}"
    );
    let listen: std::net::SocketAddr = var("PSI_LISTEN").parse().expect("PSI_LISTEN");
    assert!(
        listen.ip().is_unspecified(),
        "reachable from outside: {listen}"
    );
    let exposed = last("EXPOSE").split('/').next().unwrap();
    assert_eq!(
        exposed,
        listen.port().to_string(),
        "EXPOSE is the listen port"
    );
}

/// `(section, key, value)` of each setting of a systemd unit, in order.
fn unit_settings(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut settings = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, value)) = line.split_once('=') {
            settings.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
    }
    settings
}

/// `[connections] max` of the defaults: the open-file limit must hold that many connections.
fn default_max_connections() -> u64 {
    let defaults = read("crates/psi-server/config.default.toml");
    let section = defaults
        .split("\n[connections]")
        .nth(1)
        .expect("a [connections] section");
    let line = section
        .lines()
        .find(|line| line.starts_with("max"))
        .expect("[connections] max");
    line.split('=').nth(1).unwrap().trim().parse().unwrap()
}

#[test]
fn the_systemd_unit_runs_psi_serve_with_its_state_directory_and_hardening() {
    let settings = unit_settings(&read("deploy/systemd/psi.service"));
    let service = |key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(s, k, _)| s == "Service" && k == key)
            .map(|(_, _, value)| value.as_str())
            .collect()
    };
    let exec_start = service("ExecStart");
    let command = exec_start.concat();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert!(
        exec_start.len() == 1
            && words.len() == 2
            && words[0].ends_with("/psi")
            && words[1] == "serve",
        "ExecStart runs psi serve: {exec_start:?}"
    );
    let expected = [
        ("Type", "simple"),
        ("Restart", "on-failure"),
        ("StateDirectory", "psi"),
        ("Environment", "PSI_DATA_DIR=/var/lib/psi"),
        ("EnvironmentFile", "-/etc/psi/psi.env"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("SystemCallFilter", "@system-service"),
        ("SystemCallFilter", "~@privileged @resources"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0077"),
    ];
    let missing: Vec<String> = expected
        .iter()
        .filter(|(key, value)| !service(key).contains(value))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    assert!(missing.is_empty(), "[Service] lacks {missing:?}");
    assert!(
        service("DynamicUser") == ["yes"] || !service("User").is_empty(),
        "psi runs as a user of its own"
    );

    // psi keeps 256 descriptors back from the connection cap for the database pool, outbound
    // calls and files, and lowers the cap to fit the limit.
    let limit: u64 = service("LimitNOFILE")
        .concat()
        .parse()
        .expect("LimitNOFILE");
    let max = default_max_connections();
    assert!(
        limit >= max + 256,
        "LimitNOFILE={limit} holds [connections] max = {max}"
    );
}

/// The container runtime build.rs found answering.
fn container_runtime() -> &'static str {
    env!("PSI_TEST_CONTAINER_RUNTIME")
}

const IMAGE: &str = "psi:test";
/// A first build compiles every dependency in release mode on a small machine.
const BUILD_TIME: Duration = Duration::from_secs(60 * 60);
const HEALTHY_TIME: Duration = Duration::from_secs(120);
const COMMAND_TIME: Duration = Duration::from_secs(60);

/// Runs the container runtime with `args`; fails the test if it takes longer than `limit`.
async fn runtime(args: &[&str], limit: Duration) -> Output {
    let mut command = Command::new(container_runtime());
    command.args(args).kill_on_drop(true);
    match tokio::time::timeout(limit, command.output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("{} runs: {e}", container_runtime())),
        Err(_) => panic!(
            "{} {args:?} took longer than {limit:?}",
            container_runtime()
        ),
    }
}

/// Runs the container runtime with `args`, asserts success and returns its stdout, trimmed.
async fn runtime_ok(args: &[&str], limit: Duration) -> String {
    let output = runtime(args, limit).await;
    assert!(
        output.status.success(),
        "{} {args:?}: {}\n{}",
        container_runtime(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The container and its volume, removed when the test ends, whether it passes or not.
struct Container {
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        for args in [
            ["rm", "-f", "-v", &self.name],
            ["volume", "rm", "-f", &self.name],
        ] {
            let _ = std::process::Command::new(container_runtime())
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    container_test_ignored,
    ignore = "needs a container runtime: `docker info` or `podman info` must succeed (a running daemon that can pull the rust and debian images); checked when built, PSI_CONTAINER_RUNTIME=docker checks again"
)]
async fn the_image_builds_and_runs_healthy_as_non_root_with_its_data_in_the_volume() {
    let root = repo_root();
    let root = root.to_str().unwrap();
    let mut build = vec!["build", "-t", IMAGE];
    if container_runtime() == "podman" {
        // Podman's default OCI format has no HEALTHCHECK.
        build.extend(["--format", "docker"]);
    }
    build.push(root);
    runtime_ok(&build, BUILD_TIME).await;

    let container = Container {
        name: format!("psi-test-{:016x}", rand::random::<u64>()),
    };
    let volume = format!("{}:/var/lib/psi", container.name);
    // Locked down as a careful operator would run it: it must need nothing more.
    runtime_ok(
        &[
            "run",
            "--detach",
            "--name",
            &container.name,
            "--volume",
            &volume,
            "--publish",
            "127.0.0.1::8080",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            // The image's own check (`psi health`), asked more often than in production.
            "--health-interval",
            "1s",
            "--health-start-period",
            "60s",
            IMAGE,
        ],
        COMMAND_TIME,
    )
    .await;

    let deadline = Instant::now() + HEALTHY_TIME;
    loop {
        let state = runtime_ok(
            &[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.Health.Status}}",
                &container.name,
            ],
            COMMAND_TIME,
        )
        .await;
        if state == "running healthy" {
            break;
        }
        if !state.starts_with("running")
            || state.ends_with("unhealthy")
            || Instant::now() > deadline
        {
            let logs = runtime(&["logs", &container.name], COMMAND_TIME).await;
            panic!(
                "not healthy ({state}); logs:\n{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        if container_runtime() == "podman" {
            // Podman runs health checks from systemd timers, which a test machine may lack.
            let _ = runtime(&["healthcheck", "run", &container.name], COMMAND_TIME).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let uid = runtime_ok(&["exec", &container.name, "id", "-u"], COMMAND_TIME).await;
    assert_ne!(uid, "0", "psi runs as root in the image");
    let data = runtime_ok(
        &["exec", &container.name, "ls", "/var/lib/psi"],
        COMMAND_TIME,
    )
    .await;
    for file in ["psi.db", "master.key"] {
        assert!(
            data.lines().any(|l| l == file),
            "{file} in the volume: {data}"
        );
    }

    let published = runtime_ok(&["port", &container.name, "8080/tcp"], COMMAND_TIME).await;
    let addr = published.lines().next().expect("a published address");
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("/healthz answers through the published port");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}
