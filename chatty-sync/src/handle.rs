//! The blocking handle: what a synchronous bot sends and asks through.

use std::fmt;

use chatty_core::reexports::async_channel;
use chatty_core::{Address, Answer, File, Message, Query, QueryError, SendError, Signal, SignalId};
use futures::channel::oneshot;

use crate::park;

/// A request from a blocking thread to the async side, with where to put the answer.
pub(crate) enum Request {
    /// [`Handle::send`](chatty_core::Handle::send).
    Send(Box<Signal>, oneshot::Sender<Result<SignalId, SendError>>),
    /// [`Handle::query`](chatty_core::Handle::query).
    Query(Query, oneshot::Sender<Result<Answer, QueryError>>),
    /// [`Handle::download`](chatty_core::Handle::download), or
    /// [`download_via`](chatty_core::Handle::download_via) with an address.
    Download(
        Box<File>,
        Option<Address>,
        oneshot::Sender<Result<File, SendError>>,
    ),
    /// [`Handle::end_sessions`](chatty_core::Handle::end_sessions).
    EndSessions(String, oneshot::Sender<Result<(), SendError>>),
}

/// The blocking mirror of [`chatty_core::Handle`]: sends signals and asks queries from plain
/// threads. Cheap to clone; clones may be used from any number of threads at once.
///
/// Every call blocks the calling thread until the async side (the
/// [`Synchronizer`](crate::Synchronizer) or the [`QueueBot`](crate::QueueBot)) has carried it
/// out on the real [`Handle`](chatty_core::Handle), and returns its result. Calls from one thread
/// are carried out in the order that thread made them; none is lost.
///
/// **Do not call it from inside an async task**: it would block that task's executor thread, and
/// on a single-threaded executor that also runs the async side, it would wait forever for work
/// that thread can no longer do.
///
/// Once the bot's run has ended, every call returns [`SendError::Closed`] or
/// [`QueryError::Closed`] at once. The other [`SendError`]s are refusals of one signal (or one
/// download), after which the bot goes on: stop a loop on [`SendError::is_closed`].
#[derive(Clone)]
pub struct BlockingHandle {
    requests: async_channel::Sender<Request>,
}

impl fmt::Debug for BlockingHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Makes a blocking typed query method from an entry of core's table of typed queries.
macro_rules! blocking_query {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $out:ty, $query:expr, $pat:pat => $val:expr) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// The session's [`QueryError`], [`QueryError::Failed`] for an answer of the wrong kind,
        /// [`QueryError::Closed`] once the bot's run has ended.
        pub fn $name(&self, $($arg: $ty),*) -> Result<$out, QueryError> {
            match self.query($query)? {
                $pat => Ok($val),
                other => Err(chatty_core::unexpected_answer(stringify!($name), &other)),
            }
        }
    };
}

impl BlockingHandle {
    pub(crate) fn new(requests: async_channel::Sender<Request>) -> Self {
        BlockingHandle { requests }
    }

    /// Hands a request to the async side and waits for the answer; `None` when the async side
    /// is gone (before or while the request was carried out).
    fn call<T>(&self, request: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        // The request channel is unbounded: each thread has at most one request outstanding
        // (it waits for the answer), so it holds at most one request per thread.
        self.requests.try_send(request(reply)).ok()?;
        // If the async side stops before answering, it drops `reply`, which wakes us.
        park::wait(answer).ok()
    }

    /// Sends a signal and waits until it is handed on; returns its id. What the platform
    /// refuses later comes back as a [`SendFailure`](chatty_core::SendFailure) signal.
    ///
    /// # Errors
    /// A refusal known at once, and then nothing was sent: [`SendError::NoRoute`] (no session
    /// serves an addressee), [`SendError::Unsupported`] (the addressee cannot receive it),
    /// [`SendError::Refused`] (the answer limit, or a session that said no at once). After
    /// these the bot goes on; after [`SendError::Closed`] (the connection is closed or the bot's
    /// run has ended, [`SendError::is_closed`]) nothing can be sent any more.
    pub fn send(&self, signal: Signal) -> Result<SignalId, SendError> {
        self.call(|reply| Request::Send(Box::new(signal), reply))
            .unwrap_or(Err(SendError::Closed))
    }

    /// Fetches a file that arrived as a URL ([`Content::Url`](chatty_core::Content::Url))
    /// through the session that delivered it, with its credentials; returns it holding its
    /// bytes.
    ///
    /// # Errors
    /// As [`Handle::download`](chatty_core::Handle::download): the file holds its bytes already
    /// or no session can fetch it ([`SendError::Unsupported`], [`SendError::Refused`]), the
    /// session's refusal ([`SendError::Refused`]); [`SendError::Closed`] once the bot's run has
    /// ended.
    pub fn download(&self, file: &File) -> Result<File, SendError> {
        self.call(|reply| Request::Download(Box::new(file.clone()), None, reply))
            .unwrap_or(Err(SendError::Closed))
    }

    /// Fetches a file through the session serving `via` (a URL learnt elsewhere than from an
    /// inbound file).
    ///
    /// # Errors
    /// As [`download`](BlockingHandle::download), and [`SendError::NoRoute`] when no session
    /// serves `via`.
    pub fn download_via(&self, file: &File, via: &Address) -> Result<File, SendError> {
        self.call(|reply| Request::Download(Box::new(file.clone()), Some(via.clone()), reply))
            .unwrap_or(Err(SendError::Closed))
    }

    /// Asks every session to end; the inbound queue then brings each one's
    /// `SessionAboutToEnd` (the last chance to send) and `SessionEnded`, and ends.
    ///
    /// # Errors
    /// [`SendError::Closed`] when the connection is closed or the bot's run has ended.
    pub fn end_sessions(&self, reason: impl Into<String>) -> Result<(), SendError> {
        let reason = reason.into();
        self.call(|reply| Request::EndSessions(reason, reply))
            .unwrap_or(Err(SendError::Closed))
    }

    /// Sends a plain text message to `to`.
    ///
    /// # Errors
    /// As [`send`](BlockingHandle::send).
    pub fn say(&self, to: &Address, text: impl Into<String>) -> Result<SignalId, SendError> {
        self.send(Signal::new(Message::text(text)).to(to.clone()))
    }

    /// Asks a query and returns the untyped answer; the typed methods below are easier.
    ///
    /// # Errors
    /// The session's [`QueryError`], or [`QueryError::Closed`] once the bot's run has ended.
    pub fn query(&self, query: Query) -> Result<Answer, QueryError> {
        self.call(|reply| Request::Query(query, reply))
            .unwrap_or(Err(QueryError::Closed))
    }

    /// Whether the async side is gone (the bot's run has ended): every call would fail.
    pub fn is_closed(&self) -> bool {
        self.requests.is_closed()
    }

    chatty_core::for_each_typed_query!(blocking_query);
}
