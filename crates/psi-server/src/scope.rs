//! Tenant scope: the proof that the caller may act on one service.
//!
//! Every repository function on service-owned rows takes a `&ServiceScope` and filters by it, so a
//! query cannot be written without naming the tenant. Scopes are made by the HTTP layer after it
//! has checked the bearer token against the path's `{did}` ([`crate::http::auth`]), or by
//! [`crate::db::services::scope_for_did`] where a DID alone is the authority (public endpoints,
//! jobs).

use psi_link::Did;

/// One service the caller may act on.
#[derive(Debug, Clone)]
pub struct ServiceScope {
    service_id: String,
    did: Did,
}

impl ServiceScope {
    pub(crate) fn new(service_id: String, did: Did) -> Self {
        ServiceScope { service_id, did }
    }

    /// The service's public DID.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// The internal id that service-owned rows reference.
    pub(crate) fn service_id(&self) -> &str {
        &self.service_id
    }
}
