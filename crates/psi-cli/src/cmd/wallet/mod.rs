//! `psi wallet`: a wallet simulator that plays the holder's mobile app against a psi server.
//!
//! Layout: `file` (the wallet file), `holder` (pairwise keys and request signatures), `client`
//! (the `/wallet/v1` API), `credential` (VC-JWT checks), `present` (what the holder presents),
//! `run`, `sync` and `inspect` (the subcommands), `output` (human and JSON output).

pub mod client;
pub mod credential;
pub mod file;
pub mod holder;
pub mod inspect;
pub mod output;
pub mod present;
pub mod run;
pub mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use file::Wallet;

/// Server used when neither `--server` nor `PSI_SERVER` is given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Exit status of `psi wallet run` when the event failed (the server refused it or the third
/// party answered with a failure).
pub const EXIT_EVENT_FAILED: u8 = 4;

/// Play the holder's wallet app: run interactions from links, keep credentials.
#[derive(Args, Debug)]
#[command(long_about = "Play the holder's wallet app against a psi server.

The wallet keeps, in one JSON file, a pairwise Ed25519 key and DID per service it has met and \
the credentials it received (signed VC-JWTs). `run` starts an interaction from a link the way the \
mobile app does after scanning its QR code; `list`, `show` and `sync` look after the credentials.

The wallet file is --wallet, else $PSI_WALLET, else $XDG_DATA_HOME/psi/wallet.json, else \
~/.local/share/psi/wallet.json. It is created on first use with mode 0600 and rewritten \
atomically; it holds private keys, so keep it private.

Examples:
  psi serve --demo &
  psi wallet run 'https://proofspace.id/native/execute/eyJ...' --attr 'Name=Alice'
  psi wallet list
  psi wallet show 1
  psi wallet sync --json

Exit status: 0 success (for `run`: the event completed, or is waiting for the third party to \
issue later); 1 an error (bad link, missing attribute or credential, server unreachable or \
refusing, a credential that does not verify); 2 a usage error; 3 `sync` reached only some \
services; 4 `run`'s event failed (its message is printed).")]
pub struct WalletArgs {
    #[command(subcommand)]
    command: WalletCommand,
    /// The wallet file [default: $XDG_DATA_HOME/psi/wallet.json, else
    /// ~/.local/share/psi/wallet.json].
    #[arg(long, global = true, value_name = "FILE", env = "PSI_WALLET")]
    wallet: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum WalletCommand {
    Run(run::RunArgs),
    List(inspect::ListArgs),
    Show(inspect::ShowArgs),
    Sync(sync::SyncArgs),
}

/// What every wallet subcommand shares.
pub struct Context {
    pub wallet_path: PathBuf,
    pub json: bool,
}

impl Context {
    pub fn load(&self) -> Result<Wallet> {
        Ok(Wallet::load(&self.wallet_path)?)
    }

    pub fn save(&self, wallet: &Wallet) -> Result<()> {
        Ok(wallet.save(&self.wallet_path)?)
    }
}

/// `--server URL` with its environment variable; `None` when neither is given, so commands can
/// fall back to the server a service was met on.
#[derive(Args, Debug, Clone)]
pub struct ServerArg {
    /// The psi server's base URL [default: http://127.0.0.1:8080]. The link's own domain is
    /// the wallet app's, not the server's.
    #[arg(long, value_name = "URL", env = "PSI_SERVER")]
    pub server: Option<String>,
}

pub fn run(args: WalletArgs) -> Result<ExitCode> {
    let wallet_path = match args.wallet {
        Some(path) => path,
        None => file::default_path()?,
    };
    let context = Context {
        wallet_path,
        json: args.json,
    };
    match args.command {
        WalletCommand::Run(args) => super::runtime()?.block_on(run::run(args, &context)),
        WalletCommand::List(args) => inspect::list(args, &context),
        WalletCommand::Show(args) => super::runtime()?.block_on(inspect::show(args, &context)),
        WalletCommand::Sync(args) => super::runtime()?.block_on(sync::sync(args, &context)),
    }
}
