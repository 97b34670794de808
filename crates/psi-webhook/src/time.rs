//! The explicit clock that token creation and verification take.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time as whole seconds since the Unix epoch: the unit of JWT `iat`, `exp` and `nbf`.
///
/// Verification takes the time as a parameter rather than reading the system clock, so that
/// tests (and the expired-on-purpose vectors) can check tokens at a fixed instant. A separate
/// type keeps seconds from being confused with the milliseconds used elsewhere in the protocol.
///
/// ```
/// use psi_webhook::UnixTime;
/// use std::time::Duration;
///
/// let t = UnixTime::from_secs(1_700_000_000);
/// assert_eq!((t + Duration::from_secs(300)).as_secs(), 1_700_000_300);
/// assert!(UnixTime::now() > t);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The given number of seconds since the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// The system clock, truncated to whole seconds.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }
}

impl From<SystemTime> for UnixTime {
    /// A time before the epoch becomes the epoch itself (only a badly broken clock reads that).
    fn from(time: SystemTime) -> Self {
        Self(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }
}

impl std::ops::Add<Duration> for UnixTime {
    type Output = UnixTime;

    fn add(self, rhs: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(rhs.as_secs()))
    }
}
