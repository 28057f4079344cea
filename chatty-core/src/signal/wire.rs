//! The signals that travel between people and bots besides messages: send failures, status
//! changes, user-defined signals.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::metadata::SignalId;

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
