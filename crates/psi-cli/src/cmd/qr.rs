//! `psi qr`: draw a link (or any text) as a QR code.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use psi_qr::{EcLevel, ImageFormat, Qr, QrInfo, QrOptions, TerminalColors};

use super::arg_or_stdin;

fn ec_level_parser() -> impl TypedValueParser<Value = EcLevel> {
    PossibleValuesParser::new(["L", "M", "Q", "H"]).try_map(|level| level.parse::<EcLevel>())
}

/// `--ec` and `--module-size`, shared by every command that draws QR codes.
#[derive(Args, Debug, Clone)]
pub struct QrStyleArgs {
    /// Error-correction level: L (7 %), M (15 %), Q (25 %) or H (30 % of the code may be damaged);
    /// higher levels make denser codes.
    #[arg(long, value_name = "LEVEL", default_value = "M", value_parser = ec_level_parser(), ignore_case = true)]
    pub ec: EcLevel,
    /// Pixels per module in SVG and PNG images (1 to 32).
    #[arg(long, value_name = "PIXELS", default_value_t = 8)]
    pub module_size: u32,
}

impl QrStyleArgs {
    pub fn options(&self) -> QrOptions {
        QrOptions {
            ec_level: self.ec,
            module_size: self.module_size,
        }
    }
}

/// Render a link (or any text) as a QR code.
#[derive(Args, Debug)]
#[command(
    long_about = "Render a link (or any text) as a QR code: on the terminal, or as an SVG \
or PNG file chosen by the output file's extension. The 4-module quiet zone is always kept.

The QR version and size go to stderr, with a warning when the code is dense (above version 10): \
such codes are hard to scan, and a short link with a sourceURL is the better choice.

Examples:
  psi qr 'https://proofspace.id/native/execute/eyJ...'
  psi qr 'https://proofspace.id/native/execute/eyJ...' -o code.png --ec Q --module-size 10
  psi link encode request.json | psi qr - -o code.svg"
)]
pub struct QrArgs {
    /// The link or text to encode, or `-` to read it from standard input.
    #[arg(value_name = "LINK")]
    text: String,
    /// Write the code to this file; `.svg` or `.png` picks the format.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also draw the code on the terminal when writing a file (the default without --output).
    #[arg(long)]
    terminal: bool,
    #[command(flatten)]
    style: QrStyleArgs,
}

pub fn run(args: QrArgs) -> Result<ExitCode> {
    let format = args
        .output
        .as_deref()
        .map(ImageFormat::from_path)
        .transpose()?;
    let text = arg_or_stdin(&args.text)?;
    let qr = Qr::new(&text, args.style.options()).context("cannot make the QR code")?;
    report(&qr.info());
    if let (Some(path), Some(format)) = (&args.output, format) {
        let bytes = qr.to_image(format)?;
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if args.output.is_none() || args.terminal {
        let stdout = io::stdout();
        // Colours force dark-on-light on any terminal theme; files and pipes get plain text.
        let colors = if stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            TerminalColors::Ansi
        } else {
            TerminalColors::Plain
        };
        writeln!(stdout.lock(), "{}", qr.to_terminal(colors))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report(info: &QrInfo) {
    eprintln!(
        "QR version {} ({m}x{m} modules), error correction {}",
        info.version,
        info.ec_level,
        m = info.modules
    );
    if let Some(warning) = info.density_warning() {
        eprintln!("warning: {warning}");
    }
}
