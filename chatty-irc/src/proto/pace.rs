//! Flood pacing: a token bucket over the lines the client sends, so that servers do not
//! disconnect the bot for flooding.

use std::time::{Duration, Instant};

/// A token bucket (as the generic cell rate algorithm): `burst` lines go out at once, then one
/// line every `interval`.
///
/// The defaults, a burst of 5 and then one line a second, stay under the flood limits of common
/// servers (InspIRCd's default `<connect threshold>` and `commandrate`, ngircd's "one line per
/// second after a burst" rule, irssi's and HexChat's own pacing).
///
/// ```
/// use std::time::{Duration, Instant};
/// use chatty_irc::proto::Pacer;
///
/// let mut pacer = Pacer::new(2, Duration::from_secs(1));
/// let now = Instant::now();
/// assert_eq!(pacer.reserve(now), Duration::ZERO);
/// assert_eq!(pacer.reserve(now), Duration::ZERO);
/// assert_eq!(pacer.reserve(now), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    /// How far ahead of the theoretical arrival time a line may go: `(burst - 1) * interval`.
    tolerance: Duration,
    /// The theoretical arrival time of the next line.
    next: Option<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(Self::DEFAULT_BURST, Self::DEFAULT_INTERVAL)
    }
}

impl Pacer {
    /// The default burst: 5 lines.
    pub const DEFAULT_BURST: u32 = 5;
    /// The default interval after the burst: one line a second.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

    /// A bucket of `burst` lines (at least 1), refilled one line every `interval`; a zero
    /// interval never waits.
    pub fn new(burst: u32, interval: Duration) -> Self {
        Pacer {
            interval,
            tolerance: interval.saturating_mul(burst.max(1) - 1),
            next: None,
        }
    }

    /// Takes one line's token at `now`: how long to wait before sending it.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let arrival = self.next.map_or(now, |next| next.max(now));
        let wait = arrival
            .checked_sub(self.tolerance)
            .map_or(Duration::ZERO, |earliest| {
                earliest.saturating_duration_since(now)
            });
        self.next = Some(arrival + self.interval);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_one_per_interval_and_refills_when_idle() {
        let second = Duration::from_secs(1);
        let mut pacer = Pacer::new(3, second);
        let t0 = Instant::now();
        let waits: Vec<_> = (0..6).map(|_| pacer.reserve(t0)).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 3].map(Duration::from_secs));
        // After a long pause the whole burst is back.
        let later = t0 + Duration::from_secs(60);
        let waits: Vec<_> = (0..4).map(|_| pacer.reserve(later)).collect();
        assert_eq!(waits, [0, 0, 0, 1].map(Duration::from_secs));
        let mut free = Pacer::new(1, Duration::ZERO);
        assert!((0..100).all(|_| free.reserve(t0).is_zero()));
    }
}
