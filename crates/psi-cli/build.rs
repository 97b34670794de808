//! Decides which integration tests can run here, so that a test whose tools are missing is
//! reported as ignored, never as passed:
//! - the real-browser test needs Chromium and the browser scripts' Node packages; under
//!   `CI=true` it runs anyway and fails, saying what is missing;
//! - the container-image test needs a container runtime that answers (`docker info` or
//!   `podman info`, or the one `PSI_CONTAINER_RUNTIME` names); CI's machine has none, so it is
//!   not forced there.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long `<runtime> info` may take: an unreachable remote daemon must not stall the build.
const RUNTIME_PROBE: Duration = Duration::from_secs(10);

fn main() {
    browser();
    container_runtime();
}

fn browser() {
    println!("cargo::rustc-check-cfg=cfg(browser_test_ignored)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PSI_CHROMIUM");
    let chromium = std::env::var("PSI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    // Read when the script runs, not when it is compiled: a target directory shared by several
    // checkouts reuses the compiled script, and must look at this checkout's packages.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let node_modules = Path::new(&manifest_dir).join("../../tests/browser/node_modules");
    for path in [Path::new(&chromium), &node_modules] {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    let ready = Path::new(&chromium).exists() && node_modules.exists();
    let ci = std::env::var("CI").is_ok_and(|value| value == "true");
    if !ready && !ci {
        println!("cargo::rustc-cfg=browser_test_ignored");
    }
}

/// Sets `container_test_ignored` without a runtime that answers, and tells the test which one
/// answered (`PSI_TEST_CONTAINER_RUNTIME`).
fn container_runtime() {
    println!("cargo::rustc-check-cfg=cfg(container_test_ignored)");
    for var in [
        "PSI_CONTAINER_RUNTIME",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "CONTAINER_HOST",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // A daemon that restarts makes its socket anew, and cargo asks again. Only sockets that exist
    // are watched: cargo takes a missing one as changed on every build, which would rebuild this
    // crate each time. A runtime started later is seen when PSI_CONTAINER_RUNTIME is set.
    for socket in ["/var/run/docker.sock", "/run/podman/podman.sock"] {
        if Path::new(socket).exists() {
            println!("cargo::rerun-if-changed={socket}");
        }
    }
    let candidates = match std::env::var("PSI_CONTAINER_RUNTIME") {
        Ok(name) if !name.is_empty() => vec![name],
        _ => vec!["docker".to_owned(), "podman".to_owned()],
    };
    let found = candidates.iter().find(|name| answers(name));
    if found.is_none() {
        println!("cargo::rustc-cfg=container_test_ignored");
    }
    // Set either way, so the test compiles; without a runtime it is ignored and never reads it.
    let name = found.map_or("docker", String::as_str);
    println!("cargo::rustc-env=PSI_TEST_CONTAINER_RUNTIME={name}");
}

/// Whether `<runtime> info` succeeds within [`RUNTIME_PROBE`].
fn answers(runtime: &str) -> bool {
    let Ok(mut child) = Command::new(runtime)
        .arg("info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + RUNTIME_PROBE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
