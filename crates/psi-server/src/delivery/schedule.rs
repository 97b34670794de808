//! When the next attempt is due: the configured schedule with jitter, and the receiver's
//! `Retry-After`.

use std::time::{Duration, SystemTime};

use rand::Rng;

use super::config::DeliveryConfig;

/// The wait before the next attempt once `attempts` attempts (at least one) have failed, or
/// `None` when the schedule is used up (the delivery has failed). `retry_after` is what the
/// receiver asked for: it lengthens the wait, up to `max_retry_after`, never shortens it.
///
/// Jitter spreads retries to a receiver that comes back after an outage, so they do not all
/// arrive at once.
pub fn next_wait(
    config: &DeliveryConfig,
    attempts: usize,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Option<Duration> {
    let base = *config.schedule.get(attempts.checked_sub(1)?)?;
    let wait = jittered(base, config.jitter, rng);
    Some(match retry_after {
        Some(asked) => wait.max(asked.min(config.max_retry_after)),
        None => wait,
    })
}

/// `base` scaled by a random factor in `[1 - jitter, 1 + jitter]`.
fn jittered(base: Duration, jitter: f64, rng: &mut impl Rng) -> Duration {
    if jitter == 0.0 || base.is_zero() {
        return base;
    }
    base.mul_f64(rng.gen_range(1.0 - jitter..=1.0 + jitter))
}

/// A `Retry-After` value: delay seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00
/// GMT`), as the wait from `now`. A date in the past means no wait; anything else is ignored.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use psi_server::delivery::schedule::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_400);
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
///     Some(Duration::from_secs(80))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn config(schedule_ms: &[u64], jitter: f64) -> DeliveryConfig {
        DeliveryConfig {
            workers: 1,
            batch_size: 1,
            in_flight_per_endpoint: 1,
            lease: Duration::from_secs(10),
            lease_renewal: Duration::from_secs(3),
            poll_interval: Duration::from_secs(1),
            schedule: schedule_ms
                .iter()
                .copied()
                .map(Duration::from_millis)
                .collect(),
            jitter,
            max_retry_after: Duration::from_secs(10),
            disable_after: Duration::from_secs(3600),
        }
    }

    #[test]
    fn without_jitter_the_waits_are_the_schedule_and_then_there_are_none() {
        let config = config(&[0, 100, 200], 0.0);
        let mut rng = StdRng::seed_from_u64(1);
        let waits: Vec<_> = (1..5)
            .map(|n| next_wait(&config, n, None, &mut rng))
            .collect();
        assert_eq!(
            waits,
            [
                Some(Duration::ZERO),
                Some(Duration::from_millis(100)),
                Some(Duration::from_millis(200)),
                None
            ]
        );
    }

    #[test]
    fn retry_after_lengthens_a_wait_up_to_its_cap_and_never_shortens_it() {
        let config = config(&[1000], 0.0);
        let mut rng = StdRng::seed_from_u64(1);
        let wait = |asked| next_wait(&config, 1, Some(asked), &mut StdRng::seed_from_u64(1));
        assert_eq!(wait(Duration::from_secs(3)), Some(Duration::from_secs(3)));
        assert_eq!(
            wait(Duration::from_secs(3600)),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            wait(Duration::from_millis(10)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            next_wait(&config, 2, Some(Duration::from_secs(1)), &mut rng),
            None
        );
    }

    #[test]
    fn http_dates_in_the_past_mean_no_wait_and_garbage_is_ignored() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-5", "1.5", "tomorrow", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
    }

    proptest! {
        #[test]
        fn jittered_waits_stay_within_the_jitter_band(
            base_ms in 1u64..100_000_000, jitter in 0.0f64..0.99, seed: u64
        ) {
            let config = config(&[base_ms], jitter);
            let wait = next_wait(&config, 1, None, &mut StdRng::seed_from_u64(seed)).unwrap();
            let base = base_ms as f64 / 1000.0;
            let secs = wait.as_secs_f64();
            prop_assert!(secs >= base * (1.0 - jitter) - 1e-6, "{secs} < {base}");
            prop_assert!(secs <= base * (1.0 + jitter) + 1e-6, "{secs} > {base}");
        }
    }
}
