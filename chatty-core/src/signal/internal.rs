//! The internal signals: a session's lifecycle and connection, downloads, system errors and
//! unsupported signals.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::content::File;
use crate::metadata::SignalId;

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
/// [`Body::File`](crate::Body::File) holding the bytes (`response_to` = this signal's id), or a [`SendFailure`](crate::SendFailure).
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
