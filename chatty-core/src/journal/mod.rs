//! The inbound journal: what makes delivery to the bot at-least-once and its answers at most
//! once, across a crash of the bot's process.
//!
//! With a journal ([`Router::journal`](crate::Router::journal)):
//!
//! - **Kept before it is taken.** Every signal a session receives from its platform (messages,
//!   files, status changes, send failures, user-defined signals) is [appended](Journal::append)
//!   durably before the session's push returns, so before the session tells the platform it was
//!   received (moves an IMAP or POP3 cursor, acknowledges a Slack envelope, saves an archive id).
//!   A signal the journal has seen already (the platform gave it again) does not reach the bot
//!   twice.
//! - **Finished, then acknowledged.** The bot acknowledges a signal by finishing it: asking for
//!   the next one on its inbound stream, or, for a bot that handles several at once, with
//!   [`Handle::ack`](crate::Handle::ack) ([`Acks::Explicit`]).
//! - **Given again after a restart.** Once a session has started again, the signals the bot had
//!   not acknowledged come first, in their order, with
//!   [`Metadata::redelivered`](crate::Metadata::redelivered) set.
//! - **Answered once.** An answer to a journaled signal (a signal whose `response_to` names it)
//!   gets a deterministic id, [`answer_id`], from the signal's id, the session and its number
//!   among the answers. The journal records each answer as about to leave before the session
//!   sends it, and as left once the session's send returned (the platform has it). When the bot
//!   answers a redelivered signal again, the answers that had left are not sent again (the send
//!   returns their id as if they had been); one that was about to leave when the process
//!   stopped is sent again unless the session can tell that it left
//!   ([`Session::sent`](crate::session::Session::sent)).
//!
//! The journal itself is a trait, so that it can live in SQLite (chatty-log's `SqliteJournal`,
//! beside the Logger, on one write path), PostgreSQL, or memory ([`MemoryJournal`], for tests).

mod memory;
pub(crate) mod pipe;
mod shared;
mod tap;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::metadata::SignalId;
use crate::signal::Signal;

pub use memory::MemoryJournal;
pub(crate) use tap::{AnswerPlan, Tap};

/// How the bot acknowledges the signals it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Acks {
    /// A signal is acknowledged when the bot asks for the next one on its inbound stream: right
    /// for a bot that handles one signal at a time (the usual loop, [`from_fn`](crate::from_fn)).
    #[default]
    OnNext,
    /// The bot acknowledges each signal with [`Handle::ack`](crate::Handle::ack), in any order:
    /// for a bot that handles several at once, or hands them to a program that says when it is
    /// done with each.
    Explicit,
}

/// Which journal entry a signal is: the session that received it, who sent it, and its id. A
/// platform's id names a message only together with its sender on some platforms (XMPP clients
/// choose their own ids), so the sender is part of the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryId {
    /// The receiving session's name.
    pub session: Arc<str>,
    /// The sender's address as text (`""` for none).
    pub sender: String,
    /// The signal's id.
    pub id: SignalId,
}

impl EntryId {
    /// The entry `signal` is, received by `session`.
    ///
    /// ```
    /// use chatty_core::Signal;
    /// use chatty_core::journal::EntryId;
    ///
    /// let mut hello = Signal::message("hello");
    /// hello.meta.origin = Some("xmpp:alice@example.org".parse().unwrap());
    /// let entry = EntryId::of("work", &hello);
    /// assert_eq!(entry.sender, "xmpp:alice@example.org");
    /// assert_eq!(&entry.id, hello.id());
    /// ```
    pub fn of(session: &str, signal: &Signal) -> Self {
        EntryId {
            session: session.into(),
            sender: signal
                .meta
                .origin
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            id: signal.meta.id.clone(),
        }
    }
}

/// What [`Journal::append`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Appended {
    /// A new entry, now durable: hand it to the bot.
    New,
    /// The journal holds this entry already (the platform gave it again); it is not handed to
    /// the bot again (if the bot has not acknowledged it yet, it is on its way or will be
    /// redelivered).
    Seen,
}

/// A signal the bot had not acknowledged, with the answers to it that were on their way.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Pending {
    /// The signal, as it was appended.
    pub signal: Signal,
    /// Its answers that were about to leave or left (see [`answer_id`]).
    pub answers: Vec<PastAnswer>,
}

impl Pending {
    /// A pending signal with its past answers.
    pub fn new(signal: Signal, answers: Vec<PastAnswer>) -> Self {
        Pending { signal, answers }
    }
}

/// An answer to a pending signal, from before the restart: recorded as about to leave
/// ([`Journal::answering`]) and, if the session said it left, confirmed
/// ([`Journal::answered`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct PastAnswer {
    /// The session it left (or was to leave) through.
    pub session: String,
    /// Its number among the answers to the signal, from 0.
    pub number: u32,
    /// Whether the session said it left; if not, the process stopped between the two, and the
    /// session is asked ([`Session::sent`](crate::session::Session::sent)) before it is sent
    /// again.
    pub confirmed: bool,
}

impl PastAnswer {
    /// Answer `number` through `session`, confirmed or not.
    pub fn new(session: impl Into<String>, number: u32, confirmed: bool) -> Self {
        PastAnswer {
            session: session.into(),
            number,
            confirmed,
        }
    }
}

/// Why the journal could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("journal: {message}")]
#[non_exhaustive]
pub struct JournalError {
    /// What went wrong, in words.
    pub message: String,
    /// The error behind it, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl JournalError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        JournalError {
            message: message.into(),
            source: None,
        }
    }

    /// Keeps the error behind this one as its [`source`](std::error::Error::source).
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// Where inbound signals are kept until the bot has finished them. See the
/// [module documentation](self) for the guarantees it gives.
///
/// Writes are applied in the order they are made ([`append`](Journal::append),
/// [`ack`](Journal::ack), [`answering`](Journal::answering), [`answered`](Journal::answered) and
/// [`set_mark`](Journal::set_mark) alike): a write made after another is never durable without
/// it. A write is made when the method is called, not when its future is first polled, so a
/// caller that need not wait for durability may drop the future. An implementation may batch
/// writes (group commit); the futures resolve once what they wrote is durable.
pub trait Journal: fmt::Debug + Send + Sync + 'static {
    /// Keeps `signal`, received by `session`, unless it is kept already; resolves once it is
    /// durable.
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<Appended, JournalError>>;

    /// Marks the entry handled. Applied in order with the other writes, without waiting: a
    /// lost acknowledgement only means the signal is given again after a restart, and its
    /// answers are not sent twice.
    fn ack(&self, entry: &EntryId);

    /// The entries of `session` the bot has not acknowledged, oldest first.
    fn pending<'a>(&'a self, session: &'a str)
    -> BoxFuture<'a, Result<Vec<Pending>, JournalError>>;

    /// Records that answer number `number` to the entry `of` is about to leave through
    /// `session`; resolves once durable. The router sends the answer only then.
    ///
    /// The future borrows nothing: a session's lane in the router records the answers waiting
    /// in it together and waits for them all, so that the records of the answers a bot makes
    /// in a row become durable in one commit.
    fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> BoxFuture<'static, Result<(), JournalError>>;

    /// Records that answer number `number` to the entry `of` left through `session` (the
    /// session's send returned: the platform has it); resolves once durable.
    fn answered<'a>(
        &'a self,
        session: &'a str,
        of: &'a SignalId,
        number: u32,
    ) -> BoxFuture<'a, Result<(), JournalError>>;

    /// A value a session keeps beside its entries (the archive id to catch up from), by name.
    fn mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, JournalError>>;

    /// Sets a session's mark; applied in order with the other writes, so a mark set after
    /// appending the signals it covers is never durable without them. Resolves once durable.
    fn set_mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), JournalError>>;
}

/// Whether a router with a journal keeps signals of this body in it (and so acknowledges them
/// when the bot has finished them): what the platform carries, but not status changes
/// (presence and typing are state, told again by the platform after a restart) nor the
/// router's and sessions' own signals.
///
/// ```
/// use chatty_core::Signal;
/// use chatty_core::journal::journals;
///
/// assert!(journals(&Signal::message("hi").body));
/// ```
pub fn journals(body: &crate::signal::Body) -> bool {
    !body.kind().is_internal() && !matches!(body, crate::signal::Body::StatusChange(_))
}

/// The id of answer number `number` (counted from 0) that `session` sends to the signal `of`:
/// the same on every run, so that an answer that left before a crash is known again after it.
///
/// ```
/// use chatty_core::SignalId;
/// use chatty_core::journal::answer_id;
///
/// let of = SignalId::from("m1@example.org");
/// assert_eq!(answer_id("mail", &of, 0), answer_id("mail", &of, 0));
/// assert_ne!(answer_id("mail", &of, 0), answer_id("mail", &of, 1));
/// assert_ne!(answer_id("mail", &of, 0), answer_id("work", &of, 0));
/// ```
pub fn answer_id(session: &str, of: &SignalId, number: u32) -> SignalId {
    SignalId::from(format!("{of}~{session}~{number}"))
}
