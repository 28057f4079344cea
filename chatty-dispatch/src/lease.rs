//! Leases on due timers: of the workers sharing one state store (a scale-out's `[state]`
//! database, or two processes on one SQLite file), the one that takes a timer's lease fires
//! it; the others leave it alone until the lease is released or has run out.
//!
//! A lease is a value of the bot's state, `dispatch/lease/NAME`, holding its holder (made up
//! when the dispatcher starts) and the time it runs out. It is taken by a swap
//! ([`State::swap_bytes`]) from what was read: free, or run out, so that of two workers that
//! read the same, one gets it. Its holder renews it every third of its term while the timer's
//! handler runs, and releases it once the handler is done; a worker that dies holding one lets
//! another (or itself, started again) fire the timer once the term has run out.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatty_core::SignalId;
use chatty_core::state::{State, StateError};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the leases are kept in the bot's state.
const LEASES: &str = "dispatch/lease/";

/// How long a lease lasts unless renewed: after a worker dies holding one, its timer fires
/// again this long after at the latest.
pub(crate) const TERM: Duration = Duration::from_secs(30);

/// What a lease keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lease {
    holder: String,
    until_ms: i64,
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The leases one dispatcher takes, as one holder.
#[derive(Clone)]
pub(crate) struct Leases {
    state: State,
    holder: Arc<str>,
    term: Duration,
}

impl fmt::Debug for Leases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leases")
            .field("holder", &self.holder)
            .field("term", &self.term)
            .finish_non_exhaustive()
    }
}

/// What taking a lease gave.
#[derive(Debug)]
pub(crate) enum Taken {
    /// This dispatcher holds it until it releases it.
    Held(Held),
    /// Another holder has it, until this time (ms since the epoch) unless it renews it.
    Elsewhere { until_ms: i64 },
}

impl Leases {
    /// Leases in `state`, lasting `term` unless renewed, held by a holder made up now.
    pub(crate) fn new(state: State, term: Duration) -> Self {
        Leases {
            state,
            holder: SignalId::generate().as_str().into(),
            term,
        }
    }

    fn lease(&self) -> Lease {
        let term = i64::try_from(self.term.as_millis()).unwrap_or(i64::MAX);
        Lease {
            holder: self.holder.to_string(),
            until_ms: now_ms().saturating_add(term),
        }
    }

    /// Takes the lease `name` if it is free or has run out (a value that is no lease counts as
    /// run out).
    pub(crate) async fn take(&self, name: &str) -> Result<Taken, StateError> {
        let key = format!("{LEASES}{name}");
        let stored = self.state.get_bytes(&key).await?;
        let held = stored
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<Lease>(bytes).ok());
        if let Some(held) = held
            && held.until_ms > now_ms()
        {
            return Ok(Taken::Elsewhere {
                until_ms: held.until_ms,
            });
        }
        let mine = self.lease();
        if !self
            .state
            .swap_bytes(&key, stored.as_deref(), Some(&mine))
            .await?
        {
            // Another worker took it between the read and the swap.
            return Ok(Taken::Elsewhere {
                until_ms: mine.until_ms,
            });
        }
        let current = Arc::new(Mutex::new(mine));
        let (stop, stopped) = oneshot::channel();
        let renewing = tokio::spawn(renew(self.clone(), key.clone(), current.clone(), stopped));
        Ok(Taken::Held(Held {
            inner: Some(HeldInner {
                leases: self.clone(),
                key,
                current,
                stop,
                renewing,
            }),
        }))
    }
}

/// Renews the lease at `key` every third of its term until told to stop, or until it finds
/// the lease taken from it.
async fn renew(
    leases: Leases,
    key: String,
    current: Arc<Mutex<Lease>>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(leases.term / 3) => {}
        }
        let held = lock(&current).clone();
        let next = leases.lease();
        let expected = serde_json::to_vec(&held).unwrap_or_default();
        match leases
            .state
            .swap_bytes(&key, Some(&expected), Some(&next))
            .await
        {
            Ok(true) => *lock(&current) = next,
            Ok(false) => {
                tracing::warn!(
                    "the lease {key} ran out and another worker took it: its timer may fire twice"
                );
                return;
            }
            Err(e) => tracing::warn!("the lease {key} could not be renewed: {e}"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A lease this dispatcher holds: renewed until released. Dropped without
/// [`release`](Held::release), it is released in the background.
pub(crate) struct Held {
    inner: Option<HeldInner>,
}

struct HeldInner {
    leases: Leases,
    key: String,
    current: Arc<Mutex<Lease>>,
    stop: oneshot::Sender<()>,
    renewing: JoinHandle<()>,
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("key", &self.inner.as_ref().map(|i| &i.key))
            .finish_non_exhaustive()
    }
}

impl Held {
    /// Stops renewing the lease and frees it (unless another worker took it meanwhile).
    pub(crate) async fn release(mut self) {
        if let Some(inner) = self.inner.take() {
            inner.release().await;
        }
    }
}

#[cfg(test)]
impl Held {
    /// What a worker that dies leaves: the lease stops being renewed, and is not freed.
    pub(crate) fn abandon(mut self) {
        drop(self.inner.take());
    }
}

impl HeldInner {
    async fn release(self) {
        let _ = self.stop.send(());
        // A renewal under way finishes first, so that the lease freed is the one stored.
        let _ = self.renewing.await;
        let held = lock(&self.current).clone();
        let expected = serde_json::to_vec(&held).unwrap_or_default();
        let freed = self
            .leases
            .state
            .swap_bytes::<Lease>(&self.key, Some(&expected), None)
            .await;
        if let Err(e) = freed {
            tracing::warn!("the lease {} could not be freed: {e}", self.key);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(inner.release());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(taken: Taken) -> Held {
        match taken {
            Taken::Held(held) => held,
            Taken::Elsewhere { until_ms } => panic!("held elsewhere until {until_ms}"),
        }
    }

    #[tokio::test]
    async fn one_holder_at_a_time_until_released() {
        let state = State::in_memory("bot");
        let (a, b) = (
            Leases::new(state.clone(), TERM),
            Leases::new(state.clone(), TERM),
        );
        let lease = held(a.take("timer/1").await.unwrap());
        match b.take("timer/1").await.unwrap() {
            Taken::Elsewhere { until_ms } => assert!(until_ms > now_ms()),
            Taken::Held(_) => panic!("taken twice"),
        }
        // Its holder does not hold it twice either.
        assert!(matches!(
            a.take("timer/1").await.unwrap(),
            Taken::Elsewhere { .. }
        ));
        // Another name is another lease.
        let other = held(b.take("timer/2").await.unwrap());
        lease.release().await;
        let again = held(b.take("timer/1").await.unwrap());
        again.release().await;
        other.release().await;
        assert!(state.keys(LEASES).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_lease_renewed_stays_and_one_left_runs_out() {
        let state = State::in_memory("bot");
        let term = Duration::from_millis(150);
        let (a, b) = (
            Leases::new(state.clone(), term),
            Leases::new(state.clone(), term),
        );
        // Renewed by its holder: still held after several terms.
        let renewed = held(a.take("cron/daily").await.unwrap());
        tokio::time::sleep(term * 3).await;
        assert!(matches!(
            b.take("cron/daily").await.unwrap(),
            Taken::Elsewhere { .. }
        ));
        // A holder that died: its renewal stops (its stop sender gone), nothing is freed; the
        // term runs out, and another takes it.
        renewed.abandon();
        assert!(matches!(
            b.take("cron/daily").await.unwrap(),
            Taken::Elsewhere { .. }
        ));
        tokio::time::sleep(term + Duration::from_millis(50)).await;
        held(b.take("cron/daily").await.unwrap()).release().await;
    }

    #[tokio::test]
    async fn a_held_lease_dropped_is_freed() {
        let state = State::in_memory("bot");
        let a = Leases::new(state.clone(), TERM);
        drop(held(a.take("timer/1").await.unwrap()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(state.keys(LEASES).await.unwrap().is_empty());
    }
}
