//! Mapping between Slack's JSON (Events API payloads, Web API messages) and signals.
//!
//! Inbound, every event is handled as the JSON Slack documents (api.slack.com/events/…), so
//! the mapping is tested against those shapes directly. Outbound, a signal becomes the
//! arguments of a Web API call (a [`Plan`]), which the session carries out.

use std::collections::{HashMap, VecDeque};

use chatty_core::reexports::serde_json::{self, Map, Value, json};
use chatty_core::{
    Address, AddressKind, Body, Content, Edit, EditKind, File, Message, Signal, SignalId, Status,
    StatusChange, Timestamp, UserDefined,
};

use crate::PLATFORM;

/// The `event_type` of the metadata on messages the session posts: it carries the signal id
/// (and `response_to`) so that both ends name the same signal.
pub const EVENT_TYPE_MESSAGE: &str = "chatty_message";
/// The prefix of the `block_id` that carries the signal id on file shares (which take no
/// metadata): `chatty:m:ID` for a message with attachments, `chatty:f:ID` for a file.
pub const BLOCK_ID_PREFIX: &str = "chatty:";

/// How many message ids the session remembers (to map `thread_ts` and edits to signal ids).
const REMEMBERED: usize = 20_000;

/// Where a message is on Slack: channel, `ts`, and the thread root if it is in a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) channel: String,
    pub(crate) ts: String,
    pub(crate) thread: Option<String>,
}

/// Signal ids ↔ Slack places, for the messages seen and sent lately.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    by_id: HashMap<SignalId, Place>,
    by_place: HashMap<(String, String), SignalId>,
    order: VecDeque<SignalId>,
}

impl Ids {
    pub(crate) fn remember(&mut self, id: SignalId, place: Place) {
        self.by_place
            .insert((place.channel.clone(), place.ts.clone()), id.clone());
        if self.by_id.insert(id.clone(), place).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front()
                && let Some(p) = self.by_id.remove(&old)
            {
                self.by_place.remove(&(p.channel, p.ts));
            }
        }
    }

    /// The place of a signal: remembered, or read from an id of the form `CHANNEL/TS`.
    pub(crate) fn place(&self, id: &SignalId) -> Option<Place> {
        if let Some(p) = self.by_id.get(id) {
            return Some(p.clone());
        }
        let (channel, ts) = id.as_str().split_once('/')?;
        let valid = !channel.is_empty()
            && channel.chars().all(|c| c.is_ascii_alphanumeric())
            && ts.contains('.')
            && ts.chars().all(|c| c.is_ascii_digit() || c == '.');
        valid.then(|| Place {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            thread: None,
        })
    }

    /// The signal id of the message at `channel`/`ts`: remembered, or `CHANNEL/TS`.
    pub(crate) fn id_at(&self, channel: &str, ts: &str) -> SignalId {
        self.by_place
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
            .unwrap_or_else(|| native_id(channel, ts))
    }
}

/// The id of a Slack message that carries no signal id of ours: `CHANNEL/TS`.
pub(crate) fn native_id(channel: &str, ts: &str) -> SignalId {
    SignalId::from(format!("{channel}/{ts}"))
}

/// A message `ts` (`"1700000000.000100"`, epoch seconds) as a time.
pub(crate) fn ts_time(ts: &str) -> Option<Timestamp> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let micros: i64 = format!("{micros:0<6}").get(..6)?.parse().ok()?;
    Timestamp::from_unix_timestamp_nanos(
        i128::from(secs) * 1_000_000_000 + i128::from(micros) * 1000,
    )
    .ok()
}

/// Slack's three escaped characters (api.slack.com/reference/surfaces/formatting#escaping).
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `<@U…>` mentions in a text.
pub(crate) fn mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty()
            && id.chars().all(|c| c.is_ascii_alphanumeric())
            && !out.iter().any(|o| o == id)
        {
            out.push(id.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// A small HTML → mrkdwn conversion for the `section` block that carries rich content:
/// bold, italics, strike, code, links and line breaks; other tags are dropped.
pub(crate) fn html_to_mrkdwn(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut link: Option<String> = None;
    let mut link_text = String::new();
    while let Some(start) = rest.find('<') {
        let text = unescape_html(&rest[..start]);
        if link.is_some() {
            link_text.push_str(&text);
        } else {
            out.push_str(&text);
        }
        let Some(end) = rest[start..].find('>') else {
            rest = &rest[start..];
            break;
        };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        let lower = tag.to_ascii_lowercase();
        let name = lower
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let closing = lower.starts_with('/');
        let mark = match name.as_str() {
            "b" | "strong" => "*",
            "i" | "em" => "_",
            "s" | "strike" | "del" => "~",
            "code" => "`",
            _ => "",
        };
        if !mark.is_empty() {
            if link.is_some() {
                link_text.push_str(mark);
            } else {
                out.push_str(mark);
            }
            continue;
        }
        match (name.as_str(), closing) {
            ("br", _) | ("p", true) | ("div", true) | ("li", true) => out.push('\n'),
            ("a", false) => {
                let href = tag
                    .split("href=")
                    .nth(1)
                    .map(|h| h.trim_start_matches(['"', '\'']))
                    .and_then(|h| h.split(['"', '\'']).next())
                    .unwrap_or_default();
                link = Some(href.to_owned());
                link_text.clear();
            }
            ("a", true) => {
                if let Some(href) = link.take() {
                    out.push_str(&format!("<{href}|{link_text}>"));
                }
            }
            _ => {}
        }
    }
    out.push_str(&unescape_html(rest));
    out.trim_end().to_owned()
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A small mrkdwn → HTML conversion (the inverse of [`html_to_mrkdwn`]) for inbound `section`
/// blocks.
pub(crate) fn mrkdwn_to_html(mrkdwn: &str) -> String {
    let text = unescape(mrkdwn);
    let mut out = String::new();
    let mut open: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '_' | '~' | '`' => {
                let tag = match c {
                    '*' => "b",
                    '_' => "i",
                    '~' => "s",
                    _ => "code",
                };
                if open.last() == Some(&c) {
                    open.pop();
                    out.push_str(&format!("</{tag}>"));
                } else {
                    open.push(c);
                    out.push_str(&format!("<{tag}>"));
                }
            }
            '<' => {
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == '>' {
                        break;
                    }
                    inner.push(d);
                }
                let (target, label) = inner.split_once('|').unwrap_or((&inner, &inner));
                out.push_str(&format!(
                    "<a href=\"{}\">{}</a>",
                    escape_html(target),
                    escape_html(label)
                ));
            }
            '\n' => out.push_str("<br>"),
            other => out.push_str(&escape_html(&other.to_string())),
        }
    }
    while let Some(c) = open.pop() {
        let tag = match c {
            '*' => "b",
            '_' => "i",
            '~' => "s",
            _ => "code",
        };
        out.push_str(&format!("</{tag}>"));
    }
    out
}

/// What the bot is on this workspace, and how addresses are made.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    session: Option<String>,
    team: String,
    user: String,
    bot_id: String,
    own: Address,
}

/// What an inbound event becomes.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A signal, and where its message is (to remember its id).
    Signal(Box<Signal>, Option<Place>),
    /// Nothing for the bot (its own message, an event it does not map), with the reason.
    Skip(&'static str),
    /// A malformed event: a system error for the bot.
    Malformed(String),
}

fn text_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Mapper {
    /// A mapper for the bot user `user` (bot id `bot_id`) on team `team`, in the session named
    /// `name`.
    pub(crate) fn new(name: &str, team: &str, user: &str, bot_id: &str) -> Result<Self, String> {
        let session = (name != PLATFORM).then(|| name.to_owned());
        let mut mapper = Mapper {
            session,
            team: team.to_owned(),
            user: user.to_owned(),
            bot_id: bot_id.to_owned(),
            own: Address::new(PLATFORM, "placeholder").map_err(|e| e.to_string())?,
        };
        mapper.own = mapper
            .address(user, AddressKind::Individual)
            .ok_or_else(|| format!("`{team}/{user}` is not a valid address id"))?;
        Ok(mapper)
    }

    /// The bot's own address, `slack:TEAM/USER;kind=individual`.
    pub(crate) fn own(&self) -> &Address {
        &self.own
    }

    /// `slack[+session]:TEAM/ID;kind=…`.
    pub(crate) fn address(&self, id: &str, kind: AddressKind) -> Option<Address> {
        let full = format!("{}/{id}", self.team);
        let address = match &self.session {
            Some(s) => Address::with_session(PLATFORM, s, &full),
            None => Address::new(PLATFORM, &full),
        };
        address.ok().map(|a| a.with_kind(kind))
    }

    /// The kind of a Slack id, from its first letter (api.slack.com/changelog/2017-09-the-one-
    /// about-usernames: `U`/`W` users, `C` channels, `G` groups and group DMs, `D` DMs).
    pub(crate) fn kind_of_id(id: &str) -> AddressKind {
        match id.chars().next() {
            Some('U' | 'W' | 'B') => AddressKind::Individual,
            Some('C') => AddressKind::Channel,
            Some('G') => AddressKind::Group,
            Some('D') => AddressKind::Individual,
            _ => AddressKind::Unknown,
        }
    }

    /// The Slack id an address of this workspace names (the part after `TEAM/`).
    pub(crate) fn slack_id<'a>(&self, address: &'a Address) -> Result<&'a str, String> {
        if address.platform() != PLATFORM {
            return Err(format!("{address} is not a Slack address"));
        }
        let (team, id) = address
            .id()
            .split_once('/')
            .ok_or_else(|| format!("{address} is not of the form slack:TEAM/ID"))?;
        if team != self.team {
            return Err(format!(
                "{address} is in team {team}, this session serves team {}",
                self.team
            ));
        }
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("{address} does not name a Slack id"));
        }
        Ok(id)
    }

    /// The address of a conversation, by its id and `channel_type` where known.
    fn conversation(&self, channel: &str, channel_type: Option<&str>) -> Option<Address> {
        let kind = match channel_type {
            Some("channel" | "group") => AddressKind::Channel,
            Some("mpim") => AddressKind::Group,
            Some("im") => AddressKind::Individual,
            _ => Self::kind_of_id(channel),
        };
        self.address(channel, kind)
    }

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
            "member_joined_channel" | "member_left_channel" => {
                let (Some(user), Some(channel)) =
                    (text_of(event, "user"), text_of(event, "channel"))
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
                signal.meta.origin = Some(origin);
                signal.meta.visible_to = vec![room];
                signal.meta.sent = text_of(event, "event_ts").and_then(ts_time);
                Inbound::Signal(Box::new(signal), None)
            }
            _ => Inbound::Skip("an event the session does not map"),
        }
    }

    fn is_own(&self, message: &Value) -> bool {
        text_of(message, "user") == Some(self.user.as_str())
            || text_of(message, "bot_id") == Some(self.bot_id.as_str())
    }

    /// The signal id and `response_to` that the session's metadata or block ids carry.
    fn carried(message: &Value) -> (Option<SignalId>, Option<SignalId>, Option<char>) {
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
        let sender = text_of(event, "user").or_else(|| text_of(event, "bot_id"));
        let Some(origin) = sender.and_then(|s| self.address(s, AddressKind::Individual)) else {
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
        let thread = text_of(event, "thread_ts").map(str::to_owned);
        let response_to = carried_response.or_else(|| {
            thread
                .as_deref()
                .filter(|t| *t != ts)
                .map(|t| ids.id_at(channel, t))
        });
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
            let mut message = Message::text(if mark == Some('m') || mark == Some('f') {
                // The text of a file share the session made is in its section block.
                section_text(event)
                    .map(|t| unescape(&t))
                    .unwrap_or(text.clone())
            } else {
                text.clone()
            });
            if mark.is_none()
                && let Some(section) = section_text(event)
            {
                message.html = Some(mrkdwn_to_html(&section));
            }
            message.attachments = files;
            // A correction the sender could not make with chat.update (of a message it never
            // saw on Slack) is a new message naming the corrected one.
            if let Some(of) = event
                .get("metadata")
                .and_then(|m| m.get("event_payload"))
                .and_then(|p| text_of(p, "chatty_edit_of"))
            {
                message.edit = Some(Edit {
                    of: SignalId::from(of),
                    kind: EditKind::Correction,
                });
            }
            message.into()
        };
        let mut signal = Signal {
            meta: chatty_core::Metadata::with_id(id),
            body,
        };
        signal.meta.response_to = response_to;
        signal.meta.origin = Some(origin);
        signal.meta.sent = ts_time(ts);
        if direct {
            signal.meta.addressees = vec![self.own.clone()];
        } else {
            signal.meta.addressees = mentions(&text)
                .iter()
                .filter_map(|u| self.address(u, AddressKind::Individual))
                .collect();
            signal.meta.visible_to = vec![conversation];
        }
        let place = Place {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            thread,
        };
        Inbound::Signal(Box::new(signal), Some(place))
    }

    /// `message_changed` (api.slack.com/events/message/message_changed): a correction.
    fn changed(&self, event: &Value, ids: &Ids) -> Inbound {
        let (Some(channel), Some(current)) = (text_of(event, "channel"), event.get("message"))
        else {
            return Inbound::Malformed("message_changed without channel or message".into());
        };
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
        let Inbound::Signal(mut signal, _) = self.message(&copy, ids) else {
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
            m.edit = Some(Edit {
                of: original,
                kind: EditKind::Correction,
            });
        }
        Inbound::Signal(signal, None)
    }

    /// `message_deleted` (api.slack.com/events/message/message_deleted): a retraction.
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
        let event_ts = text_of(event, "ts").unwrap_or(deleted);
        let mut signal = Signal {
            meta: chatty_core::Metadata::with_id(native_id(channel, event_ts)),
            body: Message::retraction(ids.id_at(channel, deleted)).into(),
        };
        signal.meta.origin =
            text_of(previous, "user").and_then(|u| self.address(u, AddressKind::Individual));
        signal.meta.sent = ts_time(event_ts);
        if let Some(conversation) = self.conversation(channel, text_of(event, "channel_type")) {
            if conversation.kind() == AddressKind::Individual {
                signal.meta.addressees = vec![self.own.clone()];
            } else {
                signal.meta.visible_to = vec![conversation];
            }
        }
        Inbound::Signal(Box::new(signal), None)
    }

    /// A message from `conversations.history` (which carries no channel) as a signal.
    pub(crate) fn history_message(
        &self,
        channel: &str,
        channel_type: &str,
        message: &Value,
        ids: &Ids,
    ) -> Option<Signal> {
        let mut copy = message.clone();
        copy["channel"] = channel.into();
        copy["channel_type"] = channel_type.into();
        match self.any_message(&copy, ids) {
            Inbound::Signal(signal, _) => Some(*signal),
            _ => None,
        }
    }
}

/// A user-defined signal from message metadata: the session's own (the payload as JSON text
/// in `chatty_payload`, since typed clients read `event_payload` as a map of strings), or any
/// other app's (the whole `event_payload`).
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
    Ok(UserDefined {
        name: kind.to_owned(),
        payload,
    })
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
    Some(File {
        name: name.to_owned(),
        media_type: text_of(file, "mimetype").map(str::to_owned),
        content: Content::Url {
            url: url.to_owned(),
            size: file.get("size").and_then(Value::as_u64),
        },
    })
}

/// One Web API step of an outbound signal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// `chat.postMessage` with these arguments (the channel is filled in by the session).
    Post(Map<String, Value>),
    /// `chat.update` of the message at `place` with these arguments.
    Update(Place, Map<String, Value>),
    /// `chat.delete` of the message at `place`.
    Delete(Place),
    /// Files v2 upload of `files` (with bytes), shared with these `blocks` (the signal id in
    /// the block id) and `thread_ts`.
    Upload {
        /// Name, media type and bytes of each file.
        files: Vec<(String, Option<String>, chatty_core::reexports::bytes::Bytes)>,
        /// The share message's blocks.
        blocks: Value,
    },
}

/// The metadata that carries the signal id (api.slack.com/metadata/using).
fn id_metadata(signal: &Signal, event_type: &str, payload: Option<&Value>) -> Value {
    let mut event_payload = Map::new();
    event_payload.insert("chatty_id".into(), signal.meta.id.as_str().into());
    if let Some(r) = &signal.meta.response_to {
        event_payload.insert("chatty_response_to".into(), r.as_str().into());
    }
    if let Some(p) = payload {
        event_payload.insert("chatty_payload".into(), p.to_string().into());
    }
    json!({"event_type": event_type, "event_payload": event_payload})
}

/// Whether a name can be a metadata `event_type` (letters, digits and `_`, as Slack asks).
pub(crate) fn valid_event_type(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The outbound plan for a message, file or user-defined signal, given where its
/// `response_to` is (for `thread_ts`) and where an edited message is.
pub(crate) fn plan(signal: &Signal, edited: Option<Place>) -> Result<Plan, String> {
    match &signal.body {
        Body::Message(message) => {
            if let Some(edit) = &message.edit {
                let Some(place) = edited else {
                    return match edit.kind {
                        // A correction of a message this session never saw: posted as a new
                        // message, marked in its metadata.
                        EditKind::Correction => {
                            let mut args = text_args(message);
                            let mut meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None);
                            meta["event_payload"]["chatty_edit_of"] = edit.of.as_str().into();
                            args.insert("metadata".into(), meta);
                            Ok(Plan::Post(args))
                        }
                        EditKind::Retraction => Err(format!(
                            "cannot delete {}: not a message this session knows on Slack",
                            edit.of
                        )),
                    };
                };
                return Ok(match edit.kind {
                    EditKind::Correction => {
                        let mut args = text_args(message);
                        let mut meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None);
                        meta["event_payload"]["chatty_edit_of"] = edit.of.as_str().into();
                        args.insert("metadata".into(), meta);
                        Plan::Update(place, args)
                    }
                    EditKind::Retraction => Plan::Delete(place),
                });
            }
            if !message.attachments.is_empty() {
                return upload_plan(signal, &message.text, &message.attachments, 'm');
            }
            let mut args = text_args(message);
            args.insert(
                "metadata".into(),
                id_metadata(signal, EVENT_TYPE_MESSAGE, None),
            );
            Ok(Plan::Post(args))
        }
        Body::File(file) => upload_plan(signal, "", std::slice::from_ref(file), 'f'),
        Body::UserDefined(user_defined) => {
            if !valid_event_type(&user_defined.name) {
                return Err(format!(
                    "`{}` cannot be a Slack metadata event_type: use letters, digits and `_`",
                    user_defined.name
                ));
            }
            let mut args = Map::new();
            args.insert("text".into(), format!("[{}]", user_defined.name).into());
            args.insert(
                "metadata".into(),
                id_metadata(signal, &user_defined.name, Some(&user_defined.payload)),
            );
            Ok(Plan::Post(args))
        }
        other => Err(format!(
            "{:?} signals are not carried as messages",
            other.kind()
        )),
    }
}

/// `text` and, for rich content, a `section` block.
fn text_args(message: &Message) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("text".into(), message.text.clone().into());
    if let Some(html) = &message.html {
        let mrkdwn = html_to_mrkdwn(html);
        let section = if mrkdwn.is_empty() {
            message.text.clone()
        } else {
            mrkdwn
        };
        if !section.is_empty() {
            args.insert(
                "blocks".into(),
                json!([{"type": "section", "text": {"type": "mrkdwn", "text": section}}]),
            );
        }
    }
    args
}

fn upload_plan(signal: &Signal, text: &str, files: &[File], mark: char) -> Result<Plan, String> {
    let mut with_bytes = Vec::new();
    let mut links = Vec::new();
    for file in files {
        match &file.content {
            Content::Bytes { data } => {
                with_bytes.push((file.name.clone(), file.media_type.clone(), data.clone()))
            }
            // A file known only by URL is linked, not uploaded.
            Content::Url { url, .. } => links.push(format!("<{url}|{}>", file.name)),
        }
    }
    let mut shown = text.to_owned();
    for link in links {
        if !shown.is_empty() {
            shown.push('\n');
        }
        shown.push_str(&link);
    }
    if with_bytes.is_empty() {
        let mut args = Map::new();
        args.insert("text".into(), shown.into());
        args.insert(
            "metadata".into(),
            id_metadata(signal, EVENT_TYPE_MESSAGE, None),
        );
        return Ok(Plan::Post(args));
    }
    let section = if shown.is_empty() {
        with_bytes
            .iter()
            .map(|(n, _, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        shown
    };
    let mut block = json!({"type": "section", "text": {"type": "mrkdwn", "text": section}});
    let block_id = format!("{BLOCK_ID_PREFIX}{mark}:{}", signal.meta.id);
    if block_id.len() <= 255 {
        block["block_id"] = block_id.into();
    }
    Ok(Plan::Upload {
        files: with_bytes,
        blocks: json!([block]),
    })
}

/// The args' `text` for logs and errors: never the tokens (they are not in args anyway).
pub(crate) fn describe(args: &Map<String, Value>) -> String {
    serde_json::to_string(args.get("text").unwrap_or(&Value::Null)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper::new("slack", "T1", "UBOT", "BBOT").unwrap()
    }

    /// The example of api.slack.com/events/message (a channel message), with a mention.
    fn channel_message() -> Value {
        json!({
            "type": "message",
            "channel": "C2147483705",
            "user": "U2147483697",
            "text": "Hello <@UBOT> &amp; world",
            "ts": "1355517523.000005",
            "event_ts": "1355517523.000005",
            "channel_type": "channel"
        })
    }

    #[test]
    fn channel_messages_map_to_origin_mentions_and_channel() {
        let m = mapper();
        let Inbound::Signal(signal, place) = m.inbound(&channel_message(), &Ids::default()) else {
            panic!("a signal")
        };
        assert_eq!(signal.meta.id.as_str(), "C2147483705/1355517523.000005");
        assert_eq!(
            signal.meta.origin.unwrap().to_string(),
            "slack:T1/U2147483697;kind=individual"
        );
        assert_eq!(signal.meta.addressees, vec![m.own().clone()]);
        assert_eq!(
            signal.meta.visible_to[0].to_string(),
            "slack:T1/C2147483705;kind=channel"
        );
        assert_eq!(signal.meta.sent.unwrap().unix_timestamp(), 1_355_517_523);
        match signal.body {
            Body::Message(msg) => assert_eq!(msg.text, "Hello <@UBOT> & world"),
            other => panic!("{other:?}"),
        }
        assert_eq!(place.unwrap().ts, "1355517523.000005");
    }

    #[test]
    fn own_messages_are_skipped() {
        let mut own = channel_message();
        own["user"] = "UBOT".into();
        assert!(matches!(
            mapper().inbound(&own, &Ids::default()),
            Inbound::Skip(_)
        ));
        let mut by_bot_id = channel_message();
        by_bot_id["bot_id"] = "BBOT".into();
        assert!(matches!(
            mapper().inbound(&by_bot_id, &Ids::default()),
            Inbound::Skip(_)
        ));
    }

    #[test]
    fn threads_and_carried_ids_map_to_response_to() {
        let mut ids = Ids::default();
        ids.remember(
            "root-id".into(),
            Place {
                channel: "C1".into(),
                ts: "1.000001".into(),
                thread: None,
            },
        );
        let reply = json!({
            "type": "message", "channel": "C1", "user": "U9", "text": "in thread",
            "ts": "2.000001", "thread_ts": "1.000001", "channel_type": "channel",
            "metadata": {"event_type": EVENT_TYPE_MESSAGE, "event_payload": {"chatty_id": "mine"}}
        });
        let Inbound::Signal(signal, _) = mapper().inbound(&reply, &ids) else {
            panic!()
        };
        assert_eq!(signal.meta.id.as_str(), "mine");
        assert_eq!(signal.meta.response_to.unwrap().as_str(), "root-id");
    }

    #[test]
    fn file_shares_become_files_or_attachments() {
        // api.slack.com/events/message/file_share
        let share = json!({
            "type": "message", "subtype": "file_share", "channel": "D1", "channel_type": "im",
            "user": "U9", "text": "", "ts": "3.000001",
            "files": [{"id": "F1", "name": "a.txt", "mimetype": "text/plain", "size": 3,
                       "url_private": "https://files.slack.com/files-pri/T1-F1/a.txt"}]
        });
        let Inbound::Signal(signal, _) = mapper().inbound(&share, &Ids::default()) else {
            panic!()
        };
        match &signal.body {
            Body::File(f) => {
                assert_eq!(f.name, "a.txt");
                assert!(matches!(&f.content, Content::Url { size: Some(3), .. }));
            }
            other => panic!("{other:?}"),
        }
        assert!(signal.meta.visible_to.is_empty());
        let mut commented = share.clone();
        commented["text"] = "look".into();
        let Inbound::Signal(signal, _) = mapper().inbound(&commented, &Ids::default()) else {
            panic!()
        };
        assert!(
            matches!(&signal.body, Body::Message(m) if m.attachments.len() == 1 && m.text == "look")
        );
    }

    #[test]
    fn edits_and_deletions_name_the_original() {
        let changed = json!({
            "type": "message", "subtype": "message_changed", "hidden": true, "channel": "C1",
            "ts": "5.000001", "channel_type": "channel",
            "message": {"type": "message", "user": "U9", "text": "new", "ts": "4.000001",
                        "edited": {"user": "U9", "ts": "5.000001"}},
            "previous_message": {"type": "message", "user": "U9", "text": "old", "ts": "4.000001"}
        });
        let Inbound::Signal(signal, _) = mapper().inbound(&changed, &Ids::default()) else {
            panic!()
        };
        match &signal.body {
            Body::Message(m) => {
                assert_eq!(m.text, "new");
                assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "C1/4.000001");
            }
            other => panic!("{other:?}"),
        }
        let unfurl = json!({"type": "message", "subtype": "message_changed", "channel": "C1",
            "message": {"user": "U9", "text": "x", "ts": "4.000001"}});
        assert!(matches!(
            mapper().inbound(&unfurl, &Ids::default()),
            Inbound::Skip(_)
        ));
        let deleted = json!({"type": "message", "subtype": "message_deleted", "channel": "C1",
            "ts": "6.000001", "deleted_ts": "4.000001",
            "previous_message": {"user": "U9", "text": "new", "ts": "4.000001"}});
        let Inbound::Signal(signal, _) = mapper().inbound(&deleted, &Ids::default()) else {
            panic!()
        };
        assert!(matches!(&signal.body, Body::Message(m)
            if m.edit.as_ref().is_some_and(|e| e.kind == EditKind::Retraction)));
    }

    #[test]
    fn joins_and_leaves_are_in_room_status() {
        // api.slack.com/events/member_joined_channel
        let joined = json!({"type": "member_joined_channel", "user": "W06GH7XHN",
            "channel": "C0698JE0H", "channel_type": "C", "team": "T1", "event_ts": "7.000001"});
        let Inbound::Signal(signal, _) = mapper().inbound(&joined, &Ids::default()) else {
            panic!()
        };
        assert!(matches!(&signal.body, Body::StatusChange(c)
            if matches!(&c.status, Status::InRoom { present: true, room, .. } if room.id() == "T1/C0698JE0H")));
        let mut left = joined.clone();
        left["type"] = "member_left_channel".into();
        let Inbound::Signal(signal, _) = mapper().inbound(&left, &Ids::default()) else {
            panic!()
        };
        assert!(matches!(&signal.body, Body::StatusChange(c)
            if matches!(&c.status, Status::InRoom { present: false, .. })));
    }

    #[test]
    fn malformed_events_are_reported_not_panicked_on() {
        let m = mapper();
        for bad in [
            json!({}),
            json!({"type": "message"}),
            json!({"type": "message", "channel": "C1", "ts": "1.1"}),
            json!({"type": "member_joined_channel"}),
            json!({"type": "message", "subtype": "message_changed"}),
        ] {
            assert!(
                matches!(m.inbound(&bad, &Ids::default()), Inbound::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn outbound_plans_carry_ids_metadata_and_blocks() {
        let signal =
            Signal::new(Message::text("hi").with_html("<b>hi</b> <a href=\"https://x.org\">x</a>"))
                .in_response_to("q1".into());
        let Plan::Post(args) = plan(&signal, None).unwrap() else {
            panic!()
        };
        assert_eq!(args["metadata"]["event_type"], EVENT_TYPE_MESSAGE);
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_id"],
            signal.meta.id.as_str()
        );
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_response_to"],
            "q1"
        );
        assert_eq!(args["blocks"][0]["text"]["text"], "*hi* <https://x.org|x>");
        let file = Signal::new(File::bytes("a.txt", Some("text/plain"), &b"abc"[..]));
        let Plan::Upload { files, blocks } = plan(&file, None).unwrap() else {
            panic!()
        };
        assert_eq!(files.len(), 1);
        assert_eq!(blocks[0]["block_id"], format!("chatty:f:{}", file.meta.id));
        let bad = Signal::new(UserDefined::new("has space", &1).unwrap());
        assert!(plan(&bad, None).is_err());
    }

    #[test]
    fn mrkdwn_and_html_convert_both_ways() {
        assert_eq!(
            mrkdwn_to_html("*b* _i_ <https://x.org|x>"),
            "<b>b</b> <i>i</i> <a href=\"https://x.org\">x</a>"
        );
        assert_eq!(html_to_mrkdwn("<p>a &amp; <em>b</em></p>"), "a & _b_");
    }

    #[test]
    fn ids_resolve_places() {
        let ids = Ids::default();
        assert_eq!(ids.place(&"C1/1.000002".into()).unwrap().ts, "1.000002");
        assert!(ids.place(&"not a place".into()).is_none());
        assert_eq!(ts_time("1.5").unwrap().nanosecond(), 500_000_000);
    }
}
