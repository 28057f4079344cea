//! What a chat window shows: conversations and their entries, the connection, and the actions
//! the model asks its client to carry out.

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{
    Address, Availability, Choice, Content, File, Message, Signal, SignalId, Timestamp, now,
};

/// What the client does for the state, through its handle or on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this signal (a message, a status change, a typing notification, a download request).
    Send(Box<Signal>),
    /// Read the file at `path` and send it to `to`; [`ChatState::file_sent`](super::ChatState::file_sent) records it.
    SendFile {
        /// The conversation it goes to.
        to: Address,
        /// Where the file is on disk.
        path: PathBuf,
    },
    /// Write a received file's bytes to `path`.
    SaveFile {
        /// Where to write.
        path: PathBuf,
        /// The bytes.
        data: Bytes,
    },
    /// Ask the session for the members of a room; [`ChatState::set_members`](super::ChatState::set_members) records them.
    AskMembers {
        /// The room.
        room: Address,
    },
    /// Close the window.
    Quit,
}

/// The connection as the session's lifecycle signals tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// No session has started yet.
    Connecting,
    /// A session serves the window.
    Connected {
        /// The platform (`direct`, `xmpp`, …).
        platform: String,
    },
    /// The connection failed; `retrying` says whether the session tries again.
    Failed {
        /// The cause, in words.
        cause: String,
        /// Whether the session retries.
        retrying: bool,
    },
    /// The session is about to end.
    Ending,
    /// The session has ended.
    Ended,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connection::Connecting => f.write_str("connecting"),
            Connection::Connected { platform } => write!(f, "connected ({platform})"),
            Connection::Failed {
                cause,
                retrying: true,
            } => write!(f, "retrying: {cause}"),
            Connection::Failed { cause, .. } => write!(f, "failed: {cause}"),
            Connection::Ending => f.write_str("ending"),
            Connection::Ended => f.write_str("ended"),
        }
    }
}

/// A received or sent file as a conversation lists it: `/save N PATH` saves file number `N`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    /// Its number in the conversation, from 1.
    pub number: usize,
    /// The file.
    pub file: File,
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = &self.file;
        let kind = file.media_type.as_deref().unwrap_or("unknown type");
        match &file.content {
            Content::Bytes { data } => write!(
                f,
                "[file {}] {} ({kind}, {} bytes)",
                self.number,
                file.name,
                data.len()
            ),
            Content::Url { url, .. } => {
                write!(f, "[file {}] {} ({kind}) at {url}", self.number, file.name)
            }
            _ => write!(f, "[file {}] {} ({kind})", self.number, file.name),
        }
    }
}

/// A question with options asked in a message ([`Message::choice`]), as its conversation keeps
/// it: the terminal window shows the options as numbered lines, the web window as buttons.
///
/// The person answers it by typing a number or a label (the conversation's
/// [open question](Conversation::open_question)), or by a click in the web window
/// ([`ChatState::choose`](super::ChatState::choose)): the window then sends a message whose
/// text is the option's label and whose [`Message::chosen`] names it, in response to the
/// question's message.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The id of the message that asks it: the answer is sent in response to it.
    pub message: SignalId,
    /// The question's id and options.
    pub choice: Choice,
    /// The value of the option the person chose, once they answered it here.
    pub answer: Option<String>,
}

impl Question {
    /// The label of the option the person chose, once they answered.
    pub fn answer_label(&self) -> Option<&str> {
        let answer = self.answer.as_deref()?;
        self.choice
            .options
            .iter()
            .find(|o| o.value == answer)
            .map(|o| o.label.as_str())
    }

    /// The message's text with the options as numbered lines, as platforms without buttons show
    /// it ([`Message::text_with_choice`]); once answered, the last line says which option was
    /// chosen instead of how to answer.
    pub fn text_with_options(&self, text: &str) -> String {
        match self.answer_label() {
            None => Message::text(text)
                .with_choice(self.choice.clone())
                .text_with_choice(),
            Some(label) => format!("{text}\n{}\n(answered: {label})", self.choice.numbered()),
        }
    }
}

/// What an entry of a conversation is.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    /// A message.
    Message {
        /// Who sent it, as shown (`you` for the person at the window).
        from: String,
        /// Whether the person at the window sent it.
        mine: bool,
        /// The subject line, if any.
        subject: Option<String>,
        /// The text.
        text: String,
        /// Its attachments.
        attachments: Vec<FileRef>,
        /// The question with options it asks, if it asks one (its text is the question).
        question: Option<Question>,
    },
    /// A file on its own.
    File {
        /// Who sent it, as shown.
        from: String,
        /// Whether the person at the window sent it.
        mine: bool,
        /// The file.
        file: FileRef,
    },
    /// A status line: joined or left a room, presence, the session's lifecycle.
    Status(String),
    /// An error line: a send failure, an unsupported signal, a bad command.
    Error(String),
    /// A line of the window's own (help, "saved to …").
    Info(String),
}

/// One entry of a conversation: a time and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When it was sent (or received, or happened).
    pub time: Timestamp,
    /// What it is.
    pub kind: EntryKind,
}

impl Entry {
    /// An entry of `kind` now.
    pub fn now(kind: EntryKind) -> Self {
        Entry { time: now(), kind }
    }

    /// The entry as text, possibly of several lines: `HH:MM:SS who: text`.
    ///
    /// ```
    /// use chatty_client::{Entry, EntryKind};
    ///
    /// let entry = Entry::now(EntryKind::Error("not delivered".into()));
    /// assert!(entry.text().ends_with(" ! not delivered"));
    /// ```
    pub fn text(&self) -> String {
        let t = self.time;
        let time = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
        match &self.kind {
            EntryKind::Message {
                from,
                subject,
                text,
                attachments,
                question,
                ..
            } => {
                let mut out = format!("{time} {from}: ");
                if let Some(subject) = subject {
                    out.push_str(&format!("[{subject}] "));
                }
                match question {
                    Some(question) => out.push_str(&question.text_with_options(text)),
                    None => out.push_str(text),
                }
                for file in attachments {
                    out.push_str(&format!("\n  {file}"));
                }
                out
            }
            EntryKind::File { from, file, .. } => format!("{time} {from}: {file}"),
            EntryKind::Status(text) => format!("{time} * {text}"),
            EntryKind::Error(text) => format!("{time} ! {text}"),
            EntryKind::Info(text) => text.clone(),
        }
    }
}

/// One conversation: a person or a room, its entries and what is known of it.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub(super) address: Address,
    pub(super) entries: Vec<Entry>,
    pub(super) files: Vec<File>,
    pub(super) members: Vec<Address>,
    pub(super) unread: usize,
    pub(super) presence: Option<(Availability, Option<String>)>,
    pub(super) typing: Vec<(Address, Instant)>,
    /// The index in `entries` of the newest question someone else asked here.
    pub(super) last_question: Option<usize>,
}

impl Conversation {
    pub(super) fn new(address: Address) -> Self {
        Conversation {
            address,
            entries: Vec::new(),
            files: Vec::new(),
            members: Vec::new(),
            unread: 0,
            presence: None,
            typing: Vec::new(),
            last_question: None,
        }
    }

    /// The address: a person, or a room or group.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Whether this is a room or group (shared) rather than one person.
    pub fn is_room(&self) -> bool {
        self.address.kind().is_shared()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The members of a room, as its join and leave status changes told them.
    pub fn members(&self) -> &[Address] {
        &self.members
    }

    /// How many messages and files arrived while another conversation was shown.
    pub fn unread(&self) -> usize {
        self.unread
    }

    /// The last presence this person announced, and its status message.
    pub fn presence(&self) -> Option<&(Availability, Option<String>)> {
        self.presence.as_ref()
    }

    /// The question a typed line answers: the newest question someone else asked here, while
    /// the person has not answered it.
    pub fn open_question(&self) -> Option<&Question> {
        match &self.entries.get(self.last_question?)?.kind {
            EntryKind::Message {
                question: Some(question),
                ..
            } if question.answer.is_none() => Some(question),
            _ => None,
        }
    }

    /// The files of the conversation, in order: file number `N` of `/save N PATH` (and of the
    /// web window's download links) is `files()[N - 1]`.
    pub fn files(&self) -> &[File] {
        &self.files
    }

    /// Who is typing here now.
    pub fn typing(&self) -> impl Iterator<Item = &Address> {
        self.typing.iter().map(|(who, _)| who)
    }

    pub(super) fn add_file(&mut self, file: File) -> FileRef {
        self.files.push(file.clone());
        FileRef {
            number: self.files.len(),
            file,
        }
    }

    pub(super) fn stop_typing(&mut self, who: &Address) {
        self.typing.retain(|(w, _)| w != who);
    }
}

pub(crate) fn parse_availability(word: &str) -> Option<Availability> {
    Some(match word {
        "available" | "online" => Availability::Available,
        "chat" | "chatty" => Availability::Chatty,
        "away" => Availability::Away,
        "xa" | "extended-away" => Availability::ExtendedAway,
        "busy" | "dnd" => Availability::Busy,
        "offline" => Availability::Offline,
        _ => return None,
    })
}

/// The word a status line uses for `availability`.
pub(crate) fn availability_word(availability: Availability) -> &'static str {
    match availability {
        Availability::Offline => "offline",
        Availability::Available => "online",
        Availability::Chatty => "free to chat",
        Availability::Away => "away",
        Availability::ExtendedAway => "away for long",
        Availability::Busy => "busy",
        _ => "unknown",
    }
}

/// The word `/status` takes for `availability` (the first of its spellings).
pub(crate) fn availability_key(availability: Availability) -> &'static str {
    match availability {
        Availability::Offline => "offline",
        Availability::Available => "available",
        Availability::Chatty => "chat",
        Availability::Away => "away",
        Availability::ExtendedAway => "xa",
        Availability::Busy => "busy",
        // An availability `/status` has no word for: shown as online.
        _ => "available",
    }
}
