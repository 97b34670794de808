//! The attached extensions' `on_receive` triggers (docs/extensions.md): called in the order of
//! attachment, after verification and before the interaction webhook, each signed with its
//! author's key; a failure stops the event there, and what they issue and revoke is combined with
//! the webhook's reply. Built-in extensions run in-process instead ([`builtin`]).

use serde::Serialize;
use serde_json::{Map, Value};

use super::protocol::{InteractionReply, InteractionRequest};
use super::{Event, Stop, builtin, calls};
use crate::db::events::{CallKind, LogKind};
use crate::db::extensions::{AttachedTo, Attachment};
use crate::db::webhooks::Webhook;
use crate::delivery::payload::ExtensionMember;
use crate::domain::extension::SettingValues;
use crate::event::issue::{IssuedValues, RevokeRef};
use crate::http::AppState;

/// Who answers like the interaction webhook, as the event names it.
pub(super) struct Replier<'a> {
    /// Its call in the log.
    pub call: &'a str,
    /// It, to the holder.
    pub holder: &'a str,
    /// It, in the log's details.
    pub log: &'a str,
    /// Before its `integrationOutput.logData` in the log.
    pub log_data_prefix: &'a str,
}

/// What the extensions issued and revoked.
#[derive(Default)]
pub(super) struct Combined {
    pub issued: Vec<IssuedValues>,
    pub revoked: Vec<RevokeRef>,
    /// Whether any trigger or the webhook answered (else nothing can be issued now).
    pub answered: bool,
}

impl Combined {
    /// Records `sent`, an answer like the interaction webhook's (docs/protocol.md §4.1): a
    /// failure stops the event, its `logData` in the log; a success joins what is issued and
    /// revoked.
    pub(super) fn take(
        &mut self,
        event: &mut Event<'_>,
        replier: &Replier<'_>,
        sent: calls::Sent,
    ) -> Result<(), Stop> {
        let (record, reply) = sent.read(InteractionReply::parse);
        event.record_call(replier.call, record);
        let reply = reply.map_err(|e| Stop::Fail {
            message: format!("{} {}", replier.holder, e.holder_reason()),
            detail: format!("{}: {e}", replier.call),
        })?;
        match reply {
            InteractionReply::Failure { message, log_data } => {
                if let Some(data) = log_data {
                    let entry = format!("{}{data}", replier.log_data_prefix);
                    event.journal.log(LogKind::IntegrationOutput, entry);
                }
                Err(Stop::Fail {
                    detail: format!("{} answered a failure: {message}", replier.log),
                    message,
                })
            }
            InteractionReply::Success { issued, revoked } => {
                self.issued.extend(issued);
                self.revoked.extend(revoked);
                self.answered = true;
                Ok(())
            }
        }
    }
}

/// Opens the secrets of an attachment and its installation.
fn secrets_of(
    state: &AppState,
    attachment: &Attachment,
) -> anyhow::Result<(Map<String, Value>, Map<String, Value>)> {
    let installation = &attachment.installation;
    let service = state.master_key.open_json(
        installation.id.as_bytes(),
        installation.secrets_sealed.as_deref(),
    )?;
    let aad = Attachment::aad(&installation.id, &attachment.interaction_id);
    let interaction = state
        .master_key
        .open_json(&aad, attachment.secrets_sealed.as_deref())?;
    Ok((service, interaction))
}

/// The settings an attachment's extension sees, secrets opened: defaults, then the installation's,
/// then the attachment's.
pub(crate) fn settings_of(
    state: &AppState,
    attachment: &Attachment,
) -> anyhow::Result<Map<String, Value>> {
    let (service, interaction) = secrets_of(state, attachment)?;
    Ok(crate::domain::extension::merged(
        &attachment.installation.manifest,
        &SettingValues {
            plain: attachment.installation.settings.clone(),
            secrets: service,
        },
        &SettingValues {
            plain: attachment.settings.clone(),
            secrets: interaction,
        },
    ))
}

/// Runs the `on_receive` triggers of the interaction's enabled extensions, and keeps what it read
/// of them for the settlement's durable triggers.
pub(super) async fn on_receive(
    event: &mut Event<'_>,
    request: &InteractionRequest<'_>,
) -> Result<Combined, Stop> {
    if event.interaction.extensions == 0 {
        return Ok(Combined::default());
    }
    let attachments = {
        let mut conn = event.state.db.pool().acquire().await?;
        let to = AttachedTo::Interaction(event.interaction.id.as_str());
        crate::db::extensions::attachments(&mut conn, event.scope, to, true).await?
    };
    let combined = run(event, request, &attachments).await;
    event.attachments = Some(attachments);
    combined
}

async fn run(
    event: &mut Event<'_>,
    request: &InteractionRequest<'_>,
    attachments: &[Attachment],
) -> Result<Combined, Stop> {
    let mut combined = Combined::default();
    for attachment in attachments {
        let Some(trigger) = &attachment.installation.manifest.triggers.on_receive else {
            continue;
        };
        let member = ExtensionMember::of(
            attachment,
            trigger,
            Some(secrets_of(event.state, attachment)?),
        );
        if let Some(builtin) = attachment.installation.builtin {
            builtin::on_receive(event, attachment, builtin, &member.settings, request).await?;
            continue;
        }
        let body = serde_json::to_vec(&Call {
            request,
            extension: member,
        })
        .map_err(anyhow::Error::new)?;
        let installation = &attachment.installation;
        let webhook = Webhook {
            url: trigger.url.clone(),
            key_name: installation.key_name.clone(),
            auth: installation.auth,
            timeout_ms: trigger.timeout_ms,
        };
        let name = &installation.extension_name;
        let sent = calls::call(
            event.state,
            &installation.signer,
            &webhook,
            CallKind::Interaction,
            body,
            &[],
        )
        .await?;
        let (call, log) = (
            format!("extension {name:?} on_receive"),
            format!("extension {name:?}"),
        );
        let replier = Replier {
            call: &call,
            holder: &format!("the extension {name:?}"),
            log: &log,
            log_data_prefix: &format!("{log}: "),
        };
        combined.take(event, &replier, sent)?;
    }
    Ok(combined)
}

/// The interaction webhook's request plus the `extension` member.
#[derive(Serialize)]
struct Call<'a> {
    #[serde(flatten)]
    request: &'a InteractionRequest<'a>,
    extension: ExtensionMember<'a>,
}
