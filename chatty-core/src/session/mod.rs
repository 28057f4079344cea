//! The session interface: what connects a bot to a platform.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::address::Address;
use crate::capability::Capabilities;
use crate::limit::AnswerLimit;
use crate::query::{Answer, Query, QueryError};
use crate::signal::{FailureKind, File, Signal};

/// A connection to one platform account (an XMPP account, a mailbox, a Slack app) that serves a
/// bot. Several sessions may serve one bot at once; the [`Router`](crate::Router) sends each
/// signal through the session its addressee belongs to, so a reply goes back the way the
/// conversation came.
///
/// A session's shape is the same on every platform:
/// - [`run`](Session::run) connects, pushes [`Body::SessionStarted`](crate::Body::SessionStarted), then every inbound signal,
///   reconnects after a [`Body::ConnectionError`](crate::Body::ConnectionError) where it can, and returns after pushing
///   [`Body::SessionAboutToEnd`](crate::Body::SessionAboutToEnd) (which waits until the bot has handled it, so the bot may
///   still send) and [`Body::SessionEnded`](crate::Body::SessionEnded) once it was asked to end (a
///   [`Body::InitiateSessionEnd`](crate::Body::InitiateSessionEnd) through [`send`](Session::send)) or cannot go on. The
///   [`InboundSink`] keeps the order right: it refuses I/O signals before `SessionStarted`
///   and anything after `SessionEnded`, and the router sends `SessionEnded` for a session that
///   returns without it.
/// - [`send`](Session::send) carries one outbound signal; an error becomes a
///   [`SendFailure`](crate::SendFailure) signal to the bot. Signals that [`capabilities`]
///   excludes never reach it: the router refuses them with
///   [`SendError::Unsupported`](crate::SendError::Unsupported).
/// - [`download`](Session::download) fetches a file the session delivered as a URL.
///
/// A protocol crate implements [`Protocol`](crate::driver::Protocol) and gets this trait from
/// the [session driver](crate::driver), which runs the lifecycle, reconnection and delivery
/// table the same way for every platform.
/// - [`query`](Session::query) answers what the platform can tell, and
///   [`QueryError::NotSupported`] for the rest.
///
/// [`capabilities`]: Session::capabilities
pub trait Session: Send + Sync + 'static {
    /// The session's name: the `+name` qualifier of the addresses it produces, unless it equals
    /// the platform (the usual case with one account per platform).
    fn name(&self) -> &str;

    /// The platform: the scheme of the addresses the session serves (`xmpp`, `mailto`, …).
    fn platform(&self) -> &str;

    /// What the session can carry to `address`, or in general with `None` (for the bot's own
    /// presence, which has no addressee). Called for every outbound signal: answer from memory
    /// (a static table, or a cache of what the platform said of the address).
    fn capabilities(&self, address: Option<&Address>) -> Capabilities;

    /// Connects and pushes inbound signals into `inbound` until the session ends.
    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>>;

    /// Carries one outbound signal to the platform.
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>>;

    /// Sends `signal` as [`send`](Session::send) does, but returns as soon as it is handed on
    /// in its turn (a signal handed on after it leaves after it), with a [`Confirmation`] that
    /// resolves when [`send`](Session::send) would have returned: the platform has it. Under a
    /// journal, a session's lane hands answers on this way, so that several are on their way
    /// at once while each counts as gone only once confirmed.
    ///
    /// By default it is [`send`](Session::send), then a confirmation already resolved: one
    /// signal on its way at a time. A session whose `send` waits for the platform after queuing
    /// the signal in order (XMPP waits for the server's Stream Management acknowledgement)
    /// returns once it is queued.
    fn hand_on(&self, signal: Signal) -> BoxFuture<'_, Result<Confirmation, Refusal>> {
        Box::pin(async move {
            self.send(signal).await?;
            Ok(confirmed())
        })
    }

    /// Answers a query.
    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>>;

    /// Fetches a file the platform delivered as a URL, with the session's credentials; the file
    /// comes back holding its bytes. By default the session downloads nothing.
    fn download(&self, file: File) -> BoxFuture<'_, Result<File, Refusal>> {
        let _ = file;
        Box::pin(futures::future::ready(Err(Refusal::new(
            FailureKind::Rejected,
            "this session downloads no files",
        ))))
    }

    /// Whether `signal`, which the bot sent through this session before its process stopped
    /// (an answer, known by its deterministic id, see the [journal](crate::journal)), reached
    /// the platform: `Some(true)` if the platform shows it, `Some(false)` if the platform shows
    /// it did not, `None` if the session cannot tell (the default). Asked only for an answer
    /// that was about to leave when the process stopped, and for a signal the bot marks
    /// [`redelivered`](crate::Metadata::redelivered); `None` means it is sent (again).
    fn sent<'a>(&'a self, signal: &'a Signal) -> BoxFuture<'a, Option<bool>> {
        let _ = signal;
        Box::pin(futures::future::ready(None))
    }

    /// How many answers one correspondent may get from the bot through this session before the
    /// router suspects a loop with another automatic responder ([`AnswerLimit`]); `None` for no
    /// limit. [`AnswerLimit::CHAT`] unless the session says otherwise (email says
    /// [`AnswerLimit::MAIL`]); the router may be told another
    /// ([`Router::answer_limit`](crate::Router::answer_limit)).
    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::CHAT)
    }

    /// Whether this session carries signals to `address`, an address of another platform than
    /// its own: a session that relays to sessions running elsewhere (a worker's session
    /// standing for a gateway's XMPP and Slack sessions) says yes for their addresses, so that
    /// the bot answers `xmpp:alice@example.org` through it. The router asks only when none of
    /// its sessions is of the address's platform; by default no session relays.
    fn relays(&self, address: &Address) -> bool {
        let _ = address;
        false
    }
}

/// What [`Session::hand_on`] gives for a signal handed on: resolves once the platform has it
/// (as far as [`Session::send`] waits), or with the platform's refusal.
pub type Confirmation = BoxFuture<'static, Result<(), Refusal>>;

/// A [`Confirmation`] that is already resolved: the signal is with the platform.
pub fn confirmed() -> Confirmation {
    Box::pin(futures::future::ready(Ok(())))
}

/// Why a session refused to carry a signal; the router turns it into a
/// [`SendFailure`](crate::SendFailure) naming the signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct Refusal {
    /// The kind of failure.
    pub kind: FailureKind,
    /// The platform's own error code, if any.
    pub code: Option<String>,
    /// In words.
    pub message: String,
}

impl Refusal {
    /// A refusal of `kind` with a message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Adds the platform's error code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// Why a session stopped for good. The failure behind it, where there is one (the driver's
/// permanent [`Failure`](crate::driver::Failure)), is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("session {session}: {message}")]
#[non_exhaustive]
pub struct SessionError {
    /// The session's name.
    pub session: String,
    /// What happened.
    pub message: String,
    /// The error behind it, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl SessionError {
    /// The session named `session` stopped for good: what happened, in words.
    pub fn new(session: impl Into<String>, message: impl Into<String>) -> Self {
        SessionError {
            session: session.into(),
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

/// The bot's inbound stream was closed: the bot has stopped, or the session has already ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bot is no longer listening to this session")]
pub struct Closed;

/// Why [`InboundSink::try_send`] did not push a signal.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrySendError {
    /// The bot's queue is full; here is the signal back (boxed: this is the rare path).
    Full(Box<Signal>),
    /// The bot stopped listening, or the session already ended.
    Closed,
}

mod sink;

pub use sink::InboundSink;
pub(crate) use sink::{Handled, Queued};
