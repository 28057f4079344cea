//! What a message carries: its text and edits, media, files and their content.

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::metadata::SignalId;
use crate::signal::choice::{Choice, Chosen};

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
    /// A question with options asked by this message, whose text is the question: buttons,
    /// a form, or numbered lines where the platform has neither (see [`Choice`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
    /// Set on a message that answers a [`Choice`] by a click or a submitted form: which option
    /// was chosen. Its text is the option's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Chosen>,
    /// Whether the platform marked this message as a command to the bot (a Slack slash
    /// command): its text is the command as typed, its name first (`/ticket open …`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub command: bool,
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
    /// A reaction to the earlier message: the message's text is the reaction (an emoji, or a
    /// short text such as `+1`). A reaction is withdrawn by a retraction of the reaction's own
    /// id. Carried where a session has [`Features::REACTIONS`](crate::Features::REACTIONS).
    Reaction,
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

    /// A reaction to the message `of`.
    pub fn reaction(of: SignalId) -> Self {
        Edit::new(of, EditKind::Reaction)
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

    /// Asks a question with options (see [`Choice`]).
    #[must_use]
    pub fn with_choice(mut self, choice: Choice) -> Self {
        self.choice = Some(choice);
        self
    }

    /// The text a platform without buttons or forms shows for this message: its text, then its
    /// choice's options as numbered lines and how to answer; the text alone without a choice.
    ///
    /// ```
    /// use chatty_core::{Choice, Message};
    ///
    /// let m = Message::text("Priority?").with_choice(Choice::new("p").option("l", "Low"));
    /// assert_eq!(m.text_with_choice(), "Priority?\n1. Low\n(Answer with a number.)");
    /// ```
    pub fn text_with_choice(&self) -> String {
        match &self.choice {
            Some(choice) if !choice.options.is_empty() => format!(
                "{}\n{}\n{}",
                self.text,
                choice.numbered(),
                Choice::HOW_TO_ANSWER
            ),
            _ => self.text.clone(),
        }
    }

    /// A message withdrawing the message `of`.
    pub fn retraction(of: SignalId) -> Self {
        Message {
            edit: Some(Edit::retraction(of)),
            ..Message::default()
        }
    }

    /// A reaction `key` (an emoji, or a short text) to the message `of`; withdrawn by a
    /// [`retraction`](Message::retraction) of the reaction's own id.
    ///
    /// ```
    /// use chatty_core::{EditKind, Message, Signal, SignalId};
    ///
    /// let thumbs = Signal::new(Message::reaction(SignalId::from("$question"), "👍"));
    /// let chatty_core::Body::Message(m) = &thumbs.body else { unreachable!() };
    /// assert_eq!(m.text, "👍");
    /// assert_eq!(m.edit.as_ref().unwrap().kind, EditKind::Reaction);
    /// ```
    pub fn reaction(of: SignalId, key: impl Into<String>) -> Self {
        Message {
            text: key.into(),
            edit: Some(Edit::reaction(of)),
            ..Message::default()
        }
    }

    /// Whether this message is a reaction to an earlier one.
    pub fn is_reaction(&self) -> bool {
        self.edit
            .as_ref()
            .is_some_and(|e| e.kind == EditKind::Reaction)
    }
}

impl From<String> for Message {
    /// A message of plain text only.
    fn from(text: String) -> Self {
        Message::text(text)
    }
}

impl From<&str> for Message {
    /// A message of plain text only.
    fn from(text: &str) -> Self {
        Message::text(text)
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
    /// A URL to fetch the bytes from; a [`DownloadFile`](crate::DownloadFile) signal asks the session to fetch it with
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
