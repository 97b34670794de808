//! The `[inbound]` section: how calls from third parties are received.

use std::time::Duration;

use serde::Deserialize;

use crate::config::error::{ConfigError, parse_duration};

/// Longest `token_exp_horizon`: under the 24 hours answers are kept, so a token bound to its body
/// by `body_sha3_256` (without `jti`) dies before its answer is forgotten.
const MAX_TOKEN_EXP_HORIZON: Duration = Duration::from_secs(12 * 3600);
/// Longest `standard_webhooks_tolerance`, for the same reason.
const MAX_STANDARD_WEBHOOKS_TOLERANCE: Duration = Duration::from_secs(3600);

/// The `[inbound]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundConfig {
    /// Take the caller's address from the last `X-Forwarded-For` entry (the one the proxy in front
    /// of psi appends) instead of the TCP peer, for `source_ip_prefixes` and for counting failed
    /// authentication. Only behind a proxy that sets it: anyone can send the header.
    pub trust_forwarded_for: bool,
    /// How far ahead of now a Bearer token's `exp` may be (the 60 s leeway comes on top).
    pub token_exp_horizon: Duration,
    /// Accept Bearer tokens with neither `jti` nor `body_sha3_256`, which could carry any body
    /// until they expire.
    pub allow_unbound_bearer: bool,
    /// How far a Standard Webhooks `webhook-timestamp` may be from now, either way.
    pub standard_webhooks_tolerance: Duration,
    /// How often waiting events past their interaction's deadline are failed: the most an
    /// event outlives its deadline.
    pub deadline_sweep_interval: Duration,
}

/// The section as read: durations as text such as `"10m"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInbound {
    trust_forwarded_for: bool,
    token_exp_horizon: String,
    allow_unbound_bearer: bool,
    standard_webhooks_tolerance: String,
    deadline_sweep_interval: String,
}

/// Longest `deadline_sweep_interval`.
const MAX_DEADLINE_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// A duration at `inbound.<key>` from `min` to `max`.
fn bounded(key: &str, text: &str, min: Duration, max: Duration) -> Result<Duration, ConfigError> {
    let key = format!("inbound.{key}");
    let value = parse_duration(&key, text)?;
    if value < min || value > max {
        return Err(ConfigError::Invalid {
            key,
            message: format!(
                "must be from {} to {}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        });
    }
    Ok(value)
}

impl RawInbound {
    /// Checks every value; errors name the key.
    pub(crate) fn validate(self) -> Result<InboundConfig, ConfigError> {
        Ok(InboundConfig {
            trust_forwarded_for: self.trust_forwarded_for,
            token_exp_horizon: bounded(
                "token_exp_horizon",
                &self.token_exp_horizon,
                Duration::from_secs(1),
                MAX_TOKEN_EXP_HORIZON,
            )?,
            allow_unbound_bearer: self.allow_unbound_bearer,
            standard_webhooks_tolerance: bounded(
                "standard_webhooks_tolerance",
                &self.standard_webhooks_tolerance,
                Duration::from_secs(1),
                MAX_STANDARD_WEBHOOKS_TOLERANCE,
            )?,
            deadline_sweep_interval: bounded(
                "deadline_sweep_interval",
                &self.deadline_sweep_interval,
                Duration::from_millis(10),
                MAX_DEADLINE_SWEEP_INTERVAL,
            )?,
        })
    }
}

#[cfg(test)]
// `Jail` closures must return `figment::Error`, which is large; these are tests only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};

    #[test]
    fn the_defaults_are_ten_minutes_bound_tokens_and_five_minutes() {
        figment::Jail::expect_with(|_| {
            let config = Config::load(None, &Overrides::default()).unwrap().inbound;
            assert_eq!(config.token_exp_horizon, Duration::from_secs(600));
            assert!(!config.allow_unbound_bearer);
            assert_eq!(config.standard_webhooks_tolerance, Duration::from_secs(300));
            assert_eq!(config.deadline_sweep_interval, Duration::from_secs(30));
            Ok(())
        });
    }

    #[test]
    fn inbound_keys_come_from_psi_inbound_variables_and_bad_values_name_their_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PSI_INBOUND_TOKEN_EXP_HORIZON", "2m");
            jail.set_env("PSI_INBOUND_ALLOW_UNBOUND_BEARER", "true");
            let config = Config::load(None, &Overrides::default()).unwrap().inbound;
            assert_eq!(config.token_exp_horizon, Duration::from_secs(120));
            assert!(config.allow_unbound_bearer);
            for (var, value, key) in [
                (
                    "PSI_INBOUND_TOKEN_EXP_HORIZON",
                    "13h",
                    "inbound.token_exp_horizon",
                ),
                (
                    "PSI_INBOUND_TOKEN_EXP_HORIZON",
                    "soon",
                    "inbound.token_exp_horizon",
                ),
                (
                    "PSI_INBOUND_TOKEN_EXP_HORIZON",
                    "0s",
                    "inbound.token_exp_horizon",
                ),
                (
                    "PSI_INBOUND_STANDARD_WEBHOOKS_TOLERANCE",
                    "2h",
                    "inbound.standard_webhooks_tolerance",
                ),
            ] {
                jail.set_env(var, value);
                let error = Config::load(None, &Overrides::default()).unwrap_err();
                assert!(error.to_string().contains(key), "{value}: {error}");
                jail.set_env("PSI_INBOUND_TOKEN_EXP_HORIZON", "2m");
                jail.set_env("PSI_INBOUND_STANDARD_WEBHOOKS_TOLERANCE", "5m");
            }
            Ok(())
        });
    }
}
