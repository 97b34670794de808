//! `psi wallet list` and `psi wallet show`: the credentials the wallet holds.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Args;

use super::client::WalletClient;
use super::credential::header_and_claims;
use super::file::Wallet;
use super::output::{self, Listed, Shown, StatusCheck};
use super::{Context, DEFAULT_SERVER, ServerArg};

/// List the credentials in the wallet.
#[derive(Args, Debug)]
#[command(
    long_about = "List the credentials in the wallet, in the order received.

Columns: # (the index `psi wallet show` takes), JTI (the credential id), SERVICE (the issuer), \
DEFINITION (the credential definition id), ISSUED (UTC), STATUS (valid or revoked, as last seen; \
`psi wallet sync` or `psi wallet show` refresh it).

With --json: {\"credentials\": [{\"index\", \"service_name\", \"jti\", \"service_did\", \
\"holder_did\", \"credential_id\", \"schema_id\", \"attributes\", \"issued_at\", \"received_at\", \
\"event_id\", \"status\", \"revoked_at\", \"jwt\"}]}.

Examples:
  psi wallet list
  psi wallet list --json | jq -r '.credentials[].jti'"
)]
pub struct ListArgs {}

/// Show one credential: its values, the JWT's header and claims, and whether it is revoked.
#[derive(Args, Debug)]
#[command(
    long_about = "Show one credential: its values, the JWT's header and claims, and its \
revocation status, checked with the issuer's server (--server, $PSI_SERVER, else the server the \
service was met on). When the server cannot be reached, the status last seen is shown and said to \
be so.

Examples:
  psi wallet show 1
  psi wallet show 3f2a9c0e8b7d4e1f --json"
)]
pub struct ShowArgs {
    /// The credential: its jti, or its index in `psi wallet list`.
    #[arg(value_name = "JTI|INDEX")]
    credential: String,
    #[command(flatten)]
    server: ServerArg,
}

pub fn list(_args: ListArgs, context: &Context) -> Result<ExitCode> {
    let wallet = context.load()?;
    let rows: Vec<Listed<'_>> = wallet
        .credentials
        .iter()
        .enumerate()
        .map(|(i, credential)| Listed {
            index: i + 1,
            service_name: service_name(&wallet, &credential.service_did),
            credential,
        })
        .collect();
    output::list(&rows, context.json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn show(args: ShowArgs, context: &Context) -> Result<ExitCode> {
    let mut wallet = context.load()?;
    let (index, credential) = wallet.find(&args.credential).ok_or_else(|| {
        anyhow!(
            "no credential {:?} in the wallet (it holds {}; see `psi wallet list`)",
            args.credential,
            wallet.credentials.len()
        )
    })?;
    let jti = credential.jti.clone();
    let (header, claims) = header_and_claims(&credential.jwt);
    let server = args
        .server
        .server
        .clone()
        .or_else(|| {
            wallet
                .connection(&credential.service_did)
                .map(|c| c.server.clone())
        })
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());

    let status = async { WalletClient::new(&server)?.status(&jti).await };
    let error = match status.await {
        Ok(status) => {
            if status.revoked && wallet.mark_revoked(&jti, status.revoked_at) {
                context.save(&wallet)?;
            }
            None
        }
        Err(e) => Some(e.to_string()),
    };
    let (_, credential) = wallet
        .find(&jti)
        .expect("found above, and nothing is removed");
    let shown = Shown {
        index,
        service_name: service_name(&wallet, &credential.service_did),
        credential,
        header: header.unwrap_or_default(),
        claims: claims.unwrap_or_default(),
        status_check: StatusCheck {
            server,
            checked: error.is_none(),
            error,
        },
    };
    output::show(&shown, context.json)?;
    Ok(ExitCode::SUCCESS)
}

fn service_name<'w>(wallet: &'w Wallet, did: &str) -> Option<&'w str> {
    wallet.connection(did).map(|c| c.service_name.as_str())
}
