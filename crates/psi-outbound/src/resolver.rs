//! The DNS resolver of the HTTP client: resolves, then drops the addresses the policy refuses.
//!
//! Checking here rather than before the request is what defeats DNS rebinding: the addresses
//! judged are the ones the connection is then made to, with no second lookup in between.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{OutboundError, OutboundPolicy};

pub(crate) struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: the client puts the URL's port on each address it gets back.
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| OutboundError::Dns {
                    host: host.clone(),
                    detail: e.to_string(),
                })?
                .collect();
            let admitted = admitted_addresses(&policy, &host, resolved)?;
            Ok(Box::new(admitted.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` the policy admits; an error when there are none.
fn admitted_addresses(
    policy: &OutboundPolicy,
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, OutboundError> {
    if resolved.is_empty() {
        return Err(OutboundError::Dns {
            host: host.to_owned(),
            detail: "no addresses".to_owned(),
        });
    }
    if policy.trusts_name(host) {
        return Ok(resolved);
    }
    let mut first_refused = None;
    let admitted: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| match policy.refusal(addr.ip(), None) {
            None => true,
            Some(class) => {
                first_refused.get_or_insert((addr.ip(), class));
                false
            }
        })
        .collect();
    match first_refused {
        Some((ip, class)) if admitted.is_empty() => {
            tracing::debug!(host, %ip, reason = %class, "outbound call refused");
            Err(OutboundError::RefusedAddress {
                host: host.to_owned(),
                ip,
                class,
            })
        }
        _ => Ok(admitted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AddressClass;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn refused_addresses_are_dropped_and_public_ones_kept() {
        let policy = OutboundPolicy::default();
        let kept = admitted_addresses(
            &policy,
            "mixed.example",
            addrs(&["10.0.0.1", "8.8.8.8", "::1"]),
        )
        .unwrap();
        assert_eq!(kept, addrs(&["8.8.8.8"]));
    }

    #[test]
    fn a_name_with_only_refused_addresses_is_refused_naming_the_first() {
        let err = admitted_addresses(
            &OutboundPolicy::default(),
            "rebind.example",
            addrs(&["127.0.0.1", "169.254.169.254"]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            OutboundError::RefusedAddress {
                host: "rebind.example".into(),
                ip: "127.0.0.1".parse().unwrap(),
                class: AddressClass::Loopback,
            }
        );
    }

    #[test]
    fn a_trusted_name_keeps_all_its_addresses_and_no_address_is_a_dns_error() {
        let policy = OutboundPolicy {
            allowed_hosts: vec!["crm.internal".parse().unwrap()],
            ..OutboundPolicy::default()
        };
        let all = addrs(&["10.0.0.1", "127.0.0.1"]);
        assert_eq!(
            admitted_addresses(&policy, "crm.internal", all.clone()).unwrap(),
            all
        );
        assert_eq!(
            admitted_addresses(&policy, "crm.internal", vec![])
                .unwrap_err()
                .code(),
            "dns_failure"
        );
    }
}
