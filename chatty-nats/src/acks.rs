//! Acknowledging to JetStream when the worker's bot has finished a signal, not before: the
//! worker's journal, wrapped ([`WorkerJournal`]), tells when.
//!
//! A worker holds each signal's acknowledgement ([`Held`]) from the moment it hands the signal
//! on until the bot finishes it (the router acknowledges the journal entry), and tells JetStream
//! meanwhile that it is still at work on it, so that a slow bot keeps it. If the worker's
//! process dies first, JetStream gives the signal to another worker once the ack wait is over:
//! nothing one worker had taken is lost with it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::Acker;
use chatty_core::driver::lock;
use chatty_core::journal::{Appended, EntryId, Journal, JournalError, Pending};
use chatty_core::{Signal, SignalId};
use futures::future::BoxFuture;

use crate::retries::Retries;

/// Which signal an acknowledgement is for: its sender (as text) and id, as in the journal's
/// [`EntryId`] (whose session name the router may have scoped).
type Key = (String, SignalId);

/// The acknowledgements a worker holds, by signal; shared by the worker and its journal.
#[derive(Clone)]
pub(crate) struct Held {
    ackers: Arc<Mutex<HashMap<Key, Arc<Acker>>>>,
    /// Whether a [`WorkerJournal`] was made for the worker: without one, nobody says when the
    /// bot finished, and the worker acknowledges once the signal is handed on.
    journaled: Arc<AtomicBool>,
    /// The tries of what the worker's journal gives again when it starts.
    pub(crate) retries: Arc<Retries>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("signals", &lock(&self.ackers).len())
            .field("journaled", &self.is_journaled())
            .finish()
    }
}

impl Held {
    /// Nothing held yet; `retries` counts the tries of what the worker's journal gives again.
    pub(crate) fn new(retries: Retries) -> Self {
        Held {
            ackers: Arc::default(),
            journaled: Arc::default(),
            retries: Arc::new(retries),
        }
    }

    /// Whether the worker's journal tells when the bot finished a signal.
    pub(crate) fn is_journaled(&self) -> bool {
        self.journaled.load(Ordering::Relaxed)
    }

    /// Holds `acker` until the bot finished `signal`. Until [`Holding::handed`] is called, the
    /// hold is undone when the returned guard is dropped (the signal did not reach the bot:
    /// JetStream gives it again after the ack wait).
    pub(crate) fn hold(&self, signal: &Signal, acker: Acker) -> Holding {
        let key = key_of(signal);
        lock(&self.ackers).insert(key.clone(), Arc::new(acker));
        Holding {
            held: self.clone(),
            key: Some(key),
        }
    }

    /// Acknowledges the signal `key` names, if it is held.
    fn release(&self, key: &Key) {
        let acker = lock(&self.ackers).remove(key);
        if let Some(acker) = acker {
            tokio::spawn(async move {
                if let Err(e) = acker.ack().await {
                    tracing::warn!("acknowledging a finished signal to JetStream: {e}");
                }
            });
        }
    }

    /// Tells JetStream that every held signal is still being worked on (each keeps its place
    /// for another ack wait).
    pub(crate) async fn in_progress(&self) {
        let ackers: Vec<Arc<Acker>> = lock(&self.ackers).values().cloned().collect();
        for acker in ackers {
            if let Err(e) = acker.ack_with(AckKind::Progress).await {
                tracing::debug!("telling JetStream a signal is in progress: {e}");
            }
        }
    }
}

/// A hold on a signal's acknowledgement while the signal is handed to the bot.
#[derive(Debug)]
pub(crate) struct Holding {
    held: Held,
    key: Option<Key>,
}

impl Holding {
    /// The signal reached the bot: the hold stays until the bot finishes it.
    pub(crate) fn handed(mut self) {
        self.key = None;
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.held.ackers).remove(&key);
        }
    }
}

fn key_of(signal: &Signal) -> Key {
    let entry = EntryId::of("", signal);
    (entry.sender, entry.id)
}

/// A worker's journal: another journal (the worker's own, SQLite or in memory) that also
/// acknowledges each of the worker's signals to JetStream once the bot has finished it.
///
/// Made by [`NatsWorker::journal`](crate::NatsWorker::journal).
#[derive(Debug)]
pub struct WorkerJournal<J> {
    inner: J,
    held: Held,
}

impl<J: Journal> WorkerJournal<J> {
    pub(crate) fn new(inner: J, held: Held) -> Self {
        held.journaled.store(true, Ordering::Relaxed);
        WorkerJournal { inner, held }
    }
}

impl<J: Journal> Journal for WorkerJournal<J> {
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<Appended, JournalError>> {
        Box::pin(async move {
            let appended = self.inner.append(session, signal).await?;
            if appended == Appended::Seen {
                // Kept already: this journal gives it to the bot (again, after a restart) if the
                // bot has not finished it, so JetStream need not keep it too.
                self.held.release(&key_of(signal));
            }
            Ok(appended)
        })
    }

    fn ack(&self, entry: &EntryId) {
        self.inner.ack(entry);
        self.held.release(&(entry.sender.clone(), entry.id.clone()));
    }

    /// The inner journal's, each counted as one more try of its signal: a signal past its last
    /// try (`max_tries`) is set aside, as JetStream's count would set it aside, and the bot
    /// gets a `SystemError` instead.
    fn pending<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Pending>, JournalError>> {
        Box::pin(async move {
            let pending = self.inner.pending(session).await?;
            self.held.retries.count(&self.inner, session, pending).await
        })
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
