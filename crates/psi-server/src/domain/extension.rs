//! An extension version's manifest (docs/extensions.md): its triggers, settings, output and
//! required credentials, checked once when the version is published; the setting values a service
//! gives, checked against the fields; versions as `MAJOR.MINOR.PATCH`.

use std::collections::BTreeMap;

use psi_link::{CredentialDefinitionId, Did, SchemaId};
use psi_outbound::OutboundPolicy;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{WebhookUrl, check_timeout};

/// Why a manifest or a setting value is refused; the message names the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExtensionError(String);

pub(crate) fn refused(message: impl Into<String>) -> ExtensionError {
    ExtensionError(message.into())
}

/// What a version holds: everything but the version number, immutable once published.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `MAJOR.MINOR.PATCH`.
    pub version: String,
    pub triggers: Triggers,
    /// Asked once, at install.
    #[serde(default)]
    pub service_settings: Vec<SettingField>,
    /// Asked at each attach to an interaction.
    #[serde(default)]
    pub interaction_settings: Vec<SettingField>,
    /// Where the third party exposes data, and its shape; psi does not call it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// Credentials the extension needs from the holder, added to the interactions it is
    /// attached to.
    #[serde(default)]
    pub required_credentials: Vec<RequiredByExtension>,
}

/// The triggers, any combination, at least one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// During the event, once the holder's credentials are verified; answers like the
    /// interaction webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_receive: Option<Trigger>,
    /// After credentials are issued in an event (through the outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_issue: Option<Trigger>,
    /// When an event completes or fails (through the outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_finish: Option<Trigger>,
}

/// Which trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerName {
    OnReceive,
    OnIssue,
    OnFinish,
}

impl TriggerName {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerName::OnReceive => "on_receive",
            TriggerName::OnIssue => "on_issue",
            TriggerName::OnFinish => "on_finish",
        }
    }
}

impl Triggers {
    /// The triggers present, in the order they fire.
    pub fn present(&self) -> impl Iterator<Item = (TriggerName, &Trigger)> {
        [
            (TriggerName::OnReceive, &self.on_receive),
            (TriggerName::OnIssue, &self.on_issue),
            (TriggerName::OnFinish, &self.on_finish),
        ]
        .into_iter()
        .filter_map(|(name, trigger)| trigger.as_ref().map(|t| (name, t)))
    }
}

/// One trigger: a URL and fixed parameters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// An absolute http(s) URL the outbound policy allows.
    pub url: String,
    /// Fixed parameters sent with every call (`extension.params`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// How long a call waits for the answer, 100 to 60000 ms (default 10000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: i64,
    /// `on_issue` only: only credentials of these definitions (wire ids)...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<String>,
    /// ... or of these schemas (wire ids). Both empty: every credential.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
}

fn default_timeout() -> i64 {
    super::webhook::DEFAULT_TIMEOUT_MS
}

impl Trigger {
    /// Whether an `on_issue` trigger wants a credential of this definition and schema.
    pub fn wants(&self, credential_id: &str, schema_id: &str) -> bool {
        (self.definitions.is_empty() && self.schemas.is_empty())
            || self.definitions.iter().any(|d| d == credential_id)
            || self.schemas.iter().any(|s| s == schema_id)
    }
}

/// The type of a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettingType {
    Text,
    Number,
    Boolean,
    Url,
    /// Stored sealed, never shown again.
    Secret,
    /// One of `options`.
    Select,
    /// A service DID.
    Did,
    /// A credential definition's wire id.
    CredentialDefinition,
}

/// A setting a service fills in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingField {
    /// `a-z 0-9 _`, 1 to 64 characters, unique across both lists.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: SettingType,
    #[serde(default)]
    pub required: bool,
    /// Used when no value is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// `select` only: the values allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// What the third party exposes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub url: String,
    #[schema(value_type = Object)]
    pub schema: Value,
}

/// A value given in the manifest, or taken from a setting at attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Source {
    Value(String),
    Setting {
        /// The name of a setting of either level.
        setting: String,
    },
}

impl Source {
    /// The value, taking a setting's from `settings`.
    pub fn resolve(&self, settings: &Map<String, Value>) -> Result<String, ExtensionError> {
        match self {
            Source::Value(value) => Ok(value.clone()),
            Source::Setting { setting } => match settings.get(setting) {
                Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
                _ => Err(refused(format!(
                    "the extension requires a credential named by the setting `{setting}`, \
                     which has no value"
                ))),
            },
        }
    }
}

/// A credential the extension requires: by definition, or by schema and trusted issuers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RequiredByExtension {
    Definition {
        credential_definition_id: Source,
    },
    Schema {
        schema_id: Source,
        #[serde(default)]
        trusted_issuers: Vec<Source>,
        #[serde(default)]
        only_last: bool,
    },
}

/// A version number, `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(u32, u32, u32);

impl Version {
    pub fn parse(text: &str) -> Result<Self, ExtensionError> {
        let invalid = || refused(format!("`version` {text:?} is not MAJOR.MINOR.PATCH"));
        let parts: Vec<u32> = text
            .split('.')
            .map(|part| {
                (!part.is_empty() && part.len() <= 9 && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse().ok())
                    .flatten()
                    .ok_or_else(invalid)
            })
            .collect::<Result<_, _>>()?;
        match parts.as_slice() {
            [major, minor, patch] => Ok(Version(*major, *minor, *patch)),
            _ => Err(invalid()),
        }
    }

    /// Sorts as text in version order.
    pub fn sort_key(&self) -> String {
        format!("{:09}.{:09}.{:09}", self.0, self.1, self.2)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

const MAX_SETTINGS: usize = 50;
const MAX_REQUIRED: usize = 20;

impl Manifest {
    /// Checks everything a version fixes: trigger URLs against the outbound policy, timeouts,
    /// setting fields, required credentials and the settings they name.
    pub fn check(&self, policy: &OutboundPolicy) -> Result<Version, ExtensionError> {
        let version = Version::parse(&self.version)?;
        if self.triggers.present().next().is_none() {
            return Err(refused(
                "`triggers`: give at least one of on_receive, on_issue, on_finish",
            ));
        }
        for (name, trigger) in self.triggers.present() {
            let field = format!("triggers.{}", name.as_str());
            WebhookUrl::parse_for(&trigger.url, policy)
                .map_err(|e| refused(format!("`{field}.url`: {e}")))?;
            check_timeout(trigger.timeout_ms)
                .map_err(|e| refused(format!("`{field}.timeout_ms`: {e}")))?;
            if name != TriggerName::OnIssue
                && !(trigger.definitions.is_empty() && trigger.schemas.is_empty())
            {
                return Err(refused(format!(
                    "`{field}`: only on_issue filters by definitions or schemas"
                )));
            }
            for id in &trigger.definitions {
                id.parse::<CredentialDefinitionId>()
                    .map_err(|e| refused(format!("`{field}.definitions`: {e}")))?;
            }
            for id in &trigger.schemas {
                id.parse::<SchemaId>()
                    .map_err(|e| refused(format!("`{field}.schemas`: {e}")))?;
            }
        }
        if let Some(output) = &self.output {
            WebhookUrl::parse(&output.url).map_err(|e| refused(format!("`output.url`: {e}")))?;
        }
        let fields: Vec<&SettingField> = self.settings().collect();
        if fields.len() > MAX_SETTINGS {
            return Err(refused(format!("at most {MAX_SETTINGS} settings")));
        }
        for (i, field) in fields.iter().enumerate() {
            field.check()?;
            if fields[..i].iter().any(|f| f.name == field.name) {
                return Err(refused(format!(
                    "setting `{}` is declared twice (names are unique across both levels)",
                    field.name
                )));
            }
        }
        if self.required_credentials.len() > MAX_REQUIRED {
            return Err(refused(format!(
                "at most {MAX_REQUIRED} required credentials"
            )));
        }
        for required in &self.required_credentials {
            self.check_required(required)?;
        }
        Ok(version)
    }

    /// The setting fields of both levels, service level first.
    pub fn settings(&self) -> impl Iterator<Item = &SettingField> {
        self.service_settings
            .iter()
            .chain(&self.interaction_settings)
    }

    fn check_required(&self, required: &RequiredByExtension) -> Result<(), ExtensionError> {
        let sources: Vec<&Source> = match required {
            RequiredByExtension::Definition {
                credential_definition_id,
            } => vec![credential_definition_id],
            RequiredByExtension::Schema {
                schema_id,
                trusted_issuers,
                ..
            } => std::iter::once(schema_id).chain(trusted_issuers).collect(),
        };
        for source in &sources {
            if let Source::Setting { setting } = source
                && !self.settings().any(|f| &f.name == setting)
            {
                return Err(refused(format!(
                    "`required_credentials`: no setting named `{setting}`"
                )));
            }
        }
        // Literal values must parse now, so a bad manifest fails at publish, not at attach.
        match required {
            RequiredByExtension::Definition {
                credential_definition_id: Source::Value(id),
            } => {
                id.parse::<CredentialDefinitionId>()
                    .map_err(|e| refused(format!("`required_credentials`: {e}")))?;
            }
            RequiredByExtension::Schema {
                schema_id,
                trusted_issuers,
                ..
            } => {
                if let Source::Value(id) = schema_id {
                    id.parse::<SchemaId>()
                        .map_err(|e| refused(format!("`required_credentials`: {e}")))?;
                }
                for issuer in trusted_issuers {
                    if let Source::Value(did) = issuer {
                        did.parse::<Did>().map_err(|e| {
                            refused(format!("`required_credentials.trusted_issuers`: {e}"))
                        })?;
                    }
                }
            }
            RequiredByExtension::Definition { .. } => {}
        }
        Ok(())
    }

    /// For a service about to install: where each trigger sends what.
    pub fn data_flows(&self) -> Vec<DataFlow> {
        let setting_names = || {
            let names: Vec<&str> = self.settings().map(|f| f.name.as_str()).collect();
            if names.is_empty() {
                None
            } else {
                Some(format!("the settings {}", names.join(", ")))
            }
        };
        self.triggers
            .present()
            .map(|(name, trigger)| {
                let mut sends: Vec<String> = match name {
                    TriggerName::OnReceive => vec![
                        "the holder's pairwise DID with the service".into(),
                        "the attributes of every credential the holder shares with the \
                         interaction"
                            .into(),
                        "the interaction, instance and event identifiers and the instance's \
                         parameters"
                            .into(),
                    ],
                    TriggerName::OnIssue => vec![
                        "the holder's pairwise DID with the service".into(),
                        "the attributes of the credentials the service issues in the event".into(),
                    ],
                    TriggerName::OnFinish => vec![
                        "the holder's pairwise DID with the service".into(),
                        "the event's identifiers and outcome, and the attributes of the \
                         credentials it issued"
                            .into(),
                    ],
                };
                sends.extend(setting_names());
                let url = match trigger.url.strip_prefix(URL_FROM_SETTING) {
                    Some(setting) => format!("the URL of the setting `{setting}`"),
                    None if trigger.url == IN_PROCESS => {
                        sends = vec!["nothing: psi runs it in-process".into()];
                        trigger.url.clone()
                    }
                    None => trigger.url.clone(),
                };
                DataFlow {
                    trigger: name,
                    url,
                    sends,
                }
            })
            .collect()
    }
}

/// Where a durable trigger of an installation delivers: its URL and timeout, or `None` when the
/// version has no such trigger.
#[derive(Debug, Clone)]
pub struct TriggerEndpoint {
    pub trigger: TriggerName,
    pub target: Option<(String, i64)>,
}

/// The prefix of a built-in trigger's `url` that names the setting holding the real URL.
const URL_FROM_SETTING: &str = "setting:";

/// Where the durable triggers of an installation deliver, given its service-level `settings`:
/// the manifest's URLs, or the setting a built-in's URL names.
pub fn trigger_endpoints(
    manifest: &Manifest,
    settings: &Map<String, Value>,
) -> Vec<TriggerEndpoint> {
    [
        (TriggerName::OnIssue, &manifest.triggers.on_issue),
        (TriggerName::OnFinish, &manifest.triggers.on_finish),
    ]
    .into_iter()
    .map(|(trigger, found)| TriggerEndpoint {
        trigger,
        target: found.as_ref().and_then(|t| {
            let url = match t.url.strip_prefix(URL_FROM_SETTING) {
                Some(setting) => settings.get(setting)?.as_str()?.to_owned(),
                None => t.url.clone(),
            };
            Some((url, t.timeout_ms))
        }),
    })
    .collect()
}

/// Where a trigger sends what.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DataFlow {
    pub trigger: TriggerName,
    pub url: String,
    pub sends: Vec<String>,
}

impl SettingField {
    fn check(&self) -> Result<(), ExtensionError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(refused(format!(
                "setting name {:?}: 1 to 64 of a-z 0-9 _",
                self.name
            )));
        }
        for (what, text) in [("label", &self.label), ("help", &self.help)] {
            if text.as_ref().is_some_and(|t| t.chars().count() > 500) {
                return Err(refused(format!(
                    "setting `{}`: `{what}` is longer than 500 characters",
                    self.name
                )));
            }
        }
        match (self.kind, self.options.is_empty()) {
            (SettingType::Select, true) => {
                return Err(refused(format!(
                    "setting `{}`: a select needs `options`",
                    self.name
                )));
            }
            (SettingType::Select, false) | (_, true) => {}
            (_, false) => {
                return Err(refused(format!(
                    "setting `{}`: only a select has `options`",
                    self.name
                )));
            }
        }
        if self.kind == SettingType::Secret && self.default.is_some() {
            return Err(refused(format!(
                "setting `{}`: a secret has no default",
                self.name
            )));
        }
        if let Some(default) = &self.default {
            self.check_value(default)
                .map_err(|e| refused(format!("the default of {e}")))?;
        }
        Ok(())
    }

    /// Checks a value of this field; the message names the setting.
    fn check_value(&self, value: &Value) -> Result<(), ExtensionError> {
        let name = &self.name;
        let text = value.as_str();
        let fits = match self.kind {
            SettingType::Text | SettingType::Secret => text.is_some_and(|t| t.len() <= 10_000),
            SettingType::Number => value.is_number(),
            SettingType::Boolean => value.is_boolean(),
            SettingType::Url => text.is_some_and(|t| WebhookUrl::parse(t).is_ok()),
            SettingType::Select => text.is_some_and(|t| self.options.iter().any(|o| o == t)),
            SettingType::Did => text.is_some_and(|t| t.parse::<Did>().is_ok()),
            SettingType::CredentialDefinition => {
                text.is_some_and(|t| t.parse::<CredentialDefinitionId>().is_ok())
            }
        };
        if fits {
            return Ok(());
        }
        let expected = match self.kind {
            SettingType::Text | SettingType::Secret => "text".to_owned(),
            SettingType::Number => "a number".into(),
            SettingType::Boolean => "true or false".into(),
            SettingType::Url => "an absolute http(s) URL".into(),
            SettingType::Select => format!("one of {}", self.options.join(", ")),
            SettingType::Did => "a DID".into(),
            SettingType::CredentialDefinition => "a credential definition id".into(),
        };
        Err(refused(format!("setting `{name}`: expected {expected}")))
    }
}

/// Setting values, checked against their fields: the plain ones and the secrets apart.
#[derive(Clone, Default)]
pub struct SettingValues {
    pub plain: Map<String, Value>,
    pub secrets: Map<String, Value>,
}

/// Names the secrets, never their values.
impl std::fmt::Debug for SettingValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingValues")
            .field("plain", &self.plain)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Checks `given` against `fields`: every name known, every value of its type, every required
/// field given (or kept: `kept` holds the secrets already stored, which need not be given again).
pub fn check_values(
    fields: &[SettingField],
    given: &Map<String, Value>,
    kept_secrets: &Map<String, Value>,
) -> Result<SettingValues, ExtensionError> {
    if let Some(unknown) = given.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        return Err(refused(format!("no setting named `{unknown}`")));
    }
    let mut values = SettingValues::default();
    for field in fields {
        let value = given.get(&field.name).filter(|v| !v.is_null());
        match (value, field.kind) {
            (Some(value), kind) => {
                field.check_value(value)?;
                let target = if kind == SettingType::Secret {
                    &mut values.secrets
                } else {
                    &mut values.plain
                };
                target.insert(field.name.clone(), value.clone());
            }
            (None, SettingType::Secret) if kept_secrets.contains_key(&field.name) => {
                values
                    .secrets
                    .insert(field.name.clone(), kept_secrets[&field.name].clone());
            }
            (None, _) if field.required && field.default.is_none() => {
                return Err(refused(format!("setting `{}` is required", field.name)));
            }
            (None, _) => {}
        }
    }
    Ok(values)
}

/// The settings a trigger sees: defaults, then the installation's, then the attachment's.
pub fn merged(
    manifest: &Manifest,
    installation: &SettingValues,
    attachment: &SettingValues,
) -> Map<String, Value> {
    let mut merged = Map::new();
    for field in manifest.settings() {
        if let Some(default) = &field.default {
            merged.insert(field.name.clone(), default.clone());
        }
    }
    for values in [installation, attachment] {
        for (name, value) in values.plain.iter().chain(&values.secrets) {
            merged.insert(name.clone(), value.clone());
        }
    }
    merged
}

/// The `url` of a built-in trigger that calls nothing.
const IN_PROCESS: &str = "psi:in-process";

/// The extensions psi runs itself (src/engine/builtin.rs, src/delivery/notify.rs), listed in the
/// catalogue like the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// On receive, POSTs a JSON document of shared attributes, mapped to field names, to an HTTP
    /// API (a CRM, say).
    ForwardHttp,
    /// On finish, posts a message to a Slack-compatible incoming webhook.
    ChatNotification,
    /// On receive, fails the event unless an attribute's value is on a list.
    AllowList,
    /// Sign in with a credential: an OAuth 2.0 device authorization grant (RFC 8628) that the
    /// holder approves by completing the interaction (docs/ssi-oauth.md).
    SsiOauth,
}

impl Builtin {
    pub const ALL: [Builtin; 4] = [
        Builtin::ForwardHttp,
        Builtin::ChatNotification,
        Builtin::AllowList,
        Builtin::SsiOauth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Builtin::ForwardHttp => "forward_http",
            Builtin::ChatNotification => "chat_notification",
            Builtin::AllowList => "allow_list",
            Builtin::SsiOauth => "ssi_oauth",
        }
    }

    pub fn from_db(text: &str) -> sqlx::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == text)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown built-in {text:?}").into()))
    }

    /// Its id in the catalogue, the same on every server.
    pub fn id(self) -> &'static str {
        match self {
            Builtin::ForwardHttp => "psiforwardhttp",
            Builtin::ChatNotification => "psichatnotification",
            Builtin::AllowList => "psiallowlist",
            Builtin::SsiOauth => "psissioauth",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Builtin::ForwardHttp => "Forward to an HTTP API",
            Builtin::ChatNotification => "Chat notification",
            Builtin::AllowList => "Allow list check",
            Builtin::SsiOauth => "SSI OAuth",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Builtin::ForwardHttp => {
                "When the holder shares credentials, POST a JSON document of chosen attributes to \
                 an HTTP API (a CRM, say), with an API key header. The event fails if the API \
                 does not accept it, so no record is missed."
            }
            Builtin::ChatNotification => {
                "When an event completes or fails, post a message to a Slack-compatible incoming \
                 webhook (Slack, Mattermost, Rocket.Chat), with retries."
            }
            Builtin::AllowList => {
                "When the holder shares credentials, fail the event unless an attribute's value \
                 is on a list kept in the settings or fetched from a URL."
            }
            Builtin::SsiOauth => {
                "Sign in to a website with a credential: an OpenID Connect provider. The site's \
                 page drives an OAuth 2.0 device authorization grant (the ssi-auth-lib \
                 library), or sends the browser through psi's authorization page (authorization \
                 code flow with PKCE); the holder completes the interaction with the user code \
                 pre-filled, and the site receives tokens psi signs with the holder's pairwise \
                 DID and chosen attributes."
            }
        }
    }

    /// Its one version.
    pub fn manifest(self) -> Manifest {
        let manifest = match self {
            Builtin::ForwardHttp => serde_json::json!({
                "version": "1.0.0",
                "triggers": {"on_receive": {"url": "setting:url"}},
                "service_settings": [
                    {"name": "url", "label": "API URL", "type": "url", "required": true,
                     "help": "Where the document is POSTed"},
                    {"name": "api_key_header", "label": "API key header", "type": "text",
                     "default": "X-API-Key"},
                    {"name": "api_key", "label": "API key", "type": "secret"}
                ],
                "interaction_settings": [
                    {"name": "mapping", "label": "Fields", "type": "text", "required": true,
                     "help": "One `attribute = field` per line: the shared attribute's value \
                              goes into the document's field"}
                ]
            }),
            Builtin::ChatNotification => serde_json::json!({
                "version": "1.0.0",
                "triggers": {"on_finish": {"url": "setting:webhook_url"}},
                "service_settings": [
                    {"name": "webhook_url", "label": "Incoming webhook URL", "type": "url",
                     "required": true}
                ],
                "interaction_settings": [
                    {"name": "template", "label": "Message", "type": "text",
                     "default": "{interaction}: {outcome} for {holder}",
                     "help": "{interaction}, {outcome}, {message}, {holder}, {event} and \
                              {Attribute name} of an issued credential are replaced"}
                ]
            }),
            Builtin::AllowList => serde_json::json!({
                "version": "1.0.0",
                "triggers": {"on_receive": {"url": IN_PROCESS}},
                "interaction_settings": [
                    {"name": "attribute", "label": "Attribute", "type": "text", "required": true,
                     "help": "The name of a shared credential's attribute"},
                    {"name": "allowed", "label": "Allowed values", "type": "text",
                     "help": "One per line"},
                    {"name": "list_url", "label": "List URL", "type": "url",
                     "help": "A text file of one value per line, or a JSON array, fetched \
                              and kept for five minutes"},
                    {"name": "ignore_case", "label": "Ignore case", "type": "boolean",
                     "default": false},
                    {"name": "message", "label": "Message when absent", "type": "text",
                     "default": "You are not on the list for this"}
                ]
            }),
            // The "SSI Authentication" requirement is not in the manifest: psi creates the
            // definition in the installing service when attaching (api::installations).
            Builtin::SsiOauth => serde_json::json!({
                "version": "1.0.0",
                "triggers": {"on_receive": {"url": IN_PROCESS}},
                "interaction_settings": [
                    {"name": "client_id", "label": "Client id", "type": "text", "required": true,
                     "help": "The OAuth client id the web page gives ssi-auth-lib (`clientId`): \
                              unique on this server, A-Z a-z 0-9 - . _ ~"},
                    {"name": "token_lifetime_secs", "label": "Token lifetime (seconds)",
                     "type": "number", "default": 3600},
                    {"name": "code_lifetime_secs", "label": "Sign-in time (seconds)",
                     "type": "number", "default": 600,
                     "help": "How long a page's device code waits for the holder"},
                    {"name": "poll_interval_secs", "label": "Poll interval (seconds)",
                     "type": "number", "default": 5},
                    {"name": "claims", "label": "Claims", "type": "text",
                     "help": "One `attribute = claim` per line: the shared attribute's value \
                              goes into the token's claim"},
                    {"name": "redirect_uris", "label": "Redirect URLs", "type": "text",
                     "help": "The authorization code flow only: one URL per line where the \
                              browser may return with the code (https, or http on localhost)"},
                    {"name": "client_secret", "label": "Client secret", "type": "secret",
                     "help": "At least 16 characters, for a site whose back end exchanges the \
                              code; without one, the client is public and must use PKCE (a page \
                              running ssi-auth-lib is public)"},
                    {"name": "signing_key", "label": "Signing key", "type": "text",
                     "default": "oauth",
                     "help": "The name of the service's RSA key pair that signs the tokens; \
                              psi makes `oauth` when it is missing"}
                ]
            }),
        };
        serde_json::from_value(manifest).expect("a built-in manifest is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_manifests_parse() {
        for builtin in Builtin::ALL {
            let manifest = builtin.manifest();
            assert_eq!(manifest.version, "1.0.0");
            assert!(manifest.triggers.present().next().is_some());
        }
    }

    #[test]
    fn versions_sort_by_number_not_text() {
        let a = Version::parse("1.10.0").unwrap();
        let b = Version::parse("1.9.3").unwrap();
        assert!(a > b);
        assert!(a.sort_key() > b.sort_key());
        assert_eq!(a.to_string(), "1.10.0");
        for bad in ["1.0", "1.0.0.0", "v1.0.0", "1..0", "1.0.-1", ""] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_are_checked_by_type_and_secrets_kept_apart() {
        let fields: Vec<SettingField> = serde_json::from_value(json!([
            {"name": "key", "type": "secret", "required": true},
            {"name": "list", "type": "select", "options": ["a", "b"], "default": "a"},
            {"name": "limit", "type": "number"}
        ]))
        .unwrap();
        let given = |v: Value| v.as_object().unwrap().clone();
        let values = check_values(
            &fields,
            &given(json!({"key": "s3cret", "limit": 3})),
            &Map::new(),
        )
        .unwrap();
        assert_eq!(values.secrets["key"], "s3cret");
        assert!(!values.plain.contains_key("key"));
        let err = |v: Value| {
            check_values(&fields, &given(v), &Map::new())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err(json!({})), "setting `key` is required");
        assert_eq!(
            err(json!({"key": "x", "list": "c"})),
            "setting `list`: expected one of a, b"
        );
        assert_eq!(
            err(json!({"key": "x", "other": 1})),
            "no setting named `other`"
        );
        let kept = given(json!({"key": "old"}));
        let values = check_values(&fields, &Map::new(), &kept).unwrap();
        assert_eq!(values.secrets["key"], "old");
    }

    #[test]
    fn required_credentials_take_values_or_settings() {
        let required: Vec<RequiredByExtension> = serde_json::from_value(json!([
            {"credential_definition_id": "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:t"},
            {"schema_id": {"setting": "schema"}, "trusted_issuers": ["GbzPqgnU4XsMs7xg9mYJW8"]}
        ]))
        .unwrap();
        assert!(matches!(
            &required[0],
            RequiredByExtension::Definition {
                credential_definition_id: Source::Value(_)
            }
        ));
        let RequiredByExtension::Schema { schema_id, .. } = &required[1] else {
            panic!("a schema requirement");
        };
        let settings = json!({"schema": "GbzPqgnU4XsMs7xg9mYJW8:2:S:1.0"});
        assert_eq!(
            schema_id.resolve(settings.as_object().unwrap()).unwrap(),
            "GbzPqgnU4XsMs7xg9mYJW8:2:S:1.0"
        );
        assert!(schema_id.resolve(&Map::new()).is_err());
    }
}
