//! `psi link batch`: links (and QR code files) for every row of a CSV file.
//!
//! Rows are read in chunks; each chunk is encoded (and drawn) in parallel with rayon and written
//! in input order, so memory stays bounded and output order is stable whatever the thread count.

mod columns;

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use psi_link::{LinkKind, LinkRequest, LinkTarget};
use psi_qr::{ImageFormat, Qr, QrOptions};
use rayon::prelude::*;

use self::columns::{Columns, OUTPUT_COLUMNS};
use super::qr::QrStyleArgs;
use super::request::parse_request;
use super::target::TargetArgs;
use super::{EXIT_PARTIAL, read_text, stderr_is_terminal};

/// Rows encoded in parallel before their output is written.
const CHUNK: usize = 4096;

fn image_format_parser() -> impl TypedValueParser<Value = ImageFormat> {
    PossibleValuesParser::new(["png", "svg"]).try_map(|format| format.parse::<ImageFormat>())
}

/// Create links (and QR code files) in bulk from a CSV file.
#[derive(Args, Debug)]
#[command(
    long_about = "Create links (and QR code files) in bulk from a CSV file.

Every row fills a copy of the template request (a request JSON file, as for `psi link encode`) \
and becomes one link. The first row is the header; each column fills one field:
  instance_id or id          the request's `id` (interaction instance)
  callback                   the request's `callback`
  CREDENTIAL_ID:ATTR NAME    pre-filled attribute ATTR NAME of credential CREDENTIAL_ID
                             (split at the last `:`), e.g. `GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag:Name`
  ATTR NAME                  pre-filled attribute of the template's prepared credential, when the
                             template has exactly one (a header with no `:`)
Any other header is an error. An empty cell keeps the template's value. Attributes the template \
already has keep their place; new ones are appended.

The output CSV (stdout, or --output) repeats the input columns and adds `link`, `qr_file` (with \
--qr-dir) and `error`. A bad row (invalid request, wrong number of fields, text that is not \
UTF-8, QR code too large) gets its message in `error` and on stderr with its line number; the \
other rows are processed. A progress bar is shown when stderr is a terminal; a summary ends the \
run. The exit status is 3 when any row failed.

QR files are named `<line>-<instance id>.<png|svg>` (`<line>.<ext>` without an id; characters \
other than letters, digits, `-`, `_` and `.` become `_`) and drawn in parallel.

Examples:
  psi link batch members.csv --template request.json -o links.csv
  psi link batch members.csv --template request.json --env test --deep \\
      --qr-dir qr --qr-format svg --ec Q -o links.csv"
)]
pub struct BatchArgs {
    /// CSV file of rows with a header row, or `-` for standard input.
    #[arg(value_name = "ROWS.csv")]
    rows: String,
    /// Request JSON every row starts from (actionId, serviceDid, prepared credentials, ...).
    #[arg(long, value_name = "REQUEST.json")]
    template: PathBuf,
    /// Also write a QR code file of every link into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    qr_dir: Option<PathBuf>,
    /// Image format of the QR code files.
    #[arg(long, value_name = "FORMAT", default_value = "png", value_parser = image_format_parser(), requires = "qr_dir")]
    qr_format: ImageFormat,
    #[command(flatten)]
    style: QrStyleArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Write the output CSV to this file instead of standard output.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,
}

/// Everything a row needs, shared by the worker threads.
struct Job {
    template: LinkRequest,
    columns: Columns,
    target: LinkTarget,
    kind: LinkKind,
    qr: Option<(PathBuf, ImageFormat, QrOptions)>,
}

/// One input row: its line number and cells, or why it cannot be read.
struct Row {
    line: u64,
    cells: Vec<String>,
    problem: Option<String>,
}

#[derive(Default)]
struct Outcome {
    link: String,
    qr_file: String,
    error: String,
    dense: bool,
}

#[derive(Default)]
struct Summary {
    ok: u64,
    failed: u64,
    dense: u64,
}

pub fn run(args: BatchArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let template_source = args.template.display().to_string();
    let template = parse_request(&read_text(&template_source)?, &template_source)?;
    template
        .validate()
        .with_context(|| format!("the template {template_source} is not a valid request"))?;

    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(open_rows(&args.rows)?);
    let headers = reader
        .headers()
        .context("cannot read the CSV header row")?
        .clone();
    let columns = Columns::from_headers(headers.iter(), &template).context("invalid CSV header")?;

    let qr = match &args.qr_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let options = args.style.options();
            // Checks the module size once instead of failing every row.
            Qr::new("", options).context("invalid QR options")?;
            Some((dir.clone(), args.qr_format, options))
        }
        None => None,
    };
    let job = Job {
        template,
        columns,
        target: args.target.target()?,
        kind: args.target.kind(),
        qr,
    };

    let mut writer = csv::Writer::from_writer(create_output(args.output.as_deref())?);
    let mut out_headers: Vec<&str> = headers.iter().collect();
    out_headers.extend(
        OUTPUT_COLUMNS
            .iter()
            .filter(|&&c| c != "qr_file" || job.qr.is_some()),
    );
    writer
        .write_record(&out_headers)
        .context("cannot write the output")?;

    let progress = progress_bar(&args.rows)?;
    let mut summary = Summary::default();
    let mut records = reader.into_byte_records();
    loop {
        let rows: Vec<Row> = records
            .by_ref()
            .take(CHUNK)
            .map(|r| read_row(r, job.columns.len()))
            .collect();
        if rows.is_empty() {
            break;
        }
        let outcomes: Vec<Outcome> = rows
            .par_iter()
            .map(|row| {
                let outcome = job.process(row);
                progress.inc(1);
                outcome
            })
            .collect();
        for (row, outcome) in rows.iter().zip(&outcomes) {
            if outcome.error.is_empty() {
                summary.ok += 1;
            } else {
                summary.failed += 1;
                progress.suspend(|| eprintln!("line {}: {}", row.line, outcome.error));
            }
            summary.dense += u64::from(outcome.dense);
            write_row(
                &mut writer,
                row,
                outcome,
                job.columns.len(),
                job.qr.is_some(),
            )?;
        }
    }
    writer.flush().context("cannot write the output")?;
    progress.finish_and_clear();
    report(&summary, &job, started);
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

impl Job {
    fn process(&self, row: &Row) -> Outcome {
        if let Some(problem) = &row.problem {
            return Outcome {
                error: problem.clone(),
                ..Outcome::default()
            };
        }
        match self.link_and_qr(row) {
            Ok(outcome) => outcome,
            Err(err) => Outcome {
                error: format!("{err:#}"),
                ..Outcome::default()
            },
        }
    }

    fn link_and_qr(&self, row: &Row) -> Result<Outcome> {
        let mut req = self.template.clone();
        self.columns.fill(&mut req, &row.cells);
        let link = psi_link::encode(&req, &self.target, self.kind).context("invalid request")?;
        let Some((dir, format, options)) = &self.qr else {
            return Ok(Outcome {
                link,
                ..Outcome::default()
            });
        };
        let qr = Qr::new(&link, *options).context("cannot make the QR code")?;
        let path = dir.join(qr_file_name(
            row.line,
            self.columns.instance_id(&row.cells),
            *format,
        ));
        std::fs::write(&path, qr.to_image(*format)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let qr_file = path.display().to_string();
        Ok(Outcome {
            link,
            qr_file,
            dense: qr.info().is_dense(),
            ..Outcome::default()
        })
    }
}

/// `<line>-<id>.<ext>`: the line number keeps names unique, the id makes them recognisable, and
/// only safe characters reach the file system (ids are user data).
fn qr_file_name(line: u64, instance_id: Option<&str>, format: ImageFormat) -> String {
    let ext = format.extension();
    match instance_id {
        None => format!("{line}.{ext}"),
        Some(id) => {
            let safe: String = id
                .chars()
                .take(64)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("{line}-{safe}.{ext}")
        }
    }
}

fn read_row(record: csv::Result<csv::ByteRecord>, width: usize) -> Row {
    let record = match record {
        Ok(record) => record,
        Err(err) => {
            let line = err.position().map_or(0, |p| p.line());
            return Row {
                line,
                cells: Vec::new(),
                problem: Some(format!("unreadable CSV row: {err}")),
            };
        }
    };
    let line = record.position().map_or(0, |p| p.line());
    let cells: Vec<String> = record
        .iter()
        .map(|cell| String::from_utf8_lossy(cell).into_owned())
        .collect();
    let problem = if std::str::from_utf8(record.as_slice()).is_err() {
        Some("the row is not UTF-8 text".to_owned())
    } else if cells.len() != width {
        Some(format!(
            "the row has {} fields, the header has {width}",
            cells.len()
        ))
    } else {
        None
    };
    Row {
        line,
        cells,
        problem,
    }
}

fn write_row(
    writer: &mut csv::Writer<Box<dyn Write>>,
    row: &Row,
    outcome: &Outcome,
    width: usize,
    with_qr: bool,
) -> Result<()> {
    // Rows with a wrong field count are cut or padded to the header so the output stays a table.
    let mut record: Vec<&str> = (0..width)
        .map(|i| row.cells.get(i).map_or("", String::as_str))
        .collect();
    record.push(&outcome.link);
    if with_qr {
        record.push(&outcome.qr_file);
    }
    record.push(&outcome.error);
    writer
        .write_record(&record)
        .context("cannot write the output")
}

fn open_rows(path: &str) -> Result<Box<dyn Read>> {
    if path == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let file = File::open(path).with_context(|| format!("cannot open {path}"))?;
    Ok(Box::new(file))
}

fn create_output(path: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        None => Box::new(BufWriter::new(io::stdout())),
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            Box::new(BufWriter::new(file))
        }
    })
}

/// A bar on an interactive stderr only. Its length is the file's row count (a quick first pass);
/// standard input cannot be read twice, so it gets a counter instead.
fn progress_bar(rows: &str) -> Result<ProgressBar> {
    if !stderr_is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let target = ProgressDrawTarget::stderr();
    if rows == "-" {
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::with_template(
            "{spinner} {pos} rows, {elapsed}",
        )?);
        return Ok(bar);
    }
    let count = csv::Reader::from_path(rows)
        .with_context(|| format!("cannot open {rows}"))?
        .into_byte_records()
        .count();
    let bar = ProgressBar::with_draw_target(Some(count as u64), target);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} rows, {elapsed} elapsed, {eta} left",
    )?);
    Ok(bar)
}

fn report(summary: &Summary, job: &Job, started: Instant) {
    let total = summary.ok + summary.failed;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "batch: {} rows ok, {} failed, {total} in {seconds:.2} s ({:.0} rows/s)",
        summary.ok,
        summary.failed,
        total as f64 / seconds.max(1e-9)
    );
    if let Some((dir, format, _)) = &job.qr {
        eprintln!("{} {format} QR codes in {}", summary.ok, dir.display());
        if summary.dense > 0 {
            eprintln!(
                "warning: {} QR codes are dense (above version {}): consider sourceURL links",
                summary.dense,
                psi_qr::DENSE_ABOVE_VERSION
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_file_names_keep_only_safe_characters_and_stay_unique_per_line() {
        assert_eq!(qr_file_name(7, None, ImageFormat::Png), "7.png");
        assert_eq!(
            qr_file_name(8, Some("inst-1.a_b"), ImageFormat::Svg),
            "8-inst-1.a_b.svg"
        );
        assert_eq!(
            qr_file_name(9, Some("../../etc/passwd"), ImageFormat::Png),
            "9-.._.._etc_passwd.png"
        );
        assert_eq!(
            qr_file_name(10, Some("ü/\\:*"), ImageFormat::Png),
            "10-_____.png"
        );
        assert_eq!(
            qr_file_name(11, Some(&"x".repeat(500)), ImageFormat::Png).len(),
            "11-.png".len() + 64
        );
    }
}
