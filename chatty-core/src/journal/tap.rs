//! [`Tap`]: the router's use of a journal, shared by its sessions' sinks (which append and
//! redeliver), the bot's inbound stream (which acknowledges) and its outlet (which numbers
//! answers and skips those that left already).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use super::{Acks, EntryId, Journal, JournalError, answer_id};
use crate::driver::Recent;
use crate::metadata::SignalId;
use crate::signal::{Body, Signal};

/// How many signals' answer counts are remembered: far more than a bot has in hand at once.
const COUNTED: usize = 100_000;

/// A signal answered through a session: (the session's name, the signal's id).
type AnsweredSignal = (String, SignalId);

/// The router's use of its journal.
pub(crate) struct Tap {
    journal: Arc<dyn Journal>,
    acks: Acks,
    /// Prefixed (`scope/`) to the session names in the journal, when several routers share it.
    scope: Option<String>,
    /// Answers from before a restart, by answering session and the signal they answer, with
    /// whether they were confirmed: filled from the redelivered entries.
    left: Mutex<HashMap<AnsweredSignal, Vec<(u32, bool)>>>,
    /// How many answers each signal has had in this run, by answering session.
    counts: Mutex<Recent<(String, SignalId), u32>>,
    /// Entries handed to a bot that acknowledges explicitly, by signal id.
    outstanding: Mutex<HashMap<SignalId, Vec<EntryId>>>,
    /// The signals handed to the bot and not finished yet, with how many entries each: only
    /// their answers are numbered. An answer to a finished signal (a gateway passing on what a
    /// worker answered, an answer sent long after) is not covered by redelivery anyway, and is
    /// sent as any other signal: the send returns once the session has it.
    unfinished: Mutex<HashMap<SignalId, usize>>,
    /// Signals with answers in a session's lane: how many, and the acknowledgements held back
    /// until they left (an acknowledged signal is not redelivered, so its answers must have
    /// left before the acknowledgement is written).
    in_flight: Mutex<HashMap<SignalId, InFlight>>,
}

/// The answers to one signal still in a lane, and its acknowledgements waiting for them.
#[derive(Debug, Default)]
struct InFlight {
    answers: usize,
    acks: Vec<EntryId>,
}

/// What the outlet does with an answer to a journaled signal.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AnswerPlan {
    /// Record it with [`Tap::answering`], send it, then record it with [`Tap::answered`].
    Send { of: SignalId, number: u32 },
    /// It was about to leave when the process stopped: ask the session whether it left; send
    /// it as [`AnswerPlan::Send`] unless the session says it did.
    Unsure { of: SignalId, number: u32 },
    /// It left before a restart: do not send it again.
    LeftAlready,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("journal", &self.journal)
            .field("acks", &self.acks)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tap {
    pub(crate) fn new(journal: Arc<dyn Journal>, acks: Acks, scope: Option<String>) -> Self {
        Tap {
            journal,
            acks,
            scope,
            left: Mutex::default(),
            counts: Mutex::new(Recent::new(COUNTED)),
            outstanding: Mutex::default(),
            unfinished: Mutex::default(),
            in_flight: Mutex::default(),
        }
    }

    /// The name the session `session` has in the journal: prefixed with the router's scope.
    pub(crate) fn scoped(&self, session: &str) -> Arc<str> {
        match &self.scope {
            Some(scope) => format!("{scope}/{session}").into(),
            None => session.into(),
        }
    }

    /// The journal.
    pub(crate) fn journal(&self) -> &dyn Journal {
        &*self.journal
    }

    /// See [`journals`](super::journals).
    pub(crate) fn journals(body: &Body) -> bool {
        super::journals(body)
    }

    /// The signals of `session` the bot had not acknowledged, marked redelivered, with their
    /// entries; remembers which of their answers left.
    pub(crate) async fn redeliveries(
        &self,
        session: &str,
    ) -> Result<Vec<(Signal, EntryId)>, JournalError> {
        let pending = self.journal.pending(session).await?;
        let mut left = lock(&self.left);
        Ok(pending
            .into_iter()
            .map(|pending| {
                let mut signal = pending.signal;
                signal.meta.redelivered = true;
                for answer in pending.answers {
                    left.entry((answer.session, signal.meta.id.clone()))
                        .or_default()
                        .push((answer.number, answer.confirmed));
                }
                let entry = EntryId::of(session, &signal);
                (signal, entry)
            })
            .collect())
    }

    /// The bot was handed the signal of `entry`: with [`Acks::OnNext`], the entry to
    /// acknowledge when it asks for the next one; with [`Acks::Explicit`], kept until
    /// [`ack`](Tap::ack).
    pub(crate) fn handed(&self, entry: EntryId) -> Option<EntryId> {
        *lock(&self.unfinished).entry(entry.id.clone()).or_default() += 1;
        match self.acks {
            Acks::Explicit => {
                lock(&self.outstanding)
                    .entry(entry.id.clone())
                    .or_default()
                    .push(entry);
                None
            }
            _ => Some(entry),
        }
    }

    /// Acknowledges an entry the bot finished, once its answers in flight have left.
    pub(crate) fn finished(&self, entry: &EntryId) {
        {
            let mut unfinished = lock(&self.unfinished);
            if let Some(count) = unfinished.get_mut(&entry.id) {
                *count -= 1;
                if *count == 0 {
                    unfinished.remove(&entry.id);
                }
            }
        }
        let mut in_flight = lock(&self.in_flight);
        match in_flight.get_mut(&entry.id) {
            Some(waiting) => waiting.acks.push(entry.clone()),
            None => self.journal.ack(entry),
        }
    }

    /// An answer to `of` joins a session's lane: `of` is not acknowledged before it left.
    pub(crate) fn launched(&self, of: &SignalId) {
        lock(&self.in_flight).entry(of.clone()).or_default().answers += 1;
    }

    /// Answer `number` to `of` left through `session`: recorded as left, unless it is the last
    /// in flight of a signal the bot has finished, whose acknowledgement ([`Tap::landed`],
    /// next) says more: an acknowledged signal is not given again, so its answers are never
    /// looked at again. (Lost with the process before the acknowledgement is durable, the
    /// answer is "about to leave", and the session is asked whether it left.)
    pub(crate) fn left(&self, session: &str, of: &SignalId, number: u32) {
        let finished = lock(&self.in_flight)
            .get(of)
            .is_some_and(|waiting| waiting.answers == 1 && !waiting.acks.is_empty());
        if !finished {
            self.answered(session, of, number);
        }
    }

    /// An answer to `of` is done with its lane (it left, or the session refused it): when it
    /// was the last in flight, the acknowledgements held back for it are written.
    pub(crate) fn landed(&self, of: &SignalId) {
        let mut in_flight = lock(&self.in_flight);
        let Some(waiting) = in_flight.get_mut(of) else {
            return;
        };
        waiting.answers -= 1;
        if waiting.answers == 0
            && let Some(done) = in_flight.remove(of)
        {
            for entry in &done.acks {
                self.journal.ack(entry);
            }
        }
    }

    /// Acknowledges the signal `id` (explicit acknowledgement); whether it was outstanding.
    pub(crate) fn ack(&self, id: &SignalId) -> bool {
        let entry = {
            let mut outstanding = lock(&self.outstanding);
            let Some(entries) = outstanding.get_mut(id) else {
                return false;
            };
            let entry = entries.remove(0);
            if entries.is_empty() {
                outstanding.remove(id);
            }
            entry
        };
        self.finished(&entry);
        true
    }

    /// Numbers `signal`, about to leave through `session`, if it is an answer (a message,
    /// file or user-defined signal with a `response_to`) to a signal the bot has not finished,
    /// and was not numbered where it was made (its id is not an [`answer_id`] of that signal
    /// already: a worker's answer passed on by a gateway): gives it its deterministic id and
    /// says whether it is to be sent.
    pub(crate) fn number(&self, session: &str, signal: &mut Signal) -> Option<AnswerPlan> {
        let of = signal.meta.response_to.clone()?;
        let numbered_already = signal
            .meta
            .id
            .as_str()
            .strip_prefix(of.as_str())
            .is_some_and(|rest| rest.starts_with('~'));
        if !matches!(
            signal.body,
            Body::Message(_) | Body::File(_) | Body::UserDefined(_)
        ) || numbered_already
            || !lock(&self.unfinished).contains_key(&of)
        {
            return None;
        }
        let key = (session.to_owned(), of);
        let number = {
            let mut counts = lock(&self.counts);
            let number = counts.get(&key).copied().unwrap_or(0);
            counts.insert(key.clone(), number + 1);
            number
        };
        let (session, of) = key;
        signal.meta.id = answer_id(&session, &of, number);
        let past = lock(&self.left)
            .get(&(session, of.clone()))
            .and_then(|answers| answers.iter().find(|(n, _)| *n == number).copied());
        Some(match past {
            Some((_, true)) => AnswerPlan::LeftAlready,
            Some((_, false)) => AnswerPlan::Unsure { of, number },
            None => AnswerPlan::Send { of, number },
        })
    }

    /// Records, now, that answer `number` to `of` is about to leave through `session`; the
    /// future resolves once the record is durable.
    pub(crate) fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> BoxFuture<'static, Result<(), JournalError>> {
        self.journal.answering(session, of, number)
    }

    /// Records that answer `number` to `of` left through `session`, without waiting: a
    /// confirmation lost with the process only means the session is asked after a restart.
    pub(crate) fn answered(&self, session: &str, of: &SignalId, number: u32) {
        drop(self.journal.answered(session, of, number));
    }
}
