//! Who may call: authentication with the keys credential definitions authorise (`issuers`),
//! authorisation per definition (its `issuers` and `source_ip_prefixes`), and the ids of calls
//! accepted once.
//!
//! Authentication comes first and needs only the raw body: the call is checked against every key
//! any definition of the service authorises, so nothing about the service's events or
//! interactions is revealed to a caller that cannot sign.
//!
//! A call naming one of the service's installations ([`EXTENSION_HEADER`], docs/extensions.md) is
//! made on that extension's behalf instead: only the extension's inbound key authenticates it,
//! and it may act only on interactions the installation is attached to, while enabled, on the
//! credentials they issue (the definitions' `issuers` do not count; their `source_ip_prefixes`
//! do).
//!
//! The schemes, in this order when a call carries several:
//!
//! - `Authorization: Bearer` (RS256 or HS256): `exp` required (60 s leeway) and at most
//!   `[inbound] token_exp_horizon` ahead, `aud` = the service's DID, `body_sha3_256` checked when
//!   present; a token with neither `jti` nor `body_sha3_256` is refused (401) unless
//!   `[inbound] allow_unbound_bearer`. Each `jti` is accepted once.
//! - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature` `v1`, SHA secrets
//!   only): the timestamp within `[inbound] standard_webhooks_tolerance` of now, each
//!   `webhook-id` accepted once.
//! - `X-Body-Signature` (RSA keys only): no time; see `idempotency` for how its replays are met.

use std::net::IpAddr;

use anyhow::Context;
use axum::http::HeaderMap;
use psi_webhook::{
    DEFAULT_LEEWAY, Error as WebhookError, PublicKey, SIGNATURE_HEADER, SharedSecret, UnixTime,
    Validation, Verifier, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER,
    WebhookHeaders,
};

use crate::db::credential_definitions::CredentialDefinition;
use crate::db::extension_inbound::InboundInstallation;
use crate::db::inbound::OnceKind;
use crate::db::interactions::Interaction;
use crate::db::keys::{KeyInfo, KeyKind};
use crate::db::{self, now_ms};
use crate::event::label;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::scope::ServiceScope;

/// Longest `jti` or `webhook-id` kept.
const MAX_ONCE_ID_LEN: usize = 256;

/// Names the installation a call is made for: `X-Psi-Extension: <installation id>`.
pub const EXTENSION_HEADER: &str = "x-psi-extension";

/// How a call authenticated itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `X-Body-Signature`.
    Signature,
    /// `Authorization: Bearer <JWT>`.
    Bearer,
    /// Standard Webhooks.
    StandardWebhooks,
}

/// The caller, as authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Name of the key that verified the call.
    pub key: String,
    pub scheme: Scheme,
    /// The id the call is accepted once by: a Bearer token's `jti` or the `webhook-id`; `None`
    /// for a signature or a token without `jti`.
    pub once: Option<OnceId>,
    /// Where the call came from (see [`peer_address`]); `None` when unknown.
    pub address: Option<IpAddr>,
    /// The installation the call is made for ([`EXTENSION_HEADER`]); `None`: the service's
    /// partners, by the definitions' `issuers`.
    pub extension: Option<InboundInstallation>,
}

impl Caller {
    /// How logs and refusals name the caller: its key, and the extension it calls for.
    pub fn who(&self) -> String {
        match &self.extension {
            None => format!("key {:?}", self.key),
            Some(extension) => format!(
                "extension {:?} (installation {}, key {:?})",
                extension.extension_name, extension.id, self.key
            ),
        }
    }
}

/// An id to accept once, and until when it matters (unix ms): a token's `exp` plus the leeway, a
/// `webhook-timestamp` plus the tolerance. After that the call is refused by its time anyway.
#[derive(Debug, Clone)]
pub struct OnceId {
    pub kind: OnceKind,
    pub id: String,
    pub expires_at: i64,
}

/// How a call authenticates itself.
enum Proof<'a> {
    Bearer(&'a str),
    StandardWebhooks(WebhookHeaders<'a>),
    Signature(&'a str),
}

fn proof(headers: &HeaderMap) -> Option<Proof<'_>> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let bearer = header("authorization")
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let standard = WebhookHeaders {
        id: header(WEBHOOK_ID_HEADER),
        timestamp: header(WEBHOOK_TIMESTAMP_HEADER),
        signature: header(WEBHOOK_SIGNATURE_HEADER),
    };
    if let Some(token) = bearer {
        return Some(Proof::Bearer(token));
    }
    if standard != WebhookHeaders::default() {
        return Some(Proof::StandardWebhooks(standard));
    }
    header(SIGNATURE_HEADER)
        .map(str::trim)
        .filter(|signature| !signature.is_empty())
        .map(Proof::Signature)
}

/// What a key's check found.
enum Verified {
    /// The call, with the id to accept it once by.
    Call(Option<OnceId>),
    /// A Bearer token with neither `jti` nor `body_sha3_256`.
    Unbound,
}

/// Checks the call's signature or token against every key the service's definitions authorise,
/// or with [`EXTENSION_HEADER`] against the named installation's inbound key; the caller came
/// from `address`. Missing or bad authentication: 403; a token bound to nothing: 401.
pub async fn authenticate(
    state: &AppState,
    scope: &ServiceScope,
    definitions: &[CredentialDefinition],
    headers: &HeaderMap,
    body: &[u8],
    address: Option<IpAddr>,
) -> Result<Caller, ApiError> {
    let Some(proof) = proof(headers) else {
        return Err(ApiError::Forbidden(
            "authenticate the call with `X-Body-Signature`, `Authorization: Bearer <JWT>` or \
             Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) \
             (docs/protocol.md §4)"
                .into(),
        ));
    };
    let (keys, extension) = match named_installation(headers) {
        Some(id) => {
            let installation = db::extension_inbound::installation(&state.db, scope, &id)
                .await?
                .ok_or_else(|| {
                    ApiError::Forbidden(format!(
                        "`X-Psi-Extension` {id:?} is not an installation of this service"
                    ))
                })?;
            (inbound_key(state, &installation).await?, Some(installation))
        }
        None => {
            let keys = verifiers(state, scope, definitions).await?;
            if keys.is_empty() {
                return Err(ApiError::Forbidden(
                    "no credential definition of this service authorises a key for calls from \
                     outside (set its `issuers`)"
                        .into(),
                ));
            }
            (keys, None)
        }
    };
    let config = &state.config.inbound;
    let now = UnixTime::now();
    let scheme = match proof {
        Proof::Signature(_) => Scheme::Signature,
        Proof::Bearer(_) => Scheme::Bearer,
        Proof::StandardWebhooks(_) => Scheme::StandardWebhooks,
    };
    let mut best: Option<WebhookError> = None;
    for (name, verifier) in &keys {
        let result = match &proof {
            Proof::Signature(signature) => verifier
                .verify_signature(body, Some(signature))
                .map(|()| Verified::Call(None)),
            Proof::Bearer(token) => {
                let validation = Validation::new()
                    .expect_audience(scope.did().as_str())
                    .expire_within(config.token_exp_horizon);
                verifier
                    .verify_bearer(token, body, &validation, now)
                    .map(|claims| match claims.jti {
                        Some(jti) => Verified::Call(Some(OnceId {
                            kind: OnceKind::Jti,
                            id: jti,
                            expires_at: exp_ms(claims.exp),
                        })),
                        None if claims.body_sha3_256.is_some() => Verified::Call(None),
                        None => Verified::Unbound,
                    })
            }
            Proof::StandardWebhooks(received) => {
                let tolerance = config.standard_webhooks_tolerance;
                verifier
                    .verify_standard_webhooks(received, body, now, tolerance)
                    .map(|timestamp| {
                        Verified::Call(Some(OnceId {
                            kind: OnceKind::WebhookId,
                            id: received.id.unwrap_or_default().trim().to_owned(),
                            expires_at: secs_to_ms((timestamp + tolerance).as_secs()),
                        }))
                    })
            }
        };
        match result {
            Ok(Verified::Unbound) if !config.allow_unbound_bearer => {
                return Err(ApiError::SignatureRequired(
                    "the Bearer token has neither `jti` nor `body_sha3_256`, so it could carry \
                     any body until it expires: add `jti` (a new id for every call) or \
                     `body_sha3_256` (base64url SHA3-256 of the body) to its claims \
                     (`[inbound] allow_unbound_bearer` accepts such tokens)"
                        .into(),
                ));
            }
            Ok(verified) => {
                let once = match verified {
                    Verified::Call(once) => once,
                    Verified::Unbound => None,
                };
                return Ok(Caller {
                    key: name.clone(),
                    scheme,
                    once,
                    address,
                    extension,
                });
            }
            Err(error) if rank(&error) > best.as_ref().map_or(0, rank) => best = Some(error),
            Err(_) => {}
        }
    }
    Err(ApiError::Forbidden(unverified(best, extension.as_ref())))
}

/// The installation id [`EXTENSION_HEADER`] gives, if the call carries it.
fn named_installation(headers: &HeaderMap) -> Option<String> {
    headers
        .get(EXTENSION_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
}

/// Why no key verified the call, `best` being the most telling failure, naming the keys tried:
/// those authorised for calls from outside, or `extension`'s inbound key.
fn unverified(best: Option<WebhookError>, extension: Option<&InboundInstallation>) -> String {
    let Some(error) = best else {
        return "the call's signature does not verify with any key authorised for it".to_owned();
    };
    let inbound = extension.map(|e| format!("the inbound key of extension {:?}", e.extension_name));
    match error {
        WebhookError::SignatureMismatch
        | WebhookError::TokenSignatureMismatch
        | WebhookError::WebhookSignatureMismatch => match inbound {
            None => format!("{error} (no key authorised for calls from outside verifies it)"),
            Some(key) => format!("{error} ({key} does not verify it)"),
        },
        WebhookError::KeyNotForStandardWebhooks => match inbound {
            None => {
                format!("{error}: no SHA secret among the keys authorised for calls from outside")
            }
            Some(key) => format!("{error}: {key} is not a SHA secret"),
        },
        other => match inbound {
            None => other.to_string(),
            Some(key) => format!("{other} (checked with {key})"),
        },
    }
}

/// `exp` (seconds) plus the leeway, in unix milliseconds.
fn exp_ms(exp: u64) -> i64 {
    secs_to_ms(exp.saturating_add(DEFAULT_LEEWAY.as_secs()))
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Which failure says most about the caller's mistake: a call whose signature verified but whose
/// claims or time do not hold (expired, wrong audience, ...) beats a malformed one, which beats a
/// key that simply does not match.
fn rank(error: &WebhookError) -> u8 {
    match error {
        WebhookError::Expired { .. }
        | WebhookError::NotYetValid { .. }
        | WebhookError::ExpiresTooLate { .. }
        | WebhookError::WrongAudience { .. }
        | WebhookError::WrongIssuer { .. }
        | WebhookError::MissingExpiry
        | WebhookError::BodyHashMismatch
        | WebhookError::WebhookTimestampOutOfTolerance { .. } => 4,
        WebhookError::TokenMalformed(_)
        | WebhookError::BadBase64 { .. }
        | WebhookError::MissingWebhookHeader { .. }
        | WebhookError::BadWebhookTimestamp
        | WebhookError::BadWebhookId => 3,
        WebhookError::SignatureMismatch
        | WebhookError::TokenSignatureMismatch
        | WebhookError::WebhookSignatureMismatch => 2,
        _ => 1,
    }
}

/// A verifier for each key some definition lists among its `issuers`.
async fn verifiers(
    state: &AppState,
    scope: &ServiceScope,
    definitions: &[CredentialDefinition],
) -> Result<Vec<(String, Verifier)>, ApiError> {
    let authorised = |name: &str| {
        definitions
            .iter()
            .any(|d| d.issuers.iter().any(|i| i == name))
    };
    let mut verifiers = Vec::new();
    for key in db::keys::list(&state.db, scope).await? {
        if !authorised(&key.name) {
            continue;
        }
        if let Some(verifier) = verifier(state, scope, &key).await? {
            verifiers.push((key.name, verifier));
        }
    }
    Ok(verifiers)
}

/// The verifier of the inbound key of `installation`'s extension, a key of the extension's
/// author. None set: 403.
async fn inbound_key(
    state: &AppState,
    installation: &InboundInstallation,
) -> Result<Vec<(String, Verifier)>, ApiError> {
    let none = || {
        ApiError::Forbidden(format!(
            "extension {:?} (installation {}) has no inbound key: its author sets `inbound_key` \
             for calls on its behalf",
            installation.extension_name, installation.id
        ))
    };
    let (owner, name) = installation.key.as_ref().ok_or_else(none)?;
    let key = db::keys::get(&state.db, owner, name)
        .await?
        .ok_or_else(none)?;
    let verifier = verifier(state, owner, &key).await?.ok_or_else(none)?;
    Ok(vec![(key.name, verifier)])
}

/// The verifier of `owner`'s key `key`; `None` for a SHA secret without its sealed material.
async fn verifier(
    state: &AppState,
    owner: &ServiceScope,
    key: &KeyInfo,
) -> Result<Option<Verifier>, ApiError> {
    Ok(Some(match key.kind {
        KeyKind::RsaPublicKey | KeyKind::RsaKeyPair => {
            let pem = key.public_pem.as_deref().unwrap_or_default();
            Verifier::rsa(PublicKey::from_pem(pem).context("a stored public key")?)
        }
        KeyKind::ShaSecret => {
            let Some(sealed) = db::keys::sealed_secret(&state.db, owner, &key.name).await? else {
                return Ok(None);
            };
            let secret = state
                .master_key
                .open(sealed.id.as_bytes(), &sealed.secret_sealed)
                .context("a sealed SHA secret")?;
            let text = std::str::from_utf8(&secret).context("a SHA secret is not text")?;
            Verifier::shared_secret(SharedSecret::from_base64(text).context("a stored SHA secret")?)
        }
    }))
}

/// What a call needs to be allowed to do.
pub enum Need<'a> {
    /// Act on each of these definitions (issue or revoke their credentials).
    All(Vec<&'a CredentialDefinition>),
    /// Act on an interaction, which one of these definitions (those it issues) must allow.
    Any(Vec<&'a CredentialDefinition>),
}

/// Whether `caller` may do what `need` says about `interaction`: its key among a definition's
/// `issuers` (for an extension: its installation enabled and attached to `interaction`, and the
/// definition one `interaction` issues), and its address within the definition's
/// `source_ip_prefixes` where any are set. 403 otherwise.
pub fn authorise(
    caller: &Caller,
    interaction: &Interaction,
    need: &Need<'_>,
) -> Result<(), ApiError> {
    if let Some(extension) = &caller.extension {
        attached(extension, interaction)?;
    }
    match need {
        Need::All(definitions) => definitions
            .iter()
            .try_for_each(|definition| allows(caller, interaction, definition)),
        Need::Any(definitions) => {
            let mut refusal = ApiError::Forbidden(format!(
                "{} is not authorised for this interaction: it issues no credential",
                caller.who()
            ));
            for definition in definitions {
                match allows(caller, interaction, definition) {
                    Ok(()) => return Ok(()),
                    Err(e) => refusal = e,
                }
            }
            Err(refusal)
        }
    }
}

/// An extension acts only on the interactions its installation is attached to, while enabled.
fn attached(extension: &InboundInstallation, interaction: &Interaction) -> Result<(), ApiError> {
    let name = &extension.extension_name;
    if !extension.enabled {
        return Err(ApiError::Forbidden(format!(
            "extension {name:?} is disabled in this service (installation {})",
            extension.id
        )));
    }
    if !extension.interactions.contains(&interaction.id) {
        return Err(ApiError::Forbidden(format!(
            "extension {name:?} (installation {}) is not attached to interaction {:?}",
            extension.id, interaction.name
        )));
    }
    Ok(())
}

fn allows(
    caller: &Caller,
    interaction: &Interaction,
    definition: &CredentialDefinition,
) -> Result<(), ApiError> {
    match &caller.extension {
        None if !definition.issuers.contains(&caller.key) => {
            return Err(ApiError::Forbidden(format!(
                "key {:?} is not authorised to issue {} (it is not among the definition's \
                 `issuers`)",
                caller.key,
                label(definition)
            )));
        }
        Some(extension)
            if !interaction
                .issued
                .iter()
                .any(|c| c.definition_id == definition.id) =>
        {
            return Err(ApiError::Forbidden(format!(
                "extension {:?} acts only on the credentials interaction {:?} issues, not on {}",
                extension.extension_name,
                interaction.name,
                label(definition)
            )));
        }
        _ => {}
    }
    let prefixes = &definition.source_ip_prefixes;
    let listed = prefixes.to_strings();
    if listed.is_empty() {
        return Ok(());
    }
    let from = match caller.address {
        Some(address) if prefixes.allows(address) => return Ok(()),
        Some(address) => address.to_string(),
        None => "an unknown address".to_owned(),
    };
    let on_behalf = caller
        .extension
        .as_ref()
        .map(|e| format!(", for extension {:?},", e.extension_name))
        .unwrap_or_default();
    Err(ApiError::Forbidden(format!(
        "calls about {} must come from {}; this one{on_behalf} came from {from}",
        label(definition),
        listed.join(", ")
    )))
}

/// Accepts the call's `jti` or `webhook-id` once (atomically: of two calls racing with one id,
/// exactly one passes). An id seen before: 403.
pub async fn accept_once(
    state: &AppState,
    scope: &ServiceScope,
    caller: &Caller,
) -> Result<(), ApiError> {
    let Some(once) = &caller.once else {
        return Ok(());
    };
    let what = match once.kind {
        OnceKind::Jti => "the token's `jti`",
        OnceKind::WebhookId => "the `webhook-id`",
    };
    if once.id.len() > MAX_ONCE_ID_LEN {
        return Err(ApiError::Forbidden(format!(
            "{what} is longer than {MAX_ONCE_ID_LEN} bytes"
        )));
    }
    if once.expires_at < now_ms() {
        // Verified a moment ago, so only a call at the very end of its time gets here.
        return Err(ApiError::Forbidden(format!(
            "the call came too late for {what} to be accepted"
        )));
    }
    if db::inbound::accept_once(&state.db, scope, once.kind, &once.id, once.expires_at).await? {
        return Ok(());
    }
    Err(ApiError::Forbidden(match once.kind {
        OnceKind::Jti => format!(
            "the token's `jti` {:?} was used before: make a new token (with a new `jti`) for \
             every call",
            once.id
        ),
        OnceKind::WebhookId => format!(
            "the `webhook-id` {:?} was used before for another call: give every message its own \
             id",
            once.id
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_wins_over_standard_webhooks_over_a_signature_and_other_schemes_are_no_proof() {
        let mut headers = HeaderMap::new();
        headers.insert("x-body-signature", "c2ln".parse().unwrap());
        assert!(matches!(proof(&headers), Some(Proof::Signature("c2ln"))));
        headers.insert("authorization", "Basic dTpw".parse().unwrap());
        assert!(matches!(proof(&headers), Some(Proof::Signature(_))));
        // One Standard Webhooks header is enough to be checked (and refused) as such.
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        assert!(matches!(
            proof(&headers),
            Some(Proof::StandardWebhooks(WebhookHeaders {
                id: Some("msg_1"),
                timestamp: None,
                signature: None
            }))
        ));
        headers.insert("authorization", "bearer a.b.c".parse().unwrap());
        assert!(matches!(proof(&headers), Some(Proof::Bearer("a.b.c"))));
        assert!(proof(&HeaderMap::new()).is_none());
    }

    #[test]
    fn claim_failures_are_reported_before_key_mismatches() {
        let expired = WebhookError::Expired {
            exp: 1,
            now: 2,
            leeway_secs: 60,
        };
        assert!(rank(&expired) > rank(&WebhookError::TokenSignatureMismatch));
        let stale = WebhookError::WebhookTimestampOutOfTolerance {
            timestamp: 1,
            now: 1000,
            tolerance_secs: 300,
        };
        assert!(rank(&stale) > rank(&WebhookError::WebhookSignatureMismatch));
        assert!(
            rank(&WebhookError::WebhookSignatureMismatch)
                > rank(&WebhookError::KeyNotForStandardWebhooks)
        );
        assert!(
            rank(&WebhookError::TokenSignatureMismatch)
                > rank(&WebhookError::SecretNotForSignature)
        );
    }
}
