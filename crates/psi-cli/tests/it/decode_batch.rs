//! `psi link decode --batch`: one JSON line per link, bad lines reported and skipped over.

use serde_json::Value;

use crate::common::{assert_fails, bad_vectors, good_vectors, psi, stderr, stdout};

/// Per non-blank input line: its line number and the expected payload or error code.
type Expected = Vec<(u64, Result<Value, psi_link::LinkError>)>;

/// Interleaves good and bad links with blank lines; returns the input and, per non-blank line,
/// its line number and either the expected payload or the expected error code.
fn mixed_input() -> (String, Expected) {
    let mut input = String::new();
    let mut expected = Vec::new();
    let mut line = 0;
    let bad = bad_vectors();
    for (i, v) in good_vectors().iter().enumerate() {
        line += 1;
        input.push_str(v["standard_base64_app_link"].as_str().unwrap());
        input.push_str("\r\n");
        expected.push((line, Ok(v["payload"].clone())));
        if let Some((link, err)) = bad.get(i) {
            line += 2;
            input.push_str("   \n");
            input.push_str(link);
            input.push('\n');
            expected.push((line, Err(err.clone())));
        }
    }
    (input, expected)
}

fn check_output(out: &str, expected: &Expected) {
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expected.len());
    for (got, (line, want)) in lines.iter().zip(expected) {
        assert_eq!(got["line"], *line);
        match want {
            Ok(payload) => assert_eq!(&got["request"], payload, "line {line}"),
            Err(err) => {
                assert_eq!(got["error"]["code"], err.code(), "line {line}");
                assert_eq!(got["error"]["message"], err.to_string(), "line {line}");
            }
        }
    }
}

#[test]
fn mixed_good_and_bad_lines_from_stdin_all_get_a_json_line_and_exit_status_3() {
    let (input, expected) = mixed_input();
    let output = psi(&["link", "decode", "--batch", "-"], &input);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    check_output(&stdout(&output), &expected);
    let (good, bad) = (good_vectors().len(), bad_vectors().len());
    let lines = good + 2 * bad;
    assert_eq!(
        stderr(&output).split(" in ").next().unwrap(),
        format!(
            "decoded {} links: {good} ok, {bad} failed ({lines} lines)",
            good + bad
        )
    );
}

#[test]
fn a_file_of_good_links_exits_zero_and_quiet_drops_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("links.txt");
    let links: Vec<String> = good_vectors()
        .iter()
        .map(|v| v["deep_link"].as_str().unwrap().to_owned())
        .collect();
    std::fs::write(&path, links.join("\n")).unwrap(); // no final newline
    let output = psi(
        &[
            "link",
            "decode",
            "--batch",
            path.to_str().unwrap(),
            "--quiet",
        ],
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stderr.is_empty());
    let expected: Vec<_> = good_vectors()
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1, Ok(v["payload"].clone())))
        .collect();
    check_output(&stdout(&output), &expected);
}

#[test]
fn ok_lines_are_compact_request_json_in_wire_order() {
    use base64::Engine as _;
    for v in good_vectors() {
        let link = v["app_link"].as_str().unwrap();
        // The vector's payload bytes are the wire JSON; the batch output must repeat them exactly.
        let encoded = link.rsplit('/').next().unwrap();
        let wire = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap();
        let wire = String::from_utf8(wire).unwrap();
        let output = psi(&["link", "decode", "--batch", "-"], link);
        assert_eq!(
            stdout(&output),
            format!("{{\"line\":1,\"request\":{wire}}}\n")
        );
    }
}

#[test]
fn a_missing_file_or_conflicting_flags_fail_before_any_output() {
    assert_fails(
        &psi(&["link", "decode", "--batch", "/no/such/links.txt"], ""),
        1,
        "cannot open /no/such/links.txt",
    );
    let conflict = psi(
        &[
            "link",
            "decode",
            "--batch",
            "-",
            "https://proofspace.id/native/execute/e30",
        ],
        "",
    );
    assert_eq!(conflict.status.code(), Some(2));
    assert!(conflict.stdout.is_empty());
}

#[test]
fn a_reader_that_stops_early_ends_the_batch_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("links.txt");
    let link = good_vectors()[0]["app_link"].as_str().unwrap().to_owned();
    // Far more output than a pipe buffers, so psi is still writing when the reader leaves.
    std::fs::write(&path, format!("{link}\n").repeat(20_000)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_psi"))
        .args([
            "link",
            "decode",
            "--batch",
            path.to_str().unwrap(),
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with(r#"{"line":1,"request":"#));
    let output = child.wait_with_output().unwrap(); // the reader is dropped: the pipe is closed
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
}
