//! The session driver: what every session does the same way, written once.
//!
//! A protocol crate implements [`Protocol`], the four things that differ between platforms:
//! [`connect`](Protocol::connect), inbound mapping ([`serve`](Protocol::serve)), outbound
//! mapping ([`send`](Protocol::send)) and [`query`](Protocol::query). Every `Protocol` is a
//! [`Session`](crate::session::Session); the driver does the rest:
//!
//! - **runs once**: a second [`run`](crate::session::Session::run) is an error;
//! - **lifecycle**: [`Body::SessionStarted`](crate::Body::SessionStarted) after the first
//!   connection; on an end request ([`Body::InitiateSessionEnd`](crate::Body::InitiateSessionEnd)),
//!   [`Body::SessionAboutToEnd`](crate::Body::SessionAboutToEnd) while the connection still
//!   serves (the bot's last chance to send), then [`Link::stopping`] for `serve` to close, then
//!   [`Body::SessionEnded`](crate::Body::SessionEnded); nothing more once the bot stopped
//!   listening;
//! - **reconnection**: a lost connection is reported as a
//!   [`ConnectionError`](crate::ConnectionError) and connected again at once, failed attempts
//!   after a capped, jittered [`Backoff`]; a [permanent](Failure::permanent) failure ends the
//!   session;
//! - **delivery statuses**: [`Deliveries`], which answers
//!   [`Query::DeliveryStatus`];
//! - **capability answers**: the router answers supported signals and features from
//!   [`capabilities`](Protocol::capabilities) unless [`query`](Protocol::query) knows better.
//!
//! ```
//! use std::sync::Arc;
//! use chatty_core::driver::{Driver, Failure, Link, Protocol};
//! use chatty_core::session::Refusal;
//! use chatty_core::{Address, Capabilities, Signal};
//!
//! /// A platform where nothing ever happens.
//! struct Quiet {
//!     driver: Driver,
//! }
//!
//! impl Protocol for Quiet {
//!     type Connection = ();
//!
//!     fn driver(&self) -> &Driver { &self.driver }
//!     fn name(&self) -> &str { "quiet" }
//!     fn platform(&self) -> &str { "quiet" }
//!     fn own(&self) -> Option<Address> { None }
//!     fn capabilities(&self, _: Option<&Address>) -> Capabilities { Capabilities::all() }
//!
//!     async fn connect(self: Arc<Self>, _link: Link) -> Result<(), Failure> { Ok(()) }
//!
//!     async fn serve(self: Arc<Self>, _connection: (), link: Link) -> Result<(), Failure> {
//!         link.stopping().await;
//!         Ok(())
//!     }
//!
//!     async fn send(&self, _signal: Signal) -> Result<(), Refusal> { Ok(()) }
//! }
//!
//! let session: Arc<dyn chatty_core::session::Session> = Arc::new(Quiet { driver: Driver::default() });
//! assert_eq!(session.name(), "quiet");
//! ```

mod backoff;
mod deliveries;
mod link;
mod recent;
mod run;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

pub use backoff::{Backoff, jittered};
pub use deliveries::Deliveries;
pub use link::{Failure, Link};
pub use recent::Recent;

use crate::address::Address;
use crate::capability::Capabilities;
use crate::limit::AnswerLimit;
use crate::query::{Answer, Query, QueryError};
use crate::session::{Confirmation, Refusal};
use crate::signal::{FailureKind, File, SessionEnd, Signal};

/// What a protocol crate writes for its platform; the driver makes it a
/// [`Session`](crate::session::Session) (see the [module](self)).
pub trait Protocol: Send + Sync + Sized + 'static {
    /// A live connection, from [`connect`](Protocol::connect) to [`serve`](Protocol::serve).
    type Connection: Send + 'static;

    /// The driver's state for this session (its end requests, delivery table, backoff).
    fn driver(&self) -> &Driver;

    /// The session's name: see [`Session::name`](crate::session::Session::name).
    fn name(&self) -> &str;

    /// The platform: see [`Session::platform`](crate::session::Session::platform).
    fn platform(&self) -> &str;

    /// The bot's own address on this session, the origin of its lifecycle signals.
    fn own(&self) -> Option<Address>;

    /// What the session can carry: see [`Session::capabilities`](crate::session::Session::capabilities).
    fn capabilities(&self, address: Option<&Address>) -> Capabilities;

    /// See [`Session::answer_limit`](crate::session::Session::answer_limit).
    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::CHAT)
    }

    /// See [`Session::relays`](crate::session::Session::relays): by default no.
    fn relays(&self, address: &Address) -> bool {
        let _ = address;
        false
    }

    /// Whether the driver answers [`Query::DeliveryStatus`] from this session's own table
    /// ([`Driver::deliveries`]): yes by default. A session that stands for sessions elsewhere
    /// (one that [relays](Protocol::relays)) says no, and gets the query in
    /// [`Protocol::query`], to ask where the signals were sent.
    fn keeps_deliveries(&self) -> bool {
        true
    }

    /// Connects and logs in; the connection is ready to serve when this returns. Called again
    /// after every lost connection. Inbound signals may already be pushed through `link`.
    fn connect(
        self: Arc<Self>,
        link: Link,
    ) -> impl Future<Output = Result<Self::Connection, Failure>> + Send;

    /// Reads the connection and pushes what arrives, mapped to signals, through `link`, until
    /// the connection is lost (`Err`) or [`Link::stopping`] fires (close politely, then
    /// `Ok(())`). Returning `Ok(())` without being asked to stop counts as a lost connection.
    fn serve(
        self: Arc<Self>,
        connection: Self::Connection,
        link: Link,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Carries one outbound signal to the platform (end requests never reach it: the driver
    /// handles them).
    fn send(&self, signal: Signal) -> impl Future<Output = Result<(), Refusal>> + Send;

    /// See [`Session::hand_on`](crate::session::Session::hand_on): by default
    /// [`send`](Protocol::send), then done. A protocol whose `send` queues the signal in order
    /// and then waits for the platform's acknowledgement returns once it is queued, with the
    /// wait as the confirmation.
    fn hand_on(
        &self,
        signal: Signal,
    ) -> impl Future<Output = Result<Confirmation, Refusal>> + Send {
        async move {
            self.send(signal).await?;
            Ok(crate::session::confirmed())
        }
    }

    /// Answers a query. By default nothing is supported; delivery statuses are answered from
    /// [`Driver::deliveries`] and supported signals and features from
    /// [`capabilities`](Protocol::capabilities) when this says not supported.
    fn query(&self, query: Query) -> impl Future<Output = Result<Answer, QueryError>> + Send {
        async move {
            Err(QueryError::not_supported(
                &query,
                "the session cannot answer this",
            ))
        }
    }

    /// Whether `signal`, an answer the bot sent before its process stopped, reached the
    /// platform ([`Session::sent`](crate::session::Session::sent)); `None` (the default) when
    /// the platform cannot tell.
    fn sent(&self, signal: &Signal) -> impl Future<Output = Option<bool>> + Send {
        let _ = signal;
        async { None }
    }

    /// Fetches a file the platform delivered as a URL, with the session's credentials; the file
    /// comes back with its bytes. By default the session downloads nothing.
    fn download(&self, file: File) -> impl Future<Output = Result<File, Refusal>> + Send {
        let _ = file;
        async {
            Err(Refusal::new(
                FailureKind::Rejected,
                "this session downloads no files",
            ))
        }
    }
}

/// The driver's state inside a session: a [`Protocol`] owns one and hands it out through
/// [`Protocol::driver`].
#[derive(Debug)]
pub struct Driver {
    ran: AtomicBool,
    end: watch::Sender<Option<SessionEnd>>,
    backoff: Backoff,
    deliveries: Deliveries,
    stop_timeout: Duration,
}

impl Default for Driver {
    fn default() -> Self {
        Driver::new(Backoff::default())
    }
}

impl Driver {
    /// The state of a session that waits between reconnection attempts as `backoff` says.
    pub fn new(backoff: Backoff) -> Self {
        Driver {
            ran: AtomicBool::new(false),
            end: watch::Sender::new(None),
            backoff,
            deliveries: Deliveries::default(),
            stop_timeout: Duration::from_secs(5),
        }
    }

    /// How long [`serve`](Protocol::serve) may take to close once asked to stop (5 s by
    /// default) before it is dropped.
    #[must_use]
    pub fn with_stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Remember the delivery status of the last `signals` signals sent (by default
    /// [`Deliveries::DEFAULT_CAPACITY`]): more for a platform whose reports come late (a mail
    /// bounces days after it left).
    #[must_use]
    pub fn with_delivery_memory(mut self, signals: usize) -> Self {
        self.deliveries = Deliveries::new(signals);
        self
    }

    /// How far each signal the session sent got.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Asks the session to end (the first request's reason wins); ending a session that ended
    /// or never ran is not an error.
    pub fn request_end(&self, end: SessionEnd) {
        self.end.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(end);
            true
        });
    }

    /// Whether an end was requested.
    pub fn end_requested(&self) -> bool {
        self.end.borrow().is_some()
    }
}

/// Locks `mutex`, going on with the data of a thread that panicked while holding it: every
/// session's shared tables stay usable after a bug in one handler.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
