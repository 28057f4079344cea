//! Reconnection backoff: every session waits between attempts the same way.

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
/// let wait = chatty_core::driver::jittered(Duration::from_secs(10));
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

/// Capped exponential backoff with jitter: the waits between reconnection attempts.
///
/// Each wait is [`jittered`] between half of and the whole step; the step starts at `min`,
/// doubles after every wait up to `max`, and goes back to `min` after a success.
///
/// ```
/// use std::time::Duration;
/// use chatty_core::driver::Backoff;
///
/// let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
/// let waits: Vec<Duration> = (0..4).map(|_| backoff.next_wait()).collect();
/// assert!(waits[0] <= Duration::from_secs(1));
/// assert!(waits[3] >= Duration::from_secs(2) && waits[3] <= Duration::from_secs(4));
/// backoff.reset();
/// assert!(backoff.next_wait() <= Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    /// A backoff from `min` (at least 1 ms) to `max` (at least `min`).
    pub fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            step: min,
        }
    }

    /// The next wait; the step after it doubles, up to the cap.
    pub fn next_wait(&mut self) -> Duration {
        let wait = jittered(self.step);
        self.step = (self.step * 2).min(self.max);
        wait
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.step = self.min;
    }

    /// The shortest and the longest step.
    pub fn bounds(&self) -> (Duration, Duration) {
        (self.min, self.max)
    }
}

impl Default for Backoff {
    /// From 1 s to 60 s.
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
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

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(350));
        let mut backoff = Backoff::new(min, max);
        let steps: Vec<Duration> = (0..5)
            .map(|_| {
                let step = backoff.step;
                let wait = backoff.next_wait();
                assert!(wait >= step / 2 && wait <= step);
                step
            })
            .collect();
        assert_eq!(steps, [100, 200, 350, 350, 350].map(Duration::from_millis));
        backoff.reset();
        assert_eq!(backoff.step, min);
        assert_eq!(
            Backoff::new(Duration::ZERO, Duration::ZERO).bounds().1,
            Duration::from_millis(1)
        );
    }
}
