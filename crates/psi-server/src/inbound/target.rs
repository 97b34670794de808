//! What a call acts on: the waiting event it names (`subscriberEventId`), or a push-from-server
//! interaction (`actionTemplate`, the instance picked by `actionParams`) for a holder
//! (`subscriberConnectDid`).

use std::time::{Duration, Instant};

use crate::db::events::{Event, EventState};
use crate::db::instances::Instance;
use crate::db::interactions::Interaction;
use crate::db::{self, Db};
use crate::domain::{Medium, Parameter};
use crate::event::check_active;
use crate::http::error::ApiError;
use crate::ids::{EventId, HolderDid, InstanceId, InteractionId};
use crate::scope::ServiceScope;

use super::wire::Routing;

/// The object of a call.
#[derive(Debug)]
pub enum Target {
    /// An event to complete or fail.
    Event {
        event: Event,
        interaction: Interaction,
    },
    /// A run of a push-from-server interaction for a holder.
    Push {
        interaction: Interaction,
        instance: Instance,
        holder_did: HolderDid,
    },
}

impl Target {
    /// The interaction acted on.
    pub fn interaction(&self) -> &Interaction {
        match self {
            Target::Event { interaction, .. } | Target::Push { interaction, .. } => interaction,
        }
    }

    /// The instance run: the event's, or the one a push picked.
    pub fn instance_id(&self) -> &InstanceId {
        match self {
            Target::Event { event, .. } => &event.instance_id,
            Target::Push { instance, .. } => &instance.id,
        }
    }

    /// The holder's pairwise DID.
    pub fn holder_did(&self) -> &HolderDid {
        match self {
            Target::Event { event, .. } => &event.holder_did,
            Target::Push { holder_did, .. } => holder_did,
        }
    }
}

/// Finds what a call names. Unknown event, interaction or instance: 404; a push to an
/// interaction without the PUSH medium or paused: 409; neither named, or names that disagree: 422.
pub async fn resolve(db: &Db, scope: &ServiceScope, routing: &Routing) -> Result<Target, ApiError> {
    if let Some(event_id) = &routing.subscriber_event_id {
        return event(db, scope, event_id, routing).await;
    }
    let Some(action_id) = &routing.action_template else {
        return Err(ApiError::Validation(
            "name the waiting event (`subscriberEventId`) or the push-from-server interaction \
             (`actionTemplate`)"
                .into(),
        ));
    };
    let holder_did = routing.subscriber_connect_did.as_deref().ok_or_else(|| {
        ApiError::Validation(
            "`subscriberConnectDid` is required with `actionTemplate`: the holder to push to"
                .into(),
        )
    })?;
    let holder_did: HolderDid = holder_did
        .parse()
        .map_err(|e| ApiError::Validation(format!("`subscriberConnectDid` {e}")))?;
    let interaction =
        db::interactions::get_cached(db, scope, &InteractionId::from(action_id.as_str()))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("interaction {action_id:?} not found")))?;
    if !interaction.media.contains(&Medium::Push) {
        return Err(ApiError::Conflict(format!(
            "interaction {:?} is not push-from-server: add PUSH to its media",
            interaction.name
        )));
    }
    check_active(&interaction)?;
    let instance = instance_for(&interaction, routing.action_params.as_deref())?.clone();
    Ok(Target::Push {
        interaction,
        instance,
        holder_did,
    })
}

async fn event(
    db: &Db,
    scope: &ServiceScope,
    event_id: &str,
    routing: &Routing,
) -> Result<Target, ApiError> {
    let event = db::events::get(db, scope, &EventId::from(event_id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {event_id:?} not found")))?;
    if let Some(holder) = &routing.subscriber_connect_did
        && holder != event.holder_did.as_str()
    {
        return Err(ApiError::Validation(format!(
            "`subscriberConnectDid` {holder:?} is not the holder of event {event_id:?}"
        )));
    }
    if let Some(action_id) = &routing.action_template
        && action_id != event.interaction_id.as_str()
    {
        return Err(ApiError::Validation(format!(
            "`actionTemplate` {action_id:?} is not the interaction of event {event_id:?}"
        )));
    }
    let interaction = db::interactions::get_cached(db, scope, &event.interaction_id)
        .await?
        .ok_or_else(|| ApiError::not_found("interaction"))?;
    Ok(Target::Event { event, interaction })
}

/// How long a call waits for an event still running (its webhook answered "nothing now" a moment
/// ago, and the third party called before the event settled).
const SETTLING_WAIT: Duration = Duration::from_secs(5);

/// An event can be completed or failed from outside only while it waits: an event still running
/// is given [`SETTLING_WAIT`] to settle. 409 otherwise.
pub async fn await_waiting(db: &Db, scope: &ServiceScope, event: &Event) -> Result<(), ApiError> {
    let deadline = Instant::now() + SETTLING_WAIT;
    let mut state = event.state;
    while state == EventState::Started && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = db::events::get(db, scope, &event.id)
            .await?
            .map_or(state, |e| e.state);
    }
    match state {
        EventState::Waiting => Ok(()),
        EventState::Started => Err(ApiError::Conflict(format!(
            "event {:?} is still running: call again once the interaction webhook has answered",
            event.id
        ))),
        state => Err(ApiError::Conflict(format!(
            "event {:?} is {}: only a waiting event can be completed or failed",
            event.id,
            state.as_str()
        ))),
    }
}

/// A holder's pairwise DID: base58 of 16 bytes.
/// The instance whose parameters include every one given: the default instance when none are
/// given, the one matching exactly when several include them. 404 when none does, 422 when the
/// choice is ambiguous.
fn instance_for<'a>(
    interaction: &'a Interaction,
    params: Option<&[Parameter]>,
) -> Result<&'a Instance, ApiError> {
    let Some(params) = params.filter(|p| !p.is_empty()) else {
        return interaction
            .default_instance()
            .ok_or_else(|| ApiError::not_found("instance"));
    };
    let includes = |instance: &Instance| params.iter().all(|p| instance.parameters.contains(p));
    let candidates: Vec<&Instance> = interaction
        .instances
        .iter()
        .filter(|i| includes(i))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(ApiError::NotFound(format!(
            "no instance of interaction {:?} has these `actionParams`",
            interaction.name
        ))),
        several => several
            .iter()
            .find(|i| i.parameters.len() == params.len())
            .copied()
            .ok_or_else(|| {
                ApiError::Validation(format!(
                    "several instances of interaction {:?} have these `actionParams`: give all \
                     of one instance's parameters",
                    interaction.name
                ))
            }),
    }
}
