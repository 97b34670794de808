//! What the workspace's integration tests share: [`Receiver`], a scriptable webhook receiver on
//! loopback that records every call, and [`now_ms`], the clock as psi writes it. Dev-only: no
//! product crate depends on it.

mod receiver;

pub use receiver::{Call, Receiver, Reply};

/// Now, in Unix milliseconds: the unit of psi's timestamps (`utcIssuedAt`, `timestamp`, ...).
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit in an i64")
}
