//! `psi link decode --batch`: a stream of links in, a stream of JSON lines out.
//!
//! Built for throughput: one buffered reader and writer, one reused line buffer, and the request
//! serialised straight into the output buffer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use psi_link::{Decoder, LinkError};
use serde::Serialize;

use super::EXIT_PARTIAL;

const BUFFER: usize = 1 << 16;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    lines: u64,
    ok: u64,
    failed: u64,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    line: u64,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

pub fn run(decoder: &Decoder, path: &str, quiet: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(BUFFER, io::stdout().lock());
    let counts = if path == "-" {
        decode_lines(
            decoder,
            BufReader::with_capacity(BUFFER, io::stdin().lock()),
            &mut out,
        )?
    } else {
        let file = File::open(path).with_context(|| format!("cannot open {path}"))?;
        decode_lines(decoder, BufReader::with_capacity(BUFFER, file), &mut out)?
    };
    out.flush().context("cannot write the output")?;
    if !quiet {
        eprintln!(
            "decoded {} links: {} ok, {} failed ({} lines) in {:.3} s",
            counts.ok + counts.failed,
            counts.ok,
            counts.failed,
            counts.lines,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if counts.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

fn decode_lines(
    decoder: &Decoder,
    mut input: impl BufRead,
    out: &mut impl Write,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("cannot read the links")?
            == 0
        {
            return Ok(counts);
        }
        counts.lines += 1;
        let decoded = match std::str::from_utf8(&line) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => decoder.decode(text),
            // A line of bytes that are not text cannot be a link.
            Err(_) => Err(LinkError::NotALink),
        };
        match decoded {
            Ok(decoded) => {
                counts.ok += 1;
                write!(out, "{{\"line\":{},\"request\":", counts.lines)?;
                serde_json::to_writer(&mut *out, &decoded.request)?;
                out.write_all(b"}\n")?;
            }
            Err(err) => {
                counts.failed += 1;
                let body = ErrorBody {
                    code: err.code(),
                    message: err.to_string(),
                };
                serde_json::to_writer(
                    &mut *out,
                    &ErrorLine {
                        line: counts.lines,
                        error: body,
                    },
                )?;
                out.write_all(b"\n")?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_counted_but_skipped_and_bad_bytes_are_not_links() {
        let link = "https://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEiLCJzZXJ2aWNlRGlkIjoiR2J6UHFnblU0WHNNczd4ZzltWUpXOCJ9";
        let mut input = format!("{link}\r\n\n  \n").into_bytes();
        input.extend_from_slice(b"\xfe\xff\n");
        input.extend_from_slice(link.as_bytes());
        let mut out = Vec::new();
        let counts = decode_lines(&Decoder::new(), &input[..], &mut out).unwrap();
        assert_eq!(
            counts,
            Counts {
                lines: 5,
                ok: 2,
                failed: 1
            }
        );
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let request = r#"{"actionId":"1","serviceDid":"GbzPqgnU4XsMs7xg9mYJW8"}"#;
        assert_eq!(lines[0], format!(r#"{{"line":1,"request":{request}}}"#));
        assert!(lines[1].starts_with(r#"{"line":4,"error":{"code":"not_a_link","message":"#));
        assert_eq!(lines[2], format!(r#"{{"line":5,"request":{request}}}"#));
    }
}
