//! A submitted line: a message to the current conversation, or one of the window's commands.

use std::path::PathBuf;

use chatty_core::{
    Address, AddressError, AddressKind, Content, DownloadFile, Signal, Status, StatusChange,
    TypingState,
};

use super::entries::{Action, Entry, EntryKind, availability_word, parse_availability};
use super::{ChatState, HISTORY_LIMIT};

/// The lines `/help` shows.
const HELP: &[&str] = &[
    "Type a message and press Enter to send it to the current conversation.",
    "/to ADDRESS          talk to ADDRESS (direct:bot, or just bot on your own platform)",
    "/join ROOM           join a room;  /leave [ROOM]  leave it",
    "/send PATH           send the file at PATH",
    "/save N PATH         save file number N of this conversation to PATH",
    "/status AVAILABILITY [MESSAGE]   available, chat, away, xa, busy or offline",
    "A question's options are numbered lines: type a number or a label to answer it.",
    "/help                this help;  /quit (or Ctrl-C) leaves",
    "Any other /command goes to the conversation as it is (a bot's /time, /whoami);",
    "  a line starting with // sends the rest with one / (//help sends /help to the bot).",
    "Tab / Shift-Tab: next / previous conversation;  Up / Down: input history;",
    "Page Up / Page Down: scroll;  Esc: clear the input line",
];

impl ChatState {
    pub(super) fn submit(&mut self) -> Vec<Action> {
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
            None => self.send_line(&line),
        }
    }

    pub(super) fn send_text(&mut self, text: &str) -> Vec<Action> {
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
                question: None,
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
                self.own_presence = Some((availability, change.message.clone()));
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
            // Not the window's: a command for whoever is at the other end (a bot's `/time`).
            _ if self.current.is_some() => return self.send_text(&format!("/{command}")),
            other => self.error(format!(
                "/{other} is not a command of this window, and there is no conversation to send it to: /to ADDRESS opens one, /help lists the commands"
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
                let mut request = Signal::new(DownloadFile::new(file.clone()));
                if let Some(own) = to {
                    request = request.to(own);
                }
                self.info(format!("downloading {} to {}…", file.name, path.display()));
                self.downloads.insert(request.meta.id.clone(), path);
                vec![Action::Send(Box::new(request))]
            }
            _ => {
                self.error(format!("/save: {} cannot be saved", file.name));
                Vec::new()
            }
        }
    }
}
