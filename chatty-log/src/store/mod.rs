//! Where the Logger keeps its records: the [`LogStore`] trait and its implementation in a
//! state database, SQLite or PostgreSQL ([`StateStore`]).
//!
//! The Logger only speaks to a `LogStore`, through an `Arc<dyn LogStore>`, so another kind of
//! store is another implementation of the trait, with no change to the Logger.

use std::fmt;
use std::sync::Arc;

use chatty_core::{Address, DeliveryStatus, History, Page, Signal, SignalId};
use futures::future::BoxFuture;

use crate::error::LogError;

pub(crate) mod schema;
mod state_store;

pub use state_store::StateStore;

/// The name [`StateStore`] had when it was SQLite's alone.
pub type SqliteStore = StateStore;

/// Whether a signal came in to the bot or went out from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received: a signal on the bot's inbound stream.
    In,
    /// Sent: a signal the bot sent through its handle.
    Out,
}

impl Direction {
    /// The word stored in the database: `"in"` or `"out"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place to keep the log: every signal in and out, and the delivery status of sent signals.
///
/// Object-safe (every method returns a [`BoxFuture`]), so the Logger holds an
/// `Arc<dyn LogStore>`. Implementations must keep records in the order they were recorded.
pub trait LogStore: fmt::Debug + Send + Sync + 'static {
    /// Records `signal`, as it passed in `direction`, with its metadata.
    fn record<'a>(
        &'a self,
        direction: Direction,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<(), LogError>>;

    /// Records that the signal `id` got as far as `status`, unless the status recorded for it
    /// already ranks as far or further ([`DeliveryStatus::rank`]): a status never moves back.
    fn set_delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
        status: &'a DeliveryStatus,
    ) -> BoxFuture<'a, Result<(), LogError>>;

    /// A page of history, newest first: with [`Direction::In`] the signals received from
    /// `address` (their origin matches), with [`Direction::Out`] the signals sent to `address`
    /// (one of their addressees matches). Matching is [`Address::matches`]: an address without a
    /// session qualifier matches every session.
    ///
    /// At most `page.limit` signals, all older than the signal `page.before` if it is given (a
    /// `before` the log has not recorded in this direction gives an empty page);
    /// [`History::next`] is the following page while older matching records remain.
    fn history<'a>(
        &'a self,
        direction: Direction,
        address: &'a Address,
        page: &'a Page,
    ) -> BoxFuture<'a, Result<History, LogError>>;

    /// The recorded delivery status of the signal `id`; `None` if nothing is recorded.
    fn delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
    ) -> BoxFuture<'a, Result<Option<DeliveryStatus>, LogError>>;
}

impl<S: LogStore + ?Sized> LogStore for Arc<S> {
    fn record<'a>(
        &'a self,
        direction: Direction,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        (**self).record(direction, signal)
    }

    fn set_delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
        status: &'a DeliveryStatus,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        (**self).set_delivery_status(id, status)
    }

    fn history<'a>(
        &'a self,
        direction: Direction,
        address: &'a Address,
        page: &'a Page,
    ) -> BoxFuture<'a, Result<History, LogError>> {
        (**self).history(direction, address, page)
    }

    fn delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
    ) -> BoxFuture<'a, Result<Option<DeliveryStatus>, LogError>> {
        (**self).delivery_status(id)
    }
}
