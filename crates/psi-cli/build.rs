//! Decides whether the real-browser test can run here: it needs Chromium and the browser
//! scripts' Node packages. Without them the test is reported as ignored, never as passed; under
//! `CI=true` it runs anyway and fails, saying what is missing.

use std::path::Path;

fn main() {
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
