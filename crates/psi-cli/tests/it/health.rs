//! `psi health`, the probe of container health checks: the real binary exits 0 against a running
//! server, found from the listen setting `psi serve` reads (PSI_LISTEN, an unspecified address,
//! a configuration file) or from --url, and 1 with one line saying why when nothing listens, the
//! server answers another status, or it does not answer in time.

use std::net::TcpListener;
use std::process::Output;

use crate::common::{assert_fails, free_port, stderr, stdout};
use crate::wallet_env::Env;

/// Runs `psi health` with these arguments and variables, and no other PSI_* variable of whoever
/// runs the tests (they would change the address it calls).
fn health(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = assert_cmd::Command::new(env!("CARGO_BIN_EXE_psi"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PSI_") {
            command.env_remove(name);
        }
    }
    command
        .arg("health")
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .expect("the psi binary runs")
}

fn assert_ok(output: &Output, url: &str) {
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(output));
    assert_eq!(stdout(output), format!("ok: {url} answered 200 OK\n"));
}

/// Asserts exit status 1 and one `error: ` line on stderr naming `cause`.
fn assert_one_line_failure(output: &Output, cause: &str) {
    assert_fails(output, 1, cause);
    assert_eq!(stderr(output).lines().count(), 1, "{}", stderr(output));
    assert!(stdout(output).is_empty(), "{}", stdout(output));
}

#[test]
fn health_exits_0_against_a_running_server_at_the_address_psi_serve_would_listen_on() {
    let env = Env::start();
    let addr = env.url.trim_start_matches("http://").to_owned();
    let port = addr.rsplit_once(':').expect("an address with a port").1;
    let readyz = format!("{}/readyz", env.url);

    assert_ok(&health(&[], &[("PSI_LISTEN", &addr)]), &readyz);
    // As in the container: the server listens on all addresses and is asked on loopback.
    let all = format!("0.0.0.0:{port}");
    assert_ok(&health(&[], &[("PSI_LISTEN", &all)]), &readyz);
    let config = env.dir.path().join("health.toml");
    std::fs::write(&config, format!("listen = \"{addr}\"\n")).unwrap();
    let config = config.to_str().unwrap();
    assert_ok(&health(&["--config", config], &[]), &readyz);
    assert_ok(&health(&[], &[("PSI_CONFIG", config)]), &readyz);

    let healthz = format!("{}/healthz", env.url);
    assert_ok(&health(&["--url", &healthz], &[]), &healthz);
    let missing = format!("{}/no-such-probe", env.url);
    assert_one_line_failure(
        &health(&["--url", &missing], &[]),
        &format!("{missing} answered 404 Not Found: no route for /no-such-probe"),
    );
}

#[test]
fn health_exits_1_with_one_line_when_nothing_listens_or_answers() {
    let closed = format!("http://127.0.0.1:{}/readyz", free_port());
    assert_one_line_failure(
        &health(&["--url", &closed], &[]),
        &format!("error: cannot connect to {closed}: Connection refused"),
    );
    // The default address, on a port where nothing listens.
    let port = free_port();
    assert_one_line_failure(
        &health(&[], &[("PSI_LISTEN", &format!("0.0.0.0:{port}"))]),
        &format!("error: cannot connect to http://127.0.0.1:{port}/readyz"),
    );

    // Connections wait in the backlog of a socket that never accepts: no answer comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/readyz", silent.local_addr().unwrap());
    assert_one_line_failure(
        &health(&["--url", &url, "--timeout", "300ms"], &[]),
        &format!("error: {url} gave no answer within 300ms"),
    );

    assert_one_line_failure(&health(&[], &[("PSI_LISTEN", "127.0.0.1:0")]), "has port 0");
}
