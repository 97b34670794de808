//! `psi qr`: terminal, SVG and PNG output of the real binary.

use crate::common::{assert_fails, good_vectors, psi, read_qr_png, stderr, stdout};

fn link() -> String {
    good_vectors()[0]["app_link"].as_str().unwrap().to_owned()
}

#[test]
fn png_files_read_back_as_the_link_at_every_error_correction_level() {
    let dir = tempfile::tempdir().unwrap();
    let link = link();
    for level in ["L", "m", "Q", "H"] {
        let path = dir.path().join(format!("code-{level}.png"));
        let output = psi(
            &[
                "qr",
                &link,
                "-o",
                path.to_str().unwrap(),
                "--ec",
                level,
                "--module-size",
                "4",
            ],
            "",
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(output.stdout.is_empty(), "no terminal drawing with -o");
        let err = stderr(&output);
        assert!(
            err.contains(&format!("error correction {}", level.to_uppercase())),
            "{err}"
        );
        assert!(err.contains("modules)"), "{err}");
        assert_eq!(read_qr_png(&path), link);
    }
}

#[test]
fn svg_output_and_terminal_drawing_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("code.SVG");
    let output = psi(
        &[
            "qr",
            "-",
            "-o",
            path.to_str().unwrap(),
            "--terminal",
            "--module-size",
            "2",
        ],
        "hello 👋\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let svg = std::fs::read_to_string(&path).unwrap();
    // Version 1 at level M: 21 modules + 2 × 4 quiet-zone modules, 2 pixels each.
    assert!(stderr(&output).starts_with("QR version 1 (21x21 modules), error correction M\n"));
    assert!(svg.contains(r#"width="58" height="58""#), "{svg}");
    let drawing = stdout(&output);
    assert_eq!(
        drawing.lines().count(),
        15,
        "29 module rows drawn two per line"
    );
    assert!(
        !drawing.contains('\x1b'),
        "no colours when stdout is not a terminal"
    );
    assert!(drawing.contains('█'));
}

#[test]
fn without_output_the_code_is_drawn_on_the_terminal_and_dense_codes_warn() {
    let long = format!("https://example.org/{}", "x".repeat(700));
    let output = psi(&["qr", &long], "");
    assert!(output.status.success());
    let err = stderr(&output);
    assert!(err.contains("warning: the QR code is dense"), "{err}");
    assert!(err.contains("sourceURL"), "{err}");
    assert!(stdout(&output).lines().count() > 30);

    let short = "https://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEiLCJzZXJ2aWNlRGlkIjoiR2J6UHFnblU0WHNNczd4ZzltWUpXOCJ9";
    let output = psi(&["qr", short], "");
    assert!(
        stderr(&output).starts_with("QR version 7 (45x45 modules)"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("warning"));
}

#[test]
fn bad_input_fails_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("code.gif");
    assert_fails(
        &psi(&["qr", "x", "-o", gif.to_str().unwrap()], ""),
        1,
        "use a name ending in .svg or .png",
    );
    assert!(!gif.exists());
    assert_fails(
        &psi(&["qr", &"x".repeat(1300), "--ec", "H"], ""),
        1,
        "text too long for a QR code: 1300 bytes, at most 1273",
    );
    assert_fails(
        &psi(&["qr", "x", "--module-size", "0"], ""),
        1,
        "module size 0 is out of range",
    );
    let missing_dir = dir.path().join("no/such/dir/code.png");
    assert_fails(
        &psi(&["qr", "x", "-o", missing_dir.to_str().unwrap()], ""),
        1,
        "cannot write",
    );
    assert_eq!(psi(&["qr", "x", "--ec", "Z"], "").status.code(), Some(2));
}
