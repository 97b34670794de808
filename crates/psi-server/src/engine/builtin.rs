//! The built-in extensions' `on_receive` triggers, run in-process (docs/extensions.md): the allow
//! list check, forwarding shared attributes to an HTTP API, and SSI OAuth's approval of a device
//! grant. The chat notification is a durable `on_finish` trigger: `delivery::notify` writes its
//! message.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::protocol::InteractionRequest;
use super::{Event, Stop, calls};
use crate::db::events::{CallKind, LogKind};
use crate::db::extensions::Attachment;
use crate::db::keys::DEFAULT_KEY_NAME;
use crate::db::webhooks::Webhook;
use crate::domain::AuthScheme;
use crate::domain::extension::Builtin;
use crate::domain::oauth::{self, OAuthSettings};

/// How long a fetched allow list is used before it is fetched again.
const LIST_TTL: Duration = Duration::from_secs(300);
/// Most lists kept at once; beyond, the cache starts afresh.
const MAX_LISTS: usize = 1000;
/// How long forwarding waits for the API.
const FORWARD_TIMEOUT_MS: i64 = 10_000;

/// Runs `builtin`'s `on_receive` for `attachment` with the merged `settings` (secrets opened).
pub(super) async fn on_receive(
    event: &mut Event<'_>,
    attachment: &Attachment,
    builtin: Builtin,
    settings: &Map<String, Value>,
    request: &InteractionRequest<'_>,
) -> Result<(), Stop> {
    let name = attachment.installation.extension_name.as_str();
    match builtin {
        Builtin::AllowList => allow_list(event, name, settings, request).await,
        Builtin::ForwardHttp => forward(event, name, settings, request).await,
        Builtin::SsiOauth => ssi_oauth(event, attachment, settings, request).await,
        // No on_receive trigger.
        Builtin::ChatNotification => Ok(()),
    }
}

fn text<'a>(settings: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    settings
        .get(name)
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
}

/// The value the holder shared for `attribute`, in any presented credential.
fn shared<'a>(request: &'a InteractionRequest<'_>, attribute: &str) -> Option<&'a str> {
    request
        .received_credentials
        .iter()
        .flat_map(|c| &c.fields)
        .find(|f| f.name == attribute)
        .map(|f| f.value.as_str())
}

async fn allow_list(
    event: &mut Event<'_>,
    name: &str,
    settings: &Map<String, Value>,
    request: &InteractionRequest<'_>,
) -> Result<(), Stop> {
    let attribute = text(settings, "attribute").unwrap_or_default();
    let refusal = text(settings, "message")
        .unwrap_or("You are not on the list for this")
        .to_owned();
    let Some(value) = shared(request, attribute) else {
        return Err(Stop::Fail {
            message: refusal,
            detail: format!(
                "extension {name:?}: no shared credential has the attribute {attribute:?}"
            ),
        });
    };
    let mut allowed: Vec<String> = text(settings, "allowed").map(lines).unwrap_or_default();
    if let Some(url) = text(settings, "list_url") {
        let fetched = fetch_list(event, url).await.map_err(|reason| Stop::Fail {
            message: format!("the extension {name:?} could not check the list"),
            detail: format!("extension {name:?}: the list at {url} could not be fetched: {reason}"),
        })?;
        allowed.extend(fetched.iter().cloned());
    }
    let ignore_case = settings.get("ignore_case") == Some(&Value::Bool(true));
    let found = allowed.iter().any(|entry| {
        if ignore_case {
            entry.to_lowercase() == value.trim().to_lowercase()
        } else {
            entry == value.trim()
        }
    });
    if !found {
        return Err(Stop::Fail {
            message: refusal,
            detail: format!("extension {name:?}: {attribute} {value:?} is not on the list"),
        });
    }
    event.journal.log(
        LogKind::Verified,
        format!("extension {name:?}: {attribute} is on the list"),
    );
    Ok(())
}

/// Non-empty trimmed lines.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

type Lists = HashMap<String, (Instant, Arc<Vec<String>>)>;

/// Fetched lists by URL, shared by every event of the process.
static LISTS: LazyLock<Mutex<Lists>> = LazyLock::new(Mutex::default);

/// The list at `url`: a JSON array of strings, or one entry per line; kept for [`LIST_TTL`].
async fn fetch_list(event: &Event<'_>, url: &str) -> Result<Arc<Vec<String>>, String> {
    let cached = {
        let lists = LISTS.lock().unwrap_or_else(|e| e.into_inner());
        lists
            .get(url)
            .filter(|(at, _)| at.elapsed() < LIST_TTL)
            .map(|(_, list)| list.clone())
    };
    if let Some(list) = cached {
        return Ok(list);
    }
    let response = event
        .state
        .outbound
        .get(url)
        .await
        .map_err(|e| e.to_string())?;
    if !response.status.is_success() {
        return Err(format!("it answered HTTP {}", response.status.as_u16()));
    }
    let list = match serde_json::from_slice::<Vec<String>>(&response.body) {
        Ok(entries) => entries.into_iter().map(|e| e.trim().to_owned()).collect(),
        Err(_) => lines(&String::from_utf8_lossy(&response.body)),
    };
    let list = Arc::new(list);
    let mut lists = LISTS.lock().unwrap_or_else(|e| e.into_inner());
    if lists.len() >= MAX_LISTS {
        lists.clear();
    }
    lists.insert(url.to_owned(), (Instant::now(), list.clone()));
    Ok(list)
}

/// POSTs `{field: value}` for each `attribute = field` line of the mapping to the API, with its
/// key header; the event fails when the API does not take it, so no record is missed.
async fn forward(
    event: &mut Event<'_>,
    name: &str,
    settings: &Map<String, Value>,
    request: &InteractionRequest<'_>,
) -> Result<(), Stop> {
    let mut document = Map::new();
    for line in lines(text(settings, "mapping").unwrap_or_default()) {
        let (attribute, field) = line.split_once('=').unwrap_or((&line, &line));
        let value = shared(request, attribute.trim()).map_or(Value::Null, Value::from);
        document.insert(field.trim().to_owned(), value);
    }
    let url = text(settings, "url").unwrap_or_default().to_owned();
    let header = text(settings, "api_key_header").unwrap_or("X-API-Key");
    let headers: Vec<(&str, &str)> = text(settings, "api_key")
        .map(|key| vec![(header, key)])
        .unwrap_or_default();
    let webhook = Webhook {
        url,
        key_name: DEFAULT_KEY_NAME.to_owned(),
        auth: AuthScheme::Signature,
        timeout_ms: FORWARD_TIMEOUT_MS,
    };
    let body = serde_json::to_vec(&document).map_err(anyhow::Error::new)?;
    let scope = event.scope;
    let sent = calls::call(
        event.state,
        scope,
        &webhook,
        CallKind::Interaction,
        body,
        &headers,
    )
    .await?;
    let (record, result) = sent.read(|_| Ok(()));
    event.record_call(&format!("extension {name:?} on_receive"), record);
    result.map_err(|e| Stop::Fail {
        message: format!("the extension {name:?} {}", e.holder_reason()),
        detail: format!("extension {name:?}: forwarding failed: {e}"),
    })
}

/// SSI OAuth: the holder presented the user code of a grant (pre-filled into the "SSI
/// Authentication" credential by the link of a web page's device grant or of psi's authorization
/// page); approves that grant with the holder's pairwise DID, this event and the mapped claims, so
/// the page's next poll, or the browser's return, gets the token.
async fn ssi_oauth(
    event: &mut Event<'_>,
    attachment: &Attachment,
    settings: &Map<String, Value>,
    request: &InteractionRequest<'_>,
) -> Result<(), Stop> {
    let name = &attachment.installation.extension_name;
    let settings = OAuthSettings::read(settings).map_err(|e| Stop::Fail {
        message: format!("the extension {name:?} is not configured correctly"),
        detail: format!("extension {name:?}: {e}"),
    })?;
    let refused = |detail: &str| Stop::Fail {
        message: "This sign-in code is not valid any more: start the sign-in again on the web \
                  page"
            .into(),
        detail: format!("extension {name:?}: {detail}"),
    };
    let code = shared(request, oauth::USER_CODE_ATTRIBUTE)
        .ok_or_else(|| refused("no shared credential has the user code"))?;
    let code = oauth::normalise_user_code(code)
        .ok_or_else(|| refused("the shared user code is not one psi makes"))?;
    let claims = settings.claims_of(|attribute| shared(request, attribute));
    let approval = crate::db::oauth::Approval {
        user_code: &code,
        holder_did: request.subscriber_connect_did,
        event_id: event.id.as_str(),
        claims: &claims,
    };
    let attached = (
        attachment.installation.id.as_str(),
        attachment.interaction_id.as_str(),
    );
    let approved =
        crate::db::oauth::approve(&event.state.db, event.scope, attached, &approval).await?;
    if !approved {
        return Err(refused(
            "no pending sign-in has this user code (expired or used)",
        ));
    }
    event.journal.log(
        LogKind::Verified,
        format!("signed in with SSI OAuth (client {})", settings.client_id),
    );
    Ok(())
}
