//! Timers kept across restarts: one-off timers set from a conversation (`after 30 minutes,
//! remind me`), and schedules in cron syntax (croner).
//!
//! A one-off timer is a key of the bot's state, `dispatch/timer/DUE/ID`, holding its name,
//! payload and the conversation it was set from; it is deleted once its handler has finished,
//! so a timer due while the bot was down fires when it starts again, and one whose handler was
//! cut short by a crash fires again (at least once, as signals are handled). A schedule keeps
//! the time of its last firing under `dispatch/cron/NAME`: a firing missed while the bot was
//! down happens once at start.
//!
//! Several workers may share the store (a scale-out's `[state]` database): a due timer or
//! schedule firing is fired by the worker that takes its lease ([`crate::lease`]), once; a
//! worker that dies while its handler runs leaves it to fire again after the lease's term.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatty_core::state::{State, StateError};
use chatty_core::{Address, Signal, SignalId, UserDefined};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::lease::{Held, Leases, TERM, Taken, now_ms};

const TIMERS: &str = "dispatch/timer/";
const CRON: &str = "dispatch/cron/";

/// What a one-off timer keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    name: String,
    payload: serde_json::Value,
    /// The signal it was set while handling: who, where, and its id.
    origin: Option<Address>,
    visible_to: Vec<Address>,
    of: Option<SignalId>,
}

/// A schedule: a name and its cron expression.
#[derive(Clone)]
pub(crate) struct Schedule {
    pub(crate) name: String,
    pub(crate) cron: croner::Cron,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("name", &self.name)
            .field("cron", &self.cron.pattern.to_string())
            .finish()
    }
}

impl Schedule {
    /// The schedule `name` of the cron expression `expr` (five fields, minute first, in UTC; a
    /// sixth field first for seconds).
    pub(crate) fn parse(name: &str, expr: &str) -> Result<Self, croner::errors::CronError> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expr)?;
        Ok(Schedule {
            name: name.to_owned(),
            cron,
        })
    }

    /// The last firing at or before `at` (milliseconds since the epoch).
    fn last_until(&self, at: i64) -> Option<i64> {
        let start = DateTime::<Utc>::from_timestamp_millis(at)?;
        self.cron
            .find_previous_occurrence(&start, true)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// The first firing after `after` (milliseconds since the epoch).
    fn next_after(&self, after: i64) -> Option<i64> {
        let start = DateTime::<Utc>::from_timestamp_millis(after)?;
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

/// A timer that is due, as the lanes run it.
#[derive(Debug)]
pub(crate) struct Due {
    /// The handler's name.
    pub(crate) name: String,
    /// The signal the handler sees: a user-defined signal named after the timer, from the
    /// conversation that set it.
    pub(crate) signal: Signal,
    /// The payload, for [`Fired`](crate::Fired).
    pub(crate) payload: serde_json::Value,
    what: Fired,
    /// Held until the handler is done: no other worker fires it meanwhile.
    lease: Held,
}

#[derive(Debug)]
enum Fired {
    Once { key: String },
    Schedule { at: i64 },
}

/// The timers of one dispatcher. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Timers(Arc<Inner>);

struct Inner {
    state: State,
    leases: Leases,
    wake: Notify,
    schedules: Vec<Schedule>,
    /// Each schedule's last firing (ms), as kept.
    last: Mutex<HashMap<String, i64>>,
    /// One-off timers being handled.
    running: Mutex<HashSet<String>>,
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("schedules", &self.0.schedules)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Timers {
    pub(crate) fn new(state: State, schedules: Vec<Schedule>) -> Self {
        Timers::with_lease_term(state, schedules, TERM)
    }

    /// Timers whose leases last `term` unless renewed.
    pub(crate) fn with_lease_term(state: State, schedules: Vec<Schedule>, term: Duration) -> Self {
        Timers(Arc::new(Inner {
            leases: Leases::new(state.clone(), term),
            state,
            wake: Notify::new(),
            schedules,
            last: Mutex::default(),
            running: Mutex::default(),
        }))
    }

    /// Reads the schedules' last firings; a schedule never fired starts from now.
    pub(crate) async fn load(&self) -> Result<(), StateError> {
        let now = now_ms();
        for schedule in &self.0.schedules {
            let key = format!("{CRON}{}", schedule.name);
            let last = match self.0.state.get::<i64>(&key).await? {
                Some(last) => last,
                None => {
                    self.0.state.put(&key, &now).await?;
                    now
                }
            };
            lock(&self.0.last).insert(schedule.name.clone(), last);
        }
        Ok(())
    }

    /// The timers set while handling `signal`.
    pub(crate) fn set_from(&self, signal: &Signal) -> ConversationTimers {
        ConversationTimers {
            timers: self.clone(),
            origin: signal.meta.origin.clone(),
            visible_to: signal.meta.visible_to.clone(),
            of: Some(signal.meta.id.clone()),
        }
    }

    /// Waits for the next timer or schedule that is due.
    pub(crate) async fn next_due(&self) -> Result<Due, StateError> {
        loop {
            let woken = self.0.wake.notified();
            let now = now_ms();
            let mut soonest: Option<i64> = None;
            // One-off timers: the keys sort by due time.
            let keys = self.0.state.keys(TIMERS).await?;
            for key in keys {
                if lock(&self.0.running).contains(&key) {
                    continue;
                }
                let Some(due) = due_of(&key) else {
                    tracing::warn!("a timer key that is not one: {key}");
                    continue;
                };
                if due <= now {
                    match self.take(&key).await? {
                        Took::Due(due) => return Ok(*due),
                        Took::Gone => {}
                        Took::Elsewhere { until_ms } => {
                            // Another worker fires it; look again when its lease would run out.
                            soonest = Some(soonest.map_or(until_ms, |s| s.min(until_ms)));
                        }
                    }
                    continue;
                }
                soonest = Some(soonest.map_or(due, |s| s.min(due)));
                break;
            }
            for schedule in &self.0.schedules {
                let last = lock(&self.0.last).get(&schedule.name).copied();
                let Some(next) = schedule.next_after(last.unwrap_or(now)) else {
                    continue;
                };
                let next = if next <= now {
                    match self.claim_schedule(schedule, next, now).await? {
                        Claimed::Due(due) => return Ok(*due),
                        // Fired by another worker: its next firing.
                        Claimed::Fired(next) => next,
                        Claimed::Elsewhere { until_ms } => until_ms,
                    }
                } else {
                    next
                };
                soonest = Some(soonest.map_or(next, |s| s.min(next)));
            }
            let wait = soonest.map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(u64::try_from(at - now).unwrap_or(0))
            });
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Takes the due timer `key`: its lease, then its record (gone if another worker fired it
    /// meanwhile).
    async fn take(&self, key: &str) -> Result<Took, StateError> {
        let name = format!("timer/{}", key.strip_prefix(TIMERS).unwrap_or(key));
        let lease = match self.0.leases.take(&name).await? {
            Taken::Held(lease) => lease,
            Taken::Elsewhere { until_ms } => return Ok(Took::Elsewhere { until_ms }),
        };
        let record: Record = match self.0.state.get(key).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                lease.release().await;
                return Ok(Took::Gone);
            }
            Err(StateError::Value { message, .. }) => {
                tracing::warn!("the timer {key} is not readable, and is dropped: {message}");
                self.0.state.delete(key).await?;
                lease.release().await;
                return Ok(Took::Gone);
            }
            Err(e) => return Err(e),
        };
        lock(&self.0.running).insert(key.to_owned());
        let mut signal = Signal::new(UserDefined::from_value(
            record.name.clone(),
            record.payload.clone(),
        ));
        signal.meta.origin = record.origin;
        signal.meta.visible_to = record.visible_to;
        signal.meta.response_to = record.of;
        Ok(Took::Due(Box::new(Due {
            name: record.name,
            signal,
            payload: record.payload,
            what: Fired::Once {
                key: key.to_owned(),
            },
            lease,
        })))
    }

    /// Takes the lease of `schedule`'s firing due at `next` (`now` or before), and fires it
    /// unless another worker did meanwhile (the time kept says).
    async fn claim_schedule(
        &self,
        schedule: &Schedule,
        next: i64,
        now: i64,
    ) -> Result<Claimed, StateError> {
        let lease = match self
            .0
            .leases
            .take(&format!("cron/{}", schedule.name))
            .await?
        {
            Taken::Held(lease) => lease,
            Taken::Elsewhere { until_ms } => return Ok(Claimed::Elsewhere { until_ms }),
        };
        let kept = self
            .0
            .state
            .get::<i64>(&format!("{CRON}{}", schedule.name))
            .await;
        let kept = match kept {
            Ok(kept) => kept,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        if let Some(kept) = kept.filter(|kept| *kept >= next) {
            lease.release().await;
            lock(&self.0.last).insert(schedule.name.clone(), kept);
            return Ok(Claimed::Fired(
                schedule.next_after(kept).unwrap_or(i64::MAX),
            ));
        }
        // Fired once however many firings were missed: at the latest of them.
        let at = schedule.last_until(now).unwrap_or(next).max(next);
        lock(&self.0.last).insert(schedule.name.clone(), at);
        Ok(Claimed::Due(Box::new(
            self.fire_schedule(schedule, at, lease),
        )))
    }

    fn fire_schedule(&self, schedule: &Schedule, at: i64, lease: Held) -> Due {
        let payload = serde_json::json!({ "at_ms": at });
        Due {
            name: schedule.name.clone(),
            signal: Signal::new(UserDefined::from_value(
                schedule.name.clone(),
                payload.clone(),
            )),
            payload,
            what: Fired::Schedule { at },
            lease,
        }
    }

    /// Forgets a timer whose handler finished (or records the schedule's firing), then frees
    /// its lease.
    pub(crate) async fn done(&self, due: Due) {
        let result = match &due.what {
            Fired::Once { key } => {
                let result = self.0.state.delete(key).await;
                lock(&self.0.running).remove(key);
                result
            }
            Fired::Schedule { at } => self.0.state.put(&format!("{CRON}{}", due.name), at).await,
        };
        if let Err(e) = result {
            tracing::warn!("the timer `{}` is done but not forgotten: {e}", due.name);
        }
        due.lease.release().await;
        // A firing of this dispatcher that came due meanwhile waited for this lease.
        self.0.wake.notify_one();
    }

    async fn add(&self, at: SystemTime, record: &Record) -> Result<TimerId, StateError> {
        let due = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let key = format!("{TIMERS}{due:016}/{}", SignalId::generate());
        self.0.state.put(&key, record).await?;
        self.0.wake.notify_one();
        Ok(TimerId(key))
    }
}

/// What taking a due one-off timer gave.
enum Took {
    /// It is this worker's to fire.
    Due(Box<Due>),
    /// Another worker fired it meanwhile (or it was not readable, and is dropped).
    Gone,
    /// Another worker holds it, until this time unless it renews its lease.
    Elsewhere { until_ms: i64 },
}

/// What claiming a schedule's due firing gave.
enum Claimed {
    /// It is this worker's to fire.
    Due(Box<Due>),
    /// Another worker fired it: the schedule's next firing.
    Fired(i64),
    /// Another worker holds it, until this time unless it renews its lease.
    Elsewhere { until_ms: i64 },
}

/// The due time of a timer key.
fn due_of(key: &str) -> Option<i64> {
    key.strip_prefix(TIMERS)?.split('/').next()?.parse().ok()
}

/// Names a one-off timer, to cancel it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerId(String);

/// Timers set from a conversation: when one is due, the handler registered for its name
/// ([`Dispatcher::timer`](crate::Dispatcher::timer)) runs as if the signal that set it came
/// again, so its answers go to the same conversation (as answers to that signal), and its
/// [`PersonState`](crate::PersonState) is the same person's.
///
/// ```
/// use std::time::Duration;
/// use chatty_dispatch::ConversationTimers;
///
/// async fn remind_later(timers: ConversationTimers) -> Result<&'static str, chatty_core::BotError> {
///     timers.after(Duration::from_secs(30 * 60), "remind", &17u32).await?;
///     Ok("I'll remind you in 30 minutes.")
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ConversationTimers {
    timers: Timers,
    origin: Option<Address>,
    visible_to: Vec<Address>,
    of: Option<SignalId>,
}

impl ConversationTimers {
    /// Runs the handler for `name` with `payload` after `delay`.
    ///
    /// # Errors
    /// The state store's error, or a payload that does not serialize.
    pub async fn after<T: Serialize + ?Sized>(
        &self,
        delay: Duration,
        name: &str,
        payload: &T,
    ) -> Result<TimerId, StateError> {
        // A delay from a person or a setting can be past what the clock can say.
        let at = SystemTime::now()
            .checked_add(delay)
            .ok_or_else(|| StateError::Value {
                key: name.to_owned(),
                message: format!("a timer {delay:?} from now is past what the clock can say"),
            })?;
        self.at(at, name, payload).await
    }

    /// Runs the handler for `name` with `payload` at `at`.
    ///
    /// # Errors
    /// The state store's error, or a payload that does not serialize.
    pub async fn at<T: Serialize + ?Sized>(
        &self,
        at: SystemTime,
        name: &str,
        payload: &T,
    ) -> Result<TimerId, StateError> {
        let payload = serde_json::to_value(payload).map_err(|e| StateError::Value {
            key: name.to_owned(),
            message: e.to_string(),
        })?;
        let record = Record {
            name: name.to_owned(),
            payload,
            origin: self.origin.clone(),
            visible_to: self.visible_to.clone(),
            of: self.of.clone(),
        };
        self.timers.add(at, &record).await
    }

    /// Cancels a timer that has not fired (nothing if it has).
    ///
    /// # Errors
    /// The state store's error.
    pub async fn cancel(&self, id: &TimerId) -> Result<(), StateError> {
        self.timers.0.state.delete(&id.0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_with_and_without_seconds() {
        let s = Schedule::parse("daily", "0 9 * * MON-FRI").unwrap();
        // 2026-12-07 (a Monday) 08:00 UTC → 09:00.
        let monday_8 = 1_796_630_400_000;
        assert_eq!(s.next_after(monday_8), Some(monday_8 + 3_600_000));
        let every_10s = Schedule::parse("fast", "*/10 * * * * *").unwrap();
        assert_eq!(every_10s.next_after(monday_8), Some(monday_8 + 10_000));
        assert!(Schedule::parse("bad", "61 * * * *").is_err());
    }

    #[tokio::test]
    async fn firings_missed_while_down_happen_once_at_the_latest() {
        let state = State::in_memory("t");
        let three_years_ago = now_ms() - 3 * 365 * 24 * 3_600_000;
        state
            .put(&format!("{CRON}new-year"), &three_years_ago)
            .await
            .unwrap();
        let yearly = Schedule::parse("new-year", "0 0 1 1 *").unwrap();
        let timers = Timers::new(state.clone(), vec![yearly.clone()]);
        timers.load().await.unwrap();
        let due = timers.next_due().await.unwrap();
        let at = due.payload["at_ms"].as_i64().unwrap();
        assert_eq!(Some(at), yearly.last_until(now_ms()));
        timers.done(due).await;
        assert_eq!(
            state.get::<i64>(&format!("{CRON}new-year")).await.unwrap(),
            Some(at)
        );
        let next = tokio::time::timeout(Duration::from_millis(100), timers.next_due()).await;
        assert!(next.is_err(), "fired again: {next:?}");
    }

    #[tokio::test]
    async fn a_delay_past_the_clock_is_an_error_not_a_panic() {
        let timers = Timers::new(State::in_memory("t"), Vec::new());
        let set = timers.set_from(&Signal::message("in a very long time"));
        let err = set.after(Duration::MAX, "remind", &1u32).await.unwrap_err();
        assert!(
            err.to_string().contains("past what the clock can say"),
            "{err}"
        );
    }

    #[test]
    fn keys_sort_by_due_time() {
        let a = format!("{TIMERS}{:016}/x", 999);
        let b = format!("{TIMERS}{:016}/x", 1000);
        assert!(a < b);
        assert_eq!(due_of(&a), Some(999));
    }

    #[tokio::test]
    async fn a_timer_is_due_once_until_done_and_fires_again_after_a_crash() {
        let state = State::in_memory("t");
        let term = Duration::from_millis(300);
        let timers = Timers::with_lease_term(state.clone(), Vec::new(), term);
        let mut from = Signal::message("remind me");
        from.meta.origin = Some("direct:alice".parse().unwrap());
        let set = timers.set_from(&from);
        set.after(Duration::from_millis(20), "remind", &5u32)
            .await
            .unwrap();
        let due = timers.next_due().await.unwrap();
        assert_eq!(due.name, "remind");
        assert_eq!(due.payload, serde_json::json!(5));
        assert_eq!(due.signal.meta.origin, from.meta.origin);
        assert_eq!(due.signal.meta.response_to.as_ref(), Some(from.id()));
        // The process dies while the handler runs (its lease neither renewed nor freed): once
        // the lease's term has run out, the restarted one fires it again.
        let started = std::time::Instant::now();
        due.lease.abandon();
        let again = Timers::with_lease_term(state.clone(), Vec::new(), term);
        let due = again.next_due().await.unwrap();
        assert_eq!(due.name, "remind");
        assert!(started.elapsed() >= term / 2, "{:?}", started.elapsed());
        again.done(due).await;
        assert!(state.keys(TIMERS).await.unwrap().is_empty());
        assert!(state.keys("dispatch/lease/").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_workers_sharing_the_store_one_fires_each_timer() {
        let state = State::in_memory("t");
        let every_second = Schedule::parse("tick", "* * * * * *").unwrap();
        let workers: Vec<Timers> = (0..2)
            .map(|_| Timers::new(state.clone(), vec![every_second.clone()]))
            .collect();
        for timers in &workers {
            timers.load().await.unwrap();
        }
        let set = workers[0].set_from(&Signal::message("remind me"));
        for n in 0..10u32 {
            set.after(Duration::from_millis(10), "remind", &n)
                .await
                .unwrap();
        }
        let fired = Arc::new(Mutex::new(Vec::new()));
        let running: Vec<_> = workers
            .iter()
            .enumerate()
            .map(|(w, timers)| {
                let (timers, fired) = (timers.clone(), fired.clone());
                tokio::spawn(async move {
                    loop {
                        let due = timers.next_due().await.unwrap();
                        let what = match &due.what {
                            Fired::Once { .. } => format!("remind {}", due.payload),
                            Fired::Schedule { at } => format!("tick {at}"),
                        };
                        lock(&fired).push((what, w));
                        // The handler takes a while: the other worker sees it due meanwhile.
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        timers.done(due).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        for task in running {
            task.abort();
        }
        let fired = lock(&fired).clone();
        let mut whats: Vec<&String> = fired.iter().map(|(what, _)| what).collect();
        whats.sort();
        let total = whats.len();
        whats.dedup();
        assert_eq!(whats.len(), total, "fired twice: {fired:?}");
        let reminders = whats.iter().filter(|w| w.starts_with("remind")).count();
        let ticks = whats.iter().filter(|w| w.starts_with("tick")).count();
        assert_eq!(reminders, 10, "{fired:?}");
        assert!(ticks >= 2, "{fired:?}");
    }
}
