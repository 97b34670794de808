//! The event engine: one run of an interaction by one holder, from the wallet's request to the
//! settled event.
//!
//! [`run`] loads the interaction, records the event (`started`), verifies what the holder presents
//! ([`present`]), asks credential-check webhooks, calls the interaction webhook ([`calls`], wire
//! shapes in [`protocol`]) and acts on its reply ([`reply`]): issue, deny, wait or fail. The
//! event settles in one transaction with everything it issued and revoked
//! ([`crate::event::settle`]), so nothing is half-issued. No database connection is held while a
//! webhook runs.

mod builtin;
pub mod calls;
pub mod extensions;
pub mod present;
pub mod protocol;
mod reply;

use crate::credentials::IssuedCredential;
use crate::db::events::{CallKind, EventRef, EventState, LogKind, NewEvent, WebhookCall};
use crate::db::instances::Instance;
use crate::db::interactions::Interaction;
use crate::db::{self, now_ms};
use crate::delivery::notify::Attached;
use crate::event::settle::{self, Ending, Handover};
use crate::event::{self, Definitions, Error, Journal, check_active, instance_of, label, owner_of};
use crate::http::AppState;
use crate::ids::{EventId, HolderDid, InstanceId, InteractionId};
use crate::public::CONTAINER_PREFIX;
use crate::scope::ServiceScope;
use present::{Prefilled, Presentation, Presented, verify_presentation};
use protocol::{CheckReply, CheckRequest, InteractionRequest};

/// The version of the credential-check request (docs/protocol.md §4.2, `protocolVersion`).
const CHECK_PROTOCOL_VERSION: u32 = 1;

/// The holder running the event, as proven by its signature.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Pairwise DID with the service (`subscriberConnectDid`).
    pub did: HolderDid,
    /// Base58 Ed25519 public key that signed the request.
    pub verkey: String,
}

/// A holder's request to run an interaction.
#[derive(Debug, Clone)]
pub struct EventRequest {
    pub action_id: InteractionId,
    /// `None`: the interaction's default instance.
    pub instance_id: Option<InstanceId>,
    pub holder: Holder,
    /// The signed request's nonce, accepted once.
    pub nonce: String,
    pub prefilled: Vec<Prefilled>,
    pub presented: Vec<Presented>,
    /// The link's callback, handed back after a success.
    pub callback: Option<String>,
    /// The start page's session the link carried (`psiSession`, checked by the wallet API), so
    /// the page can follow the event.
    pub session: Option<String>,
}

/// How the event ended, for the wallet.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub event_id: EventId,
    pub state: EventState,
    /// For the holder: why it failed, what was declined, that issuing comes later.
    pub message: Option<String>,
    pub issued: Vec<IssuedCredential>,
    /// The link's callback, after a success only.
    pub callback: Option<String>,
}

/// Why an event stops before it settles normally.
pub(crate) enum Stop {
    /// The event fails: `message` for the holder, `detail` for the log.
    Fail { message: String, detail: String },
    /// psi itself failed (the database); the event is failed and the request answers 500.
    Internal(anyhow::Error),
}

impl Stop {
    /// A failure whose log line is its message.
    pub(crate) fn fail(message: String) -> Self {
        Stop::Fail {
            detail: message.clone(),
            message,
        }
    }
}

impl From<sqlx::Error> for Stop {
    fn from(error: sqlx::Error) -> Self {
        Stop::Internal(anyhow::Error::new(error).context("database query"))
    }
}

impl From<anyhow::Error> for Stop {
    fn from(error: anyhow::Error) -> Self {
        Stop::Internal(error)
    }
}

/// A refusal comes from acting on the interaction webhook's reply: the event fails and nothing
/// is issued.
impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        match error {
            Error::Refused(reason) => Stop::Fail {
                message: format!("the service's webhook issued an invalid credential: {reason}"),
                detail: format!("the webhook's reply is refused, nothing is issued: {reason}"),
            },
            Error::Internal(error) => Stop::Internal(error),
            other => Stop::fail(other.to_string()),
        }
    }
}

/// Runs one event to its end. Unknown interaction or instance, paused interaction, a nonce used
/// before: an error before anything is recorded. Everything after the event is recorded is an
/// outcome, `failed` included, except psi's own failures ([`Error::Internal`]), which fail the
/// event and are returned.
pub async fn run(
    state: AppState,
    scope: ServiceScope,
    request: EventRequest,
) -> Result<Outcome, Error> {
    let interaction = db::interactions::get_cached(&state.db, &scope, &request.action_id)
        .await?
        .ok_or(Error::NotFound("interaction"))?;
    check_active(&interaction)?;
    let instance = instance_of(&interaction, request.instance_id.as_ref())?.clone();
    let definitions = event::definitions_for(&state.db, &scope, &interaction).await?;
    let mut event = Event {
        state: &state,
        scope: &scope,
        id: EventId::generate(),
        interaction: &interaction,
        instance: &instance,
        definitions: &definitions,
        holder_did: &request.holder.did,
        journal: Journal::default(),
        attachments: None,
    };
    event.start(&request).await?;
    let result = event.execute(&request).await;
    event.settle(result, request.callback).await
}

/// One event while it runs.
struct Event<'a> {
    state: &'a AppState,
    scope: &'a ServiceScope,
    /// Also `actionEventId`.
    id: EventId,
    interaction: &'a Interaction,
    instance: &'a Instance,
    definitions: &'a Definitions,
    holder_did: &'a HolderDid,
    journal: Journal,
    /// The enabled extensions attached to the interaction, once read (for `on_receive`).
    attachments: Option<Vec<crate::db::extensions::Attachment>>,
}

impl Event<'_> {
    /// Records the event and consumes the request's nonce, in one transaction.
    async fn start(&mut self, request: &EventRequest) -> Result<(), Error> {
        let now = now_ms();
        self.journal.log(
            LogKind::Started,
            format!(
                "holder {} started {:?} (instance {})",
                self.holder_did, self.interaction.name, self.instance.id
            ),
        );
        let presented: Vec<&str> = request
            .presented
            .iter()
            .map(|p| p.credential_id.as_str())
            .collect();
        self.journal.log(
            LogKind::CredentialsReceived,
            match presented.as_slice() {
                [] => "no credentials presented".to_owned(),
                ids => format!("presented: {}", ids.join(", ")),
            },
        );
        let mut tx = self.state.db.begin().await?;
        let fresh = db::holder_nonces::accept(
            &mut tx,
            self.scope,
            &request.holder.verkey,
            &request.nonce,
            now,
        )
        .await?;
        if !fresh {
            return Err(Error::NonceReused);
        }
        let new = NewEvent {
            id: &self.id,
            interaction_id: &self.interaction.id,
            instance_id: &self.instance.id,
            holder_did: self.holder_did,
            callback: request.callback.as_deref(),
            session: request.session.as_deref(),
            now,
        };
        db::events::start(&mut tx, self.scope, &new, self.journal.unwritten().1).await?;
        tx.commit().await?;
        self.journal.mark_written();
        Ok(())
    }

    /// Verification, credential checks, the interaction webhook and its reply.
    async fn execute(&mut self, request: &EventRequest) -> Result<Ending, Stop> {
        let presentation = Presentation {
            required: &self.interaction.required,
            required_schemas: &self.interaction.required_schemas,
            definitions: self.definitions,
            holder_did: self.holder_did,
            prefilled: &request.prefilled,
            presented: &request.presented,
            nonce: &request.nonce,
            now: now_ms(),
        };
        let received = verify_presentation(&self.state.db, self.scope, &presentation).await?;
        self.journal.log(
            LogKind::Verified,
            format!("{} required credential(s) verified", received.len()),
        );
        for credential in received.iter().filter(|r| r.external_verification) {
            self.check_externally(credential).await?;
        }
        let values: Vec<_> = received.into_iter().map(|r| r.values).collect();
        let container_prefix = format!("{}{CONTAINER_PREFIX}", self.state.public_url);
        // Owned, so the request does not borrow the event the triggers record calls on.
        let event_id = self.id.clone();
        let request = InteractionRequest {
            public_service_did: self.scope.did().as_str(),
            subscriber_connect_did: self.holder_did.as_str(),
            action_id: self.interaction.id.as_str(),
            action_instance_id: self.instance.id.as_str(),
            action_event_id: event_id.as_str(),
            action_params: &self.instance.parameters,
            received_credentials: &values,
            container_prefix: &container_prefix,
        };
        let mut combined = extensions::on_receive(self, &request).await?;
        if let Some(webhook) = &self.interaction.webhook {
            let body = serde_json::to_vec(&request).map_err(anyhow::Error::new)?;
            let sent = calls::call(
                self.state,
                self.scope,
                webhook,
                CallKind::Interaction,
                body,
                &[],
            )
            .await?;
            let replier = extensions::Replier {
                call: "interaction webhook",
                holder: "the service's webhook",
                log: "the webhook",
                log_data_prefix: "",
            };
            combined.take(self, &replier, sent)?;
        }
        if !combined.answered {
            return Ok(self.without_webhook());
        }
        reply::settle(self, &combined.issued, &combined.revoked).await
    }

    /// A credential-check webhook (docs/protocol.md §4.2) must answer `ok: true`.
    async fn check_externally(&mut self, credential: &present::Received) -> Result<(), Stop> {
        let definition = &self.definitions[&credential.definition_id];
        let label = label(definition);
        let Some(webhook) = &definition.check_webhook else {
            return Err(Stop::fail(format!(
                "credential {label} needs external verification, but its definition has no \
                 check webhook"
            )));
        };
        let values = &credential.values;
        let body = serde_json::to_vec(&CheckRequest {
            service_did: self.scope.did().as_str(),
            subscriber_did: self.holder_did.as_str(),
            credential_id: &values.credential_id,
            schema_id: &values.schema_id,
            fields: &values.fields,
            protocol_version: CHECK_PROTOCOL_VERSION,
        })
        .map_err(anyhow::Error::new)?;
        // The webhook and its key are the definition's service's, which may be another than
        // the one running the interaction (`serviceDid` of the request names that one).
        let owner = owner_of(&self.state.db, self.scope, &definition.credential_id)
            .await?
            .ok_or_else(|| Stop::Internal(anyhow::anyhow!("the service of {label} is gone")))?;
        let sent = calls::call(
            self.state,
            &owner,
            webhook,
            CallKind::CredentialCheck,
            body,
            &[],
        )
        .await?;
        let (record, reply) = sent.read(|body| serde_json::from_slice::<CheckReply>(body));
        self.record_call("credential-check webhook", record);
        let reply = reply.map_err(|e| Stop::Fail {
            message: format!(
                "credential {label} could not be verified: the service's check webhook {}",
                e.holder_reason()
            ),
            detail: format!("credential-check webhook for {label}: {e}"),
        })?;
        if !reply.passed() {
            let message = reply
                .error_message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| {
                    format!("credential {label} did not pass the service's external verification")
                });
            return Err(Stop::Fail {
                detail: format!("external verification of {label} failed: {message}"),
                message,
            });
        }
        self.journal.log(
            LogKind::Verified,
            format!("credential {label} passed external verification"),
        );
        Ok(())
    }

    /// Logs and keeps a webhook call.
    fn record_call(&mut self, what: &str, record: WebhookCall) {
        let origin = url::Url::parse(&record.url)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_default();
        let detail = match (&record.status, &record.error) {
            (Some(status), None) => format!(
                "{what} {origin} answered HTTP {status} in {} ms",
                record.duration_ms
            ),
            (_, Some(error)) => format!(
                "{what} {origin} failed after {} ms: {error}",
                record.duration_ms
            ),
            (None, None) => format!("{what} {origin} called"),
        };
        self.journal.log(LogKind::WebhookCalled, detail);
        self.journal.call(record);
    }

    /// Without an interaction webhook nothing can be issued now: the event completes when the
    /// interaction issues nothing, and otherwise waits for the service to issue later.
    fn without_webhook(&mut self) -> Ending {
        if self.interaction.issued.is_empty() {
            return Ending {
                state: EventState::Completed,
                message: None,
                batch: Vec::new(),
                revoke: Vec::new(),
            };
        }
        Ending {
            state: EventState::Waiting,
            message: Some(reply::WAITING_MESSAGE.into()),
            batch: Vec::new(),
            revoke: Vec::new(),
        }
    }

    /// Writes how the event ended, with what it issued and revoked, in one transaction.
    async fn settle(
        mut self,
        result: Result<Ending, Stop>,
        callback: Option<String>,
    ) -> Result<Outcome, Error> {
        let (ending, internal) = match result {
            Ok(ending) => (ending, None),
            Err(Stop::Fail { message, detail }) => {
                self.journal.log(LogKind::Failed, detail);
                (Ending::failed(message), None)
            }
            Err(Stop::Internal(error)) => {
                self.journal.log(LogKind::Failed, "psi failed internally");
                (
                    Ending::failed("psi could not complete the interaction".into()),
                    Some(error),
                )
            }
        };
        let event = EventRef {
            id: &self.id,
            interaction_id: &self.interaction.id,
            instance_id: &self.instance.id,
            holder_did: self.holder_did,
        };
        let attached = match (&self.attachments, self.interaction.extensions) {
            (Some(read), _) => Attached::Read(read),
            (None, 0) => Attached::Read(&[]),
            (None, _) => Attached::Unread,
        };
        let mut tx = self.state.db.begin().await?;
        let (_, due) = settle::write(
            &mut tx,
            self.scope,
            (event, attached),
            &ending,
            &mut self.journal,
            Handover::Answer,
        )
        .await?;
        tx.commit().await?;
        due.announce();
        if let Some(error) = internal {
            return Err(Error::Internal(error.context("event failed")));
        }
        let succeeded = matches!(ending.state, EventState::Completed | EventState::Waiting);
        Ok(Outcome {
            event_id: self.id,
            state: ending.state,
            message: ending.message,
            issued: ending
                .batch
                .into_iter()
                .map(|signed| signed.credential)
                .collect(),
            callback: callback.filter(|_| succeeded),
        })
    }
}
