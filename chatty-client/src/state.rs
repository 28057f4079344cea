//! The chat window's model: conversations, the input line, and what the person's keys do.
//!
//! Nothing here touches a terminal or the network: [`ChatState::apply`] takes inbound signals,
//! [`ChatState::input`] takes keys, and both return the [`Action`]s the client then performs
//! through its [`Handle`](chatty_core::Handle).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{
    Address, AddressError, AddressKind, Availability, Body, Content, DownloadFile, FailureKind,
    File, Signal, SignalId, Status, StatusChange, Timestamp, TypingState, now,
};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// How long someone else's "typing" shows without news from them.
pub const TYPING_EXPIRY: Duration = Duration::from_secs(30);

/// How long after the person's last key their own "composing" turns to "paused".
pub const TYPING_PAUSE: Duration = Duration::from_secs(5);

/// At most one "composing" notification per conversation in this time while the person types.
pub const TYPING_REFRESH: Duration = Duration::from_secs(10);

/// How many lines the conversation scrolls per Page Up / Page Down.
pub const SCROLL_PAGE: usize = 10;

/// How many input lines the history keeps.
pub const HISTORY_LIMIT: usize = 500;

/// What the client does for the state, through its handle or on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this signal (a message, a status change, a typing notification, a download request).
    Send(Box<Signal>),
    /// Read the file at `path` and send it to `to`; [`ChatState::file_sent`] records it.
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
    /// Ask the session for the members of a room; [`ChatState::set_members`] records them.
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
                ..
            } => {
                let mut out = format!("{time} {from}: ");
                if let Some(subject) = subject {
                    out.push_str(&format!("[{subject}] "));
                }
                out.push_str(text);
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
    address: Address,
    entries: Vec<Entry>,
    files: Vec<File>,
    members: Vec<Address>,
    unread: usize,
    presence: Option<(Availability, Option<String>)>,
    typing: Vec<(Address, Instant)>,
}

impl Conversation {
    fn new(address: Address) -> Self {
        Conversation {
            address,
            entries: Vec::new(),
            files: Vec::new(),
            members: Vec::new(),
            unread: 0,
            presence: None,
            typing: Vec::new(),
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

    /// The files of the conversation, in order: file number `N` of `/save N PATH` (and of the
    /// web window's download links) is `files()[N - 1]`.
    pub fn files(&self) -> &[File] {
        &self.files
    }

    /// Who is typing here now.
    pub fn typing(&self) -> impl Iterator<Item = &Address> {
        self.typing.iter().map(|(who, _)| who)
    }

    fn add_file(&mut self, file: File) -> FileRef {
        self.files.push(file.clone());
        FileRef {
            number: self.files.len(),
            file,
        }
    }

    fn stop_typing(&mut self, who: &Address) {
        self.typing.retain(|(w, _)| w != who);
    }
}

/// The person's own typing notification: where, and when it was sent.
#[derive(Debug, Clone)]
struct OwnTyping {
    conversation: Address,
    sent_at: Instant,
    last_key: Instant,
}

/// The chat window's whole state; [`render`](crate::render) draws it.
///
/// ```
/// use chatty_client::{Action, ChatState};
/// use chatty_core::{Body, Signal};
/// use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
///
/// let mut state = ChatState::new();
/// state.open("direct:bot".parse().unwrap());
/// let mut hello = Signal::message("hello");
/// hello.meta.origin = Some("direct:bot".parse().unwrap());
/// state.apply(&hello);
/// assert!(state.current().unwrap().entries()[0].text().ends_with("bot: hello"));
///
/// let mut actions = Vec::new();
/// for c in "hi".chars() {
///     actions.extend(state.input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
/// }
/// actions.extend(state.input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
/// // A "composing" notification went out with the first key; Enter sends the message.
/// let message = actions.iter().find_map(|a| match a {
///     Action::Send(s) if matches!(s.body, Body::Message(_)) => Some(s),
///     _ => None,
/// });
/// assert_eq!(message.unwrap().meta.addressees[0].id(), "bot");
/// ```
#[derive(Debug, Clone)]
pub struct ChatState {
    own: Option<Address>,
    connection: Connection,
    conversations: Vec<Conversation>,
    current: Option<usize>,
    console: Vec<Entry>,
    input: String,
    cursor: usize,
    history: Vec<String>,
    history_pos: Option<usize>,
    draft: String,
    scroll: usize,
    sent: HashMap<SignalId, Address>,
    downloads: HashMap<SignalId, PathBuf>,
    own_typing: Option<OwnTyping>,
    /// Typing notifications sent: their failures are not worth an error line.
    quiet: HashSet<SignalId>,
}

impl Default for ChatState {
    fn default() -> Self {
        ChatState::new()
    }
}

/// The lines `/help` shows.
const HELP: &[&str] = &[
    "Type a message and press Enter to send it to the current conversation.",
    "/to ADDRESS          talk to ADDRESS (direct:bot, or just bot on your own platform)",
    "/join ROOM           join a room;  /leave [ROOM]  leave it",
    "/send PATH           send the file at PATH",
    "/save N PATH         save file number N of this conversation to PATH",
    "/status AVAILABILITY [MESSAGE]   available, chat, away, xa, busy or offline",
    "/help                this help;  /quit (or Ctrl-C) leaves",
    "Tab / Shift-Tab: next / previous conversation;  Up / Down: input history;",
    "Page Up / Page Down: scroll;  Esc: clear the input line;  // starts a message with /",
];

impl ChatState {
    /// An empty state: no conversation yet, not connected.
    pub fn new() -> Self {
        ChatState {
            own: None,
            connection: Connection::Connecting,
            conversations: Vec::new(),
            current: None,
            console: Vec::new(),
            input: String::new(),
            cursor: 0,
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            scroll: 0,
            sent: HashMap::new(),
            downloads: HashMap::new(),
            own_typing: None,
            quiet: HashSet::new(),
        }
    }

    // ---- reading the state -------------------------------------------------------------

    /// The window's own address, once a session has started.
    pub fn own_address(&self) -> Option<&Address> {
        self.own.as_ref()
    }

    /// The connection state.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Every conversation, in the order they were opened (the side list).
    pub fn conversations(&self) -> &[Conversation] {
        &self.conversations
    }

    /// The conversation shown, if any.
    pub fn current(&self) -> Option<&Conversation> {
        self.current.map(|i| &self.conversations[i])
    }

    /// The index of the conversation shown in [`conversations`](ChatState::conversations).
    pub fn current_index(&self) -> Option<usize> {
        self.current
    }

    /// The conversation with `address`, if there is one.
    pub fn conversation(&self, address: &Address) -> Option<&Conversation> {
        self.conversations.iter().find(|c| &c.address == address)
    }

    /// Lines shown while there is no conversation (help, errors before any conversation).
    pub fn console(&self) -> &[Entry] {
        &self.console
    }

    /// The entries shown now: the current conversation's, or the console's.
    pub fn shown_entries(&self) -> &[Entry] {
        match self.current() {
            Some(c) => c.entries(),
            None => &self.console,
        }
    }

    /// The input line.
    pub fn input_line(&self) -> &str {
        &self.input
    }

    /// The cursor's position in the input line, in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// How many lines the conversation is scrolled up from its end.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// How `address` is shown: its id on the window's own platform and session, else in full.
    pub fn display_name(&self, address: &Address) -> String {
        match &self.own {
            Some(own) if own == address => "you".to_owned(),
            Some(own)
                if own.platform() == address.platform() && own.session() == address.session() =>
            {
                address.id().to_owned()
            }
            _ => address.with_kind(AddressKind::Unknown).to_string(),
        }
    }

    // ---- changing the state ------------------------------------------------------------

    /// Opens (or finds) the conversation with `address` and shows it; returns its index.
    pub fn open(&mut self, address: Address) -> usize {
        let index = self.index_of(&address);
        self.switch_to(index);
        index
    }

    /// Shows the conversation at `index` (its unread count goes to zero).
    pub fn switch_to(&mut self, index: usize) {
        if index < self.conversations.len() {
            self.current = Some(index);
            self.conversations[index].unread = 0;
            self.scroll = 0;
        }
    }

    /// Adds an error line to the current conversation (or the console).
    pub fn error(&mut self, text: impl Into<String>) {
        self.notice(EntryKind::Error(text.into()));
    }

    /// Adds a line of the window's own to the current conversation (or the console).
    pub fn info(&mut self, text: impl Into<String>) {
        self.notice(EntryKind::Info(text.into()));
    }

    /// Records a file the person sends to `to` and returns the signal to send.
    pub fn file_sent(&mut self, to: &Address, file: File) -> Signal {
        let signal = Signal::new(file.clone()).to(to.clone());
        let index = self.index_of(to);
        let conversation = &mut self.conversations[index];
        let file = conversation.add_file(file);
        conversation.entries.push(Entry::now(EntryKind::File {
            from: "you".into(),
            mine: true,
            file,
        }));
        self.sent.insert(signal.meta.id.clone(), to.clone());
        signal
    }

    /// Sets the members of `room` as the session told them (join and leave lines update them
    /// from then on).
    pub fn set_members(&mut self, room: &Address, members: Vec<Address>) {
        let index = self.index_of(room);
        let conversation = &mut self.conversations[index];
        for member in members {
            if !conversation.members.contains(&member) {
                conversation.members.push(member);
            }
        }
        conversation.members.sort();
    }

    fn notice(&mut self, kind: EntryKind) {
        let entry = Entry::now(kind);
        match self.current {
            Some(i) => self.conversations[i].entries.push(entry),
            None => self.console.push(entry),
        }
    }

    fn index_of(&mut self, address: &Address) -> usize {
        if let Some(i) = self
            .conversations
            .iter()
            .position(|c| &c.address == address)
        {
            // A later signal may know the kind better (a room first seen as a bare address).
            let known = &mut self.conversations[i].address;
            if known.kind() == AddressKind::Unknown && address.kind() != AddressKind::Unknown {
                *known = address.clone();
            }
            return i;
        }
        self.conversations.push(Conversation::new(address.clone()));
        let index = self.conversations.len() - 1;
        if self.current.is_none() {
            self.current = Some(index);
        }
        index
    }

    /// Adds `entry` to the conversation at `index`; counts it unread if it is a message or
    /// file in a conversation not shown.
    fn push(&mut self, index: usize, entry: Entry) {
        let counts = matches!(
            entry.kind,
            EntryKind::Message { mine: false, .. } | EntryKind::File { mine: false, .. }
        );
        let shown = self.current == Some(index);
        let conversation = &mut self.conversations[index];
        conversation.entries.push(entry);
        if counts && !shown {
            conversation.unread += 1;
        }
    }

    fn is_own(&self, address: Option<&Address>) -> bool {
        matches!((address, &self.own), (Some(a), Some(own)) if a == own)
    }

    /// The conversation a person-to-person signal belongs to: the room it was said in, else
    /// the other party.
    fn conversation_of(&self, signal: &Signal) -> Option<Address> {
        if let Some(room) = signal.meta.visible_to.iter().find(|a| a.kind().is_shared()) {
            return Some(room.clone());
        }
        if self.is_own(signal.meta.origin.as_ref()) {
            return signal.meta.addressees.first().cloned();
        }
        signal.meta.origin.clone()
    }

    fn time_of(signal: &Signal) -> Timestamp {
        signal
            .meta
            .sent
            .or(signal.meta.received)
            .unwrap_or_else(now)
    }

    fn sender(&self, signal: &Signal) -> String {
        signal
            .meta
            .origin
            .as_ref()
            .map_or_else(|| "?".to_owned(), |a| self.display_name(a))
    }

    /// Shows an inbound signal; returns what the client must do about it (save a downloaded
    /// file).
    pub fn apply(&mut self, signal: &Signal) -> Vec<Action> {
        let time = Self::time_of(signal);
        let from = self.sender(signal);
        let mine = self.is_own(signal.meta.origin.as_ref());
        match &signal.body {
            Body::Message(m) => {
                let Some(address) = self.conversation_of(signal) else {
                    self.notice(EntryKind::Message {
                        from,
                        mine,
                        subject: m.subject.clone(),
                        text: m.text.clone(),
                        attachments: Vec::new(),
                    });
                    return Vec::new();
                };
                let index = self.index_of(&address);
                let conversation = &mut self.conversations[index];
                if let Some(origin) = &signal.meta.origin {
                    conversation.stop_typing(origin);
                }
                let attachments = m
                    .attachments
                    .iter()
                    .map(|f| conversation.add_file(f.clone()))
                    .collect();
                let entry = Entry {
                    time,
                    kind: EntryKind::Message {
                        from,
                        mine,
                        subject: m.subject.clone(),
                        text: m.text.clone(),
                        attachments,
                    },
                };
                self.push(index, entry);
            }
            Body::File(file) => {
                if let Some(path) = signal
                    .meta
                    .response_to
                    .as_ref()
                    .and_then(|id| self.downloads.remove(id))
                {
                    return match &file.content {
                        Content::Bytes { data } => vec![Action::SaveFile {
                            path,
                            data: data.clone(),
                        }],
                        Content::Url { .. } => {
                            self.error(format!("the download of {} gave no bytes", file.name));
                            Vec::new()
                        }
                    };
                }
                let Some(address) = self.conversation_of(signal) else {
                    self.error(format!("a file from nowhere: {}", file.name));
                    return Vec::new();
                };
                let index = self.index_of(&address);
                let conversation = &mut self.conversations[index];
                if let Some(origin) = &signal.meta.origin {
                    conversation.stop_typing(origin);
                }
                let file = conversation.add_file(file.clone());
                self.push(
                    index,
                    Entry {
                        time,
                        kind: EntryKind::File { from, mine, file },
                    },
                );
            }
            Body::SendFailure(failure) => {
                if let Some(path) = self.downloads.remove(&failure.failed) {
                    self.error(format!(
                        "could not download to {}: {}",
                        path.display(),
                        failure.message
                    ));
                    return Vec::new();
                }
                if self.quiet.remove(&failure.failed) {
                    return Vec::new();
                }
                let text = format!(
                    "not delivered: {} ({})",
                    failure.message,
                    failure_word(failure.kind)
                );
                match self.sent.get(&failure.failed).cloned() {
                    Some(address) => {
                        let index = self.index_of(&address);
                        self.push(index, Entry::now(EntryKind::Error(text)));
                    }
                    None => self.error(text),
                }
            }
            Body::StatusChange(change) => self.status_change(signal, change, time, from),
            Body::UserDefined(u) => {
                let text = format!("{from} sent <{}> {}", u.name, u.payload);
                match self.conversation_of(signal) {
                    Some(address) => {
                        let index = self.index_of(&address);
                        self.push(index, Entry::now(EntryKind::Status(text)));
                    }
                    None => self.notice(EntryKind::Status(text)),
                }
            }
            Body::ConnectionError(e) => {
                let retrying = e.retry_in.is_some();
                self.connection = Connection::Failed {
                    cause: e.cause.clone(),
                    retrying,
                };
                let retry = e
                    .retry_in
                    .map(|d| format!(", retrying in {}s", d.as_secs()))
                    .unwrap_or_default();
                self.error(format!("connection error: {}{retry}", e.cause));
            }
            Body::SessionStarted(s) => {
                self.own = signal.meta.origin.clone();
                self.connection = Connection::Connected {
                    platform: s.platform.clone(),
                };
                let who = self
                    .own
                    .as_ref()
                    .map(|a| a.with_kind(AddressKind::Unknown).to_string())
                    .unwrap_or_default();
                self.notice(EntryKind::Status(format!(
                    "connected to {} as {who}",
                    s.platform
                )));
            }
            Body::SessionAboutToEnd(end) => {
                self.connection = Connection::Ending;
                self.notice(EntryKind::Status(format!(
                    "the session is about to end{}",
                    reason(&end.reason)
                )));
            }
            Body::SessionEnded(end) => {
                self.connection = Connection::Ended;
                self.notice(EntryKind::Status(format!(
                    "the session ended{}",
                    reason(&end.reason)
                )));
            }
            Body::SystemError(e) => self.error(format!("{}: {}", e.component, e.message)),
            Body::Unsupported(u) => {
                let text = format!("not sent: {}", u.reason);
                let inner = &u.signal;
                let target = inner
                    .route_addresses()
                    .first()
                    .map(|a| (*a).clone())
                    .or_else(|| self.sent.get(&inner.meta.id).cloned());
                match target {
                    Some(address) => {
                        let index = self.index_of(&address);
                        self.push(index, Entry::now(EntryKind::Error(text)));
                    }
                    None => self.error(text),
                }
            }
            Body::InitiateSessionEnd(_) | Body::DownloadFile(_) => {
                self.error(format!("unexpected {:?} signal from {from}", signal.kind()));
            }
        }
        Vec::new()
    }

    fn status_change(
        &mut self,
        signal: &Signal,
        change: &StatusChange,
        time: Timestamp,
        from: String,
    ) {
        let origin = signal.meta.origin.clone();
        let mine = self.is_own(origin.as_ref());
        let message = change
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        match &change.status {
            Status::Presence { availability } => {
                let Some(origin) = origin else { return };
                if mine {
                    return;
                }
                let index = self.index_of(&origin);
                let conversation = &mut self.conversations[index];
                conversation.presence = Some((*availability, change.message.clone()));
                if *availability == Availability::Offline {
                    conversation.typing.clear();
                }
                let text = format!("{from} is {}{message}", availability_word(*availability));
                self.push(
                    index,
                    Entry {
                        time,
                        kind: EntryKind::Status(text),
                    },
                );
            }
            Status::InRoom { room, present, .. } => {
                let room = if room.kind() == AddressKind::Unknown {
                    room.with_kind(AddressKind::Channel)
                } else {
                    room.clone()
                };
                let index = self.index_of(&room);
                let conversation = &mut self.conversations[index];
                if let Some(origin) = &origin {
                    if *present {
                        if !conversation.members.contains(origin) {
                            conversation.members.push(origin.clone());
                            conversation.members.sort();
                        }
                    } else if mine {
                        conversation.members.clear();
                    } else {
                        conversation.members.retain(|m| m != origin);
                        conversation.stop_typing(origin);
                    }
                }
                let verb = if *present { "joined" } else { "left" };
                let text = format!("{from} {verb} {}{message}", room.id());
                self.push(
                    index,
                    Entry {
                        time,
                        kind: EntryKind::Status(text),
                    },
                );
            }
            Status::Typing {
                conversation,
                state,
            } => {
                let Some(origin) = origin else { return };
                if mine {
                    return;
                }
                let address = if conversation.kind().is_shared() {
                    conversation.clone()
                } else {
                    self.conversation_of(signal).unwrap_or(origin.clone())
                };
                let index = self.index_of(&address);
                let conversation = &mut self.conversations[index];
                conversation.stop_typing(&origin);
                if *state == TypingState::Composing {
                    conversation
                        .typing
                        .push((origin, Instant::now() + TYPING_EXPIRY));
                }
            }
        }
    }

    /// Lets time pass: others' typing indicators expire, and the person's own "composing" turns
    /// to "paused" after [`TYPING_PAUSE`] without a key. Returns the notifications to send.
    pub fn tick(&mut self, at: Instant) -> Vec<Action> {
        for conversation in &mut self.conversations {
            conversation.typing.retain(|(_, until)| *until > at);
        }
        match &self.own_typing {
            Some(t) if at.saturating_duration_since(t.last_key) >= TYPING_PAUSE => {
                self.stop_typing(TypingState::Paused)
            }
            _ => Vec::new(),
        }
    }

    // ---- keys --------------------------------------------------------------------------

    /// Handles a key; returns what the client must do.
    pub fn input(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return vec![Action::Quit],
            KeyCode::Char('d') if ctrl && self.input.is_empty() => return vec![Action::Quit],
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.input.chars().count(),
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                self.cursor = 0;
                return self.after_edit();
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                let at = self.byte_index();
                self.input.insert(at, c);
                self.cursor += 1;
                return self.after_edit();
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_index();
                self.input.remove(at);
                return self.after_edit();
            }
            KeyCode::Delete if self.cursor < self.input.chars().count() => {
                let at = self.byte_index();
                self.input.remove(at);
                return self.after_edit();
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.input.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.input.chars().count(),
            KeyCode::Up => self.history_back(),
            KeyCode::Down => self.history_forward(),
            KeyCode::Tab => self.cycle(1),
            KeyCode::BackTab => self.cycle(-1),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_add(SCROLL_PAGE),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(SCROLL_PAGE),
            KeyCode::Esc => {
                self.input.clear();
                self.cursor = 0;
                self.history_pos = None;
                return self.after_edit();
            }
            KeyCode::Enter => return self.submit(),
            _ => {}
        }
        Vec::new()
    }

    /// Replaces the whole input line with `text` (control characters become spaces), the cursor
    /// at its end: how a window with its own input box (the web window) reports what the person
    /// types. Returns the typing notifications that follow, as for keys.
    pub fn set_input(&mut self, text: &str) -> Vec<Action> {
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text == self.input {
            return Vec::new();
        }
        self.input = text;
        self.cursor = self.input.chars().count();
        self.history_pos = None;
        self.after_edit()
    }

    /// Submits `line` as if it were typed and Enter pressed: a message to the current
    /// conversation, or a command (`/to`, `/join`, `/status`, …). The input line is cleared.
    pub fn submit_line(&mut self, line: &str) -> Vec<Action> {
        let line: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.cursor = line.chars().count();
        self.input = line;
        self.submit()
    }

    /// Inserts pasted text at the cursor (line breaks become spaces).
    pub fn paste(&mut self, text: &str) -> Vec<Action> {
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let at = self.byte_index();
        self.input.insert_str(at, &text);
        self.cursor += text.chars().count();
        self.after_edit()
    }

    /// Limits the scroll offset to what the conversation has: `max` lines above the window.
    pub fn clamp_scroll(&mut self, max: usize) {
        self.scroll = self.scroll.min(max);
    }

    fn byte_index(&self) -> usize {
        self.input
            .char_indices()
            .nth(self.cursor)
            .map_or(self.input.len(), |(i, _)| i)
    }

    fn cycle(&mut self, step: isize) {
        let n = self.conversations.len();
        if n == 0 {
            return;
        }
        let next = match self.current {
            Some(i) => (i as isize + step).rem_euclid(n as isize) as usize,
            None => 0,
        };
        self.switch_to(next);
    }

    fn history_back(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let pos = match self.history_pos {
            None => {
                self.draft = self.input.clone();
                self.history.len() - 1
            }
            Some(p) => p.saturating_sub(1),
        };
        self.history_pos = Some(pos);
        self.input = self.history[pos].clone();
        self.cursor = self.input.chars().count();
    }

    fn history_forward(&mut self) {
        let Some(pos) = self.history_pos else { return };
        if pos + 1 < self.history.len() {
            self.history_pos = Some(pos + 1);
            self.input = self.history[pos + 1].clone();
        } else {
            self.history_pos = None;
            self.input = std::mem::take(&mut self.draft);
        }
        self.cursor = self.input.chars().count();
    }

    /// Typing notifications after the input line changed.
    fn after_edit(&mut self) -> Vec<Action> {
        let Some(conversation) = self.current().map(|c| c.address.clone()) else {
            return Vec::new();
        };
        if self.input.trim().is_empty()
            || self.input.starts_with('/') && !self.input.starts_with("//")
        {
            return self.stop_typing(TypingState::Paused);
        }
        let at = Instant::now();
        match &mut self.own_typing {
            Some(t) if t.conversation == conversation => {
                t.last_key = at;
                if at.saturating_duration_since(t.sent_at) >= TYPING_REFRESH {
                    t.sent_at = at;
                    return vec![self.typing(&conversation, TypingState::Composing)];
                }
                Vec::new()
            }
            _ => {
                let mut actions = self.stop_typing(TypingState::Paused);
                self.own_typing = Some(OwnTyping {
                    conversation: conversation.clone(),
                    sent_at: at,
                    last_key: at,
                });
                actions.push(self.typing(&conversation, TypingState::Composing));
                actions
            }
        }
    }

    /// A typing notification for `conversation`, whose failure will not show.
    fn typing(&mut self, conversation: &Address, state: TypingState) -> Action {
        let signal = Signal::new(StatusChange::new(Status::Typing {
            conversation: conversation.clone(),
            state,
        }));
        if self.quiet.len() >= 1024 {
            self.quiet.clear();
        }
        self.quiet.insert(signal.meta.id.clone());
        Action::Send(Box::new(signal))
    }

    fn stop_typing(&mut self, state: TypingState) -> Vec<Action> {
        match self.own_typing.take() {
            Some(t) => vec![self.typing(&t.conversation, state)],
            None => Vec::new(),
        }
    }

    fn submit(&mut self) -> Vec<Action> {
        let line = std::mem::take(&mut self.input);
        self.cursor = 0;
        self.history_pos = None;
        self.draft.clear();
        if line.trim().is_empty() {
            return self.stop_typing(TypingState::Paused);
        }
        if self.history.last() != Some(&line) {
            self.history.push(line.clone());
            if self.history.len() > HISTORY_LIMIT {
                self.history.remove(0);
            }
        }
        self.scroll = 0;
        match line.strip_prefix('/') {
            Some(command) if !command.starts_with('/') => {
                let mut actions = self.stop_typing(TypingState::Paused);
                actions.extend(self.command(command.trim()));
                actions
            }
            Some(literal) => self.send_text(literal),
            None => self.send_text(&line),
        }
    }

    fn send_text(&mut self, text: &str) -> Vec<Action> {
        let Some(index) = self.current else {
            self.error("no conversation to send to: /to ADDRESS opens one");
            return Vec::new();
        };
        let to = self.conversations[index].address.clone();
        let signal = Signal::message(text).to(to.clone());
        self.sent.insert(signal.meta.id.clone(), to);
        self.push(
            index,
            Entry::now(EntryKind::Message {
                from: "you".into(),
                mine: true,
                subject: None,
                text: text.to_owned(),
                attachments: Vec::new(),
            }),
        );
        let mut actions = vec![Action::Send(Box::new(signal))];
        actions.extend(self.stop_typing(TypingState::Active));
        actions
    }

    /// Parses an address as typed: in full (`xmpp:alice@example.org`), or a bare id on the
    /// window's own platform and session (`bot` for `direct:bot`).
    pub fn parse_address(&self, text: &str) -> Result<Address, AddressError> {
        match text.parse::<Address>() {
            Err(AddressError::MissingColon(_)) if self.own.is_some() => {
                let own = self.own.as_ref().expect("checked");
                match own.session() {
                    Some(session) => Address::with_session(own.platform(), session, text),
                    None => Address::new(own.platform(), text),
                }
            }
            other => other,
        }
    }

    fn command(&mut self, command: &str) -> Vec<Action> {
        let (name, rest) = command
            .split_once(char::is_whitespace)
            .map_or((command, ""), |(n, r)| (n, r.trim()));
        match name {
            "help" => {
                for line in HELP {
                    self.info(*line);
                }
            }
            "quit" | "exit" => return vec![Action::Quit],
            "to" if rest.is_empty() => self.error("usage: /to ADDRESS"),
            "to" => match self.parse_address(rest) {
                Ok(address) => {
                    self.open(address);
                }
                Err(e) => self.error(format!("/to: {e}")),
            },
            "join" | "leave" => return self.room_command(name == "join", rest),
            "send" => {
                if rest.is_empty() {
                    self.error("usage: /send PATH");
                } else if let Some(to) = self.current().map(|c| c.address.clone()) {
                    return vec![Action::SendFile {
                        to,
                        path: PathBuf::from(rest),
                    }];
                } else {
                    self.error("no conversation to send to: /to ADDRESS opens one");
                }
            }
            "save" => return self.save(rest),
            "status" => {
                let (word, message) = rest
                    .split_once(char::is_whitespace)
                    .map_or((rest, ""), |(w, m)| (w, m.trim()));
                let Some(availability) = parse_availability(word) else {
                    self.error(format!(
                        "/status: `{word}` is not an availability: available, chat, away, xa, busy or offline"
                    ));
                    return Vec::new();
                };
                let mut change = StatusChange::new(Status::Presence { availability });
                if !message.is_empty() {
                    change.message = Some(message.to_owned());
                }
                self.info(format!(
                    "you are {}{}",
                    availability_word(availability),
                    change
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ));
                return vec![Action::Send(Box::new(Signal::new(change)))];
            }
            other => self.error(format!(
                "unknown command /{other}: /help lists the commands"
            )),
        }
        Vec::new()
    }

    fn room_command(&mut self, join: bool, rest: &str) -> Vec<Action> {
        let room = if rest.is_empty() {
            match self.current() {
                Some(c) if c.is_room() && !join => c.address.clone(),
                _ => {
                    self.error(if join {
                        "usage: /join ROOM"
                    } else {
                        "usage: /leave ROOM (or /leave in a room)"
                    });
                    return Vec::new();
                }
            }
        } else {
            match self.parse_address(rest) {
                Ok(a) if a.kind() == AddressKind::Unknown => a.with_kind(AddressKind::Channel),
                Ok(a) => a,
                Err(e) => {
                    self.error(format!("/{}: {e}", if join { "join" } else { "leave" }));
                    return Vec::new();
                }
            }
        };
        if join {
            self.open(room.clone());
        }
        let change = StatusChange::new(Status::InRoom {
            room: room.clone(),
            present: join,
            role: None,
        });
        let mut actions = vec![Action::Send(Box::new(Signal::new(change)))];
        if join {
            actions.push(Action::AskMembers { room });
        }
        actions
    }

    fn save(&mut self, rest: &str) -> Vec<Action> {
        let Some((number, path)) = rest
            .split_once(char::is_whitespace)
            .map(|(n, p)| (n, p.trim()))
        else {
            self.error("usage: /save N PATH");
            return Vec::new();
        };
        let Some(index) = self.current else {
            self.error("/save: no conversation is shown");
            return Vec::new();
        };
        let files = &self.conversations[index].files;
        let file = match number.parse::<usize>() {
            Ok(n) if n >= 1 && n <= files.len() => files[n - 1].clone(),
            _ => {
                let count = files.len();
                self.error(format!(
                    "/save: no file {number} here (this conversation has {count} files)"
                ));
                return Vec::new();
            }
        };
        let path = PathBuf::from(path);
        match &file.content {
            Content::Bytes { data } => vec![Action::SaveFile {
                path,
                data: data.clone(),
            }],
            Content::Url { .. } => {
                let to = self.own.clone();
                let mut request = Signal::new(DownloadFile { file: file.clone() });
                if let Some(own) = to {
                    request = request.to(own);
                }
                self.info(format!("downloading {} to {}…", file.name, path.display()));
                self.downloads.insert(request.meta.id.clone(), path);
                vec![Action::Send(Box::new(request))]
            }
        }
    }
}

fn reason(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

fn failure_word(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::UnknownAddressee => "unknown addressee",
        FailureKind::Rejected => "rejected",
        FailureKind::TooLarge => "too large",
        FailureKind::RateLimited => "rate limited",
        FailureKind::Unreachable => "unreachable",
        FailureKind::Bounced => "bounced",
        FailureKind::Other => "other",
    }
}

fn parse_availability(word: &str) -> Option<Availability> {
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
    }
}
