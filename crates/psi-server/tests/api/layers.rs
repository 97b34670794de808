//! The server crate's layers point down: its import graph (`tools/import-cycles.py`) has no
//! cycle of more than five files.

use std::process::Command;

#[test]
fn no_import_cycle_spans_more_than_five_files() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let output = Command::new("python3")
        .current_dir(root)
        .args([
            "tools/import-cycles.py",
            "crates/psi-server/src",
            "--max",
            "5",
        ])
        .output()
        .expect("python3 runs tools/import-cycles.py");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("largest cycle:"),
        "the script printed no summary: {report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
}
