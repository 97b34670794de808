//! Giving back the memory a burst of work freed.
//!
//! glibc's allocator returns freed memory to the system only from the top of each heap; what a
//! load allocated and freed below a live allocation stays resident, spread over one heap per
//! thread that allocated (the runtime's workers, each SQLite connection's thread, the signing
//! threads). `malloc_trim(0)` hands every free page of every heap back: once when the server
//! has started, then every [`TRIM_EVERY`] ([`trim_periodically`]), so a process back to idle
//! returns to near its idle size within that time; on a busy process it costs a walk of the
//! free lists that often. Elsewhere than glibc it does nothing.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often free memory is handed back.
pub const TRIM_EVERY: Duration = Duration::from_secs(20);

/// Hands free memory back every [`TRIM_EVERY`], until `shutdown`.
pub async fn trim_periodically(shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(TRIM_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {
                // It walks every heap under that heap's lock: off the runtime's threads.
                if tokio::task::spawn_blocking(trim).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Returns the free pages of every heap to the system; whether any was returned.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim has no preconditions and is thread-safe.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// The process's anonymous resident memory, in KiB.
    fn rss_anon_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    }

    #[test]
    fn trimming_returns_memory_freed_below_a_live_allocation() {
        // 64 MiB in 1 KiB blocks, written so they are resident; the last block stays, so the
        // heap's top is in use and freeing the others gives nothing back by itself.
        const BLOCKS: usize = 64 * 1024;
        let mut blocks: Vec<Box<[u8; 1024]>> = (0..BLOCKS).map(|_| Box::new([7u8; 1024])).collect();
        let last = blocks.pop();
        drop(std::hint::black_box(blocks));
        let before = rss_anon_kib();
        assert!(trim(), "malloc_trim(0) released memory");
        let after = rss_anon_kib();
        assert!(
            before.saturating_sub(after) >= 32 * 1024,
            "at least 32 of the 64 MiB freed went back: {before} KiB before, {after} KiB after"
        );
        drop(last);
    }
}
