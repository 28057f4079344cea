//! [`Link`]: what a running session sees of the driver; [`Failure`]: why a connection failed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::address::Address;
use crate::journal::JournalError;
use crate::session::{Closed, InboundSink, TrySendError};
use crate::signal::{ConnectionError, ConnectionErrorKind, Signal};

/// Why connecting failed or a connection was lost; what the driver reports to the bot as a
/// [`ConnectionError`] signal.
///
/// A failure is *transient* (the driver tries again after a backoff) unless made
/// [`permanent`](Failure::permanent) (a wrong password, a config the server refuses): then the
/// session ends.
///
/// ```
/// use chatty_core::ConnectionErrorKind;
/// use chatty_core::driver::Failure;
///
/// let lost = Failure::new(ConnectionErrorKind::Unreachable, "connection refused");
/// assert!(!lost.is_permanent());
/// let refused = Failure::new(ConnectionErrorKind::Authentication, "not authorized").permanent();
/// assert!(refused.is_permanent());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    kind: ConnectionErrorKind,
    cause: String,
    permanent: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    /// A transient failure of `kind`; `cause` in words, never containing secrets.
    pub fn new(kind: ConnectionErrorKind, cause: impl Into<String>) -> Self {
        Failure {
            kind,
            cause: cause.into(),
            permanent: false,
            retry_after: None,
        }
    }

    /// The same failure, with the server's word on when to try again (HTTP `Retry-After`, a
    /// rate limit): the driver waits at least that long, however short its backoff is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use chatty_core::ConnectionErrorKind;
    /// use chatty_core::driver::Failure;
    ///
    /// let limited = Failure::new(ConnectionErrorKind::Other, "ratelimited")
    ///     .retry_after(Duration::from_secs(30));
    /// assert_eq!(limited.retry_after_hint(), Some(Duration::from_secs(30)));
    /// ```
    #[must_use]
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// When the server said to try again, if it did.
    pub fn retry_after_hint(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The same failure, but trying again cannot help: the session ends.
    #[must_use]
    pub fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ConnectionErrorKind {
        self.kind
    }

    /// The cause, in words.
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// Whether trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The signal body reporting this failure; `retry_in`: when the session tries again.
    pub fn to_signal_body(&self, retry_in: Option<Duration>) -> ConnectionError {
        ConnectionError {
            kind: self.kind,
            cause: self.cause.clone(),
            retry_in,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause)
    }
}

impl std::error::Error for Failure {}

/// What a session's [`connect`](super::Protocol::connect) and
/// [`serve`](super::Protocol::serve) see of the driver: where inbound signals go, and when to
/// stop. Cheap to clone (for tasks the session spawns).
#[derive(Clone)]
pub struct Link {
    pub(super) sink: InboundSink,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) own: Own,
    /// Shut (true) once the session is to end: what the session pushes after that would reach
    /// the bot after `SessionAboutToEnd`, when its answers can no longer go out, so it is
    /// refused. A push holds it while it waits for room in the bot's queue, so that nothing
    /// slips in behind the end.
    pub(super) gate: Arc<tokio::sync::Mutex<bool>>,
}

/// The bot's own address, asked of the session each time: a session may learn it only once it
/// has logged in (Slack's `auth.test` names the bot).
pub(super) type Own = Arc<dyn Fn() -> Option<Address> + Send + Sync>;

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("sink", &self.sink)
            .field("stopping", &self.is_stopping())
            .finish()
    }
}

impl Link {
    /// A link feeding `sink`, for testing a session's mapping without a driver; it never
    /// stops.
    pub fn detached(sink: InboundSink, own: Option<Address>) -> Self {
        let (tx, stop) = watch::channel(false);
        // The sender is dropped: `stopping` then never fires (a closed watch is not a stop).
        drop(tx);
        let own: Own = Arc::new(move || own.clone());
        Link {
            sink,
            stop,
            own,
            gate: Arc::default(),
        }
    }

    /// Pushes one inbound signal to the bot, waiting while its queue is full; `Err` once the
    /// bot stopped listening, or once the session is ending (an end was requested: the bot has
    /// been told `SessionAboutToEnd`, and nothing reaches it after that but the end). Either
    /// way, what was not pushed was not handed to the bot: leave it unacknowledged on the
    /// platform where the platform allows.
    pub async fn push(&self, signal: Signal) -> Result<(), Closed> {
        let open = self.gate.lock().await;
        if *open {
            return Err(Closed);
        }
        let pushed = self.sink.send(signal).await;
        drop(open);
        pushed
    }

    /// Hands one inbound signal on without waiting for the journal to keep it
    /// ([`InboundSink::feed`]): it is written in order with the others, together (group
    /// commit), and reaches the bot once durable. For a platform that is not told when a signal
    /// was received, or is told after [`synced`](Link::synced). The same `Err` as
    /// [`push`](Link::push) once the session is ending or the bot stopped listening.
    pub async fn feed(&self, signal: Signal) -> Result<(), Closed> {
        let open = self.gate.lock().await;
        if *open {
            return Err(Closed);
        }
        let fed = self.sink.feed(signal).await;
        drop(open);
        fed
    }

    /// Resolves once every signal pushed or fed so far is durable in the journal and handed
    /// on: then tell the platform they were received. At once without a journal.
    pub async fn synced(&self) -> Result<(), Closed> {
        self.sink.synced().await
    }

    /// Pushes one inbound signal if the bot's queue has room, without waiting (the same rules
    /// as [`push`](Link::push)); a push or the end in progress counts as no room.
    pub fn try_push(&self, signal: Signal) -> Result<(), TrySendError> {
        let Ok(open) = self.gate.try_lock() else {
            return Err(TrySendError::Full(Box::new(signal)));
        };
        if *open {
            return Err(TrySendError::Closed);
        }
        self.sink.try_send(signal)
    }

    /// Refuses every push from now on; waits for a push in progress to finish first.
    pub(super) async fn shut(&self) {
        *self.gate.lock().await = true;
    }

    /// Reports a connection failure the session recovers from by itself (a library that
    /// reconnects on its own), with when it tries again.
    pub async fn connection_error(
        &self,
        failure: &Failure,
        retry_in: Option<Duration>,
    ) -> Result<(), Closed> {
        let body = failure.to_signal_body(retry_in);
        self.push(Signal::internal(self.own(), body)).await
    }

    /// Resolves once the session is to stop serving: it was asked to end (and the bot has had
    /// its last chance to send), or the bot stopped listening. [`serve`](super::Protocol::serve)
    /// then closes the connection politely and returns `Ok(())`.
    pub async fn stopping(&self) {
        let mut stop = self.stop.clone();
        // A closed channel (a detached link) never stops.
        if stop.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether the session is to stop serving.
    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// The bot's own address on this session (the origin of its lifecycle signals), as the
    /// session knows it now ([`Protocol::own`](super::Protocol::own)).
    pub fn own(&self) -> Option<Address> {
        (self.own)()
    }

    /// The session's mark `name` in the router's journal (a cursor kept beside the signals it
    /// covers, such as the last archive id read); `None` without a journal or mark.
    pub async fn mark(&self, name: &str) -> Result<Option<String>, JournalError> {
        self.sink.mark(name).await
    }

    /// Sets the session's mark `name` in the router's journal, durably and in order after the
    /// signals pushed before it; nothing without a journal.
    pub async fn set_mark(&self, name: &str, value: &str) -> Result<(), JournalError> {
        self.sink.set_mark(name, value).await
    }

    /// Sets the session's mark `name` in order after the signals pushed or fed before it,
    /// without waiting for it to be durable ([`InboundSink::feed_mark`]): never durable before
    /// them. Nothing without a journal.
    pub async fn feed_mark(&self, name: &str, value: &str) -> Result<(), Closed> {
        self.sink.feed_mark(name, value).await
    }

    /// The sink under the link, for code written against [`InboundSink`].
    pub fn sink(&self) -> &InboundSink {
        &self.sink
    }
}
