//! A journal for tests of a session under a router with a journal: [`Watched`] keeps everything
//! in a [`MemoryJournal`] and lets the test watch and disturb its appends (hold them until
//! released, slow them down, fail some) and hide its marks.
//!
//! ```
//! use chatty_core::Signal;
//! use chatty_core::journal::{Appended, Journal};
//! use chatty_test::journal::Watched;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Appends wait until the test releases them, but the first one (number 0) fails at once.
//! let journal = Watched::new().held().failing(0..1);
//! let hello = Signal::message("hello");
//! assert!(journal.append("work", &hello).await.is_err());
//! assert_eq!(journal.failed()[0].id, hello.meta.id);
//! let held = tokio::spawn({
//!     let (journal, hello) = (journal.clone(), hello.clone());
//!     async move { journal.append("work", &hello).await }
//! });
//! journal.release(1);
//! assert_eq!(held.await.unwrap().unwrap(), Appended::New);
//! assert_eq!((journal.appends(), journal.new_appends()), (2, 1));
//! # }
//! ```

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chatty_core::journal::{Appended, EntryId, Journal, JournalError, MemoryJournal, Pending};
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{Signal, SignalId};
use tokio::sync::Semaphore;

/// A [`Journal`] that keeps everything in a [`MemoryJournal`] and that the test watches and
/// disturbs: it counts the appends, can hold them until [released](Watched::release), make each
/// take a while ([`slow`](Watched::slow)), fail some ([`failing`](Watched::failing)), and answer
/// [`mark`](Journal::mark) as if nothing had been kept ([`hide_marks`](Watched::hide_marks)).
/// Every other call goes to the memory journal as it is.
///
/// Clones share the memory journal, the counts, the held appends and the hidden marks; set it up
/// with the builder methods ([`held`](Watched::held), [`slow`](Watched::slow),
/// [`failing`](Watched::failing), [`noting_mark`](Watched::noting_mark)) before cloning it.
///
/// An append goes: counted ([`appends`](Watched::appends)); failed if its number is in the
/// [`failing`](Watched::failing) range (noted in [`failed`](Watched::failed)); else it waits for a
/// permit if the journal is [held](Watched::held), waits the [delay](Watched::slow), goes to the
/// memory journal and is counted as [new](Watched::new_appends) or [seen](Watched::seen).
#[derive(Debug, Clone, Default)]
pub struct Watched {
    inner: MemoryJournal,
    /// Appends wait for a permit of this, if any.
    permits: Option<Arc<Semaphore>>,
    /// How long each append that goes through takes.
    delay: Duration,
    /// The appends that fail: calls number `fail.start .. fail.end` (counted from 0).
    fail: Range<usize>,
    /// The mark whose value a failed append notes.
    noted_mark: Option<Arc<str>>,
    counts: Arc<Counts>,
}

/// What the appends did, and the marks' knob, shared by the clones of a [`Watched`].
#[derive(Debug, Default)]
struct Counts {
    /// Every call of `append`, failed or not.
    appends: AtomicUsize,
    /// Appends that returned [`Appended::New`].
    new: AtomicUsize,
    /// Appends that returned [`Appended::Seen`].
    seen: AtomicUsize,
    failed: Mutex<Vec<Failed>>,
    /// Whether `mark` answers `None`.
    hide_marks: AtomicBool,
}

/// An append that a [`Watched`] journal failed, as the journal was at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The id of the signal it was to keep.
    pub id: SignalId,
    /// The value of the [noted mark](Watched::noting_mark) of the appending session (`None`
    /// if it had none, or no mark is noted).
    pub mark: Option<String>,
    /// How many appends had kept a new signal before it.
    pub kept: usize,
}

impl Watched {
    /// A journal that lets every append through at once and fails none.
    pub fn new() -> Self {
        Watched::default()
    }

    /// Appends (those not [failing](Watched::failing)) wait until the test
    /// [`release`](Watched::release)s them.
    #[must_use]
    pub fn held(self) -> Self {
        Watched {
            permits: Some(Arc::new(Semaphore::new(0))),
            ..self
        }
    }

    /// Each append that goes through takes `delay` (a slow disk).
    #[must_use]
    pub fn slow(self, delay: Duration) -> Self {
        Watched { delay, ..self }
    }

    /// The appends numbered `calls` (counted from 0, in the order `append` is called) fail; the
    /// others go through. `0..n`: the first `n` fail.
    #[must_use]
    pub fn failing(self, calls: Range<usize>) -> Self {
        Watched {
            fail: calls,
            ..self
        }
    }

    /// A failed append notes the value of the appending session's mark `name` in its
    /// [`Failed::mark`].
    #[must_use]
    pub fn noting_mark(self, name: &str) -> Self {
        Watched {
            noted_mark: Some(name.into()),
            ..self
        }
    }

    /// Lets `appends` more held appends through (see [`held`](Watched::held)).
    ///
    /// # Panics
    ///
    /// If the journal is not held.
    pub fn release(&self, appends: usize) {
        self.permits
            .as_ref()
            .expect("release is for a held journal")
            .add_permits(appends);
    }

    /// Whether [`mark`](Journal::mark) answers `None` from now on, as if no mark had been kept
    /// (they are kept still, and [`memory`](Watched::memory) shows them).
    pub fn hide_marks(&self, hide: bool) {
        self.counts.hide_marks.store(hide, Ordering::SeqCst);
    }

    /// How many times `append` was called (failed, held or through).
    pub fn appends(&self) -> usize {
        self.counts.appends.load(Ordering::SeqCst)
    }

    /// How many appends kept a new signal ([`Appended::New`]).
    pub fn new_appends(&self) -> usize {
        self.counts.new.load(Ordering::SeqCst)
    }

    /// How many appends found their signal kept already ([`Appended::Seen`]).
    pub fn seen(&self) -> usize {
        self.counts.seen.load(Ordering::SeqCst)
    }

    /// The appends that failed, in order.
    pub fn failed(&self) -> Vec<Failed> {
        self.lock_failed().clone()
    }

    /// The memory journal behind it: what was kept, marks not hidden.
    pub fn memory(&self) -> &MemoryJournal {
        &self.inner
    }

    fn lock_failed(&self) -> MutexGuard<'_, Vec<Failed>> {
        self.counts.failed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Journal for Watched {
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<Appended, JournalError>> {
        Box::pin(async move {
            let call = self.counts.appends.fetch_add(1, Ordering::SeqCst);
            if self.fail.contains(&call) {
                let mark = match &self.noted_mark {
                    Some(name) => self.inner.mark(session, name).await?,
                    None => None,
                };
                let kept = self.new_appends();
                let id = signal.meta.id.clone();
                self.lock_failed().push(Failed { id, mark, kept });
                return Err(JournalError::new("the test's journal fails this append"));
            }
            if let Some(permits) = &self.permits {
                permits.acquire().await.expect("never closed").forget();
            }
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let appended = self.inner.append(session, signal).await?;
            let counter = match appended {
                Appended::New => &self.counts.new,
                _ => &self.counts.seen,
            };
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(appended)
        })
    }

    fn ack(&self, entry: &EntryId) {
        self.inner.ack(entry);
    }

    fn pending<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Pending>, JournalError>> {
        self.inner.pending(session)
    }

    fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> BoxFuture<'static, Result<(), JournalError>> {
        self.inner.answering(session, of, number)
    }

    fn answered<'a>(
        &'a self,
        session: &'a str,
        of: &'a SignalId,
        number: u32,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        self.inner.answered(session, of, number)
    }

    fn mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, JournalError>> {
        if self.counts.hide_marks.load(Ordering::SeqCst) {
            return Box::pin(async { Ok(None) });
        }
        self.inner.mark(session, name)
    }

    fn set_mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        self.inner.set_mark(session, name, value)
    }
}
