//! The notifications of the changes events make (through the engine, or a third party's
//! `credentials-issued` / `credentials-issuing-failed` call), each enqueued in the transaction of
//! its change: `event.completed` or `event.failed` when an event settles, `credential.issued` for
//! what it issued and `credential.revoked` for what it revoked; the same, with the `extension`
//! member, to the durable triggers (`on_finish`, `on_issue`) of the extensions attached to the
//! event's interaction (docs/extensions.md).

use std::collections::BTreeMap;

use sqlx::{Any, Transaction};

use super::outbox::{Due, Target, enqueue, enqueue_body_to, enqueue_to};
use super::payload::{
    CredentialNotification, EventNotification, EventType, ExtensionMember, ForExtension,
    NotifiedCredential, Outcome,
};
use crate::credentials::issue::Signed;
use crate::db;
use crate::db::events::{EventRef, EventState};
use crate::db::extensions::{self, AttachedTo};
use crate::domain::extension::{Builtin, TriggerName};
use crate::ids::{EventId, HolderDid, Jti};
use crate::scope::ServiceScope;

/// The enabled extensions attached to a settling event's interaction.
#[derive(Debug, Clone, Copy)]
pub enum Attached<'a> {
    /// As the caller read them in this event (an engine run reads them for `on_receive`).
    Read(&'a [extensions::Attachment]),
    /// Not read yet: the settlement reads them.
    Unread,
}

/// An event as it settles.
#[derive(Debug, Clone, Copy)]
pub struct SettledEvent<'a> {
    pub event: EventRef<'a>,
    /// `Completed` and `Failed` are notified; an event left `Waiting` is not settled yet.
    pub state: EventState,
    /// What the holder was told.
    pub message: Option<&'a str>,
    /// Issued with the settlement, stored in the same transaction.
    pub issued: &'a [Signed],
    /// Credentials (`jti`) this settlement revoked, in the same transaction.
    pub revoked: &'a [Jti],
}

/// Enqueues the notifications of a settling event in its transaction: the event's outcome,
/// then `credential.issued` and `credential.revoked` when it issued or revoked credentials, and
/// the attached extensions' durable triggers. Returns the deliveries to announce and, for the
/// event's log, a note of each message queued for an extension.
pub async fn event_settled(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event: &SettledEvent<'_>,
    attached: Attached<'_>,
) -> sqlx::Result<(Due, Vec<String>)> {
    let mut due = Due::default();
    let issued: Vec<NotifiedCredential> = event.issued.iter().map(notified).collect();
    let kind = match event.state {
        EventState::Completed => Some(EventType::EventCompleted),
        EventState::Failed => Some(EventType::EventFailed),
        EventState::Started | EventState::Waiting => None,
    };
    let notification = kind.map(|kind| {
        (
            kind,
            EventNotification {
                subscriber_connect_did: event.event.holder_did.to_string(),
                action_id: event.event.interaction_id.to_string(),
                action_instance_id: event.event.instance_id.to_string(),
                action_event_id: event.event.id.to_string(),
                outcome: Outcome {
                    ok: kind == EventType::EventCompleted,
                    message: event.message.map(str::to_owned),
                },
                issued_credentials: issued.clone(),
            },
        )
    });
    if let Some((kind, notification)) = &notification {
        due = enqueue(tx, scope, *kind, notification).await?.1;
    }
    let (to_extensions, notes) =
        for_extensions(tx, scope, event, attached, notification.as_ref(), &issued).await?;
    let issued = credentials_issued(tx, scope, event.issued, Some(event.event.id)).await?;
    let revoked = credentials_revoked(tx, scope, event.revoked, Some(event.event.id)).await?;
    Ok((due.and(issued).and(revoked).and(to_extensions), notes))
}

/// Enqueues, to each enabled extension attached to the event's interaction, `on_finish` the
/// event's outcome and `on_issue` the credentials its filter wants.
async fn for_extensions(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    event: &SettledEvent<'_>,
    attached: Attached<'_>,
    finished: Option<&(EventType, EventNotification)>,
    issued: &[NotifiedCredential],
) -> sqlx::Result<(Due, Vec<String>)> {
    let mut queued = Queued::default();
    if finished.is_none() && issued.is_empty() {
        return Ok((queued.due, queued.notes));
    }
    let read;
    let attachments = match attached {
        Attached::Read(attachments) => attachments,
        Attached::Unread => {
            let to = AttachedTo::Interaction(event.event.interaction_id.as_str());
            read = extensions::attachments(tx, scope, to, true).await?;
            &read
        }
    };
    for attachment in attachments {
        let triggers = &attachment.installation.manifest.triggers;
        if let (Some(trigger), Some((kind, notification))) = (&triggers.on_finish, finished) {
            let at = (attachment, TriggerName::OnFinish, *kind);
            if attachment.installation.builtin == Some(Builtin::ChatNotification) {
                // The merged settings: the manifest's default template when none was given.
                let settings = ExtensionMember::of(attachment, trigger, None).settings;
                let text = chat_message(tx, scope, &settings, notification).await?;
                let body = Body::Raw(serde_json::json!({ "text": text }).to_string());
                queued.to(tx, scope, at, &body).await?;
            } else {
                let body = envelope_of(&ForExtension {
                    data: notification,
                    extension: ExtensionMember::of(attachment, trigger, None),
                })?;
                queued.to(tx, scope, at, &body).await?;
            }
        }
        if let Some(trigger) = &triggers.on_issue {
            let wanted: Vec<NotifiedCredential> = issued
                .iter()
                .filter(|c| trigger.wants(&c.credential_id, &c.schema_id))
                .cloned()
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let notification = CredentialNotification {
                subscriber_connect_did: event.event.holder_did.to_string(),
                action_event_id: Some(event.event.id.to_string()),
                credentials: wanted,
            };
            let body = envelope_of(&ForExtension {
                data: &notification,
                extension: ExtensionMember::of(attachment, trigger, None),
            })?;
            let at = (
                attachment,
                TriggerName::OnIssue,
                EventType::CredentialIssued,
            );
            queued.to(tx, scope, at, &body).await?;
        }
    }
    Ok((queued.due, queued.notes))
}

/// A payload, for the outbox to wrap in the envelope.
fn envelope_of<T: serde::Serialize>(payload: &T) -> sqlx::Result<Body> {
    serde_json::to_value(payload)
        .map(Body::Envelope)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The built-in chat notification's text: its template with the event's values.
async fn chat_message(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    settings: &serde_json::Map<String, serde_json::Value>,
    notification: &EventNotification,
) -> sqlx::Result<String> {
    let template = settings
        .get("template")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let interaction = crate::db::interactions::name_of(tx, scope, &notification.action_id).await?;
    let outcome = if notification.outcome.ok {
        "completed"
    } else {
        "failed"
    };
    let mut values: Vec<(String, String)> = vec![
        ("interaction".into(), interaction.unwrap_or_default()),
        ("outcome".into(), outcome.into()),
        (
            "message".into(),
            notification.outcome.message.clone().unwrap_or_default(),
        ),
        ("holder".into(), notification.subscriber_connect_did.clone()),
        ("event".into(), notification.action_event_id.clone()),
    ];
    for credential in &notification.issued_credentials {
        for field in &credential.fields {
            values.push((field.name.clone(), field.value.clone()));
        }
    }
    Ok(render(template, &values))
}

/// `template` with each `{name}` of `values` replaced in one pass (a value is never read as a
/// placeholder). Values come from holders and third parties, so none may make a mention, a link
/// or markup in any of the Slack-compatible receivers: `& < >` are escaped as Slack wants, a word
/// joiner follows every `@` (Mattermost's and Rocket.Chat's `@channel`), Markdown's characters are
/// escaped with `\`, and `://` is broken so no URL is linked. The template is the service's own
/// and stays as written.
fn render(template: &str, values: &[(String, String)]) -> String {
    let escape = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '@' => out.push_str("@\u{2060}"),
                '[' | ']' | '(' | ')' | '*' | '_' | '~' | '`' | '#' | '|' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out.replace("://", ":\u{2060}//")
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = &after[..end];
        match values.iter().find(|(n, _)| n == name) {
            Some((_, value)) => out.push_str(&escape(value)),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What was queued for extensions.
#[derive(Default)]
struct Queued {
    due: Due,
    /// For the event's log.
    notes: Vec<String>,
}

impl Queued {
    /// Enqueues `body` to the outbox endpoint of the attachment's `trigger`.
    async fn to(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        scope: &ServiceScope,
        (attachment, trigger, kind): (&extensions::Attachment, TriggerName, EventType),
        body: &Body,
    ) -> sqlx::Result<()> {
        let installation = &attachment.installation;
        let Some(endpoint) = installation.endpoint(trigger) else {
            return Ok(());
        };
        let target = Target::Endpoint(endpoint);
        let (message, due) = match body {
            Body::Envelope(payload) => enqueue_to(tx, scope, kind, payload, target).await?,
            Body::Raw(text) => enqueue_body_to(tx, scope, kind, text, target).await?,
        };
        self.due = self.due.and(due);
        self.notes.push(format!(
            "extension {:?} {}: message {message} queued",
            installation.extension_name,
            trigger.as_str()
        ));
        Ok(())
    }
}

/// What [`Queued::to`] sends: psi's envelope around a payload, or a body in the receiver's own
/// format.
enum Body {
    Envelope(serde_json::Value),
    Raw(String),
}

/// Enqueues `credential.issued` for a stored batch, one message per holder.
pub async fn credentials_issued(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    batch: &[Signed],
    event_id: Option<&EventId>,
) -> sqlx::Result<Due> {
    let mut due = Due::default();
    let mut by_holder: BTreeMap<&HolderDid, Vec<NotifiedCredential>> = BTreeMap::new();
    for signed in batch {
        by_holder
            .entry(&signed.holder_did)
            .or_default()
            .push(notified(signed));
    }
    for (holder, credentials) in by_holder {
        let notification = CredentialNotification {
            subscriber_connect_did: holder.to_string(),
            action_event_id: event_id.map(EventId::to_string),
            credentials,
        };
        due = due.and(
            enqueue(tx, scope, EventType::CredentialIssued, &notification)
                .await?
                .1,
        );
    }
    Ok(due)
}

/// Enqueues `credential.revoked` for credentials revoked in `tx`, one message per holder. A
/// `jti` the service does not have is skipped.
pub async fn credentials_revoked(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    jtis: &[Jti],
    event_id: Option<&EventId>,
) -> sqlx::Result<Due> {
    let mut due = Due::default();
    let mut by_holder: BTreeMap<HolderDid, Vec<NotifiedCredential>> = BTreeMap::new();
    for jti in jtis {
        let Some(stored) = db::credentials::find(&mut **tx, scope, jti).await? else {
            continue;
        };
        by_holder
            .entry(stored.holder_did)
            .or_default()
            .push(NotifiedCredential {
                jti: stored.jti.into(),
                credential_id: stored.credential_id,
                schema_id: stored.schema_id,
                fields: stored.attributes,
                utc_issued_at: stored.issued_at,
                revoked: stored.revoked_at.is_some(),
                utc_revoked_at: stored.revoked_at,
            });
    }
    for (holder, credentials) in by_holder {
        let notification = CredentialNotification {
            subscriber_connect_did: holder.into(),
            action_event_id: event_id.map(EventId::to_string),
            credentials,
        };
        due = due.and(
            enqueue(tx, scope, EventType::CredentialRevoked, &notification)
                .await?
                .1,
        );
    }
    Ok(due)
}

fn notified(signed: &Signed) -> NotifiedCredential {
    let credential = &signed.credential;
    NotifiedCredential {
        jti: credential.jti.to_string(),
        credential_id: credential.credential_id.clone(),
        schema_id: credential.schema_id.clone(),
        fields: credential.attributes.clone(),
        utc_issued_at: signed.issued_at,
        revoked: false,
        utc_revoked_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn a_chat_message_fills_placeholders_once_and_escapes_values() {
        let values = [
            ("holder".to_owned(), "<@here> & {event}".to_owned()),
            ("event".to_owned(), "e1".to_owned()),
            (
                "Name".to_owned(),
                "@channel [x](https://a.example) *b*".to_owned(),
            ),
        ];
        assert_eq!(
            render("<!here> {holder} in {event}: {unknown} {", &values),
            "<!here> &lt;@\u{2060}here&gt; &amp; {event} in e1: {unknown} {"
        );
        assert_eq!(
            render("{Name}", &values),
            "@\u{2060}channel \\[x\\]\\(https:\u{2060}//a.example\\) \\*b\\*"
        );
    }
}
