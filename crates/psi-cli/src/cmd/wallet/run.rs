//! `psi wallet run LINK`: what the app does after scanning a link, from decoding it to storing
//! the credentials issued.

use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use psi_link::LinkRequest;
use psi_outbound::{OutboundClient, OutboundPolicy, resolve_source_url};

use super::client::{
    Attestation, EventReply, EventRequest, EventState, InteractionInfo, Presented, WalletClient,
};
use super::credential;
use super::file::{StoredCredential, Wallet};
use super::output::{self, PresentedSummary, RunOutcome};
use super::present::{self, AttrArg, Given, PresentError};
use super::{Context, DEFAULT_SERVER, EXIT_EVENT_FAILED, ServerArg};
use crate::cmd::arg_or_stdin;
use crate::cmd::target::CustomTargetArgs;

/// Run an interaction from a link, as the wallet app would after scanning it.
#[derive(Args, Debug)]
#[command(
    long_about = "Run an interaction from a link, as the wallet app would after scanning it.

Steps: decode the link (if it carries a sourceURL, download the request from there, once); fetch \
the interaction from the psi server; present the credentials it requires; receive, verify and \
store the credentials issued; print the outcome and the callback the app would open.

Self-attested credentials take their values from the link's pre-filled values (these cannot be \
changed: an --attr that contradicts one is an error), else from --attr, else from a prompt when \
standard input is a terminal; otherwise a missing value is an error naming it. Service-attested \
credentials come from the wallet: the newest one of the definition that is not revoked (its \
status is checked with the server); a missing one is an error.

The link's domain is the wallet app's, not the server's: the server is --server, else \
$PSI_SERVER, else http://127.0.0.1:8080.

With --json, prints one object: {\"event_id\", \"state\" (completed|failed|waiting), \"message\", \
\"callback\", \"issued\": [credentials], \"service\", \"interaction\", \"instance_id\", \
\"holder_did\", \"presented\"}.

Exit status: 0 completed or waiting (the third party issues later: `psi wallet sync`), 4 the \
event failed (the message says why), 1 any other error.

Examples:
  psi wallet run 'https://proofspace.id/native/execute/eyJ...'
  psi wallet run --server http://127.0.0.1:8080 --attr 'Name=Alice' --attr 'Email=a@example.org' LINK
  psi wallet run --attr 'GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:contact:Name=Alice' LINK
  echo LINK | psi wallet run --json -"
)]
pub struct RunArgs {
    /// The app link or deep link, or `-` to read it from standard input.
    #[arg(value_name = "LINK")]
    link: String,
    #[command(flatten)]
    server: ServerArg,
    /// A value for a self-attested attribute, `NAME=VALUE`, or `CREDENTIAL_ID:NAME=VALUE` when
    /// two required credentials share a name (repeatable).
    #[arg(long = "attr", value_name = "NAME=VALUE", value_parser = present::parse_attr)]
    attrs: Vec<AttrArg>,
    #[command(flatten)]
    custom: CustomTargetArgs,
}

pub async fn run(args: RunArgs, context: &Context) -> Result<ExitCode> {
    let link = arg_or_stdin(&args.link)?;
    let decoded = args
        .custom
        .decoder()?
        .decode(&link)
        .context("invalid link")?;
    let request = match &decoded.request.source_url {
        Some(url) => download(url).await?,
        None => decoded.request,
    };
    // Validated by the codec: both are present once there is no sourceURL.
    let service_did = request.service_did.clone().unwrap_or_default();
    let action_id = request.action_id.clone().unwrap_or_default();

    let server = args.server.server.as_deref().unwrap_or(DEFAULT_SERVER);
    let client = WalletClient::new(server)?;
    let info = client
        .interaction(&service_did, &action_id, request.id.as_deref())
        .await?;
    check_service(&info, &service_did)?;

    let mut wallet = context.load()?;
    let presented = present_all(&info, &request, &args.attrs, &mut wallet, server).await?;
    let holder = wallet.connect(&info.service, client.base()).holder.clone();
    // The pairwise key is saved before it is used: credentials issued to it must stay usable.
    context.save(&wallet)?;

    let event = EventRequest {
        action_id: action_id.clone(),
        instance_id: Some(info.instance.id.clone()),
        prefilled: request.prepared_credentials.clone().unwrap_or_default(),
        presented: presented.iter().map(|(p, _)| p.clone()).collect(),
        callback: request.callback.clone().filter(|c| !c.is_empty()),
        session: request.psi_session.clone(),
    };
    let reply = client.start_event(&service_did, &holder, &event).await?;
    let issued = store_issued(&reply, &info, holder.did(), &mut wallet)?;
    context.save(&wallet)?;

    let outcome = RunOutcome {
        callback: callback(&reply, &request),
        event_id: reply.event_id,
        state: reply.state,
        message: reply.message,
        issued,
        service: info.service.clone(),
        interaction: info.interaction.clone(),
        instance_id: info.instance.id.clone(),
        holder_did: holder.did().to_owned(),
        presented: presented.into_iter().map(|(_, summary)| summary).collect(),
    };
    output::run(&outcome, context.json)?;
    Ok(match outcome.state {
        EventState::Failed => ExitCode::from(EXIT_EVENT_FAILED),
        EventState::Completed | EventState::Waiting => ExitCode::SUCCESS,
    })
}

/// Downloads the request behind a `sourceURL`. The holder chose this link, so a server on their
/// own machine is allowed; the rest of the outbound guard (private networks, cloud metadata,
/// size and time limits) applies.
async fn download(url: &str) -> Result<LinkRequest> {
    let policy = OutboundPolicy {
        allow_loopback: true,
        ..OutboundPolicy::default()
    };
    let client = OutboundClient::new(policy).context("cannot set up the download")?;
    resolve_source_url(&client, url)
        .await
        .with_context(|| format!("cannot use the link's sourceURL {url}"))
}

/// The server must describe the service the link names, with a key that belongs to its DID:
/// that key is what the issued credentials are checked with.
fn check_service(info: &InteractionInfo, service_did: &str) -> Result<()> {
    if info.service.did != service_did {
        bail!(
            "the server answered for service {} when asked for {service_did}",
            info.service.did
        );
    }
    if !credential::verkey_matches_did(&info.service.verkey, service_did) {
        bail!(
            "the server's key {} for service {service_did} does not belong to that DID",
            info.service.verkey
        );
    }
    Ok(())
}

/// Everything the interaction asks for, in its order, with a summary for the output.
async fn present_all(
    info: &InteractionInfo,
    request: &LinkRequest,
    attrs: &[AttrArg],
    wallet: &mut Wallet,
    server: &str,
) -> Result<Vec<(Presented, PresentedSummary)>> {
    let prefilled = request.prepared_credentials.as_deref().unwrap_or_default();
    let mut given = Given::new(attrs);
    let mut presented = Vec::with_capacity(info.required.len());
    for required in &info.required {
        let summary = |jti: Option<String>| PresentedSummary {
            credential_id: required.credential_id.clone(),
            attestation: required.attestation,
            jti,
        };
        match required.attestation {
            Attestation::SelfAttested => {
                let attributes = present::self_attested(
                    required,
                    prefilled,
                    &mut given,
                    &mut present::Terminal,
                )?;
                presented.push((
                    Presented::SelfAttested {
                        credential_id: required.credential_id.clone(),
                        attributes,
                    },
                    summary(None),
                ));
            }
            Attestation::Service => {
                let (jti, jwt) = newest_valid(wallet, &required.credential_id, server).await?;
                presented.push((
                    Presented::Service {
                        credential_id: required.credential_id.clone(),
                        jwt,
                    },
                    summary(Some(jti)),
                ));
            }
        }
    }
    given.check_all_used(&info.required)?;
    Ok(presented)
}

/// The newest stored credential of a definition that its issuer's server says is not revoked;
/// revocations learnt on the way are recorded in the wallet.
async fn newest_valid(
    wallet: &mut Wallet,
    credential_id: &str,
    server: &str,
) -> Result<(String, String)> {
    let candidates: Vec<(String, String, String)> = present::candidates(wallet, credential_id)
        .into_iter()
        .map(|c| {
            let issuer_server = wallet
                .connection(&c.service_did)
                .map_or(server, |connection| connection.server.as_str());
            (c.jti.clone(), c.jwt.clone(), issuer_server.to_owned())
        })
        .collect();
    for (jti, jwt, issuer_server) in candidates {
        let status = WalletClient::new(&issuer_server)?
            .status(&jti)
            .await
            .with_context(|| format!("cannot check whether credential {jti} is revoked"))?;
        if !status.revoked {
            return Ok((jti, jwt));
        }
        wallet.mark_revoked(&jti, status.revoked_at);
    }
    Err(PresentError::MissingCredential {
        credential_id: credential_id.to_owned(),
    }
    .into())
}

/// Verifies and stores what the event issued; a credential that does not verify is an error and
/// nothing of this event is stored.
fn store_issued(
    reply: &EventReply,
    info: &InteractionInfo,
    holder_did: &str,
    wallet: &mut Wallet,
) -> Result<Vec<StoredCredential>> {
    let received_at = super::client::unix_ms();
    let accepted = reply
        .issued
        .iter()
        .map(|issued| {
            credential::accept(
                issued,
                &info.service.did,
                &info.service.verkey,
                holder_did,
                Some(&reply.event_id),
                received_at,
            )
            .map_err(|e| {
                anyhow!(e).context(format!(
                    "credential {} issued by event {}",
                    issued.jti, reply.event_id
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    for credential in &accepted {
        wallet.add_credential(credential.clone());
    }
    Ok(accepted)
}

/// The callback the app would open: only after an event that did not fail (docs/protocol.md §2), the
/// server's if it names one, else the link's.
fn callback(reply: &EventReply, request: &LinkRequest) -> Option<String> {
    if reply.state == EventState::Failed {
        return None;
    }
    reply
        .callback
        .clone()
        .or_else(|| request.callback.clone())
        .filter(|c| !c.is_empty())
}
