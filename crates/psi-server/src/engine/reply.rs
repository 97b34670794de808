//! Acting on a success reply of the interaction webhook (docs/protocol.md §4.1), with the checks
//! and signing every issuer goes through ([`crate::event::issue`]): a credential that does not
//! fit fails the whole event, so nothing is half-issued; an empty one is a denial; an empty list
//! means "later".

use super::{Event, Stop};
use crate::db::events::EventState;
use crate::event::issue::{self, IssuedValues, RevokeRef};
use crate::event::settle::Ending;

/// What the holder is told when issuing comes later.
pub(super) const WAITING_MESSAGE: &str = "the service will issue your credentials later";

/// How the event ends after a success reply.
pub(super) async fn settle(
    event: &mut Event<'_>,
    issued: &[IssuedValues],
    revoked: &[RevokeRef],
) -> Result<Ending, Stop> {
    let (state, scope) = (event.state, event.scope);
    let own = issue::issued_definitions(event.interaction, event.definitions, issued)
        .map_err(crate::event::Error::from)?;
    let signing = issue::sign(
        state,
        scope,
        event.holder_did,
        issued,
        &own,
        &mut event.journal,
    )
    .await?;
    let revoke = issue::revocations(
        state,
        scope,
        event.definitions,
        event.holder_did,
        revoked,
        &mut event.journal,
    )
    .await?;
    let message = signing.declined_message();
    let (state, message) = match (signing.batch.is_empty(), message) {
        (_, Some(declined)) => (EventState::Completed, Some(declined)),
        (false, None) => (EventState::Completed, None),
        (true, None) if event.interaction.issued.is_empty() => (EventState::Completed, None),
        (true, None) => (EventState::Waiting, Some(WAITING_MESSAGE.into())),
    };
    Ok(Ending {
        state,
        message,
        batch: signing.batch,
        revoke: revoke.into_iter().map(|r| r.jti).collect(),
    })
}
