//! [`StateJournal`]: the inbound journal in a state database (SQLite or PostgreSQL), written
//! by group commit.

use std::collections::HashMap;
use std::path::Path;

use chatty_core::journal::{Appended, EntryId, Journal, JournalError, PastAnswer, Pending};
use chatty_core::{Signal, SignalId};
use futures::future::{self, BoxFuture};
use tokio::sync::oneshot;

use crate::config::{Durability, StateConfig};
use crate::db::{StateDb, ops::Op};
use crate::error::LogError;

/// A [`Journal`] in a state database (an SQLite file or a PostgreSQL schema, see
/// [`StateDb`]): the same rules as [`MemoryJournal`](chatty_core::journal::MemoryJournal),
/// kept across restarts.
///
/// Its writes go through its [`StateDb`]'s one writer, by group commit, in the order they are
/// made (a write is queued when its method is called, so even a future never polled is
/// written): [`append`](Journal::append), [`answering`](Journal::answering),
/// [`answered`](Journal::answered) and
/// [`set_mark`](Journal::set_mark) resolve once their batch is committed,
/// [`ack`](Journal::ack) is queued without waiting. [`pending`](Journal::pending) and
/// [`mark`](Journal::mark) first wait for the writes queued before them (an acknowledgement
/// included), then read.
///
/// A signal's JSON is kept until the bot acknowledges it; its key (session, sender, id) stays
/// afterwards, so that the platform giving it again is recognised.
///
/// ```
/// use chatty_core::Signal;
/// use chatty_core::journal::{Appended, EntryId, Journal};
/// use chatty_log::{Durability, StateJournal};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("journal.sqlite");
/// let journal = StateJournal::open(&path, "work=xmpp:bot@example.org", Durability::Normal).await?;
/// let hello = Signal::message("hello");
/// assert_eq!(journal.append("work", &hello).await?, Appended::New);
/// assert_eq!(journal.append("work", &hello).await?, Appended::Seen);
/// assert_eq!(journal.pending("work").await?.len(), 1);
/// journal.ack(&EntryId::of("work", &hello));
/// assert!(journal.pending("work").await?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct StateJournal {
    db: StateDb,
}

impl StateJournal {
    pub(crate) fn new(db: StateDb) -> Self {
        StateJournal { db }
    }

    /// Opens (or creates) the journal in the SQLite database file `path`, for the configuration
    /// named `identity`, with its own writer. To share a file and a writer with the Logger,
    /// open a [`StateDb`] and make both from it.
    ///
    /// Errors: those of [`StateDb::open`] and [`StateDb::journal`] (another identity).
    pub async fn open(
        path: impl AsRef<Path>,
        identity: &str,
        durability: Durability,
    ) -> Result<Self, LogError> {
        let config = StateConfig::new(path.as_ref()).with_durability(durability);
        StateDb::open(&config).await?.journal(identity).await
    }

    /// The database it is in.
    pub fn db(&self) -> &StateDb {
        &self.db
    }

    /// Queues `op`, made with `reply`, and waits for its answer.
    fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, LogError>>) -> Op,
    ) -> BoxFuture<'static, Result<T, JournalError>> {
        let waiting = self.db.queue(op);
        Box::pin(async move { Ok(waiting.await?) })
    }

    async fn read_pending(&self, session: &str) -> Result<Vec<Pending>, LogError> {
        self.db.flush().await?;
        let (rows, answers) = self.db.pending_rows(session).await?;
        let mut answered: HashMap<String, Vec<PastAnswer>> = HashMap::new();
        for (of, by, number, confirmed) in answers {
            let number = u32::try_from(number).unwrap_or(u32::MAX);
            answered
                .entry(of)
                .or_default()
                .push(PastAnswer::new(by, number, confirmed));
        }
        let mut pending = Vec::with_capacity(rows.len());
        for (seq, json) in rows {
            let bad = |source| LogError::BadRecord {
                path: self.db.path().to_path_buf(),
                what: format!("journal entry {seq}"),
                source,
            };
            let json = json.ok_or_else(|| {
                bad(serde::de::Error::custom(
                    "an unacknowledged entry without its signal",
                ))
            })?;
            let signal: Signal = serde_json::from_str(&json).map_err(bad)?;
            let mut answers = answered.get(signal.meta.id.as_str()).cloned();
            if let Some(answers) = &mut answers {
                answers.sort();
            }
            pending.push(Pending::new(signal, answers.unwrap_or_default()));
        }
        Ok(pending)
    }

    async fn read_mark(&self, session: &str, name: &str) -> Result<Option<String>, LogError> {
        self.db.flush().await?;
        self.db.mark_value(session, name).await
    }
}
/// The journal's side of a [`StateDb`]: made here, beside the journal, so that the database
/// does not depend on the journal.
impl StateDb {
    /// The journal in this database, for the configuration named `identity` (the runner gives
    /// a fingerprint of its sessions). The first journal opened in a file stores its identity;
    /// another identity later is [`LogError::OtherIdentity`], naming both.
    pub async fn journal(&self, identity: &str) -> Result<StateJournal, LogError> {
        let claim = |reply| Op::Claim {
            identity: identity.to_owned(),
            reply,
        };
        let stored = self.queue(claim).await?;
        if stored != identity {
            return Err(LogError::OtherIdentity {
                path: self.path().to_path_buf(),
                found: stored,
                expected: identity.to_owned(),
            });
        }
        Ok(StateJournal::new(self.clone()))
    }
}

impl Journal for StateJournal {
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<Appended, JournalError>> {
        let json = match serde_json::to_string(signal) {
            Ok(json) => json,
            Err(source) => {
                let error = LogError::Encode {
                    path: self.db.path().to_path_buf(),
                    source,
                };
                return Box::pin(future::ready(Err(error.into())));
            }
        };
        let entry = EntryId::of(session, signal);
        self.write(|reply| Op::Append { entry, json, reply })
    }

    fn ack(&self, entry: &EntryId) {
        // A lost acknowledgement (the writer stopped) only means a redelivery.
        let _ = self.db.send(Op::Ack {
            entry: entry.clone(),
        });
    }

    fn pending<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Pending>, JournalError>> {
        Box::pin(async move { Ok(self.read_pending(session).await?) })
    }

    fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> BoxFuture<'static, Result<(), JournalError>> {
        self.write(|reply| Op::Answered {
            session: session.to_owned(),
            of: of.as_str().to_owned(),
            number,
            confirmed: false,
            reply,
        })
    }

    fn answered<'a>(
        &'a self,
        session: &'a str,
        of: &'a SignalId,
        number: u32,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        self.write(|reply| Op::Answered {
            session: session.to_owned(),
            of: of.as_str().to_owned(),
            number,
            confirmed: true,
            reply,
        })
    }

    fn mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, JournalError>> {
        Box::pin(async move { Ok(self.read_mark(session, name).await?) })
    }

    fn set_mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        self.write(|reply| Op::SetMark {
            session: session.to_owned(),
            name: name.to_owned(),
            value: value.to_owned(),
            reply,
        })
    }
}
