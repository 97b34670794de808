//! `psi serve` and `psi migrate`: thin wrappers that hand the flags to `psi-server` on a Tokio
//! runtime.

use std::process::ExitCode;

use anyhow::Result;
use psi_server::cli::{MigrateArgs, ServeArgs};

use super::runtime;

/// Runs the server until SIGTERM or Ctrl-C.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    runtime()?.block_on(psi_server::serve(args))?;
    Ok(ExitCode::SUCCESS)
}

/// Applies pending database migrations and exits.
pub fn migrate(args: MigrateArgs) -> Result<ExitCode> {
    runtime()?.block_on(psi_server::migrate(args))?;
    Ok(ExitCode::SUCCESS)
}
