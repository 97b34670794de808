//! Acting on a success reply of the interaction webhook (docs/protocol.md §4.1): each issued credential is
//! checked against its definition and signed (a bad one fails the whole event, so nothing is
//! half-issued), an empty one is a denial, an empty list means "later"; `revokedCredentials` are
//! resolved to credential ids.

use super::present::label;
use super::protocol::{IssuedValues, RevokeRef};
use super::{Event, Settled, Stop};
use crate::credentials::issue::{Issuer, check_values};
use crate::db::events::{EventState, LogKind};
use crate::db::{self, now_ms};

/// What the holder is told when issuing comes later.
pub(super) const WAITING_MESSAGE: &str = "the service will issue your credentials later";

/// The settlement a success reply leads to.
pub(super) async fn settle(
    event: &mut Event<'_>,
    issued: &[IssuedValues],
    revoked: &[RevokeRef],
) -> Result<Settled, Stop> {
    let invalid = |reason: String| Stop::Fail {
        message: format!("the service's webhook issued an invalid credential: {reason}"),
        detail: format!("the webhook's reply is refused, nothing is issued: {reason}"),
    };
    let mut issuer = None;
    let mut batch = Vec::new();
    let mut denied = Vec::new();
    let now = now_ms();
    for (index, values) in issued.iter().enumerate() {
        let id = &values.credential_id;
        let Some(issued_here) = event
            .interaction
            .issued
            .iter()
            .find(|c| c.credential_id.as_str() == id)
        else {
            let known = event
                .definitions
                .values()
                .any(|d| d.credential_id.as_str() == id);
            return Err(invalid(if known {
                format!("credential definition {id} is not one this interaction issues")
            } else {
                format!("{id} is not a credential definition of this service")
            }));
        };
        if issued[..index].iter().any(|v| &v.credential_id == id) {
            return Err(invalid(format!("credential {id} is issued twice")));
        }
        let definition = &event.definitions[&issued_here.definition_id];
        let label = label(definition);
        if values.fields.is_empty() {
            event.journal.log(
                LogKind::Denied,
                format!("the service declined to issue {label}"),
            );
            denied.push(label);
            continue;
        }
        if let Some(schema_id) = &values.schema_id
            && schema_id != definition.schema.schema_id.as_str()
        {
            return Err(invalid(format!(
                "credential {label} names schema {schema_id}, not {}",
                definition.schema.schema_id.as_str()
            )));
        }
        let fields = check_values(&definition.schema.attributes, &values.fields)
            .map_err(|e| invalid(format!("credential {label}: {e}")))?;
        if definition.one_off
            && db::credentials::holds_valid(
                &event.state.db,
                event.scope,
                &definition.id,
                event.holder_did,
            )
            .await?
        {
            event.journal.log(
                LogKind::Denied,
                format!("{label} is issued once only, and the holder has one"),
            );
            denied.push(label);
            continue;
        }
        if issuer.is_none() {
            issuer = Some(Issuer::load(event.state, event.scope).await?);
        }
        let issuer = issuer.as_ref().expect("loaded above");
        let signed = issuer
            .sign(definition, event.holder_did, fields, now)
            .map_err(|e| invalid(format!("credential {label}: {e}")))?;
        batch.push(signed);
    }
    let revoke = revocations(event, revoked).await?;
    let (state, message) = match (batch.is_empty(), denied.is_empty()) {
        (_, false) => (
            EventState::Completed,
            Some(format!(
                "the service declined to issue {}",
                denied.join(", ")
            )),
        ),
        (false, true) => (EventState::Completed, None),
        (true, true) if event.interaction.issued.is_empty() => (EventState::Completed, None),
        (true, true) => (EventState::Waiting, Some(WAITING_MESSAGE.into())),
    };
    Ok(Settled {
        state,
        message,
        batch,
        revoke,
    })
}

/// The credential ids `revokedCredentials` names: ids as given (the service's credentials of any
/// holder), and for a definition the event holder's valid credentials of it, only those with the
/// given values when there are any.
async fn revocations(event: &mut Event<'_>, entries: &[RevokeRef]) -> Result<Vec<String>, Stop> {
    let mut jtis = Vec::new();
    for entry in entries {
        match entry {
            RevokeRef::Jti(jti) | RevokeRef::ById { jti } => jtis.push(jti.clone()),
            RevokeRef::ByDefinition {
                credential_id,
                fields,
            } => {
                let Some(definition) = event
                    .definitions
                    .values()
                    .find(|d| d.credential_id.as_str() == credential_id)
                else {
                    event.journal.log(
                        LogKind::Revoked,
                        format!(
                            "nothing to revoke: {credential_id} is not a definition of this service"
                        ),
                    );
                    continue;
                };
                let held = db::credentials::valid_of_holder(
                    event.state.db.pool(),
                    event.scope,
                    &definition.id,
                    event.holder_did,
                )
                .await?;
                let matching = held
                    .into_iter()
                    .filter(|(_, values)| fields.iter().all(|f| values.contains(f)));
                jtis.extend(matching.map(|(jti, _)| jti));
            }
        }
    }
    jtis.dedup();
    Ok(jtis)
}
