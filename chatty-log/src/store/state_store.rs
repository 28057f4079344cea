//! The log store in a state database (SQLite or PostgreSQL).

use std::path::Path;

use chatty_core::{Address, DeliveryStatus, History, Page, Signal, SignalId};
use futures::future::{self, BoxFuture};
use tokio::sync::oneshot;

use super::{Direction, LogStore};
use crate::config::LoggerConfig;
use crate::db::StateDb;
use crate::db::ops::{Op, Record, Status};
use crate::error::LogError;

/// A [`LogStore`] in a state database: an SQLite file (or in memory, for tests), or a
/// PostgreSQL schema ([`StateDb`]).
///
/// Its records go through the one writer of its [`StateDb`], by group commit, in the order
/// they are made (a record is queued when [`record`](LogStore::record) is called), beside the
/// journal's writes when the journal is in the same database
/// ([`StateDb::log_store`]). By default a record's future resolves once it is committed; with
/// [`with_queued_records`](StateStore::with_queued_records) once it is queued. Reads go
/// through a pool of their own. Cloning is cheap and shares the database.
///
/// ```
/// use chatty_core::{Address, Page, Signal};
/// use chatty_log::{Direction, LogStore, StateStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = StateStore::in_memory().await?;
/// let alice: Address = "xmpp:alice@example.org".parse().unwrap();
/// let hello = Signal::message("hello").to(alice.clone());
/// store.record(Direction::Out, &hello).await?;
///
/// let history = store.history(Direction::Out, &alice, &Page::first(10)).await?;
/// assert_eq!(history.signals, vec![hello]);
/// # Ok::<(), chatty_log::LogError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct StateStore {
    db: StateDb,
    queued: bool,
}

impl StateStore {
    /// Opens (or creates) the log database file at `path`, with the default busy timeout.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with(&LoggerConfig::new(path.as_ref())).await
    }

    /// Opens (or creates) the log database that `config` names, with a writer of its own
    /// (to share one with the journal, open a [`StateDb`] and make both from it).
    ///
    /// Errors: [`LogError::Open`] when the file cannot be opened or created,
    /// [`LogError::NotADatabase`] when it is not an SQLite database or is corrupt,
    /// [`LogError::Locked`] when another process holds it locked for longer than the busy
    /// timeout, [`LogError::NewerSchema`] when a newer chatty-log wrote it.
    pub async fn open_with(config: &LoggerConfig) -> Result<Self, LogError> {
        let db = StateDb::open(&config.into()).await?;
        Ok(db.log_store().with_queued_records(config.queue_records))
    }

    /// A store in memory: empty, and gone when the last clone is dropped. For tests.
    pub async fn in_memory() -> Result<Self, LogError> {
        Ok(StateDb::in_memory().await?.log_store())
    }

    pub(crate) fn from_db(db: StateDb) -> Self {
        StateStore { db, queued: false }
    }

    /// Whether [`record`](LogStore::record) and
    /// [`set_delivery_status`](LogStore::set_delivery_status) resolve once the write is queued
    /// (`true`) rather than once it is committed (`false`, the default).
    ///
    /// Queued records are still written in order with everything written after them through
    /// the same [`StateDb`]: a journal acknowledgement or answer made after a record is never
    /// durable without it, so with the journal in the same database a record lost in a crash
    /// belongs to a signal the journal gives again. Reads first wait for what was queued. A
    /// commit that fails is told with the next record ([`LogError::Unwritten`]).
    #[must_use]
    pub fn with_queued_records(mut self, queued: bool) -> Self {
        self.queued = queued;
        self
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The database this store writes to.
    pub fn db(&self) -> &StateDb {
        &self.db
    }

    /// Closes the database (and with it every journal and store made from it): commits what is
    /// queued, then closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.db.close().await;
    }

    fn encode_error(&self, source: serde_json::Error) -> LogError {
        LogError::Encode {
            path: self.path().to_path_buf(),
            source,
        }
    }

    /// Queues `op` (made with `reply` unless records are queued without waiting) and waits
    /// for it as this store does.
    fn write<'a>(
        &'a self,
        op: impl FnOnce(Option<oneshot::Sender<Result<(), LogError>>>) -> Op,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        if self.queued {
            let queued = self.db.send(op(None));
            let lost = self.db.take_unwritten();
            let result = queued.and(match lost {
                Some((count, message)) => Err(LogError::Unwritten {
                    path: self.path().to_path_buf(),
                    count,
                    message,
                }),
                None => Ok(()),
            });
            return Box::pin(future::ready(result));
        }
        self.db.queue(|reply| op(Some(reply)))
    }

    /// Waits for queued records, so that a read sees them.
    async fn caught_up(&self) -> Result<(), LogError> {
        if self.queued {
            self.db.flush().await?;
        }
        Ok(())
    }

    async fn select_history(
        &self,
        direction: Direction,
        address: &Address,
        page: &Page,
    ) -> Result<History, LogError> {
        if page.limit == 0 {
            return Ok(History::new(Vec::new(), None));
        }
        self.caught_up().await?;
        // One more than asked for tells whether older records remain.
        let rows = self
            .db
            .history_rows(
                direction,
                (address.platform(), address.id(), address.session()),
                page.before.as_ref().map(SignalId::as_str),
                i64::from(page.limit) + 1,
            )
            .await?;
        let more = rows.len() > page.limit as usize;
        let mut signals = Vec::with_capacity(rows.len().min(page.limit as usize));
        for (seq, json) in rows.iter().take(page.limit as usize) {
            let signal: Signal =
                serde_json::from_str(json).map_err(|source| LogError::BadRecord {
                    path: self.path().to_path_buf(),
                    what: format!("record {seq}"),
                    source,
                })?;
            signals.push(signal);
        }
        let next = match (more, signals.last()) {
            (true, Some(last)) => Some(Page::first(page.limit).with_before(last.meta.id.clone())),
            _ => None,
        };
        Ok(History::new(signals, next))
    }

    async fn select_status(&self, id: &SignalId) -> Result<Option<DeliveryStatus>, LogError> {
        self.caught_up().await?;
        let json = self.db.status_json(id.as_str()).await?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|source| LogError::BadRecord {
                path: self.path().to_path_buf(),
                what: format!("the delivery status of {id}"),
                source,
            })
        })
        .transpose()
    }
}

impl LogStore for StateStore {
    fn record<'a>(
        &'a self,
        direction: Direction,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        match encode_record(direction, signal) {
            Ok(record) => self.write(|reply| Op::Record { record, reply }),
            Err(e) => Box::pin(future::ready(Err(self.encode_error(e)))),
        }
    }

    fn set_delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
        status: &'a DeliveryStatus,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        let json = match serde_json::to_string(status) {
            Ok(json) => json,
            Err(e) => return Box::pin(future::ready(Err(self.encode_error(e)))),
        };
        let status = Status {
            id: id.as_str().to_owned(),
            rank: i64::from(status.rank()),
            json,
            at_ms: now_ms(),
        };
        self.write(|reply| Op::Status { status, reply })
    }

    fn history<'a>(
        &'a self,
        direction: Direction,
        address: &'a Address,
        page: &'a Page,
    ) -> BoxFuture<'a, Result<History, LogError>> {
        Box::pin(self.select_history(direction, address, page))
    }

    fn delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
    ) -> BoxFuture<'a, Result<Option<DeliveryStatus>, LogError>> {
        Box::pin(self.select_status(id))
    }
}

/// The columns of a record of `signal`.
fn encode_record(direction: Direction, signal: &Signal) -> Result<Record, serde_json::Error> {
    let json = serde_json::to_string(signal)?;
    let kind = serde_json::to_value(signal.kind())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", signal.kind()));
    let parts = |a: &Address| {
        (
            a.platform().to_owned(),
            a.session().map(str::to_owned),
            a.id().to_owned(),
        )
    };
    Ok(Record {
        direction: direction.as_str(),
        id: signal.meta.id.as_str().to_owned(),
        kind,
        response_to: signal
            .meta
            .response_to
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        origin: signal.meta.origin.as_ref().map(parts),
        at_ms: now_ms(),
        json,
        addressees: signal.meta.addressees.iter().map(parts).collect(),
    })
}

/// The local clock in milliseconds since the Unix epoch, for the `*_at_ms` columns.
fn now_ms() -> i64 {
    i64::try_from(chatty_core::now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
