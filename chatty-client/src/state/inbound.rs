//! Inbound signals: what each one shows, and the clock that expires typing indicators.

use std::time::Instant;

use chatty_core::{
    AddressKind, Availability, Body, Content, FailureKind, SendError, Signal, SignalId, Status,
    StatusChange, Timestamp, TypingState,
};

use super::entries::{Action, Connection, Entry, EntryKind, Question, availability_word};
use super::{ChatState, TYPING_EXPIRY, TYPING_PAUSE};

impl ChatState {
    /// Shows an inbound signal; returns what the client must do about it (save a downloaded
    /// file).
    pub fn apply(&mut self, signal: &Signal) -> Vec<Action> {
        let time = Self::time_of(signal);
        let from = self.sender(signal);
        let mine = self.is_own(signal.meta.origin.as_ref());
        match &signal.body {
            Body::Message(m) => {
                // A question shows its options (a choice without options asks nothing).
                let question = m
                    .choice
                    .as_ref()
                    .filter(|c| !c.options.is_empty())
                    .map(|choice| Question {
                        message: signal.meta.id.clone(),
                        choice: choice.clone(),
                        answer: None,
                    });
                let Some(address) = self.conversation_of(signal) else {
                    self.notice(EntryKind::Message {
                        from,
                        mine,
                        subject: m.subject.clone(),
                        text: m.text.clone(),
                        attachments: Vec::new(),
                        question,
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
                        question,
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
                        _ => {
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
                let text = format!(
                    "not delivered: {} ({})",
                    failure.message,
                    failure_word(failure.kind)
                );
                self.failed(&failure.failed, &failure.message, text);
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
                self.failed(&u.refused, &u.reason, format!("not sent: {}", u.reason));
            }
            _ => {
                self.error(format!("unexpected {:?} signal from {from}", signal.kind()));
            }
        }
        Vec::new()
    }

    /// Shows that the signal `id` the person sent went nowhere: `text` in the conversation it
    /// was sent to (else the one shown), "could not download" with `why` for a download
    /// request, nothing for a typing notification.
    pub(super) fn failed(&mut self, id: &SignalId, why: &str, text: String) {
        if let Some(path) = self.downloads.remove(id) {
            self.error(format!("could not download to {}: {why}", path.display()));
            return;
        }
        if self.quiet.remove(id) {
            return;
        }
        self.reopen(id);
        match self.sent.get(id).cloned() {
            Some(address) => {
                let index = self.index_of(&address);
                self.push(index, Entry::now(EntryKind::Error(text)));
            }
            None => self.error(text),
        }
    }

    /// Shows that the send of the signal `id` was refused at once (nothing was sent), where a
    /// failure that came back for it would show: a line beginning "not sent:" saying why, in the
    /// conversation it was for.
    ///
    /// ```
    /// use chatty_client::ChatState;
    /// use chatty_core::SendError;
    ///
    /// let mut state = ChatState::new();
    /// state.open("direct:bot".parse().unwrap());
    /// let error = SendError::NoRoute { address: "xmpp:bob@example.org".parse().unwrap() };
    /// state.refused(&"m1".into(), &error);
    /// assert!(state.shown_entries()[0].text().ends_with(
    ///     "! not sent: no connection reaches xmpp:bob@example.org"
    /// ));
    /// ```
    pub fn refused(&mut self, id: &SignalId, error: &SendError) {
        let why = refusal_text(error);
        self.failed(id, &why, format!("not sent: {why}"));
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
            _ => {}
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
}

fn reason(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

/// Why a send was refused, in the person's words.
fn refusal_text(error: &SendError) -> String {
    match error {
        SendError::NoRoute { address } => format!("no connection reaches {address}"),
        SendError::Unsupported { reason } => reason.clone(),
        SendError::Refused(refusal) => {
            format!("{} ({})", refusal.message, failure_word(refusal.kind))
        }
        SendError::Closed => "the connection is closed".to_owned(),
        other => other.to_string(),
    }
}

fn failure_word(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::UnknownAddressee => "unknown addressee",
        FailureKind::Rejected => "rejected",
        FailureKind::TooLarge => "too large",
        FailureKind::RateLimited => "rate limited",
        FailureKind::Unreachable => "unreachable",
        FailureKind::Bounced => "bounced",
        _ => "other",
    }
}
