//! `psi link`: encode and decode single links; `decode --batch` and `batch` live in their own
//! modules.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use psi_link::{DecodedLink, LinkOrigin, LinkRequest};

use super::request::{RequestArgs, parse_request};
use super::target::{CustomTargetArgs, TargetArgs};
use super::{arg_or_stdin, batch, decode_batch, read_text};

/// Encode, decode and bulk-create interaction links.
#[derive(Args, Debug)]
#[command(
    long_about = "Encode, decode and bulk-create the links that start an interaction.

An app link is `https://<domain>/native/execute/<payload>` (opens the app if installed, else a \
web page); a deep link is `<scheme>://<domain>/native/execute/<payload>` (opens only an \
installed app). The payload is the request's compact JSON in URL-safe base64.

Examples:
  psi link encode --env test request.json
  psi link decode 'https://proofspace.id/native/execute/eyJ...'
  psi link batch rows.csv --template request.json -o links.csv"
)]
pub struct LinkArgs {
    #[command(subcommand)]
    command: LinkCommand,
}

#[derive(Subcommand, Debug)]
enum LinkCommand {
    Encode(EncodeArgs),
    Decode(DecodeArgs),
    Batch(batch::BatchArgs),
}

pub fn run(args: LinkArgs) -> Result<ExitCode> {
    match args.command {
        LinkCommand::Encode(args) => encode(args),
        LinkCommand::Decode(args) => decode(args),
        LinkCommand::Batch(args) => batch::run(args),
    }
}

/// Encode a request as a link and print it on one line.
#[derive(Args, Debug)]
#[command(long_about = "Encode a request as a link and print it on one line.

The request comes from a JSON file (`-` reads standard input), from flags, or from both: flags \
override the file's fields and add pre-filled attributes. The request is validated first \
(actionId and serviceDid required unless sourceURL is given, DID and credential id shapes, \
callback and sourceURL schemes).

Request JSON:
  {\"id\": \"<instance id>\", \"actionId\": \"100\", \"serviceDid\": \"GbzPqgnU4XsMs7xg9mYJW8\",
   \"preparedCredentials\": [{\"credentialId\": \"GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag\",
                             \"attributes\": [{\"name\": \"Name\", \"value\": \"Alice\"}]}],
   \"callback\": \"https://shop.example/done.html\"}

Examples:
  psi link encode request.json
  cat request.json | psi link encode --env test --deep -
  psi link encode --service-did GbzPqgnU4XsMs7xg9mYJW8 --action-id 100 \\
      --attr 'GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag:Name=Alice'
  psi link encode request.json --domain links.example.org --scheme exampleapp")]
struct EncodeArgs {
    /// Request JSON file, or `-` for standard input; may be left out when flags give the request.
    #[arg(value_name = "FILE|-")]
    file: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    request: RequestArgs,
}

fn encode(args: EncodeArgs) -> Result<ExitCode> {
    let mut req = match &args.file {
        Some(path) => {
            let source = if path == "-" {
                "standard input"
            } else {
                path.as_str()
            };
            parse_request(&read_text(path)?, source)?
        }
        None if args.request.any() => LinkRequest::default(),
        None => bail!(
            "no request: give a request JSON file, `-` for standard input, or flags such as --action-id"
        ),
    };
    args.request.apply(&mut req);
    let link = psi_link::encode(&req, &args.target.target()?, args.target.kind())
        .context("cannot encode the request")?;
    writeln!(io::stdout().lock(), "{link}")?;
    Ok(ExitCode::SUCCESS)
}

/// Decode a link and print the request it carries as JSON.
#[derive(Args, Debug)]
#[command(long_about = "Decode a link and print the request it carries as JSON.

Accepted: app and deep links of the four environments, the web-link library's `app.*` and legacy \
domains, standard or URL-safe base64, padded or not, percent-encoded. The request is validated; \
an invalid link prints `error: <cause>` on stderr and exits with status 1.

With --batch, reads one link per line and writes one JSON line per non-blank line, in order:
  {\"line\":N,\"request\":{...}}                              for a valid link
  {\"line\":N,\"error\":{\"code\":\"...\",\"message\":\"...\"}}     for an invalid one
N is the 1-based line number in the input (blank lines are skipped but counted). A bad line never \
stops the batch; a summary goes to stderr; the exit status is 3 when any line failed.

Examples:
  psi link decode 'https://proofspace.id/native/execute/eyJ...'
  psi link decode --compact --show-origin 'zakaio://proofspace.id/native/execute/eyJ...'
  echo 'https://proofspace.id/native/execute/eyJ...' | psi link decode -
  psi link decode --batch links.txt > requests.jsonl")]
struct DecodeArgs {
    /// The link to decode, or `-` to read it from standard input.
    #[arg(
        value_name = "LINK",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    link: Option<String>,
    /// Decode a file of links, one per line (`-` for standard input), into JSON lines.
    #[arg(long, value_name = "FILE|-")]
    batch: Option<String>,
    /// Print the request JSON on one line instead of indented.
    #[arg(long, conflicts_with = "batch")]
    compact: bool,
    /// Also print the link's kind (app or deep) and environment or domain, on stderr.
    #[arg(long, visible_alias = "verbose", short = 'v', conflicts_with = "batch")]
    show_origin: bool,
    /// With --batch: print no summary on stderr.
    #[arg(long, short = 'q', requires = "batch")]
    quiet: bool,
    #[command(flatten)]
    custom: CustomTargetArgs,
}

fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let decoder = args.custom.decoder()?;
    if let Some(path) = &args.batch {
        return decode_batch::run(&decoder, path, args.quiet);
    }
    let link = arg_or_stdin(args.link.as_deref().unwrap_or("-"))?;
    let decoded = decoder.decode(&link).context("invalid link")?;
    if args.show_origin {
        eprintln!("{}", describe_origin(&decoded));
    }
    let json = if args.compact {
        decoded.request.to_json()
    } else {
        decoded.request.to_json_pretty()
    };
    writeln!(io::stdout().lock(), "{json}")?;
    Ok(ExitCode::SUCCESS)
}

/// One line for people: `app link, environment production`.
fn describe_origin(decoded: &DecodedLink) -> String {
    let origin = match &decoded.origin {
        LinkOrigin::Environment(env) => format!("environment {env}"),
        LinkOrigin::WebLibrary(env) => format!("environment {env} (web-link library domain)"),
        LinkOrigin::Custom { domain, .. } => format!("configured domain {domain}"),
    };
    format!("{} link, {origin}", decoded.kind)
}
