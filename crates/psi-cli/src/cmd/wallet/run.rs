//! `psi wallet run LINK`: what the app does after scanning a link, from decoding it to storing
//! the credentials issued.

use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use psi_link::{LinkKind, LinkOrigin, LinkRequest, LinkTarget};
use psi_outbound::{OutboundClient, OutboundPolicy, resolve_source_url};

use super::client::{
    Attestation, Binding, EventReply, EventRequest, EventState, InteractionInfo, IssuingAction,
    Presented, PresentedTo, RequiredCredential, WalletClient, new_nonce,
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
status is checked with the server), whichever service on the server issued it. A missing one is \
an error that lists the interactions issuing it, with their links; with --auto the first of \
them runs first (asking for its values the same way; --attr flags serve every run), then the \
requested one, up to 3 deep.

The link's domain is the wallet app's, not the server's: the server is --server, else \
$PSI_SERVER, else http://127.0.0.1:8080.

With --json, prints one object per run (--auto runs several, in order): {\"event_id\", \"state\" (completed|failed|waiting), \"message\", \
\"callback\", \"issued\": [credentials], \"service\", \"interaction\", \"instance_id\", \
\"holder_did\", \"presented\"}.

Exit status: 0 completed or waiting (the third party issues later: `psi wallet sync`), 4 the \
event failed (the message says why), 1 any other error.

Examples:
  psi wallet run 'https://proofspace.id/native/execute/eyJ...'
  psi wallet run --server http://127.0.0.1:8080 --attr 'Name=Alice' --attr 'Email=a@example.org' LINK
  psi wallet run --attr 'GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:contact:Name=Alice' LINK
  psi wallet run --auto --attr 'Name=Alice' LINK
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
    /// When the wallet lacks a service-attested credential the interaction requires, run the
    /// first interaction that issues it, then this one.
    #[arg(long)]
    auto: bool,
}

/// The most issuing interactions `--auto` chains before the requested one.
const MAX_AUTO_DEPTH: usize = 3;

pub async fn run(args: RunArgs, context: &Context) -> Result<ExitCode> {
    let link = arg_or_stdin(&args.link)?;
    let decoded = args
        .custom
        .decoder()?
        .decode(&link)
        .context("invalid link")?;
    // Links to issuing interactions point where this one does.
    let target = match decoded.origin {
        LinkOrigin::Environment(env) | LinkOrigin::WebLibrary(env) => LinkTarget::env(env),
        LinkOrigin::Custom { .. } => args
            .custom
            .target()?
            .context("a link of a custom target without that target")?,
    };
    let request = match &decoded.request.source_url {
        Some(url) => download(url).await?,
        None => decoded.request,
    };
    let runner = Runner {
        server: args.server.server.as_deref().unwrap_or(DEFAULT_SERVER),
        context,
        target,
        auto: args.auto,
    };
    let mut given = Given::new(&args.attrs);
    let mut asked = Vec::new();
    let state = runner.run(request, &mut given, &mut asked, 0).await?;
    Ok(match state {
        EventState::Failed => ExitCode::from(EXIT_EVENT_FAILED),
        EventState::Completed | EventState::Waiting => ExitCode::SUCCESS,
    })
}

/// What every run of one command shares.
struct Runner<'a> {
    server: &'a str,
    context: &'a Context,
    target: LinkTarget,
    auto: bool,
}

impl Runner<'_> {
    /// Runs `request` and prints its outcome; with `--auto`, first runs what issues a
    /// service-attested credential the wallet lacks (`depth`: issuing runs above this one).
    /// `asked` gathers every run's requirements, against which the `--attr` flags are checked.
    async fn run(
        &self,
        request: LinkRequest,
        given: &mut Given<'_>,
        asked: &mut Vec<RequiredCredential>,
        depth: usize,
    ) -> Result<EventState> {
        // Validated by the codec: both are present once there is no sourceURL.
        let service_did = request.service_did.clone().unwrap_or_default();
        let action_id = request.action_id.clone().unwrap_or_default();
        let client = WalletClient::new(self.server)?;
        let info = client
            .interaction(&service_did, &action_id, request.id.as_deref())
            .await?;
        check_service(&info, &service_did)?;
        asked.extend(info.required.iter().cloned());

        let mut wallet = self.context.load()?;
        let holder = wallet.connect(&info.service, client.base()).holder.clone();
        // The pairwise key is saved before it is used: credentials issued to it must stay usable.
        self.context.save(&wallet)?;
        let nonce = new_nonce();
        let to = PresentedTo {
            service_did: &info.service.did,
            holder_did: holder.did(),
            nonce: &nonce,
        };
        let mut ran_for: Vec<String> = Vec::new();
        let presented = loop {
            let presenting = present_all(&info, &request, given, &mut wallet, self.server, &to);
            let error = match presenting.await {
                Ok(presented) => break presented,
                Err(error) => error,
            };
            let Some(PresentError::MissingCredential { credential_id }) =
                error.downcast_ref::<PresentError>()
            else {
                return Err(error);
            };
            let credential_id = &credential_id.clone();
            let Some(issued_by) = info
                .required
                .iter()
                .find(|r| &r.credential_id == credential_id)
                .map(|r| &r.issued_by)
                .or_else(|| {
                    info.required_schemas
                        .iter()
                        .find(|r| &r.schema_id == credential_id)
                        .map(|r| &r.issued_by)
                })
            else {
                return Err(error);
            };
            let source = issued_by.first();
            let Some(source) = source.filter(|_| {
                self.auto && depth < MAX_AUTO_DEPTH && !ran_for.contains(credential_id)
            }) else {
                return Err(self.missing(credential_id, issued_by, error));
            };
            ran_for.push(credential_id.clone());
            eprintln!(
                "the wallet holds no valid {credential_id}: running {:?} of {} first",
                source.action_name, source.service_name
            );
            let state = Box::pin(self.run(source.request(), given, asked, depth + 1)).await?;
            if state == EventState::Failed {
                return Ok(state);
            }
            // The issuing run stored what it received.
            wallet = self.context.load()?;
        };
        if depth == 0 {
            given.check_all_used(asked)?;
        }

        let event = EventRequest {
            action_id: action_id.clone(),
            instance_id: Some(info.instance.id.clone()),
            prefilled: request.prepared_credentials.clone().unwrap_or_default(),
            presented: presented.iter().map(|(p, _)| p.clone()).collect(),
            callback: request.callback.clone().filter(|c| !c.is_empty()),
            session: request.psi_session.clone(),
        };
        let reply = client
            .start_event(&service_did, &holder, &event, nonce.clone())
            .await?;
        let issued = store_issued(&reply, &info, holder.did(), &mut wallet)?;
        self.context.save(&wallet)?;

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
        output::run(&outcome, self.context.json)?;
        Ok(outcome.state)
    }

    /// The error for a credential the wallet lacks, listing the interactions that issue it with
    /// their links.
    fn missing(
        &self,
        wanted: &str,
        issued_by: &[IssuingAction],
        error: anyhow::Error,
    ) -> anyhow::Error {
        if issued_by.is_empty() {
            return error;
        }
        let mut sources = String::new();
        for source in issued_by {
            let link = psi_link::encode(&source.request(), &self.target, LinkKind::App)
                .unwrap_or_else(|e| format!("(no link: {e})"));
            sources.push_str(&format!(
                "\n  {}: {:?}  {link}",
                source.service_name, source.action_name
            ));
        }
        anyhow!(
            "the interaction requires the service-attested credential {wanted}, and the wallet \
             holds no valid one. Interactions that issue it:{sources}\nRun one of them first, or \
             run this link again with --auto, which runs the first of them before it"
        )
    }
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

/// Everything the interaction asks for, in its order, with a summary for the output. A
/// credential another service issued (to another pairwise DID) carries a binding for where it
/// is presented (`to`).
async fn present_all(
    info: &InteractionInfo,
    request: &LinkRequest,
    given: &mut Given<'_>,
    wallet: &mut Wallet,
    server: &str,
    to: &PresentedTo<'_>,
) -> Result<Vec<(Presented, PresentedSummary)>> {
    let prefilled = request.prepared_credentials.as_deref().unwrap_or_default();
    let mut presented = Vec::with_capacity(info.required.len());
    for required in &info.required {
        let summary = |jti: Option<String>| PresentedSummary {
            credential_id: required.credential_id.clone(),
            attestation: required.attestation,
            jti,
        };
        match required.attestation {
            Attestation::SelfAttested => {
                let attributes =
                    present::self_attested(required, prefilled, given, &mut present::Terminal)?;
                presented.push((
                    Presented::SelfAttested {
                        credential_id: required.credential_id.clone(),
                        attributes,
                    },
                    summary(None),
                ));
            }
            Attestation::Service => {
                let wanted = Wanted::Definition(&required.credential_id);
                let (credential, binding) = held(wallet, &wanted, server, to).await?;
                presented.push((
                    Presented::Service {
                        credential_id: required.credential_id.clone(),
                        jwt: credential.jwt,
                        binding,
                    },
                    summary(Some(credential.jti)),
                ));
            }
        }
    }
    for required in &info.required_schemas {
        let wanted = Wanted::Schema {
            schema_id: &required.schema_id,
            trusted_issuers: &required.trusted_issuers,
        };
        let (credential, binding) = held(wallet, &wanted, server, to).await?;
        presented.push((
            Presented::Service {
                credential_id: credential.credential_id.clone(),
                jwt: credential.jwt,
                binding,
            },
            PresentedSummary {
                credential_id: credential.credential_id,
                attestation: Attestation::Service,
                jti: Some(credential.jti),
            },
        ));
    }
    Ok(presented)
}

/// A service-attested credential an interaction asks for: of one definition, or of a schema
/// from one of the trusted issuers.
enum Wanted<'a> {
    Definition(&'a str),
    Schema {
        schema_id: &'a str,
        trusted_issuers: &'a [String],
    },
}

impl Wanted<'_> {
    fn accepts(&self, credential: &StoredCredential) -> bool {
        match self {
            Wanted::Definition(id) => credential.credential_id == *id,
            Wanted::Schema {
                schema_id,
                trusted_issuers,
            } => {
                credential.schema_id == *schema_id
                    && trusted_issuers.contains(&credential.service_did)
            }
        }
    }

    /// How the server names it: the definition's or the schema's id.
    fn id(&self) -> &str {
        match self {
            Wanted::Definition(id) => id,
            Wanted::Schema { schema_id, .. } => schema_id,
        }
    }
}

/// The credential [`newest_valid`] finds for `wanted`, with the binding a credential another
/// service issued needs where it is presented (`to`).
async fn held(
    wallet: &mut Wallet,
    wanted: &Wanted<'_>,
    server: &str,
    to: &PresentedTo<'_>,
) -> Result<(StoredCredential, Option<Binding>)> {
    let credential = newest_valid(wallet, wanted, server).await?;
    let binding = match wallet.connection(&credential.service_did) {
        Some(connection) if credential.service_did != to.service_did => {
            Some(Binding::sign(&connection.holder, to, &credential.jti))
        }
        _ => None,
    };
    Ok((credential, binding))
}

/// The newest stored credential `wanted` accepts that its issuer's server says is not revoked;
/// revocations learnt on the way are recorded in the wallet.
async fn newest_valid(
    wallet: &mut Wallet,
    wanted: &Wanted<'_>,
    server: &str,
) -> Result<StoredCredential> {
    let candidates: Vec<(StoredCredential, String)> =
        present::candidates(wallet, |c| wanted.accepts(c))
            .into_iter()
            .map(|c| {
                let issuer_server = wallet
                    .connection(&c.service_did)
                    .map_or(server, |connection| connection.server.as_str());
                (c.clone(), issuer_server.to_owned())
            })
            .collect();
    for (credential, issuer_server) in candidates {
        let jti = &credential.jti;
        let status = WalletClient::new(&issuer_server)?
            .status(jti)
            .await
            .with_context(|| format!("cannot check whether credential {jti} is revoked"))?;
        if !status.revoked {
            return Ok(credential);
        }
        wallet.mark_revoked(jti, status.revoked_at);
    }
    Err(PresentError::MissingCredential {
        credential_id: wanted.id().to_owned(),
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
