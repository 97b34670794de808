//! Command-line arguments of `psi serve`, `psi migrate` and `psi admin`, for the `psi` binary to
//! embed.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::config::{LogFormat, Overrides};

/// Where the configuration and the database come from (shared by `serve` and `migrate`).
#[derive(Debug, Clone, Default, Args)]
pub struct StorageArgs {
    /// TOML configuration file, keys as in the embedded `config.default.toml` [env: PSI_CONFIG]
    // Global: `psi admin add-operator ... --data-dir DIR` reads as the subcommand's own flag.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the generated master key [default: ./psi-data]
    /// [env: PSI_DATA_DIR]
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// `sqlite:<path>` or `postgres://user:password@host/db` [default: SQLite in the data
    /// directory] [env: PSI_DATABASE_URL]
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,
    /// Log JSON lines instead of human-readable text [env: PSI_LOG_FORMAT=json]
    #[arg(long, global = true)]
    pub log_json: bool,
}

/// `psi serve`: run the server until SIGTERM or Ctrl-C.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080] [env: PSI_LISTEN]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Create (once) a demo service and print its URLs and the admin token
    #[arg(long)]
    pub demo: bool,
}

/// `psi migrate`: apply pending database migrations and exit.
#[derive(Debug, Clone, Default, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
}

impl StorageArgs {
    /// The flags as the top configuration layer.
    pub(crate) fn overrides(&self, listen: Option<SocketAddr>) -> Overrides {
        Overrides {
            listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            log_format: self.log_json.then_some(LogFormat::Json),
        }
    }
}

/// `psi admin`: the dashboard's people from the command line (the first admin, a lost password).
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Add a person who signs in to the dashboard; the password is asked for (or read from
    /// standard input when it is not a terminal)
    AddOperator(AddOperatorArgs),
    /// Set a person's password and end their sessions
    SetPassword {
        /// The user name
        username: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AddOperatorArgs {
    /// The user name: 1 to 64 of a-z, 0-9, `.`, `_`, `-`, `@`
    pub username: String,
    /// An admin manages services and people and may open every service as an owner
    #[arg(long)]
    pub admin: bool,
    /// The DID of a service the person joins (with --role)
    #[arg(long, value_name = "DID", requires = "role")]
    pub service: Option<String>,
    /// The person's role in --service
    #[arg(long, value_parser = ["owner", "editor", "viewer"], requires = "service")]
    pub role: Option<String>,
}
