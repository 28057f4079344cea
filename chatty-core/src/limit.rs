//! The answer limit: how many answers one correspondent gets before the router suspects a loop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::address::Address;

/// At most `answers` answers to one correspondent per `per`: the router's guard against a loop
/// with another automatic responder that ignores every "automatic" marker (RFC 3834) and
/// answers each answer.
///
/// An answer is a message, file or user-defined signal with a `response_to`. Past the limit, the
/// router does not send it and the bot receives a [`SendFailure`](crate::SendFailure) of kind
/// [`RateLimited`](crate::FailureKind::RateLimited) with the code `answer-limit`. The loop then
/// ends: the other side only answered what the bot sent.
///
/// Each session says its default ([`Session::answer_limit`](crate::session::Session::answer_limit)):
/// [`AnswerLimit::CHAT`] for chat platforms, [`AnswerLimit::MAIL`] for email; the
/// [`Router`](crate::Router) can change it per session.
///
/// ```
/// use std::time::Duration;
/// use chatty_core::AnswerLimit;
///
/// let strict = AnswerLimit::new(10, Duration::from_secs(3600));
/// assert_eq!(strict.answers(), 10);
/// assert_eq!(AnswerLimit::default(), AnswerLimit::CHAT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnswerLimit {
    answers: u32,
    per: Duration,
}

impl AnswerLimit {
    /// Chat platforms: 3 000 answers to one correspondent per 10 minutes. A person's burst of
    /// 2 000 messages is answered in full; a loop between two bots stops after 3 000 answers.
    pub const CHAT: AnswerLimit = AnswerLimit::new(3000, Duration::from_secs(600));

    /// Email: 100 answers to one correspondent per hour. A person's 60 mails in a row are
    /// answered; a loop with an out-of-office that ignores `Auto-Submitted` stops after 100.
    pub const MAIL: AnswerLimit = AnswerLimit::new(100, Duration::from_secs(3600));

    /// At most `answers` (at least 1) per `per` (at least 1 ms).
    pub const fn new(answers: u32, per: Duration) -> Self {
        let answers = if answers == 0 { 1 } else { answers };
        let per = if per.is_zero() {
            Duration::from_millis(1)
        } else {
            per
        };
        AnswerLimit { answers, per }
    }

    /// How many answers fit in the window.
    pub const fn answers(&self) -> u32 {
        self.answers
    }

    /// The window.
    pub const fn per(&self) -> Duration {
        self.per
    }
}

impl Default for AnswerLimit {
    fn default() -> Self {
        AnswerLimit::CHAT
    }
}

/// How many correspondents are remembered before idle ones are forgotten.
const REMEMBERED: usize = 10_000;

/// Counts answers per correspondent in a sliding window (two fixed windows, weighted: constant
/// memory per correspondent, and never more than the limit in any window of the limit's length).
#[derive(Debug)]
pub(crate) struct AnswerCounter {
    limit: AnswerLimit,
    counts: HashMap<Address, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    current: u32,
    previous: u32,
}

impl AnswerCounter {
    pub(crate) fn new(limit: AnswerLimit) -> Self {
        AnswerCounter {
            limit,
            counts: HashMap::new(),
        }
    }

    pub(crate) fn limit(&self) -> AnswerLimit {
        self.limit
    }

    /// Counts one answer to `to` at `now`; `false` (and nothing counted) when it would pass the
    /// limit.
    pub(crate) fn admit(&mut self, to: &Address, now: Instant) -> bool {
        let per = self.limit.per;
        if self.counts.len() >= REMEMBERED && !self.counts.contains_key(to) {
            self.counts
                .retain(|_, w| now.saturating_duration_since(w.start) < per * 2);
        }
        let window = self.counts.entry(to.clone()).or_insert(Window {
            start: now,
            current: 0,
            previous: 0,
        });
        let mut elapsed = now.saturating_duration_since(window.start);
        if elapsed >= per {
            let windows = elapsed.as_nanos() / per.as_nanos();
            window.previous = if windows == 1 { window.current } else { 0 };
            window.current = 0;
            // `windows` fits: it is at most elapsed / 1 ms.
            window.start += per * u32::try_from(windows).unwrap_or(u32::MAX);
            elapsed = now.saturating_duration_since(window.start);
        }
        let rest = 1.0 - elapsed.as_secs_f64() / per.as_secs_f64();
        let weighted = f64::from(window.previous) * rest + f64::from(window.current);
        if weighted + 1.0 > f64::from(self.limit.answers) {
            return false;
        }
        window.current += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Address {
        "mailto:alice@example.org".parse().unwrap()
    }

    #[test]
    fn admits_up_to_the_limit_then_refuses() {
        let mut counter = AnswerCounter::new(AnswerLimit::new(3, Duration::from_secs(60)));
        let t = Instant::now();
        assert!(counter.admit(&alice(), t));
        assert!(counter.admit(&alice(), t));
        assert!(counter.admit(&alice(), t));
        assert!(!counter.admit(&alice(), t));
        // Someone else has a count of their own.
        assert!(counter.admit(&"mailto:bob@example.org".parse().unwrap(), t));
    }

    #[test]
    fn the_window_slides() {
        let minute = Duration::from_secs(60);
        let mut counter = AnswerCounter::new(AnswerLimit::new(2, minute));
        let t = Instant::now();
        assert!(counter.admit(&alice(), t));
        assert!(counter.admit(&alice(), t));
        // Half a window later the two still weigh one: one more fits, not two.
        let later = t + minute + minute / 2;
        assert!(counter.admit(&alice(), later));
        assert!(!counter.admit(&alice(), later));
        // Two windows later all is forgotten.
        let much_later = t + minute * 3;
        assert!(counter.admit(&alice(), much_later));
        assert!(counter.admit(&alice(), much_later));
        assert!(!counter.admit(&alice(), much_later));
    }

    #[test]
    fn a_steady_loop_is_held_to_the_rate() {
        // One answer a second against 10 per minute: over ten minutes, about 100 get through (the
        // weighted window errs on the side of fewer).
        let mut counter = AnswerCounter::new(AnswerLimit::new(10, Duration::from_secs(60)));
        let t = Instant::now();
        let admitted = (0..600)
            .filter(|s| counter.admit(&alice(), t + Duration::from_secs(*s)))
            .count();
        assert!((85..=110).contains(&admitted), "{admitted}");
    }

    #[test]
    fn idle_correspondents_are_forgotten() {
        let mut counter = AnswerCounter::new(AnswerLimit::new(1, Duration::from_secs(1)));
        let t = Instant::now();
        for i in 0..REMEMBERED {
            let a: Address = format!("mailto:p{i}@example.org").parse().unwrap();
            assert!(counter.admit(&a, t));
        }
        assert!(counter.admit(&alice(), t + Duration::from_secs(5)));
        assert_eq!(counter.counts.len(), 1);
    }

    #[test]
    fn zero_is_raised_to_one() {
        let limit = AnswerLimit::new(0, Duration::ZERO);
        assert_eq!(limit.answers(), 1);
        assert_eq!(limit.per(), Duration::from_millis(1));
    }
}
