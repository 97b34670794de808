//! `psi`: the command line of psi, a self-hostable integration server for a verifiable-credential
//! platform. Each subcommand lives in its own module under `cmd/`; this file only lists and
//! dispatches them.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "psi",
    version,
    about = "Interaction links, QR codes and integrations for a ProofSpace-style credential platform",
    long_about = "psi works with the links that start an interaction in a holder's wallet app \
(`https://<domain>/native/execute/<payload>` and `<scheme>://<domain>/...`): it encodes and \
decodes them, checks them against the protocol, creates them in bulk from a CSV file, and draws \
them as QR codes. `psi serve` runs the server: the management API, the platform's public \
endpoints and the links and QR codes of each interaction, on SQLite (default) or PostgreSQL. \
`psi wallet` plays the holder's wallet app: it runs an interaction from a link against the \
server and keeps the credentials it receives. `psi webhook` checks the signatures of webhook calls \
and receives them locally while an integration is built. `psi extension` exports an extension's \
version as a manifest file and imports one into a service, on the same server or another. \
`psi health` asks a running server whether it is ready, for health checks.

Examples:
  psi serve --demo
  psi health
  psi link encode request.json
  psi link encode --service-did GbzPqgnU4XsMs7xg9mYJW8 --action-id 100 --deep
  psi link decode 'https://proofspace.id/native/execute/eyJ...'
  psi link decode --batch links.txt > requests.jsonl
  psi link batch rows.csv --template request.json --qr-dir qr -o links.csv
  psi qr 'https://proofspace.id/native/execute/eyJ...' -o code.svg
  psi wallet run 'https://proofspace.id/native/execute/eyJ...' --attr 'Name=Alice'
  psi wallet list
  psi webhook verify --key psi.pem --signature \"$SIG\" < body.json
  psi webhook listen --port 4604 --key psi.pem --reply reply.json
  psi extension export --token \"$TOKEN\" --did \"$DID\" --id \"$ID\" --version 1.0.0 -o crm.json
  psi extension import crm.json --server https://other.example --token \"$OTHER\" --did \"$OTHER_DID\"

Errors are printed on stderr as `error: <cause>`; the exit status is 0 on success, 1 on an \
error, 2 on a usage error, 3 when a batch finished but some lines or rows failed (or `wallet \
sync` reached only some services), and 4 when `wallet run`'s event failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `psi serve --help` adds after the options: the settings a first integration meets.
const SERVE_HELP: &str = "\
Outbound calls (webhooks and notifications) never reach loopback, private or link-local
addresses unless allowed:
  PSI_OUTBOUND_ALLOW_LOOPBACK=true   127.0.0.0/8 and ::1, e.g. a receiver on this machine
                                     ([outbound] allow_loopback)
  PSI_OUTBOUND_ALLOW_PRIVATE=true    10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7
                                     ([outbound] allow_private)
  [outbound] allowed_hosts           exceptions: host names, addresses, networks, ip:port
  PSI_OUTBOUND_TIMEOUT_SECS          time for a whole call (default 10)
Every setting and its default: crates/psi-server/config.default.toml, whose keys a --config file
sets; a key of [outbound] (and of [delivery], [inbound], [pages], ...) is also a variable,
PSI_<SECTION>_<KEY>, which overrides the file.

Examples:
  psi serve --demo
  PSI_OUTBOUND_ALLOW_LOOPBACK=true psi serve --demo
  psi serve --database-url postgres://psi@db/psi --listen 0.0.0.0:8080";

#[derive(Subcommand)]
enum Command {
    /// Run the server: management API, public endpoints, demo (`--demo`)
    #[command(after_help = SERVE_HELP)]
    Serve(psi_server::cli::ServeArgs),
    /// Apply pending database migrations and exit
    Migrate(psi_server::cli::MigrateArgs),
    /// The dashboard's people: add an operator (the first admin), set a password
    Admin(psi_server::cli::AdminArgs),
    Health(cmd::health::HealthArgs),
    Link(cmd::link::LinkArgs),
    Qr(cmd::qr::QrArgs),
    Wallet(cmd::wallet::WalletArgs),
    Webhook(cmd::webhook::WebhookArgs),
    Extension(cmd::extension::ExtensionArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => cmd::server::serve(args),
        Command::Migrate(args) => cmd::server::migrate(args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Health(args) => cmd::health::run(args),
        Command::Link(args) => cmd::link::run(args),
        Command::Qr(args) => cmd::qr::run(args),
        Command::Wallet(args) => cmd::wallet::run(args),
        Command::Webhook(args) => cmd::webhook::run(args),
        Command::Extension(args) => cmd::extension::run(args),
    };
    cmd::finish(result)
}
