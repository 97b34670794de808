//! Domain values, parsed at the edge: a handler turns request fields into these types (or a
//! client error naming the field) before anything reaches `db`, so stored data is always valid.
//!
//! - [`name`]: names pages show (no markup, docs/protocol.md §2.1) and descriptions;
//! - [`attribute`]: schema attributes and the values credentials carry for them;
//! - [`credential`]: credential definition tags, attestation, source IP prefixes;
//! - [`interaction`]: media and instance parameters;
//! - [`manifest_file`]: the portable document of an extension's version;
//! - [`notification`]: the kinds of notification endpoints subscribe to;
//! - [`webhook`]: webhook URLs, auth schemes, timeouts and which keys may sign.

pub mod attribute;
pub mod credential;
pub mod extension;
pub mod interaction;
pub mod manifest_file;
pub mod name;
pub mod notification;
pub mod oauth;
pub mod password;
pub mod webhook;

pub use attribute::{
    Attribute, AttributeError, AttributeJson, AttributeKind, AttributeType, Attributes, EnumValue,
    EnumValueJson, ValueError, ValueProblem, validate_value,
};
pub use credential::{Attestation, CredentialError, SourceIpPrefixes, Tag};
pub use interaction::{InteractionError, Medium, Parameter, Parameters, check_media};
pub use name::{Description, Name, NameError};
pub use notification::EventType;
pub use webhook::{AuthScheme, WebhookError, WebhookUrl, check_outgoing_key, check_timeout};
