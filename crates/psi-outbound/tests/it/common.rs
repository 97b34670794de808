//! Clients whose policy admits exactly the receivers a test talks to.

use psi_outbound::{AllowedHost, OutboundClient, OutboundPolicy};
use psi_testkit::Receiver;

/// The default policy plus exceptions for exactly these receivers' socket addresses: the guard
/// stays on for every other address, the rest of loopback included.
pub fn policy_admitting(servers: &[&Receiver]) -> OutboundPolicy {
    OutboundPolicy {
        allowed_hosts: servers.iter().map(|s| exception(s)).collect(),
        ..OutboundPolicy::default()
    }
}

/// An exception admitting exactly this receiver's socket address.
fn exception(server: &Receiver) -> AllowedHost {
    server.addr().to_string().parse().unwrap()
}

pub fn client(policy: OutboundPolicy) -> OutboundClient {
    OutboundClient::new(policy).expect("client builds")
}
