//! From an interaction and the caller's choices to a checked link request, and from a request to
//! links and QR information (docs/protocol.md §2).

use psi_link::{Environment, LinkError, LinkKind, LinkRequest, LinkTarget};
use psi_qr::{EcLevel, QrInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::db::interactions::Interaction;
use crate::domain::Attestation;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ids::InteractionId;
use crate::scope::ServiceScope;

/// One pre-filled attribute value of a self-attested credential the interaction requires.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prefill {
    /// `<DID>:3:CL:<n>:<tag>`: one of the interaction's required credentials marked "pre-fill
    /// from QR".
    pub credential_id: String,
    /// An attribute of the credential's schema.
    pub name: String,
    /// The value as it travels (docs/protocol.md §1): a date is seconds since the epoch, an enumeration
    /// the chosen entry's `value`.
    pub value: String,
}

impl Prefill {
    /// Reads the query-string form `CREDENTIAL_ID:NAME=VALUE`. The credential id has five
    /// `:`-separated parts and a tag without `:`, so the name is what follows the fifth `:`, up
    /// to the first `=`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let malformed = || {
            ApiError::Validation(format!(
                "`prefill` {text:?} must be CREDENTIAL_ID:NAME=VALUE, such as \
                 <DID>:3:CL:12:member:Name=Alice"
            ))
        };
        let (credential_and_name, value) = text.split_once('=').ok_or_else(malformed)?;
        let split = credential_and_name
            .match_indices(':')
            .nth(4)
            .map(|(index, _)| index)
            .ok_or_else(malformed)?;
        let (credential_id, name) = credential_and_name.split_at(split);
        Ok(Prefill {
            credential_id: credential_id.to_owned(),
            name: name[1..].to_owned(),
            value: value.to_owned(),
        })
    }

    /// The query-string form that [`Prefill::parse`] reads.
    pub fn to_text(&self) -> String {
        format!("{}:{}={}", self.credential_id, self.name, self.value)
    }
}

/// What the caller chooses about a link, from the query string or a JSON body.
#[derive(Debug, Default)]
pub struct LinkChoices {
    /// An instance id; `None`: the default instance.
    pub instance: Option<String>,
    /// `None`: the configured default target.
    pub env: Option<String>,
    pub callback: Option<String>,
    pub prefill: Vec<Prefill>,
    /// `None`: M.
    pub ec: Option<String>,
}

/// A checked request and where its links point.
pub struct Prepared {
    /// The interaction, as loaded (the start page shows its name and instances).
    pub interaction: Interaction,
    pub request: LinkRequest,
    pub target: LinkTarget,
    pub ec_level: EcLevel,
}

/// Loads the interaction and turns the choices into a checked request: the interaction must be
/// active, the instance one of its own, the callback acceptable (psi-link), every pre-filled value
/// on a self-attested credential the interaction requires with "pre-fill from QR", an attribute
/// of its schema, and of the attribute's type.
pub async fn prepare(
    state: &AppState,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    choices: LinkChoices,
) -> Result<Prepared, ApiError> {
    let target = match choices.env.as_deref() {
        Some(env) => LinkTarget::env(
            env.parse::<Environment>()
                .map_err(|e| ApiError::Validation(format!("`env`: {e}")))?,
        ),
        None => state.config.links.default_target(),
    };
    let ec_level = match choices.ec.as_deref() {
        Some(ec) => ec
            .parse::<EcLevel>()
            .map_err(|e| ApiError::Validation(format!("`ec`: {e}")))?,
        None => EcLevel::M,
    };
    let interaction = db::interactions::get_cached(&state.db, scope, interaction_id)
        .await?
        .ok_or_else(|| ApiError::not_found("interaction"))?;
    if !interaction.active {
        return Err(ApiError::Conflict(format!(
            "the interaction {:?} is paused: activate it before making links",
            interaction.name
        )));
    }
    let instance = match choices.instance.as_deref() {
        Some(id) => interaction
            .instances
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| {
                ApiError::Validation(format!(
                    "`instance`: the interaction has no instance {id:?}"
                ))
            })?,
        None => interaction.default_instance().ok_or_else(|| {
            anyhow::anyhow!("interaction {} has no default instance", interaction.id)
        })?,
    };
    let mut request = LinkRequest {
        id: Some(instance.id.to_string()),
        action_id: Some(interaction.id.to_string()),
        service_did: Some(scope.did().to_string()),
        callback: choices.callback,
        ..LinkRequest::default()
    };
    check_prefill(&interaction, &choices.prefill)?;
    for prefill in &choices.prefill {
        request.set_prefilled(&prefill.credential_id, &prefill.name, &prefill.value);
    }
    request.validate().map_err(link_error)?;
    Ok(Prepared {
        interaction,
        request,
        target,
        ec_level,
    })
}

/// Checks every pre-filled value against the interaction's required credentials (loaded with
/// their definitions' attestation and attributes); the first problem is the error, naming the
/// credential and the attribute.
fn check_prefill(interaction: &Interaction, prefill: &[Prefill]) -> Result<(), ApiError> {
    for value in prefill {
        let credential_id = value.credential_id.as_str();
        let Some(required) = interaction
            .required
            .iter()
            .find(|r| r.credential_id.as_str() == credential_id)
        else {
            return Err(ApiError::Validation(format!(
                "`prefill`: the interaction does not require the credential {credential_id:?}"
            )));
        };
        if !required.prefill_from_qr {
            return Err(ApiError::Validation(format!(
                "`prefill`: the credential {credential_id:?} is not marked \"pre-fill from QR\" \
                 in this interaction"
            )));
        }
        if required.attestation != Attestation::SelfAttested {
            return Err(ApiError::Validation(format!(
                "`prefill`: the credential {credential_id:?} is issued by the service; only \
                 self-attested credentials can be pre-filled"
            )));
        }
        required
            .attributes
            .check_value(&value.name, &value.value)
            .map_err(|e| ApiError::Validation(format!("`prefill` of {credential_id:?}: {e}")))?;
    }
    Ok(())
}

/// A link request psi-link refuses: a client error naming the cause.
fn link_error(error: LinkError) -> ApiError {
    match error {
        LinkError::InvalidCallback { .. } | LinkError::RefusedCallbackScheme { .. } => {
            ApiError::BadRequest(format!("`callback`: {error}"))
        }
        LinkError::TooLong { .. } => ApiError::Validation(format!(
            "{error}: make a short link with POST .../link/source instead"
        )),
        other => ApiError::Validation(other.to_string()),
    }
}

/// The links of a request and the QR code of its app link.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// `https://<domain>/native/execute/<payload>`: opens the app, or a web page without it.
    pub app_link: String,
    /// `<scheme>://<domain>/native/execute/<payload>`: works only where the app is installed.
    pub deep_link: String,
    /// QR version (1 to 40) of the app link's code at the chosen error-correction level; `null`
    /// when the link does not fit in a QR code.
    pub qr_version: Option<u8>,
    /// Modules across that code, without the quiet zone.
    pub qr_modules: Option<u32>,
    /// The code is dense (above version 10) or does not fit: prefer a sourceURL link.
    pub dense: bool,
    /// The request the links carry.
    #[schema(value_type = Object)]
    pub request: LinkRequest,
}

impl LinkView {
    /// Encodes both links of `request` for `target` and sizes the app link's QR code.
    pub fn new(
        request: LinkRequest,
        target: &LinkTarget,
        ec_level: EcLevel,
    ) -> Result<Self, ApiError> {
        let app_link = psi_link::encode(&request, target, LinkKind::App).map_err(link_error)?;
        let deep_link = psi_link::encode(&request, target, LinkKind::Deep).map_err(link_error)?;
        let info = QrInfo::for_text(&app_link, ec_level).ok();
        Ok(LinkView {
            app_link,
            deep_link,
            qr_version: info.map(|i| i.version),
            qr_modules: info.map(|i| i.modules),
            dense: info.is_none_or(|i| i.is_dense()),
            request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRED: &str = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:12:member";

    #[test]
    fn prefill_text_splits_after_the_credential_id_and_at_the_first_equals_sign() {
        let parsed = Prefill::parse(&format!("{CRED}:Member number=a=b")).unwrap();
        assert_eq!(parsed.credential_id, CRED);
        assert_eq!(parsed.name, "Member number");
        assert_eq!(parsed.value, "a=b");
        let with_colon = Prefill::parse(&format!("{CRED}:Time: start=")).unwrap();
        assert_eq!(
            (with_colon.name.as_str(), with_colon.value.as_str()),
            ("Time: start", "")
        );
    }

    #[test]
    fn prefill_text_without_a_name_or_value_is_refused() {
        for text in [
            CRED.to_owned(),
            format!("{CRED}=x"),
            "Name=x".into(),
            String::new(),
        ] {
            let error = Prefill::parse(&text).unwrap_err();
            assert!(
                error.to_string().contains("CREDENTIAL_ID:NAME=VALUE"),
                "{text}: {error}"
            );
        }
    }
}
