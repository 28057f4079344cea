//! Signals: what bots and sessions exchange.
//!
//! A [`Signal`] is [`Metadata`] plus a [`Body`]. Five bodies travel on the wire (message, file,
//! send failure, status change, user-defined); the rest are internal: raised by sessions and
//! decorators (connection error, session started, …) or sent by a bot to its session (initiate
//! session end, download file), never carried by a platform.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::metadata::{Metadata, SignalId};

mod choice;
mod content;
mod internal;
mod wire;

pub use choice::{Choice, ChoiceOption, Chosen};
pub use content::{Content, Edit, EditKind, File, Media, Message};
pub use internal::{
    ConnectionError, ConnectionErrorKind, DownloadFile, SessionEnd, SessionStarted, SystemError,
    Unsupported,
};
pub use wire::{
    Availability, FailureKind, SendFailure, Status, StatusChange, TypingState, UserDefined,
};

/// One signal: metadata and a body.
///
/// ```
/// use chatty_core::{Address, Body, Message, Signal};
///
/// let alice: Address = "xmpp:alice@example.org".parse().unwrap();
/// let hello = Signal::message("hello").to(alice.clone());
/// assert_eq!(hello.meta.addressees, vec![alice]);
/// assert!(matches!(&hello.body, Body::Message(m) if m.text == "hello"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Id, times and addresses.
    pub meta: Metadata,
    /// What the signal says.
    pub body: Body,
}

/// What a signal says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Body {
    /// A chat message.
    Message(Message),
    /// A file.
    File(File),
    /// A signal that was sent could not be delivered.
    SendFailure(SendFailure),
    /// Someone's status changed: presence, presence in a room, typing.
    StatusChange(StatusChange),
    /// A signal of the bot author's own, with a name and a JSON payload.
    UserDefined(UserDefined),
    /// Internal: a connection failed; the session says whether it retries.
    ConnectionError(ConnectionError),
    /// Internal: a session is connected and serves the bot.
    SessionStarted(SessionStarted),
    /// Internal: a request to end a session (bot to session, or the runner to a session).
    InitiateSessionEnd(SessionEnd),
    /// Internal: the session is about to end; last chance to send.
    SessionAboutToEnd(SessionEnd),
    /// Internal: the session has ended; nothing more comes from it.
    SessionEnded(SessionEnd),
    /// Internal: a request to a session to fetch a file's URL with the session's credentials.
    DownloadFile(DownloadFile),
    /// Internal: something went wrong inside a session or decorator (a malformed mail, a full
    /// disk); the signals around it are unaffected.
    SystemError(SystemError),
    /// Internal: a signal that the session cannot carry, handed back to the bot.
    Unsupported(Unsupported),
}

/// The kind of a signal's body, without its content: what capabilities and queries speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignalKind {
    /// [`Body::Message`]
    Message,
    /// [`Body::File`]
    File,
    /// [`Body::SendFailure`]
    SendFailure,
    /// [`Body::StatusChange`]
    StatusChange,
    /// [`Body::UserDefined`]
    UserDefined,
    /// [`Body::ConnectionError`]
    ConnectionError,
    /// [`Body::SessionStarted`]
    SessionStarted,
    /// [`Body::InitiateSessionEnd`]
    InitiateSessionEnd,
    /// [`Body::SessionAboutToEnd`]
    SessionAboutToEnd,
    /// [`Body::SessionEnded`]
    SessionEnded,
    /// [`Body::DownloadFile`]
    DownloadFile,
    /// [`Body::SystemError`]
    SystemError,
    /// [`Body::Unsupported`]
    Unsupported,
}

impl SignalKind {
    /// Whether signals of this kind are internal (never carried by a platform).
    pub const fn is_internal(self) -> bool {
        !matches!(
            self,
            SignalKind::Message
                | SignalKind::File
                | SignalKind::SendFailure
                | SignalKind::StatusChange
                | SignalKind::UserDefined
        )
    }
}

impl Body {
    /// The kind of this body.
    pub fn kind(&self) -> SignalKind {
        match self {
            Body::Message(_) => SignalKind::Message,
            Body::File(_) => SignalKind::File,
            Body::SendFailure(_) => SignalKind::SendFailure,
            Body::StatusChange(_) => SignalKind::StatusChange,
            Body::UserDefined(_) => SignalKind::UserDefined,
            Body::ConnectionError(_) => SignalKind::ConnectionError,
            Body::SessionStarted(_) => SignalKind::SessionStarted,
            Body::InitiateSessionEnd(_) => SignalKind::InitiateSessionEnd,
            Body::SessionAboutToEnd(_) => SignalKind::SessionAboutToEnd,
            Body::SessionEnded(_) => SignalKind::SessionEnded,
            Body::DownloadFile(_) => SignalKind::DownloadFile,
            Body::SystemError(_) => SignalKind::SystemError,
            Body::Unsupported(_) => SignalKind::Unsupported,
        }
    }
}

impl Signal {
    /// A signal with fresh metadata (a new id, nothing else).
    pub fn new(body: impl Into<Body>) -> Self {
        Signal {
            meta: Metadata::new(),
            body: body.into(),
        }
    }

    /// A text message with fresh metadata.
    pub fn message(text: impl Into<String>) -> Self {
        Signal::new(Message::text(text))
    }

    /// This signal's id.
    pub fn id(&self) -> &SignalId {
        &self.meta.id
    }

    /// The kind of this signal's body.
    pub fn kind(&self) -> SignalKind {
        self.body.kind()
    }

    /// Adds an addressee.
    #[must_use]
    pub fn to(mut self, address: Address) -> Self {
        self.meta.addressees.push(address);
        self
    }

    /// Adds an address that sees the signal without being addressed (a room, a Cc).
    #[must_use]
    pub fn visible_to(mut self, address: Address) -> Self {
        self.meta.visible_to.push(address);
        self
    }

    /// Marks this signal as the answer to `id`.
    #[must_use]
    pub fn in_response_to(mut self, id: SignalId) -> Self {
        self.meta.response_to = Some(id);
        self
    }

    /// A new signal answering this one: `response_to` is this signal's id, and it goes back where
    /// the conversation is: to the room or group this signal was said in, if any, else to its
    /// origin.
    ///
    /// ```
    /// use chatty_core::{Signal, Body};
    ///
    /// let mut question = Signal::message("ping");
    /// question.meta.origin = Some("xmpp:room@muc.example.org/alice".parse().unwrap());
    /// question.meta.visible_to = vec!["xmpp:room@muc.example.org;kind=channel".parse().unwrap()];
    ///
    /// let answer = question.reply(Signal::message("pong").body);
    /// assert_eq!(answer.meta.response_to.as_ref(), Some(question.id()));
    /// assert_eq!(answer.meta.addressees[0].to_string(), "xmpp:room@muc.example.org;kind=channel");
    /// ```
    pub fn reply(&self, body: impl Into<Body>) -> Signal {
        let mut answer = Signal::new(body).in_response_to(self.meta.id.clone());
        answer.meta.addressees = self.reply_addresses();
        answer
    }

    /// A new signal answering this one, to everyone who saw it: like [`reply`](Signal::reply)
    /// (the room if it was said in one, else its origin), and the other people it was addressed
    /// to or visible to are kept as `visible_to` (a mail's other `To` and `Cc` recipients end up
    /// in `Cc`). Sessions leave their own address out of what they carry, and platforms without
    /// copies (a one-to-one XMPP chat) carry it as [`reply`](Signal::reply).
    ///
    /// ```
    /// use chatty_core::{Address, Message, Signal};
    ///
    /// let alice: Address = "mailto:alice@example.org".parse().unwrap();
    /// let bot: Address = "mailto:bot@example.org".parse().unwrap();
    /// let carol: Address = "mailto:carol@example.org".parse().unwrap();
    /// let mut mail = Signal::message("lunch?").to(bot.clone()).visible_to(carol.clone());
    /// mail.meta.origin = Some(alice.clone());
    ///
    /// let answer = mail.reply_all(Message::text("yes"));
    /// assert_eq!(answer.meta.addressees, vec![alice]);
    /// assert_eq!(answer.meta.visible_to, vec![bot, carol]);
    /// assert_eq!(mail.reply(Message::text("yes")).meta.visible_to, vec![]);
    /// ```
    pub fn reply_all(&self, body: impl Into<Body>) -> Signal {
        let mut answer = self.reply(body);
        let copies = self.meta.addressees.iter().chain(&self.meta.visible_to);
        for address in copies {
            let known = answer.meta.addressees.contains(address)
                || answer.meta.visible_to.contains(address)
                || self.meta.origin.as_ref() == Some(address);
            if !known {
                answer.meta.visible_to.push(address.clone());
            }
        }
        answer
    }

    /// Whether a machine sent this signal (an out-of-office, a bounce, a list, another bot):
    /// see [`Metadata::automatic`](crate::Metadata::automatic).
    pub fn is_automatic(&self) -> bool {
        self.meta.automatic.is_some()
    }

    /// Where a reply to this signal goes: the shared addresses (rooms, groups) it was visible to,
    /// or else its origin.
    pub fn reply_addresses(&self) -> Vec<Address> {
        let shared: Vec<Address> = self
            .meta
            .visible_to
            .iter()
            .filter(|a| a.kind().is_shared())
            .cloned()
            .collect();
        if !shared.is_empty() {
            return shared;
        }
        self.meta.origin.iter().cloned().collect()
    }

    /// The addresses a router sends this signal towards: the addressees, and for a status change
    /// the room or conversation it is about. Empty means every session (the bot's own presence).
    pub fn route_addresses(&self) -> Vec<&Address> {
        let mut out: Vec<&Address> = self.meta.addressees.iter().collect();
        if let Body::StatusChange(change) = &self.body {
            match &change.status {
                Status::InRoom { room, .. } => out.push(room),
                Status::Typing { conversation, .. } => out.push(conversation),
                Status::Presence { .. } => {}
            }
        }
        out
    }

    /// An internal signal raised by the session whose own address is `origin`.
    pub fn internal(origin: Option<Address>, body: impl Into<Body>) -> Self {
        let mut signal = Signal::new(body);
        signal.meta.origin = origin;
        signal.meta.received = Some(crate::metadata::now());
        signal
    }
}

impl From<String> for Body {
    /// A text message.
    fn from(text: String) -> Self {
        Body::Message(Message::text(text))
    }
}

impl From<&str> for Body {
    /// A text message.
    fn from(text: &str) -> Self {
        Body::Message(Message::text(text))
    }
}

macro_rules! body_from {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Body {
            fn from(value: $ty) -> Self {
                Body::$variant(value)
            }
        })*
    };
}

body_from!(
    Message(Message),
    File(File),
    SendFailure(SendFailure),
    StatusChange(StatusChange),
    UserDefined(UserDefined),
    ConnectionError(ConnectionError),
    SessionStarted(SessionStarted),
    DownloadFile(DownloadFile),
    SystemError(SystemError),
    Unsupported(Unsupported),
);

#[cfg(test)]
mod tests;
