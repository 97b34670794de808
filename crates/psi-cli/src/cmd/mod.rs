//! Subcommands, one module each, and what they share: input reading, link targets, request
//! flags, QR style flags, the async runtime and the exit protocol.

pub mod admin;
pub mod batch;
pub mod decode_batch;
pub mod extension;
pub mod health;
pub mod link;
pub mod qr;
pub mod request;
pub mod server;
pub mod target;
pub mod wallet;
pub mod webhook;

use std::io::{self, IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result};

/// Exit status of a batch that finished but had failed lines or rows.
pub const EXIT_PARTIAL: u8 = 3;

/// Prints a failed command's error with its causes on stderr and turns it into the exit status.
pub fn finish(result: Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        // A reader that closed the pipe early (`psi ... | head`) wants no more output: not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| io_error_kind(cause) == Some(io::ErrorKind::BrokenPipe))
}

/// The kind of an I/O error, also when a JSON or CSV writer wraps it without exposing it as a source.
fn io_error_kind(cause: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    if let Some(json) = cause.downcast_ref::<serde_json::Error>() {
        return json.io_error_kind();
    }
    if let Some(csv) = cause.downcast_ref::<csv::Error>() {
        return match csv.kind() {
            csv::ErrorKind::Io(io) => Some(io.kind()),
            _ => None,
        };
    }
    cause.downcast_ref::<io::Error>().map(io::Error::kind)
}

/// Reads a whole file, or standard input when `path` is `-`.
pub fn read_text(path: &str) -> Result<String> {
    if path == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    }
}

/// A text argument, or one line read from standard input when it is `-`.
pub fn arg_or_stdin(value: &str) -> Result<String> {
    if value == "-" {
        Ok(read_text("-")?.trim().to_owned())
    } else {
        Ok(value.to_owned())
    }
}

/// A Tokio runtime for the subcommands that talk HTTP (`serve`, `migrate`, `wallet`, `health`,
/// `extension`); the others stay synchronous and start none.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Whether stderr is an interactive terminal (progress bars are drawn only there).
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}
