//! [`MemoryJournal`]: a journal in memory, for tests of the journal's rules without a database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::{self, BoxFuture};

use super::{Appended, EntryId, Journal, JournalError, PastAnswer, Pending};
use crate::metadata::SignalId;
use crate::signal::Signal;

/// A [`Journal`] in memory. Clones share it, so a test can run a router, drop it (the "crash")
/// and run another on the same journal.
///
/// ```
/// use chatty_core::Signal;
/// use chatty_core::journal::{Appended, EntryId, Journal, MemoryJournal};
///
/// # futures::executor::block_on(async {
/// let journal = MemoryJournal::new();
/// let hello = Signal::message("hello");
/// assert_eq!(journal.append("work", &hello).await?, Appended::New);
/// assert_eq!(journal.append("work", &hello).await?, Appended::Seen);
/// assert_eq!(journal.pending("work").await?.len(), 1);
/// journal.ack(&EntryId::of("work", &hello));
/// assert!(journal.pending("work").await?.is_empty());
/// # Ok::<(), chatty_core::journal::JournalError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryJournal(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    /// Every entry in the order appended, with whether it was acknowledged.
    entries: Vec<(EntryId, Signal, bool)>,
    index: HashMap<EntryId, usize>,
    /// Answers about to leave (`false`) or left (`true`), by session, signal and number.
    answers: HashMap<(String, SignalId, u32), bool>,
    marks: HashMap<(String, String), String>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        MemoryJournal::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many entries were appended (acknowledged or not).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Journal for MemoryJournal {
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<Appended, JournalError>> {
        let entry = EntryId::of(session, signal);
        let mut state = self.lock();
        let appended = if state.index.contains_key(&entry) {
            Appended::Seen
        } else {
            let at = state.entries.len();
            state.index.insert(entry.clone(), at);
            state.entries.push((entry, signal.clone(), false));
            Appended::New
        };
        Box::pin(future::ready(Ok(appended)))
    }

    fn ack(&self, entry: &EntryId) {
        let mut state = self.lock();
        if let Some(&at) = state.index.get(entry) {
            state.entries[at].2 = true;
        }
    }

    fn pending<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Pending>, JournalError>> {
        let state = self.lock();
        let pending = state
            .entries
            .iter()
            .filter(|(entry, _, acked)| !acked && &*entry.session == session)
            .map(|(_, signal, _)| {
                let mut answers: Vec<PastAnswer> = state
                    .answers
                    .iter()
                    .filter(|((_, of, _), _)| of == &signal.meta.id)
                    .map(|((by, _, number), left)| PastAnswer::new(by.clone(), *number, *left))
                    .collect();
                answers.sort();
                Pending::new(signal.clone(), answers)
            })
            .collect();
        Box::pin(future::ready(Ok(pending)))
    }

    fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> BoxFuture<'static, Result<(), JournalError>> {
        self.lock()
            .answers
            .entry((session.to_owned(), of.clone(), number))
            .or_insert(false);
        Box::pin(future::ready(Ok(())))
    }

    fn answered<'a>(
        &'a self,
        session: &'a str,
        of: &'a SignalId,
        number: u32,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        self.lock()
            .answers
            .insert((session.to_owned(), of.clone(), number), true);
        Box::pin(future::ready(Ok(())))
    }

    fn mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, JournalError>> {
        let value = self
            .lock()
            .marks
            .get(&(session.to_owned(), name.to_owned()))
            .cloned();
        Box::pin(future::ready(Ok(value)))
    }

    fn set_mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        self.lock()
            .marks
            .insert((session.to_owned(), name.to_owned()), value.to_owned());
        Box::pin(future::ready(Ok(())))
    }
}
