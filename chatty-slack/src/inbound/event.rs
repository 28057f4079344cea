//! Inbound mapping: the `event` of an Events API payload (the JSON Slack documents at
//! api.slack.com/events/…) as a signal. It works on the raw JSON, never on a typed model, so a
//! field a typed model would refuse (metadata with numbers or objects, a new field) loses
//! nothing.

use chatty_core::reexports::serde_json::{self, Value};
use chatty_core::{
    AddressKind, Automatic, Body, Content, Edit, EditKind, File, Message, Metadata, Signal,
    SignalId, Status, StatusChange, UserDefined,
};

use super::reaction::NotMapped;
use crate::choice;
use crate::ids::{BLOCK_ID_PREFIX, EVENT_TYPE_MESSAGE, Ids, Place, native_id, ts_time};
use crate::mapper::Mapper;
use crate::text::{mentions, mrkdwn_to_html, unescape};

/// Slackbot's user id: its messages (reminders, notices) are automatic.
const SLACKBOT: &str = "USLACKBOT";

/// What an inbound event becomes.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A signal, and the place of the message it is or edits (to remember its id).
    Signal(Box<Signal>, Option<Place>),
    /// Nothing for the bot (its own message, an event it does not map), with the reason.
    Skip(&'static str),
    /// A malformed event: a system error for the bot.
    Malformed(String),
}

/// A non-empty string field.
pub(crate) fn text_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Who sent a message: its `user`, or the `bot_id` of a bot without a user.
pub(crate) fn sender_of(message: &Value) -> Option<&str> {
    text_of(message, "user").or_else(|| text_of(message, "bot_id"))
}

/// Whether a machine sent a message: Slackbot's are generated (reminders, notices), other
/// bots' (`bot_id`, subtype `bot_message`) are a bot's.
fn automatic_of(message: &Value) -> Option<Automatic> {
    if text_of(message, "user") == Some(SLACKBOT) {
        return Some(Automatic::Generated);
    }
    let bot =
        text_of(message, "bot_id").is_some() || text_of(message, "subtype") == Some("bot_message");
    bot.then_some(Automatic::Bot)
}

impl Mapper {
    /// Maps the `event` of an `event_callback` payload (api.slack.com/apis/events-api#callback-
    /// field).
    pub(crate) fn inbound(&self, event: &Value, ids: &Ids) -> Inbound {
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return Inbound::Malformed("an event without a type".into());
        };
        match kind {
            "message" => match event.get("subtype").and_then(Value::as_str) {
                None | Some("bot_message" | "thread_broadcast" | "file_share" | "me_message") => {
                    self.message(event, ids)
                }
                Some("message_changed") => self.changed(event, ids),
                Some("message_deleted") => self.deleted(event, ids),
                Some(_) => Inbound::Skip("a message subtype that is not a message of a person"),
            },
            "app_mention" => self.message(event, ids),
            "member_joined_channel" | "member_left_channel" => self.membership(kind, event),
            "reaction_added" | "reaction_removed" => {
                match self.reaction(kind == "reaction_added", event, ids) {
                    Ok(signal) => Inbound::Signal(Box::new(signal), None),
                    Err(NotMapped::Skip(why)) => Inbound::Skip(why),
                    Err(NotMapped::Malformed(why)) => Inbound::Malformed(why),
                }
            }
            _ => Inbound::Skip("an event the session does not map"),
        }
    }

    /// `member_joined_channel` / `member_left_channel` as an `InRoom` status change.
    fn membership(&self, kind: &str, event: &Value) -> Inbound {
        let (Some(user), Some(channel)) = (text_of(event, "user"), text_of(event, "channel"))
        else {
            return Inbound::Malformed(format!("{kind} without user or channel"));
        };
        let channel_type = match text_of(event, "channel_type") {
            Some("G") => Some("group"),
            _ => Some("channel"),
        };
        let (Some(room), Some(origin)) = (
            self.conversation(channel, channel_type),
            self.address(user, AddressKind::Individual),
        ) else {
            return Inbound::Malformed(format!("{kind} with invalid ids"));
        };
        let mut signal = Signal::new(StatusChange::new(Status::InRoom {
            room: room.clone(),
            present: kind == "member_joined_channel",
            role: None,
        }));
        // The same each time Slack sends the event (the intake uses its event_id when the
        // payload has one).
        let event_ts = text_of(event, "event_ts");
        signal.meta.id = SignalId::from(format!(
            "{channel}/{}/{kind}/{user}",
            event_ts.unwrap_or_default()
        ));
        signal.meta.origin = Some(origin);
        signal.meta.visible_to = vec![room];
        signal.meta.sent = event_ts.and_then(ts_time);
        Inbound::Signal(Box::new(signal), None)
    }

    /// Whether a message is the bot's own (by its user id or bot id).
    pub(crate) fn is_own(&self, message: &Value) -> bool {
        self.is_bot(text_of(message, "user"), text_of(message, "bot_id"))
    }

    /// The signal id and `response_to` that the session's metadata or block ids carry.
    pub(crate) fn carried(message: &Value) -> (Option<SignalId>, Option<SignalId>, Option<char>) {
        if let Some(meta) = message.get("metadata")
            && let Some(payload) = meta.get("event_payload")
        {
            let id = text_of(payload, "chatty_id").map(SignalId::from);
            let response = text_of(payload, "chatty_response_to").map(SignalId::from);
            if id.is_some() {
                return (id, response, None);
            }
        }
        if let Some(blocks) = message.get("blocks").and_then(Value::as_array) {
            for block in blocks {
                if let Some(rest) =
                    text_of(block, "block_id").and_then(|b| b.strip_prefix(BLOCK_ID_PREFIX))
                    && let Some((mark, id)) = rest.split_once(':')
                    && let Some(mark) = mark.chars().next()
                    && !id.is_empty()
                {
                    return (Some(SignalId::from(id)), None, Some(mark));
                }
            }
        }
        (None, None, None)
    }

    /// `message` (api.slack.com/events/message), its `file_share`, `bot_message`,
    /// `thread_broadcast` subtypes, and `app_mention`.
    fn message(&self, event: &Value, ids: &Ids) -> Inbound {
        if self.is_own(event) {
            return Inbound::Skip("the bot's own message");
        }
        self.any_message(event, ids)
    }

    /// A message, the bot's own included (for history).
    fn any_message(&self, event: &Value, ids: &Ids) -> Inbound {
        let (Some(channel), Some(ts)) = (text_of(event, "channel"), text_of(event, "ts")) else {
            return Inbound::Malformed("a message without channel or ts".into());
        };
        let Some(origin) = sender_of(event).and_then(|s| self.address(s, AddressKind::Individual))
        else {
            return Inbound::Malformed(format!("a message in {channel} without a valid sender"));
        };
        let channel_type = text_of(event, "channel_type");
        let Some(conversation) = self.conversation(channel, channel_type) else {
            return Inbound::Malformed(format!("a message in an invalid channel `{channel}`"));
        };
        let direct = conversation.kind() == AddressKind::Individual;
        let text = unescape(text_of(event, "text").unwrap_or_default());
        let (carried_id, carried_response, mark) = Self::carried(event);
        let id = carried_id.unwrap_or_else(|| native_id(channel, ts));
        let place = Place::new(channel, ts, text_of(event, "thread_ts"));
        let response_to =
            carried_response.or_else(|| place.thread.as_deref().map(|t| ids.id_at(channel, t)));
        let files: Vec<File> = event
            .get("files")
            .and_then(Value::as_array)
            .map(|files| files.iter().filter_map(file_of).collect())
            .unwrap_or_default();
        let user_defined = match event.get("metadata").and_then(|m| {
            let kind = text_of(m, "event_type")?;
            (kind != EVENT_TYPE_MESSAGE).then(|| user_defined_of(kind, m))
        }) {
            Some(Ok(u)) => Some(u),
            Some(Err(e)) => return Inbound::Malformed(e),
            None => None,
        };
        let body: Body = if let Some(user_defined) = user_defined {
            user_defined.into()
        } else if !files.is_empty()
            && (mark == Some('f') || (mark.is_none() && text.is_empty() && files.len() == 1))
        {
            files
                .into_iter()
                .next()
                .map(Body::File)
                .unwrap_or_else(|| Message::text("").into())
        } else {
            message_body(event, text.clone(), mark, files).into()
        };
        let mut signal = Signal {
            meta: Metadata::with_id(id),
            body,
        };
        signal.meta.response_to = response_to;
        signal.meta.origin = Some(origin);
        signal.meta.sent = ts_time(ts);
        signal.meta.automatic = automatic_of(event);
        if direct {
            signal.meta.addressees = vec![self.own().clone()];
        } else {
            signal.meta.addressees = mentions(&text)
                .iter()
                .filter_map(|u| self.address(u, AddressKind::Individual))
                .collect();
            signal.meta.visible_to = vec![conversation];
        }
        Inbound::Signal(Box::new(signal), Some(place))
    }

    /// `message_changed` (api.slack.com/events/message/message_changed): a correction, at the
    /// place of the message it changes.
    fn changed(&self, event: &Value, ids: &Ids) -> Inbound {
        let (Some(channel), Some(current)) = (text_of(event, "channel"), event.get("message"))
        else {
            return Inbound::Malformed("message_changed without channel or message".into());
        };
        if !current.is_object() {
            return Inbound::Malformed("message_changed whose message is not an object".into());
        }
        if self.is_own(current) {
            return Inbound::Skip("an edit of the bot's own message");
        }
        if current.get("edited").is_none() {
            // Slack also sends message_changed when it adds link previews: not an edit.
            return Inbound::Skip("a message change that is not an edit");
        }
        let Some(ts) = text_of(current, "ts") else {
            return Inbound::Malformed("message_changed without the message's ts".into());
        };
        let event_ts = text_of(event, "ts").unwrap_or(ts);
        let mut copy = current.clone();
        copy["channel"] = channel.into();
        if let Some(t) = text_of(event, "channel_type") {
            copy["channel_type"] = t.into();
        }
        let Inbound::Signal(mut signal, place) = self.message(&copy, ids) else {
            return Inbound::Malformed("message_changed with an invalid message".into());
        };
        let original = ids.id_at(channel, ts);
        let carried = Self::carried(current).0;
        // The edit is a signal of its own: the id the editor's metadata carries, or the
        // event's ts.
        signal.meta.id = match carried {
            Some(id) if id != original => id,
            _ => native_id(channel, event_ts),
        };
        signal.meta.sent = text_of(current.get("edited").unwrap_or(&Value::Null), "ts")
            .and_then(ts_time)
            .or(signal.meta.sent);
        if let Body::Message(m) = &mut signal.body {
            m.edit = Some(Edit::new(original, EditKind::Correction));
        }
        Inbound::Signal(signal, place)
    }

    /// `message_deleted` (api.slack.com/events/message/message_deleted): a retraction, at the
    /// place of the message it deletes.
    fn deleted(&self, event: &Value, ids: &Ids) -> Inbound {
        let (Some(channel), Some(deleted)) =
            (text_of(event, "channel"), text_of(event, "deleted_ts"))
        else {
            return Inbound::Malformed("message_deleted without channel or deleted_ts".into());
        };
        let previous = event.get("previous_message").unwrap_or(&Value::Null);
        if self.is_own(previous) {
            return Inbound::Skip("the deletion of the bot's own message");
        }
        let Some(conversation) = self.conversation(channel, text_of(event, "channel_type")) else {
            return Inbound::Malformed(format!(
                "message_deleted in an invalid channel `{channel}`"
            ));
        };
        let event_ts = text_of(event, "ts").unwrap_or(deleted);
        let mut signal = Signal {
            meta: Metadata::with_id(native_id(channel, event_ts)),
            body: Message::retraction(ids.id_at(channel, deleted)).into(),
        };
        signal.meta.origin =
            sender_of(previous).and_then(|u| self.address(u, AddressKind::Individual));
        signal.meta.sent = ts_time(event_ts);
        signal.meta.automatic = automatic_of(previous);
        if conversation.kind() == AddressKind::Individual {
            signal.meta.addressees = vec![self.own().clone()];
        } else {
            signal.meta.visible_to = vec![conversation];
        }
        let place = Place::new(channel, deleted, text_of(previous, "thread_ts"));
        Inbound::Signal(Box::new(signal), Some(place))
    }

    /// A message from `conversations.history` (which carries no channel) as a signal, and its
    /// place.
    pub(crate) fn history_message(
        &self,
        channel: &str,
        channel_type: &str,
        message: &Value,
        ids: &Ids,
    ) -> Option<(Signal, Place)> {
        let mut copy = message.clone();
        copy["channel"] = channel.into();
        copy["channel_type"] = channel_type.into();
        match self.any_message(&copy, ids) {
            Inbound::Signal(signal, Some(place)) => Some((*signal, place)),
            _ => None,
        }
    }
}

/// The message body of a message event: its text (or, for a file share the session made, the
/// text of its section block), rich content from a `section` block, files, a question a Chatty
/// session asked with buttons, and a correction that its metadata names.
fn message_body(event: &Value, text: String, mark: Option<char>, files: Vec<File>) -> Message {
    let mut message = Message::text(if mark == Some('m') || mark == Some('f') {
        // The text of a file share the session made is in its section block.
        section_text(event).map(|t| unescape(&t)).unwrap_or(text)
    } else {
        text
    });
    if mark.is_none()
        && let Some(section) = section_text(event)
    {
        message.html = Some(mrkdwn_to_html(&section));
    }
    message.attachments = files;
    // A question a Chatty session asked with buttons: its text is the question (the section's;
    // the message's `text` holds the numbered options for notifications).
    if let Some(choice) = choice::read(event) {
        message.text = section_text(event)
            .map(|section| unescape(&section))
            .unwrap_or_default();
        message.choice = Some(choice);
    }
    // A correction the sender could not make with chat.update (of a message it never saw on
    // Slack) is a new message naming the corrected one.
    if let Some(of) = event
        .get("metadata")
        .and_then(|m| m.get("event_payload"))
        .and_then(|p| text_of(p, "chatty_edit_of"))
    {
        message.edit = Some(Edit::new(SignalId::from(of), EditKind::Correction));
    }
    message
}

/// A user-defined signal from message metadata: the session's own (the payload as JSON text
/// in `chatty_payload`, since typed clients read `event_payload` as a map of strings), or any
/// other app's (the whole `event_payload`, whatever its values are: numbers, objects, lists).
fn user_defined_of(kind: &str, metadata: &Value) -> Result<UserDefined, String> {
    let payload = metadata
        .get("event_payload")
        .cloned()
        .unwrap_or(Value::Null);
    let payload = match (payload.get("chatty_id"), payload.get("chatty_payload")) {
        (Some(_), Some(Value::String(text))) => serde_json::from_str(text).map_err(|e| {
            format!("user-defined signal `{kind}` with a payload that is not JSON: {e}")
        })?,
        (Some(_), Some(other)) => other.clone(),
        (Some(_), None) => Value::Null,
        (None, _) => payload,
    };
    Ok(UserDefined::from_value(kind.to_owned(), payload))
}

/// The mrkdwn text of the first `section` block, if any.
fn section_text(message: &Value) -> Option<String> {
    message
        .get("blocks")?
        .as_array()?
        .iter()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("section"))
        .and_then(|b| b.get("text"))
        .and_then(|t| t.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A file object (api.slack.com/types/file) as a File to download (`url_private`).
fn file_of(file: &Value) -> Option<File> {
    let url = text_of(file, "url_private")?;
    let name = text_of(file, "name")
        .or_else(|| text_of(file, "title"))
        .unwrap_or("file");
    Some(File::new(
        name.to_owned(),
        text_of(file, "mimetype").map(str::to_owned).as_deref(),
        Content::Url {
            url: url.to_owned(),
            size: file.get("size").and_then(Value::as_u64),
        },
    ))
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
