//! Signals: what bots and sessions exchange.
//!
//! A [`Signal`] is [`Metadata`] plus a [`Body`]. Five bodies travel on the wire (message, file,
//! send failure, status change, user-defined); the rest are internal: raised by sessions and
//! decorators (connection error, session started, …) or sent by a bot to its session (initiate
//! session end, download file), never carried by a platform.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::Address;
use crate::metadata::{Metadata, SignalId};

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

/// A chat message: text, and optionally a subject, rich content, inline media and attachments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// The plain text; every platform carries it.
    pub text: String,
    /// A subject line (email's `Subject:`, XMPP's `<subject>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Rich content as an HTML fragment, an alternative to `text` for platforms that show it.
    /// Inline media are referenced as `cid:ID` with the [`Media::id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Multimedia shown within the message (images, sound), by content or URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    /// Files attached to the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<File>,
    /// Set when this message edits an earlier one: a correction replaces it, a retraction
    /// withdraws it (Slack's `message_changed` / `message_deleted`, XMPP's corrections and
    /// retractions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<Edit>,
}

/// How a message changes an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Edit {
    /// The id of the message that is changed.
    pub of: SignalId,
    /// Corrected or withdrawn.
    pub kind: EditKind,
}

/// What an [`Edit`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EditKind {
    /// The message's content replaces the earlier message's.
    Correction,
    /// The earlier message is withdrawn (deleted); the message's text may say why.
    Retraction,
}

impl Edit {
    /// An edit of `kind` changing the message `of`.
    pub fn new(of: SignalId, kind: EditKind) -> Self {
        Edit { of, kind }
    }

    /// A correction of the message `of`.
    pub fn correction(of: SignalId) -> Self {
        Edit::new(of, EditKind::Correction)
    }

    /// A retraction (withdrawal) of the message `of`.
    pub fn retraction(of: SignalId) -> Self {
        Edit::new(of, EditKind::Retraction)
    }
}

impl Message {
    /// A message of plain text only.
    pub fn text(text: impl Into<String>) -> Self {
        Message {
            text: text.into(),
            ..Message::default()
        }
    }

    /// Sets the subject.
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the rich (HTML) alternative.
    #[must_use]
    pub fn with_html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Adds an inline media part.
    #[must_use]
    pub fn with_media(mut self, media: Media) -> Self {
        self.media.push(media);
        self
    }

    /// Adds an attachment.
    #[must_use]
    pub fn with_attachment(mut self, file: File) -> Self {
        self.attachments.push(file);
        self
    }

    /// Makes this message a correction of the message `of`.
    #[must_use]
    pub fn correcting(mut self, of: SignalId) -> Self {
        self.edit = Some(Edit::correction(of));
        self
    }

    /// Sets how this message changes an earlier one.
    #[must_use]
    pub fn with_edit(mut self, edit: Edit) -> Self {
        self.edit = Some(edit);
        self
    }

    /// A message withdrawing the message `of`.
    pub fn retraction(of: SignalId) -> Self {
        Message {
            edit: Some(Edit::retraction(of)),
            ..Message::default()
        }
    }
}

/// A multimedia part shown within a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Media {
    /// The id the rich content refers to it by (`cid:ID`), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The part itself.
    pub file: File,
}

impl Media {
    /// An inline media part without an id.
    pub fn new(file: File) -> Self {
        Media { id: None, file }
    }

    /// Sets the id the rich content refers to it by (`cid:ID`).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// A file: a name, a media type and its content (bytes, or a URL to fetch them from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct File {
    /// The file name as the sender gave it.
    pub name: String,
    /// The media (MIME) type, where known: `image/png`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The bytes or where to fetch them.
    pub content: Content,
}

impl File {
    /// A file of `name` with its media type, where known, and its content.
    pub fn new(name: impl Into<String>, media_type: Option<&str>, content: Content) -> Self {
        File {
            name: name.into(),
            media_type: media_type.map(str::to_owned),
            content,
        }
    }

    /// A file with its bytes.
    pub fn bytes(
        name: impl Into<String>,
        media_type: Option<&str>,
        data: impl Into<Bytes>,
    ) -> Self {
        File {
            name: name.into(),
            media_type: media_type.map(str::to_owned),
            content: Content::Bytes { data: data.into() },
        }
    }

    /// A file to be fetched from `url`.
    pub fn url(name: impl Into<String>, media_type: Option<&str>, url: impl Into<String>) -> Self {
        File {
            name: name.into(),
            media_type: media_type.map(str::to_owned),
            content: Content::Url {
                url: url.into(),
                size: None,
            },
        }
    }

    /// Sets the media (MIME) type.
    #[must_use]
    pub fn with_media_type(mut self, media_type: impl Into<String>) -> Self {
        self.media_type = Some(media_type.into());
        self
    }

    /// Sets the size in bytes of a file to be fetched from a URL, where the platform says;
    /// a file holding its bytes is left as it is.
    #[must_use]
    pub fn with_size(mut self, size: u64) -> Self {
        if let Content::Url { size: known, .. } = &mut self.content {
            *known = Some(size);
        }
        self
    }
}

/// A file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// The bytes themselves (base64 in JSON).
    Bytes {
        /// The data.
        #[serde(with = "base64_bytes")]
        data: Bytes,
    },
    /// A URL to fetch the bytes from; a [`DownloadFile`] signal asks the session to fetch it with
    /// its credentials.
    Url {
        /// Where the bytes are.
        url: String,
        /// The size in bytes, where the platform says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
}

mod base64_bytes {
    use super::*;

    pub(super) fn serialize<S: Serializer>(data: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// A signal that was sent could not be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SendFailure {
    /// The id of the signal that failed.
    pub failed: SignalId,
    /// The kind of error.
    pub kind: FailureKind,
    /// The platform's own error code, where it has one (`550`, `item-not-found`,
    /// `channel_not_found`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A human-readable description.
    pub message: String,
}

impl SendFailure {
    /// The signal `failed` could not be delivered: a failure of `kind`, in words.
    ///
    /// ```
    /// use chatty_core::{FailureKind, SendFailure};
    ///
    /// let failure = SendFailure::new("m1".into(), FailureKind::UnknownAddressee, "no such user")
    ///     .with_code("550");
    /// assert_eq!(failure.code.as_deref(), Some("550"));
    /// ```
    pub fn new(failed: SignalId, kind: FailureKind, message: impl Into<String>) -> Self {
        SendFailure {
            failed,
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Sets the platform's own error code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// Why a signal could not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The addressee does not exist.
    UnknownAddressee,
    /// The platform refused it (policy, permissions, spam filter).
    Rejected,
    /// It was too large.
    TooLarge,
    /// Sent too often: the platform asked to slow down and the session gave up, or the router's
    /// answer limit for one correspondent was reached (code `answer-limit`, see
    /// [`AnswerLimit`](crate::AnswerLimit)).
    RateLimited,
    /// The platform could not be reached.
    Unreachable,
    /// Accepted first, returned later (an email bounce).
    Bounced,
    /// Anything else.
    Other,
}

/// Someone's status changed. Whose: the signal's origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusChange {
    /// The new status.
    pub status: Status,
    /// A status message (`"in a meeting"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl StatusChange {
    /// A status change without a status message.
    pub fn new(status: Status) -> Self {
        StatusChange {
            status,
            message: None,
        }
    }

    /// Sets the status message (`"in a meeting"`).
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// A status. Sent by a bot, it sets the bot's own: its presence, joining (`present: true`) or
/// leaving a room, typing in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Online with an availability, or offline.
    Presence {
        /// Offline, available, away, busy, …
        availability: Availability,
    },
    /// Present in a room, or not (joined / left).
    InRoom {
        /// The room.
        room: Address,
        /// `true`: present (joined); `false`: left.
        present: bool,
        /// The role in the room where the platform has roles (`moderator`, `participant`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
    },
    /// Typing (or stopped typing) in a conversation: a room, or a one-to-one chat.
    Typing {
        /// Where.
        conversation: Address,
        /// Composing, paused, …
        state: TypingState,
    },
}

/// Presence availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Availability {
    /// Not online.
    Offline,
    /// Online and available.
    Available,
    /// Online and eager to chat.
    Chatty,
    /// Online, away for a while.
    Away,
    /// Online, away for long.
    ExtendedAway,
    /// Online, do not disturb.
    Busy,
}

/// Chat states (XEP-0085's five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TypingState {
    /// Typing now.
    Composing,
    /// Was typing, paused.
    Paused,
    /// Paying attention, not typing.
    Active,
    /// Not paying attention.
    Inactive,
    /// Left the conversation.
    Gone,
}

/// A signal of the bot author's own: a name and a JSON payload.
///
/// ```
/// use chatty_core::UserDefined;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Order { item: String, count: u32 }
///
/// let signal = UserDefined::new("order", &Order { item: "tea".into(), count: 2 }).unwrap();
/// let back: Order = signal.decode().unwrap();
/// assert_eq!(back, Order { item: "tea".into(), count: 2 });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserDefined {
    /// The signal's name, chosen by the bot author.
    pub name: String,
    /// The payload.
    pub payload: serde_json::Value,
}

impl UserDefined {
    /// A user-defined signal with `payload` serialized to JSON.
    pub fn new<T: Serialize>(name: impl Into<String>, payload: &T) -> serde_json::Result<Self> {
        Ok(UserDefined {
            name: name.into(),
            payload: serde_json::to_value(payload)?,
        })
    }

    /// A user-defined signal with a payload that is JSON already.
    pub fn from_value(name: impl Into<String>, payload: serde_json::Value) -> Self {
        UserDefined {
            name: name.into(),
            payload,
        }
    }

    /// The payload as a `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        T::deserialize(&self.payload)
    }
}

/// A connection failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectionError {
    /// What kind of failure.
    pub kind: ConnectionErrorKind,
    /// The cause, in words (never containing secrets).
    pub cause: String,
    /// When the session tries again; `None`: it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in: Option<Duration>,
}

impl ConnectionError {
    /// A connection failure of `kind`, its cause in words (never containing secrets), after
    /// which the session does not try again (see [`with_retry_in`](ConnectionError::with_retry_in)).
    pub fn new(kind: ConnectionErrorKind, cause: impl Into<String>) -> Self {
        ConnectionError {
            kind,
            cause: cause.into(),
            retry_in: None,
        }
    }

    /// Says when the session tries again.
    #[must_use]
    pub fn with_retry_in(mut self, retry_in: Duration) -> Self {
        self.retry_in = Some(retry_in);
        self
    }
}

/// What kind of connection failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionErrorKind {
    /// Wrong user name, password or token.
    Authentication,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The server could not be reached, or the connection dropped.
    Unreachable,
    /// The server said something the session could not understand.
    Protocol,
    /// Anything else.
    Other,
}

/// A session is connected and serves the bot. The signal's origin is the bot's own address on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionStarted {
    /// The session's name (the `+session` qualifier of its addresses).
    pub session: String,
    /// The platform (`xmpp`, `mailto`, …).
    pub platform: String,
}

impl SessionStarted {
    /// The session named `session` on `platform` started.
    pub fn new(session: impl Into<String>, platform: impl Into<String>) -> Self {
        SessionStarted {
            session: session.into(),
            platform: platform.into(),
        }
    }
}

/// The reason a session ends, for the three session-end signals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionEnd {
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SessionEnd {
    /// A session end for `reason`; [`SessionEnd::default()`] gives none.
    pub fn because(reason: impl Into<String>) -> Self {
        SessionEnd {
            reason: Some(reason.into()),
        }
    }
}

/// A request to fetch a file's URL with the session's credentials. The session answers with a
/// [`Body::File`] holding the bytes (`response_to` = this signal's id), or a [`SendFailure`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DownloadFile {
    /// The file whose URL to fetch.
    pub file: File,
}

impl DownloadFile {
    /// A request to fetch `file`.
    pub fn new(file: File) -> Self {
        DownloadFile { file }
    }
}

/// Something went wrong inside a session or decorator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemError {
    /// Which part (`"logger"`, `"imap"`).
    pub component: String,
    /// What went wrong.
    pub message: String,
}

impl SystemError {
    /// Something went wrong in `component` (`"logger"`, `"imap"`), in words.
    pub fn new(component: impl Into<String>, message: impl Into<String>) -> Self {
        SystemError {
            component: component.into(),
            message: message.into(),
        }
    }
}

/// A signal that a session could not carry after all (the router refuses what it knows at once
/// with [`SendError::Unsupported`](crate::SendError::Unsupported)); its `response_to` is the
/// refused signal's id too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Unsupported {
    /// The id of the signal that was not sent.
    pub refused: SignalId,
    /// Why (which capability is missing).
    pub reason: String,
}

impl Unsupported {
    /// The signal `refused` was not sent, for `reason` (which capability is missing).
    pub fn new(refused: SignalId, reason: impl Into<String>) -> Self {
        Unsupported {
            refused,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests;
