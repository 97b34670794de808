//! Throttling of failed authentication: a client that keeps presenting bearer tokens that are not
//! valid is answered 429 for a while, so tokens cannot be guessed at line speed.
//!
//! Failures are counted per client address (an IPv6 client per /64 network, which one host
//! usually has whole) and per token prefix: a service token's public part `psi_<id>`, so that
//! guesses at one token from many addresses are limited too. The admin token has no public part
//! and so no prefix key (a prefix anyone can write would let anyone lock the admin out): guesses
//! at it are limited per address, and a configured one is at least 32 characters long.
//!
//! Each key has a bucket of `failure_burst` failures that refills at one per
//! `failure_interval`. While a key's bucket is empty, every request with a token that carries
//! that key is answered 429 with `Retry-After`, before the token is checked, whether it is right
//! or not: answering a right token would tell a guesser which guess won. So a valid token sent
//! from a throttled address (or a throttled service token) waits like the guesses; valid tokens
//! from other addresses, and other tokens, are not affected.
//!
//! The table is bounded (`max_tracked` keys): when it is full, keys whose bucket has refilled are
//! dropped first, then the key closest to refilling.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use serde::Deserialize;

use crate::config::error::ConfigError;

/// Counter of failed authentications (a token that is not valid).
pub const FAILURES: &str = "psi_auth_failures_total";
/// Counter of requests answered 429 because their address or token prefix is throttled.
pub const THROTTLED: &str = "psi_auth_throttled_total";

/// The longest `failure_interval`.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The `[auth]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Failures a key may make at once; 0 turns throttling off.
    pub failure_burst: u32,
    /// How often one more failure is allowed once the burst is spent.
    pub failure_interval: Duration,
    /// Most keys (addresses and prefixes) tracked at once.
    pub max_tracked: usize,
}

/// The section as read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    failure_burst: u32,
    #[serde(with = "humantime_serde")]
    failure_interval: Duration,
    max_tracked: usize,
}

impl RawAuth {
    /// Checks every value; errors name the key.
    pub(crate) fn validate(self) -> Result<AuthConfig, ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: format!("auth.{key}"),
            message: message.into(),
        };
        if self.failure_interval.is_zero() || self.failure_interval > MAX_INTERVAL {
            return Err(invalid("failure_interval", "must be from 1ms to 1 day"));
        }
        if self.max_tracked == 0 {
            return Err(invalid("max_tracked", "must be at least 1"));
        }
        Ok(AuthConfig {
            failure_burst: self.failure_burst,
            failure_interval: self.failure_interval,
            max_tracked: self.max_tracked,
        })
    }
}

/// What failures are counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client address (IPv6: its /64 network).
    Address(IpAddr),
    /// A service token's id.
    Token(String),
    /// An SSI OAuth client id: [`super::AppState::oauth_throttle`] counts its device
    /// authorization requests, not failures.
    OAuthClient(String),
    /// A user name a dashboard sign-in named.
    Operator(String),
}

impl Key {
    /// The key of a client address: IPv4 (IPv4-mapped IPv6 included) as it is, IPv6 by /64.
    pub fn address(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            v4 => v4,
        };
        Key::Address(ip)
    }
}

/// The failure table of one server.
#[derive(Debug)]
pub struct AuthThrottle {
    config: AuthConfig,
    /// Per key, the time at which its bucket is full again (a "theoretical arrival time"): each
    /// failure pushes it one interval later. Keys in the past are as good as absent.
    full_at: Mutex<HashMap<Key, Instant>>,
}

impl AuthThrottle {
    pub fn new(config: AuthConfig) -> Self {
        AuthThrottle {
            config,
            full_at: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when one of `keys` has no failure left: the time until it has one again.
    pub fn check(&self, keys: &[Key]) -> Result<(), Duration> {
        if self.config.failure_burst == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let table = self.full_at.lock().expect("throttle table");
        let wait = keys
            .iter()
            .filter_map(|key| table.get(key))
            .map(|full_at| self.wait(*full_at, now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failure under each of `keys`.
    pub fn failed(&self, keys: &[Key]) {
        if self.config.failure_burst == 0 {
            return;
        }
        let now = Instant::now();
        let mut table = self.full_at.lock().expect("throttle table");
        for key in keys {
            if !table.contains_key(key) && table.len() >= self.config.max_tracked {
                table.retain(|_, full_at| *full_at > now);
                if table.len() >= self.config.max_tracked
                    && let Some(soonest) = table
                        .iter()
                        .min_by_key(|(_, full_at)| **full_at)
                        .map(|(key, _)| key.clone())
                {
                    table.remove(&soonest);
                }
            }
            let full_at = table.entry(key.clone()).or_insert(now);
            *full_at = (*full_at).max(now) + self.config.failure_interval;
        }
    }

    /// How long until a key full again at `full_at` may fail once more: its bucket holds
    /// `burst` intervals, so a failure is allowed while it is at most `burst - 1` intervals deep.
    fn wait(&self, full_at: Instant, now: Instant) -> Duration {
        let allowed = self.config.failure_interval * (self.config.failure_burst - 1);
        full_at
            .saturating_duration_since(now)
            .saturating_sub(allowed)
    }
}

/// Where a call came from: the TCP peer, or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry (the one the proxy in front of psi added; earlier entries are the
/// client's word).
pub fn peer_address(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    let forwarded = trust_forwarded_for
        .then(|| parts.headers.get_all("x-forwarded-for").iter().next_back())
        .flatten()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| parse_address(last.trim()));
    forwarded.or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
    })
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]:443`,
/// `192.0.2.1:80`.
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(forwarded: &[&str], peer: Option<&str>) -> Parts {
        let mut builder = Request::builder();
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let mut request = builder.body(()).unwrap();
        if let Some(peer) = peer {
            let address: SocketAddr = peer.parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(address));
        }
        request.into_parts().0
    }

    #[test]
    fn the_peer_is_the_tcp_peer_unless_forwarded_for_is_trusted() {
        let p = parts(&["203.0.113.9, 10.0.0.2"], Some("127.0.0.1:5000"));
        assert_eq!(peer_address(&p, false), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(peer_address(&p, true), Some("10.0.0.2".parse().unwrap()));
    }

    #[test]
    fn the_last_forwarded_for_header_and_entry_count_and_ports_are_dropped() {
        let p = parts(&["198.51.100.1", "203.0.113.9, [2001:db8::7]:443"], None);
        assert_eq!(peer_address(&p, true), Some("2001:db8::7".parse().unwrap()));
        let garbage = parts(&["not an address"], Some("192.0.2.4:1"));
        assert_eq!(
            peer_address(&garbage, true),
            Some("192.0.2.4".parse().unwrap())
        );
        assert_eq!(peer_address(&parts(&[], None), true), None);
    }

    fn throttle(burst: u32, interval_ms: u64, max_tracked: usize) -> AuthThrottle {
        AuthThrottle::new(AuthConfig {
            failure_burst: burst,
            failure_interval: Duration::from_millis(interval_ms),
            max_tracked,
        })
    }

    fn address(text: &str) -> Key {
        Key::address(text.parse().unwrap())
    }

    #[test]
    fn a_burst_of_failures_is_allowed_then_one_per_interval() {
        let throttle = throttle(3, 60_000, 10);
        let keys = [address("192.0.2.1")];
        for _ in 0..3 {
            assert!(throttle.check(&keys).is_ok());
            throttle.failed(&keys);
        }
        let wait = throttle.check(&keys).unwrap_err();
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(throttle.check(&[address("192.0.2.2")]).is_ok());
    }

    #[test]
    fn a_key_recovers_after_the_interval() {
        let throttle = throttle(1, 30, 10);
        let keys = [Key::Token("a".into())];
        throttle.failed(&keys);
        assert!(throttle.check(&keys).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(throttle.check(&keys).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address("2001:db8:1:2::1"), address("2001:db8:1:2:ffff::9"));
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:192.0.2.1"), address("192.0.2.1"));
    }

    #[test]
    fn the_table_stays_within_its_bound_dropping_the_key_closest_to_refilling() {
        let throttle = throttle(1, 60_000, 2);
        throttle.failed(&[address("192.0.2.1")]);
        throttle.failed(&[address("192.0.2.2"), address("192.0.2.2")]);
        throttle.failed(&[address("192.0.2.3")]);
        assert_eq!(throttle.full_at.lock().unwrap().len(), 2);
        assert!(throttle.check(&[address("192.0.2.1")]).is_ok(), "dropped");
        assert!(throttle.check(&[address("192.0.2.2")]).is_err());
        assert!(throttle.check(&[address("192.0.2.3")]).is_err());
    }

    #[test]
    fn a_burst_of_zero_turns_throttling_off() {
        let throttle = throttle(0, 60_000, 2);
        let keys = [address("192.0.2.1")];
        for _ in 0..100 {
            throttle.failed(&keys);
        }
        assert!(throttle.check(&keys).is_ok());
        assert!(throttle.full_at.lock().unwrap().is_empty());
    }
}
