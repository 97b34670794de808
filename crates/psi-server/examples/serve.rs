//! Runs the server the way `psi serve` does, for trying it out from this crate:
//!
//! ```text
//! cargo run -p psi-server --example serve -- --demo --data-dir /tmp/psi-demo
//! ```

use clap::Parser;

/// The psi server.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: psi_server::cli::ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    psi_server::serve(Args::parse().serve).await
}
