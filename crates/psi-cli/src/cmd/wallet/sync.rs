//! `psi wallet sync`: collect what services did since the last look (credentials issued later,
//! revocations) from each service's inbox.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Args;

use super::client::{InboxReply, WalletClient, unix_ms};
use super::credential;
use super::file::{Connection, StoredCredential, Wallet};
use super::output::{self, Synced};
use super::{Context, ServerArg};
use crate::cmd::EXIT_PARTIAL;

/// Collect credentials issued later and revocations from every service the wallet knows.
#[derive(Args, Debug)]
#[command(
    long_about = "Collect credentials issued later (an event left waiting, a third party \
issuing afterwards) and revocations from the inbox of every service the wallet knows. Each \
service is asked on the server it was met on, unless --server or $PSI_SERVER names one for all. \
New credentials are verified before they are stored; revoked ones are marked.

With --json: {\"services\": [{\"service_did\", \"service_name\", \"server\", \"received\": \
[credentials], \"revoked\": [jti], \"error\"?}], \"received\": N, \"revoked\": N}.

Exit status: 0 every service answered, 3 some could not be reached or refused (the others are \
still synced), 1 an error with the wallet file.

Examples:
  psi wallet sync
  psi wallet sync --server http://127.0.0.1:8080 --json"
)]
pub struct SyncArgs {
    #[command(flatten)]
    server: ServerArg,
}

pub async fn sync(args: SyncArgs, context: &Context) -> Result<ExitCode> {
    let mut wallet = context.load()?;
    let connections = wallet.connections.clone();
    let mut report = Vec::with_capacity(connections.len());
    for connection in &connections {
        let server = args.server.server.as_deref().unwrap_or(&connection.server);
        let mut synced = Synced {
            service_did: connection.service_did.clone(),
            service_name: connection.service_name.clone(),
            server: server.to_owned(),
            received: Vec::new(),
            revoked: Vec::new(),
            error: None,
        };
        let inbox = async {
            WalletClient::new(server)?
                .inbox(&connection.service_did, &connection.holder)
                .await
        };
        match inbox
            .await
            .map_err(anyhow::Error::from)
            .and_then(|inbox| apply(&mut wallet, connection, inbox))
        {
            Ok((received, revoked)) => {
                synced.received = received;
                synced.revoked = revoked;
            }
            Err(e) => synced.error = Some(format!("{e:#}")),
        }
        report.push(synced);
    }
    // What arrived is saved even when some service failed.
    context.save(&wallet)?;
    output::sync(&report, context.json)?;
    Ok(if report.iter().any(|s| s.error.is_some()) {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// Stores one inbox's new credentials (all verified first: one bad credential stores none) and
/// marks its revocations; returns what was new.
fn apply(
    wallet: &mut Wallet,
    connection: &Connection,
    inbox: InboxReply,
) -> Result<(Vec<StoredCredential>, Vec<String>)> {
    let received_at = unix_ms();
    let accepted = inbox
        .credentials
        .iter()
        .map(|issued| {
            credential::accept(
                issued,
                &connection.service_did,
                &connection.service_verkey,
                connection.holder.did(),
                None,
                received_at,
            )
            .map_err(|e| anyhow!(e).context(format!("credential {} from the inbox", issued.jti)))
        })
        .collect::<Result<Vec<_>>>()?;
    let received = accepted
        .into_iter()
        .filter(|credential| wallet.add_credential(credential.clone()))
        .collect();
    let revoked = inbox
        .revoked
        .into_iter()
        .filter(|jti| wallet.mark_revoked(jti, None))
        .collect();
    Ok((received, revoked))
}
