//! The `[inbound]` section: how calls from third parties are received.

use serde::Deserialize;

/// The `[inbound]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboundConfig {
    /// Take the caller's address from the last `X-Forwarded-For` entry (the one the proxy in front
    /// of psi appends) instead of the TCP peer, for `source_ip_prefixes` and for counting failed
    /// authentication. Only behind a proxy that sets it: anyone can send the header.
    pub trust_forwarded_for: bool,
}
