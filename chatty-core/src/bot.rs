//! The bot interface: the one trait every bot implements, and the handle it sends through.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};

use crate::address::Address;
use crate::journal::Acks;
use crate::metadata::SignalId;
use crate::query::{Answer, Query, QueryError};
use crate::session::Refusal;
use crate::signal::{
    Body, FailureKind, File, Message, SendFailure, SessionEnd, Signal, Unsupported,
};

/// The asynchronous stream of signals a bot receives: messages and files from people, status
/// changes, send failures and unsupported signals for what it sent, and the sessions' lifecycle.
/// It ends when every session serving the bot has ended.
pub type Inbound = BoxStream<'static, Signal>;

/// What a bot returns when it stops because of an error.
pub type BotError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The bot interface: a bot runs on a stream of inbound signals and sends through a [`Handle`].
///
/// Decorators (the [`Logger`](https://docs.rs/chatty-log), the
/// [`Synchronizer`](https://docs.rs/chatty-sync)) wrap a bot and are bots themselves; see
/// [`Layer`](crate::Layer).
///
/// ```
/// use chatty_core::{Body, Bot, BotError, Handle, Inbound, Message};
/// use futures::StreamExt;
///
/// /// Answers every message with its text, reversed.
/// struct Reverser;
///
/// impl Bot for Reverser {
///     async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
///         while let Some(signal) = inbound.next().await {
///             if let Body::Message(m) = &signal.body {
///                 let text: String = m.text.chars().rev().collect();
///                 // `?` would stop the bot at the first refused answer too; only a closed
///                 // connection means nothing more can be sent.
///                 if let Err(e) = handle.send(signal.reply(Message::text(text))).await {
///                     if e.is_closed() {
///                         break;
///                     }
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Bot: Send + 'static {
    /// Runs the bot until `inbound` ends (every session ended) or the bot decides to stop.
    fn run(
        self,
        inbound: Inbound,
        handle: Handle,
    ) -> impl Future<Output = Result<(), BotError>> + Send;

    /// How this bot acknowledges the signals it finishes, under a router with a
    /// [journal](crate::journal): by asking for the next one ([`Acks::OnNext`], the default,
    /// right for a bot that handles one signal at a time), or with [`Handle::ack`]
    /// ([`Acks::Explicit`], for a bot that reads ahead or handles several at once). A
    /// decorator answers what the bot it wraps answers.
    fn acks(&self) -> Acks {
        Acks::OnNext
    }
}

/// Where a bot's signals and queries go: the [`Router`](crate::Router), or a decorator in front of
/// it. Implement it to write a decorator that sees or answers what a bot sends and asks.
pub trait Outlet: Send + Sync + 'static {
    /// Sends a signal. `Ok` means it was handed to the session that carries it; what the
    /// platform says later (a bounce, a refusal) comes back on the bot's inbound stream. A
    /// refusal known at once (no session for an addressee, a signal the addressee cannot
    /// receive, the answer limit) is an `Err`, and nothing was sent.
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>>;

    /// Asks a question.
    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>>;

    /// Fetches a file delivered as a URL through the session that delivered it (or the one
    /// `via` names), with that session's credentials; the file comes back holding its bytes.
    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>>;

    /// Acknowledges the signal `id`, which the bot has finished (see
    /// [`Handle::ack`]). A decorator passes it on to the outlet it wraps.
    fn ack(&self, id: &SignalId);
}

/// Why a signal was not sent, or a file not fetched. What the platform refuses later (a bounce,
/// an error from the server) comes back as a [`SendFailure`](crate::SendFailure) signal instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The bot's connection is closed: every session has ended.
    #[error("the bot's connection is closed")]
    Closed,
    /// No session serves this address (no session of its platform, or none of the name in
    /// its `+session` qualifier).
    #[error("no session serves {address}")]
    NoRoute {
        /// The address.
        address: Address,
    },
    /// The session cannot carry this signal to this addressee ([`Capabilities`](crate::Capabilities)).
    #[error("not supported: {reason}")]
    Unsupported {
        /// Which capability is missing.
        reason: String,
    },
    /// Refused before it left: the answer limit, or a session that said no at once.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
}

impl SendError {
    /// Whether the bot's connection is closed: the only error after which nothing can be sent
    /// any more (a bot loop stops on it and goes on after the others).
    ///
    /// ```
    /// use chatty_core::SendError;
    /// assert!(SendError::Closed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendError::Closed)
    }

    /// This error of the send of the signal `failed` as the signal a bot that learns of
    /// failures from its inbound stream gets (a remote or process bot): an
    /// [`Unsupported`](crate::Unsupported) or a [`SendFailure`](crate::SendFailure), answering
    /// `failed`; `None` for [`SendError::Closed`].
    ///
    /// ```
    /// use chatty_core::{Body, SendError, SignalId};
    ///
    /// let refused = SendError::Unsupported { reason: "no typing".into() };
    /// let signal = refused.to_signal(&SignalId::from("m1")).unwrap();
    /// assert!(matches!(&signal.body, Body::Unsupported(u) if u.refused.as_str() == "m1"));
    /// assert_eq!(signal.meta.response_to, Some(SignalId::from("m1")));
    /// ```
    pub fn to_signal(&self, failed: &SignalId) -> Option<Signal> {
        let failure = |kind, code: Option<String>, message: String| -> Body {
            SendFailure {
                failed: failed.clone(),
                kind,
                code,
                message,
            }
            .into()
        };
        let body: Body = match self {
            SendError::Closed => return None,
            SendError::NoRoute { .. } => {
                failure(FailureKind::UnknownAddressee, None, self.to_string())
            }
            SendError::Unsupported { reason } => Unsupported {
                refused: failed.clone(),
                reason: reason.clone(),
            }
            .into(),
            SendError::Refused(refusal) => {
                failure(refusal.kind, refusal.code.clone(), refusal.message.clone())
            }
        };
        let mut signal = Signal::internal(None, body);
        signal.meta.response_to = Some(failed.clone());
        Some(signal)
    }
}

/// The handle a bot sends signals and asks queries through. Cheap to clone.
#[derive(Clone)]
pub struct Handle(Arc<dyn Outlet>);

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Handle")
    }
}

/// The ten typed queries, once: for each, its doc, method signature, the [`Query`] it asks and
/// the [`Answer`] it expects. `for_each_typed_query!(make)` calls `make!` with each entry, so
/// that every handle (this crate's async [`Handle`], chatty-sync's blocking one) makes its typed
/// methods from the same table.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_typed_query {
    ($make:ident) => {
        $make!(
            /// Whether `address` is an individual, a group or a channel.
            address_kind(address: &$crate::Address) -> $crate::AddressKind,
            $crate::Query::AddressKind { address: address.clone() },
            $crate::Answer::AddressKind { kind } => kind
        );
        $make!(
            /// The members of a group or channel.
            members(address: &$crate::Address) -> Vec<$crate::Address>,
            $crate::Query::Members { address: address.clone() },
            $crate::Answer::Members { members } => members
        );
        $make!(
            /// The current presence of `address`.
            status(address: &$crate::Address) -> $crate::Presence,
            $crate::Query::Status { address: address.clone() },
            $crate::Answer::Status(p) => p
        );
        $make!(
            /// Signals received from `address`, newest first.
            received_from(address: &$crate::Address, page: $crate::Page) -> $crate::History,
            $crate::Query::ReceivedFrom { address: address.clone(), page },
            $crate::Answer::History(h) => h
        );
        $make!(
            /// Signals sent to `address`, newest first.
            sent_to(address: &$crate::Address, page: $crate::Page) -> $crate::History,
            $crate::Query::SentTo { address: address.clone(), page },
            $crate::Answer::History(h) => h
        );
        $make!(
            /// How far the signal `id` got.
            delivery_status(id: &$crate::SignalId) -> $crate::DeliveryStatus,
            $crate::Query::DeliveryStatus { id: id.clone() },
            $crate::Answer::DeliveryStatus(s) => s
        );
        $make!(
            /// `member`'s status in `channel`.
            member_status(member: &$crate::Address, channel: &$crate::Address) -> $crate::MemberStatus,
            $crate::Query::MemberStatus { member: member.clone(), channel: channel.clone() },
            $crate::Answer::MemberStatus(s) => s
        );
        $make!(
            /// The bot's own status in `channel`.
            own_status(channel: &$crate::Address) -> $crate::MemberStatus,
            $crate::Query::OwnStatus { channel: channel.clone() },
            $crate::Answer::MemberStatus(s) => s
        );
        $make!(
            /// Which signals `address` can receive.
            supported_signals(address: &$crate::Address) -> $crate::Signals,
            $crate::Query::SupportedSignals { address: address.clone() },
            $crate::Answer::SupportedSignals { signals } => signals
        );
        $make!(
            /// Which message features `address` can receive: (as they are, degraded).
            supported_features(address: &$crate::Address) -> ($crate::Features, $crate::Features),
            $crate::Query::SupportedFeatures { address: address.clone() },
            $crate::Answer::SupportedFeatures { features, degraded } => (features, degraded)
        );
    };
}

/// The error for an answer of the wrong kind to the typed query `name`.
#[doc(hidden)]
pub fn unexpected_answer(name: &str, answer: &Answer) -> QueryError {
    QueryError::Failed {
        message: format!("unexpected answer to {name}: {answer:?}"),
    }
}

/// Makes an async typed query method from an entry of [`for_each_typed_query!`].
macro_rules! async_query {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $out:ty, $query:expr, $pat:pat => $val:expr) => {
        $(#[$doc])*
        pub async fn $name(&self, $($arg: $ty),*) -> Result<$out, QueryError> {
            match self.query($query).await? {
                $pat => Ok($val),
                other => Err(unexpected_answer(stringify!($name), &other)),
            }
        }
    };
}

impl Handle {
    /// A handle sending through `outlet`.
    pub fn new(outlet: impl Outlet) -> Self {
        Handle(Arc::new(outlet))
    }

    /// A handle sending through a shared outlet.
    pub fn from_arc(outlet: Arc<dyn Outlet>) -> Self {
        Handle(outlet)
    }

    /// Sends a signal; returns its id. See [`Outlet::send`] for what `Ok` and `Err` mean.
    pub async fn send(&self, signal: Signal) -> Result<SignalId, SendError> {
        self.0.send(signal).await
    }

    /// Fetches a file that arrived as a URL ([`Content::Url`](crate::Content::Url)) through
    /// the session that delivered it, with its credentials; returns it holding its bytes.
    pub async fn download(&self, file: &File) -> Result<File, SendError> {
        self.0.download(file.clone(), None).await
    }

    /// Fetches a file through the session serving `via` (a URL learnt elsewhere than from an
    /// inbound file).
    pub async fn download_via(&self, file: &File, via: &Address) -> Result<File, SendError> {
        self.0.download(file.clone(), Some(via.clone())).await
    }

    /// Says that the bot has finished the signal `id`, for a router that takes explicit
    /// acknowledgements ([`Acks::Explicit`](crate::journal::Acks::Explicit)): a signal not
    /// acknowledged when the process stops is given to the bot again after a restart. Under
    /// the default [`Acks::OnNext`](crate::journal::Acks::OnNext), a signal is acknowledged when
    /// the bot asks for the next one, and this does nothing.
    pub fn ack(&self, id: &SignalId) {
        self.0.ack(id);
    }

    /// Asks every session to end; the bot's inbound stream then brings each one's
    /// `SessionAboutToEnd` (the last chance to send) and `SessionEnded`, and ends.
    pub async fn end_sessions(&self, reason: impl Into<String>) -> Result<(), SendError> {
        let end = SessionEnd {
            reason: Some(reason.into()),
        };
        self.send(Signal::new(Body::InitiateSessionEnd(end)))
            .await
            .map(drop)
    }

    /// Sends a plain text message to `to`.
    pub async fn say(&self, to: &Address, text: impl Into<String>) -> Result<SignalId, SendError> {
        self.send(Signal::new(Message::text(text)).to(to.clone()))
            .await
    }

    /// Asks a query and returns the untyped answer; the typed methods below are easier.
    pub async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        self.0.query(query).await
    }

    for_each_typed_query!(async_query);
}

/// The object-safe form of [`Bot`], for `Box<dyn …>` and lists of bots of different types.
pub trait DynBot: Send + 'static {
    /// [`Bot::run`] on a boxed bot.
    fn run_boxed(
        self: Box<Self>,
        inbound: Inbound,
        handle: Handle,
    ) -> BoxFuture<'static, Result<(), BotError>>;

    /// [`Bot::acks`] on a boxed bot.
    fn acks_boxed(&self) -> Acks;
}

impl<B: Bot> DynBot for B {
    fn run_boxed(
        self: Box<Self>,
        inbound: Inbound,
        handle: Handle,
    ) -> BoxFuture<'static, Result<(), BotError>> {
        Box::pin((*self).run(inbound, handle))
    }

    fn acks_boxed(&self) -> Acks {
        self.acks()
    }
}

/// A bot of any type, boxed (teloxide's erased adaptor).
///
/// ```
/// use chatty_core::{BoxBot, from_fn};
/// let bots: Vec<BoxBot> = vec![
///     BoxBot::new(from_fn(|_signal, _handle| async { Ok(()) })),
/// ];
/// # let _ = bots;
/// ```
pub struct BoxBot(Box<dyn DynBot>);

impl BoxBot {
    /// Boxes `bot`.
    pub fn new(bot: impl Bot) -> Self {
        BoxBot(Box::new(bot))
    }
}

impl fmt::Debug for BoxBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxBot")
    }
}

impl Bot for BoxBot {
    fn run(
        self,
        inbound: Inbound,
        handle: Handle,
    ) -> impl Future<Output = Result<(), BotError>> + Send {
        self.0.run_boxed(inbound, handle)
    }

    fn acks(&self) -> Acks {
        self.0.acks_boxed()
    }
}

/// A bot made of a function called once per inbound signal, in order.
///
/// An error returned by the function stops the bot with that error.
///
/// ```
/// use chatty_core::{from_fn, Body, Message};
///
/// let echo = from_fn(|signal, handle| async move {
///     if let Body::Message(m) = &signal.body {
///         handle.send(signal.reply(Message::text(m.text.clone()))).await?;
///     }
///     Ok(())
/// });
/// # let _ = echo;
/// ```
pub fn from_fn<F, Fut>(f: F) -> FnBot<F>
where
    F: FnMut(Signal, Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BotError>> + Send,
{
    FnBot(f)
}

/// The bot [`from_fn`] makes.
pub struct FnBot<F>(F);

impl<F> fmt::Debug for FnBot<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnBot")
    }
}

impl<F, Fut> Bot for FnBot<F>
where
    F: FnMut(Signal, Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BotError>> + Send,
{
    async fn run(mut self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            (self.0)(signal, handle.clone()).await?;
        }
        Ok(())
    }
}
