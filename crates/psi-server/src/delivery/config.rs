//! The `[delivery]` section: how many workers deliver, how many calls run at once (per worker, and
//! per endpoint in a process), how long a claim lasts and how often it is renewed, the retry schedule and when
//! a failing endpoint is disabled.

use std::time::Duration;

use serde::Deserialize;

use crate::config::error::ConfigError;

/// Most worker tasks one process runs.
const MAX_WORKERS: usize = 256;
/// Most calls one worker runs at once.
const MAX_BATCH: usize = 256;
/// Largest per-endpoint cap.
const MAX_IN_FLIGHT_PER_ENDPOINT: usize = 1024;
/// Most attempts a schedule may list.
const MAX_SCHEDULE: usize = 50;
/// Longest wait a schedule entry may ask for.
const MAX_WAIT: Duration = Duration::from_secs(30 * 24 * 3600);
/// Shortest lease, so that renewals (at most half of it) stay well apart.
const MIN_LEASE: Duration = Duration::from_millis(200);

/// The `[delivery]` section, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfig {
    /// Worker tasks in this process; 0: this process serves the API and delivers nothing.
    pub workers: usize,
    /// Calls a worker runs at once; it claims more as they finish. Deliveries waiting for
    /// their endpoint's lane take no slot (a worker holds at most `LEASE_AHEAD` times this).
    pub batch_size: usize,
    /// Calls in flight to one endpoint at once in a process. A process has up to
    /// `claims::LEASE_AHEAD` times this many deliveries of an endpoint waiting or in flight, so
    /// one slow endpoint cannot take every worker.
    pub in_flight_per_endpoint: usize,
    /// How long a claim keeps other workers away unless renewed. A process killed mid-call leaves
    /// its deliveries to others at most this long after its last renewal.
    pub lease: Duration,
    /// How often a worker extends the leases of its running calls (by `lease` from then); at
    /// most half the lease, so one late renewal does not lose a claim.
    pub lease_renewal: Duration,
    /// How long an idle worker waits before looking again (new messages wake it at once).
    pub poll_interval: Duration,
    /// The wait before each retry: the first attempt is made at once, the n-th retry waits
    /// `schedule[n - 1]` after the failure before it. Empty: a single attempt.
    pub schedule: Vec<Duration>,
    /// Random variation of each wait, as a fraction of it (0.2: ±20%).
    pub jitter: f64,
    /// Longest wait a receiver's `Retry-After` can impose.
    pub max_retry_after: Duration,
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after: Duration,
}

/// The section as read: durations as text such as `"5s"`, `"30m"`, `"10h"`, `"5d"`, `"250ms"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDelivery {
    workers: usize,
    batch_size: usize,
    in_flight_per_endpoint: usize,
    lease: String,
    lease_renewal: String,
    poll_interval: String,
    schedule: Vec<String>,
    jitter: f64,
    max_retry_after: String,
    disable_after: String,
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: format!("delivery.{key}"),
        message: message.into(),
    }
}

/// A duration such as `"5m"`; zero only where `allow_zero`.
fn duration(key: &str, text: &str, allow_zero: bool) -> Result<Duration, ConfigError> {
    let value = crate::config::error::parse_duration(&format!("delivery.{key}"), text)?;
    if value.is_zero() && !allow_zero {
        return Err(invalid(key, "must be longer than zero"));
    }
    if value > MAX_WAIT {
        return Err(invalid(key, "must be at most 30 days"));
    }
    Ok(value)
}

impl RawDelivery {
    /// Checks every value; errors name the key.
    pub(crate) fn validate(self) -> Result<DeliveryConfig, ConfigError> {
        if self.workers > MAX_WORKERS {
            return Err(invalid("workers", format!("must be at most {MAX_WORKERS}")));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(invalid(
                "batch_size",
                format!("must be from 1 to {MAX_BATCH}"),
            ));
        }
        if !(1..=MAX_IN_FLIGHT_PER_ENDPOINT).contains(&self.in_flight_per_endpoint) {
            return Err(invalid(
                "in_flight_per_endpoint",
                format!("must be from 1 to {MAX_IN_FLIGHT_PER_ENDPOINT}"),
            ));
        }
        let lease = duration("lease", &self.lease, false)?;
        if lease < MIN_LEASE {
            return Err(invalid("lease", "must be at least 200ms"));
        }
        let lease_renewal = duration("lease_renewal", &self.lease_renewal, false)?;
        if lease_renewal > lease / 2 {
            return Err(invalid(
                "lease_renewal",
                format!("must be at most half the lease ({:?})", lease / 2),
            ));
        }
        if self.schedule.len() > MAX_SCHEDULE {
            return Err(invalid(
                "schedule",
                format!("must list at most {MAX_SCHEDULE} waits"),
            ));
        }
        let schedule = self
            .schedule
            .iter()
            .map(|text| duration("schedule", text, true))
            .collect::<Result<_, _>>()?;
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(invalid("jitter", "must be from 0 to less than 1"));
        }
        Ok(DeliveryConfig {
            workers: self.workers,
            batch_size: self.batch_size,
            in_flight_per_endpoint: self.in_flight_per_endpoint,
            lease,
            lease_renewal,
            poll_interval: duration("poll_interval", &self.poll_interval, false)?,
            schedule,
            jitter: self.jitter,
            max_retry_after: duration("max_retry_after", &self.max_retry_after, true)?,
            disable_after: duration("disable_after", &self.disable_after, false)?,
        })
    }
}

#[cfg(test)]
// `Jail` closures must return `figment::Error`, which is large; these are tests only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};

    fn raw() -> RawDelivery {
        RawDelivery {
            workers: 4,
            batch_size: 16,
            in_flight_per_endpoint: 8,
            lease: "10s".into(),
            lease_renewal: "3s".into(),
            poll_interval: "1s".into(),
            schedule: ["5s", "5m", "30m", "2h", "5h", "10h", "10h"]
                .map(String::from)
                .to_vec(),
            jitter: 0.2,
            max_retry_after: "1h".into(),
            disable_after: "5d".into(),
        }
    }

    #[test]
    fn the_default_schedule_reads_as_svix_s() {
        let config = raw().validate().unwrap();
        let secs: Vec<u64> = config.schedule.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(config.disable_after, Duration::from_secs(5 * 24 * 3600));
    }

    #[test]
    fn compressed_schedules_in_milliseconds_are_accepted() {
        let config = RawDelivery {
            schedule: vec!["100ms".into(), "250ms".into()],
            lease: "1s".into(),
            lease_renewal: "500ms".into(),
            ..raw()
        }
        .validate()
        .unwrap();
        assert_eq!(config.schedule[1], Duration::from_millis(250));
        assert_eq!(config.lease_renewal, Duration::from_millis(500));
    }

    #[test]
    fn each_bad_value_is_named_by_its_key() {
        let cases: Vec<(RawDelivery, &str)> = vec![
            (
                RawDelivery {
                    workers: 1000,
                    ..raw()
                },
                "delivery.workers",
            ),
            (
                RawDelivery {
                    batch_size: 0,
                    ..raw()
                },
                "delivery.batch_size",
            ),
            (
                RawDelivery {
                    in_flight_per_endpoint: 0,
                    ..raw()
                },
                "delivery.in_flight_per_endpoint",
            ),
            (
                RawDelivery {
                    lease: "50ms".into(),
                    ..raw()
                },
                "delivery.lease",
            ),
            (
                RawDelivery {
                    lease_renewal: "6s".into(),
                    ..raw()
                },
                "delivery.lease_renewal",
            ),
            (
                RawDelivery {
                    lease_renewal: "0s".into(),
                    ..raw()
                },
                "delivery.lease_renewal",
            ),
            (
                RawDelivery {
                    schedule: vec!["1s".into(); 51],
                    ..raw()
                },
                "delivery.schedule",
            ),
            (
                RawDelivery {
                    schedule: vec!["soon".into()],
                    ..raw()
                },
                "delivery.schedule",
            ),
            (
                RawDelivery {
                    schedule: vec!["400d".into()],
                    ..raw()
                },
                "delivery.schedule",
            ),
            (
                RawDelivery {
                    jitter: 1.5,
                    ..raw()
                },
                "delivery.jitter",
            ),
            (
                RawDelivery {
                    poll_interval: "0s".into(),
                    ..raw()
                },
                "delivery.poll_interval",
            ),
            (
                RawDelivery {
                    disable_after: "forever".into(),
                    ..raw()
                },
                "delivery.disable_after",
            ),
        ];
        for (raw, key) in cases {
            let error = raw.validate().unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn delivery_keys_come_from_psi_delivery_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PSI_DELIVERY_WORKERS", "0");
            jail.set_env("PSI_DELIVERY_SCHEDULE", r#"["1s", "250ms"]"#);
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.delivery.workers, 0);
            assert_eq!(
                config.delivery.schedule,
                [Duration::from_secs(1), Duration::from_millis(250)]
            );
            assert_eq!(config.delivery.lease, Duration::from_secs(10));
            assert_eq!(config.delivery.lease_renewal, Duration::from_secs(3));
            assert_eq!(config.delivery.in_flight_per_endpoint, 8);
            jail.set_env("PSI_DELIVERY_LEASE", "soon");
            let error = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(error.to_string().contains("delivery.lease"), "{error}");
            Ok(())
        });
    }
}
