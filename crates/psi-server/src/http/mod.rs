//! The floor of the HTTP layer: shared state and the pieces every resource uses (errors, JSON,
//! path and query extractors, auth and its throttle, health and metrics handlers). The router
//! that assembles the resources stands on top, in [`crate::router`].

pub mod auth;
pub mod error;
pub mod health;
pub mod json;
pub mod metrics;
pub mod path;
pub mod query;
pub mod throttle;

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::db::Db;
use auth::AdminCredential;

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub master_key: MasterKey,
    pub admin: AdminCredential,
    /// Base URL clients reach this server under, without a trailing slash.
    pub public_url: Arc<str>,
    pub config: Arc<Config>,
    /// The guarded client every outbound call (webhooks) goes through, under `config.outbound`.
    pub outbound: psi_outbound::OutboundClient,
    /// Webhook signers and service DID keys, unsealed once.
    pub opened_keys: crate::crypto::opened::OpenedKeys,
    /// Recent failed authentications, by client address and token prefix.
    pub auth_throttle: Arc<throttle::AuthThrottle>,
    /// SSI OAuth device authorization requests, by client id (docs/ssi-oauth.md, "Limits").
    pub oauth_throttle: Arc<throttle::AuthThrottle>,
    /// Start pages opened and links fetched, counted in memory until written
    /// (`db::interaction_counts`).
    pub interaction_counts: Arc<crate::db::interaction_counts::Pending>,
}
