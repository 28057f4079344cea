//! Reconnection backoff for sessions: every protocol crate waits between attempts the same way.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `base` with random jitter: between half of it and all of it, so that sessions that lost
/// their server at the same moment do not all come back at the same moment.
///
/// ```
/// use std::time::Duration;
///
/// let wait = chatty_core::jittered(Duration::from_secs(10));
/// assert!(wait >= Duration::from_secs(5) && wait <= Duration::from_secs(10));
/// ```
pub fn jittered(base: Duration) -> Duration {
    // A fresh RandomState is randomly keyed: hashing a counter with it gives spread values
    // without a random-number crate.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let fraction = (hasher.finish() % 1000) as f64 / 2000.0;
    base.mul_f64(0.5 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_whole_and_varies() {
        let base = Duration::from_secs(10);
        let waits: Vec<Duration> = (0..100).map(|_| jittered(base)).collect();
        assert!(waits.iter().all(|d| *d >= base / 2 && *d <= base));
        assert!(
            waits.iter().any(|d| *d != waits[0]),
            "always {:?}",
            waits[0]
        );
    }
}
