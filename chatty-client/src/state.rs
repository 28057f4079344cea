//! The chat window's model: conversations, the input line, and what the person's keys do.
//!
//! Nothing here touches a terminal or the network: [`ChatState::apply`] takes inbound signals,
//! [`ChatState::input`] takes keys, and both return the [`Action`]s the client then performs
//! through its [`Handle`](chatty_core::Handle).
//!
//! The model is split by concern: what it shows (`entries`), inbound signals (`inbound`), keys
//! and the input line (`keys`), the commands of a submitted line (`commands`), and answers to
//! questions with options (`answers`).

mod answers;
mod commands;
mod entries;
mod inbound;
mod keys;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chatty_core::{Address, AddressKind, Availability, File, Signal, SignalId, Timestamp, now};

pub use entries::{Action, Connection, Conversation, Entry, EntryKind, FileRef, Question};
pub(crate) use entries::{availability_key, availability_word};

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
    /// Answers sent to questions: where the question is (conversation, entry), to open it
    /// again if the answer does not arrive.
    answers: HashMap<SignalId, (usize, usize)>,
    downloads: HashMap<SignalId, PathBuf>,
    own_typing: Option<OwnTyping>,
    /// Typing notifications sent: their failures are not worth an error line.
    quiet: HashSet<SignalId>,
    /// The presence the person last set (`/status`), and its message.
    own_presence: Option<(Availability, Option<String>)>,
}

impl Default for ChatState {
    fn default() -> Self {
        ChatState::new()
    }
}

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
            answers: HashMap::new(),
            downloads: HashMap::new(),
            own_typing: None,
            quiet: HashSet::new(),
            own_presence: None,
        }
    }

    // ---- reading the state -------------------------------------------------------------

    /// The window's own address, once a session has started.
    pub fn own_address(&self) -> Option<&Address> {
        self.own.as_ref()
    }

    /// The presence the person last set with `/status` (none before), and its message.
    pub fn own_presence(&self) -> Option<&(Availability, Option<String>)> {
        self.own_presence.as_ref()
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
        let asks = matches!(
            entry.kind,
            EntryKind::Message {
                mine: false,
                question: Some(_),
                ..
            }
        );
        let shown = self.current == Some(index);
        let conversation = &mut self.conversations[index];
        if asks {
            conversation.last_question = Some(conversation.entries.len());
        }
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
}
