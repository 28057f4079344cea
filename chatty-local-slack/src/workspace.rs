//! The workspace: team, users, apps, conversations, messages and files, and the Web API
//! methods that read and change them.
//!
//! Every JSON shape built here follows the examples in Slack's method and event reference
//! (api.slack.com/methods/…, api.slack.com/events/…); each builder names the page it follows.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value, json};

/// A Web API answer: HTTP status, extra headers, JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn ok(mut body: Value) -> Self {
        if let Some(map) = body.as_object_mut() {
            map.insert("ok".into(), Value::Bool(true));
        }
        Reply {
            status: 200,
            retry_after: None,
            body,
        }
    }

    /// `{"ok": false, "error": code}` with HTTP 200, as Slack answers method errors.
    pub(crate) fn error(code: &str) -> Self {
        Reply {
            status: 200,
            retry_after: None,
            body: json!({"ok": false, "error": code}),
        }
    }
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A bot token (`xoxb-`) of the app.
    Bot { app: String },
    /// An app-level token (`xapp-`) of the app: only for `apps.connections.open`.
    AppLevel { app: String },
    /// A user token (`xoxp-`) of the user.
    User { user: String },
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) real_name: String,
    pub(crate) bot_id: Option<String>,
    pub(crate) app_id: Option<String>,
    /// `auto` or `away`, as set with users.setPresence.
    pub(crate) manual_away: bool,
    pub(crate) created: u64,
}

#[derive(Debug)]
pub(crate) struct App {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) bot_user: String,
    pub(crate) bot_id: String,
    pub(crate) bot_token: String,
    pub(crate) app_token: String,
    pub(crate) scopes: BTreeSet<String>,
    /// Events waiting for an acknowledgement, oldest first.
    pub(crate) pending: VecDeque<Pending>,
    /// How many acknowledgements to ignore (fault injection: forces redelivery).
    pub(crate) ignore_acks: u32,
    /// Every envelope sent: (event id, retry_attempt).
    pub(crate) delivered: Vec<(String, u32)>,
    /// How many times apps.connections.open was called.
    pub(crate) connections_opened: u32,
    /// The live sockets: id → control channel.
    pub(crate) sockets: BTreeMap<u64, tokio::sync::mpsc::UnboundedSender<crate::socket::Control>>,
}

/// An event on its way to an app.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) event_id: String,
    pub(crate) payload: Value,
    pub(crate) envelopes: Vec<String>,
    pub(crate) attempts: u32,
    /// The socket it was last sent on and when the ack is due.
    pub(crate) in_flight: Option<(u64, Instant)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Public,
    Private,
    Im,
    Mpim,
}

#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) creator: String,
    pub(crate) created: u64,
    pub(crate) members: Vec<String>,
    /// Messages in the order posted (roots and replies), as stored message objects.
    pub(crate) messages: Vec<Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct FileRec {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) title: String,
    pub(crate) mimetype: String,
    pub(crate) length: u64,
    pub(crate) bytes: Option<Bytes>,
    pub(crate) user: String,
    pub(crate) created: u64,
    pub(crate) channels: Vec<String>,
}

/// The whole state of the local Slack.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) team_id: String,
    pub(crate) team_name: String,
    pub(crate) domain: String,
    /// `http://127.0.0.1:PORT`, for URLs the server hands out.
    pub(crate) base: String,
    counter: u64,
    last_ts: (u64, u32),
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) apps: BTreeMap<String, App>,
    pub(crate) tokens: HashMap<String, Caller>,
    pub(crate) channels: BTreeMap<String, Channel>,
    pub(crate) files: HashMap<String, FileRec>,
    pub(crate) uploads: HashMap<String, String>,
    pub(crate) tickets: HashMap<String, String>,
    /// Fault injection: method → (calls still to refuse with 429, Retry-After seconds).
    pub(crate) rate_limits: HashMap<String, (u32, u64)>,
    /// Fault injection: method → error codes for the next calls.
    pub(crate) failures: HashMap<String, VecDeque<String>>,
    /// How long an envelope waits for its ack before it is sent again.
    pub(crate) ack_timeout: Duration,
    /// How many times an event is sent at most (the first time and the retries).
    pub(crate) max_attempts: u32,
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The scope each method needs of a bot token (api.slack.com/methods/NAME, "Required scopes").
fn needed_scope(method: &str) -> Option<&'static str> {
    Some(match method {
        "chat.postMessage" | "chat.update" | "chat.delete" => "chat:write",
        "conversations.history" => "channels:history",
        "conversations.replies" => "channels:history",
        "conversations.info" | "conversations.list" | "conversations.members" => "channels:read",
        "conversations.join" => "channels:join",
        "conversations.open" => "im:write",
        "users.info" | "users.getPresence" => "users:read",
        "users.setPresence" => "users:write",
        "files.getUploadURLExternal" | "files.completeUploadExternal" => "files:write",
        "files.info" => "files:read",
        _ => return None,
    })
}

/// The bot scopes an app gets unless a test takes some away.
pub(crate) const DEFAULT_SCOPES: &[&str] = &[
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "mpim:read",
    "mpim:write",
    "users:read",
    "users:write",
];

fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A JSON argument: given as JSON itself, or as a JSON-encoded string (form posts).
fn json_arg(args: &Map<String, Value>, name: &str) -> Option<Value> {
    match args.get(name)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => serde_json::from_str(s).ok().or(Some(Value::Null)),
        other => Some(other.clone()),
    }
}

fn num_arg(args: &Map<String, Value>, name: &str) -> Option<u64> {
    match args.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn bool_arg(args: &Map<String, Value>, name: &str) -> bool {
    match args.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

/// A cursor for paginated methods (api.slack.com/docs/pagination: opaque strings).
fn cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

fn parse_cursor(text: &str) -> Option<usize> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// `<@U…>` mentions in a message text.
pub(crate) fn mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push(id.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// The `rich_text` block Slack's clients attach to a typed message (api.slack.com/reference/
/// block-kit/blocks#rich_text), with `user` elements for mentions.
fn rich_text_block(block_id: &str, text: &str) -> Value {
    let mut elements = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        if start > 0 {
            elements.push(json!({"type": "text", "text": &rest[..start]}));
        }
        let after = &rest[start + 2..];
        match after.find('>') {
            Some(end) => {
                let id = after[..end].split('|').next().unwrap_or_default();
                elements.push(json!({"type": "user", "user_id": id}));
                rest = &after[end + 1..];
            }
            None => {
                elements.push(json!({"type": "text", "text": &rest[start..]}));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        elements.push(json!({"type": "text", "text": rest}));
    }
    json!([{
        "type": "rich_text",
        "block_id": block_id,
        "elements": [{"type": "rich_text_section", "elements": elements}],
    }])
}

impl Workspace {
    pub(crate) fn new(base: String) -> Self {
        let mut ws = Workspace {
            team_id: String::new(),
            team_name: "Chatty Local".into(),
            domain: "chatty-local".into(),
            base,
            counter: 0,
            last_ts: (0, 0),
            users: BTreeMap::new(),
            apps: BTreeMap::new(),
            tokens: HashMap::new(),
            channels: BTreeMap::new(),
            files: HashMap::new(),
            uploads: HashMap::new(),
            tickets: HashMap::new(),
            rate_limits: HashMap::new(),
            failures: HashMap::new(),
            ack_timeout: Duration::from_secs(3),
            max_attempts: 4,
        };
        ws.team_id = ws.id("T");
        ws
    }

    /// A new id with Slack's look: a type letter and upper-case alphanumerics (`U0000001A`).
    pub(crate) fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{:08X}", self.counter)
    }

    /// A new, strictly increasing message timestamp, `"1700000000.000100"`.
    pub(crate) fn ts(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut next = (now.as_secs(), now.subsec_micros());
        if next <= self.last_ts {
            next = if self.last_ts.1 >= 999_999 {
                (self.last_ts.0 + 1, 0)
            } else {
                (self.last_ts.0, self.last_ts.1 + 1)
            };
        }
        self.last_ts = next;
        format!("{}.{:06}", next.0, next.1)
    }

    fn secret(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!(
            "{prefix}-{}-{:x}{:08x}",
            self.counter,
            nonce,
            self.counter * 7919
        )
    }

    pub(crate) fn add_user(&mut self, name: &str) -> String {
        let id = self.id("U");
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                name: name.to_owned(),
                real_name: name.to_owned(),
                bot_id: None,
                app_id: None,
                manual_away: false,
                created: now_secs(),
            },
        );
        let token = self.secret("xoxp");
        self.tokens.insert(token, Caller::User { user: id.clone() });
        id
    }

    pub(crate) fn user_token(&self, user: &str) -> Option<String> {
        self.tokens.iter().find_map(|(t, c)| match c {
            Caller::User { user: u } if u == user => Some(t.clone()),
            _ => None,
        })
    }

    pub(crate) fn add_app(&mut self, name: &str) -> String {
        let app_id = self.id("A");
        let bot_user = self.id("U");
        let bot_id = self.id("B");
        let bot_token = self.secret("xoxb");
        let app_token = self.secret("xapp-1");
        self.users.insert(
            bot_user.clone(),
            User {
                id: bot_user.clone(),
                name: name.to_owned(),
                real_name: name.to_owned(),
                bot_id: Some(bot_id.clone()),
                app_id: Some(app_id.clone()),
                manual_away: false,
                created: now_secs(),
            },
        );
        self.tokens.insert(
            bot_token.clone(),
            Caller::Bot {
                app: app_id.clone(),
            },
        );
        self.tokens.insert(
            app_token.clone(),
            Caller::AppLevel {
                app: app_id.clone(),
            },
        );
        self.apps.insert(
            app_id.clone(),
            App {
                id: app_id.clone(),
                name: name.to_owned(),
                bot_user,
                bot_id,
                bot_token,
                app_token,
                scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                pending: VecDeque::new(),
                ignore_acks: 0,
                delivered: Vec::new(),
                connections_opened: 0,
                sockets: BTreeMap::new(),
            },
        );
        app_id
    }

    pub(crate) fn create_channel(&mut self, name: &str, creator: &str, private: bool) -> String {
        let id = self.id("C");
        self.channels.insert(
            id.clone(),
            Channel {
                id: id.clone(),
                name: name.to_owned(),
                kind: if private { Kind::Private } else { Kind::Public },
                creator: creator.to_owned(),
                created: now_secs(),
                members: Vec::new(),
                messages: Vec::new(),
            },
        );
        self.join(creator, &id);
        id
    }

    /// The user id behind a caller (the bot user for bot tokens).
    fn user_of(&self, caller: &Caller) -> Option<String> {
        match caller {
            Caller::Bot { app } | Caller::AppLevel { app } => {
                self.apps.get(app).map(|a| a.bot_user.clone())
            }
            Caller::User { user } => Some(user.clone()),
        }
    }

    /// The DM (or group DM) between `users` (sorted, deduplicated), opened if new.
    pub(crate) fn open_conversation(&mut self, mut users: Vec<String>) -> String {
        users.sort();
        users.dedup();
        let kind = if users.len() <= 2 {
            Kind::Im
        } else {
            Kind::Mpim
        };
        if let Some(existing) = self.channels.values().find(|c| {
            c.kind == kind && {
                let mut m = c.members.clone();
                m.sort();
                m == users
            }
        }) {
            return existing.id.clone();
        }
        let id = self.id(if kind == Kind::Im { "D" } else { "G" });
        let name = match kind {
            Kind::Mpim => {
                let names: Vec<String> = users
                    .iter()
                    .filter_map(|u| self.users.get(u).map(|u| u.name.clone()))
                    .collect();
                format!("mpdm-{}-1", names.join("--"))
            }
            _ => id.clone(),
        };
        self.channels.insert(
            id.clone(),
            Channel {
                id: id.clone(),
                name,
                kind,
                creator: users.first().cloned().unwrap_or_default(),
                created: now_secs(),
                members: users,
                messages: Vec::new(),
            },
        );
        id
    }

    /// `user` joins `channel`; `member_joined_channel` goes to the apps in it
    /// (api.slack.com/events/member_joined_channel). `false` if already a member.
    pub(crate) fn join(&mut self, user: &str, channel: &str) -> bool {
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
        };
        if ch.members.iter().any(|m| m == user) {
            return false;
        }
        ch.members.push(user.to_owned());
        let channel_type = if ch.kind == Kind::Public { "C" } else { "G" };
        let event = json!({
            "type": "member_joined_channel",
            "user": user,
            "channel": channel,
            "channel_type": channel_type,
            "team": self.team_id,
            "event_ts": self.ts(),
        });
        self.emit_to_members(channel, event);
        true
    }

    /// `user` leaves `channel`; `member_left_channel` goes to the apps in it, including the
    /// leaver's own (api.slack.com/events/member_left_channel). `false` if not a member.
    pub(crate) fn leave(&mut self, user: &str, channel: &str) -> bool {
        let Some(ch) = self.channels.get(channel) else {
            return false;
        };
        if !ch.members.iter().any(|m| m == user) {
            return false;
        }
        let channel_type = if ch.kind == Kind::Public { "C" } else { "G" };
        let event = json!({
            "type": "member_left_channel",
            "user": user,
            "channel": channel,
            "channel_type": channel_type,
            "team": self.team_id,
            "event_ts": self.ts(),
        });
        // The leaver's app hears of it too, so the audience is taken before the removal.
        self.emit_to_members(channel, event);
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.members.retain(|m| m != user);
        }
        true
    }

    fn channel_type(kind: Kind) -> &'static str {
        match kind {
            Kind::Public => "channel",
            Kind::Private => "group",
            Kind::Im => "im",
            Kind::Mpim => "mpim",
        }
    }

    /// Queues an event for every app whose bot user is in `channel`.
    fn emit_to_members(&mut self, channel: &str, event: Value) {
        let members = self
            .channels
            .get(channel)
            .map(|c| c.members.clone())
            .unwrap_or_default();
        let apps: Vec<String> = self
            .apps
            .values()
            .filter(|a| members.contains(&a.bot_user))
            .map(|a| a.id.clone())
            .collect();
        for app in apps {
            self.emit(&app, event.clone());
        }
    }

    /// Queues `event` for `app`, wrapped as Slack's `event_callback`
    /// (api.slack.com/apis/events-api#callback-field: the outer event).
    pub(crate) fn emit(&mut self, app: &str, event: Value) {
        let event_id = self.id("Ev");
        let context = self.id("4-");
        let team = self.team_id.clone();
        let Some(a) = self.apps.get_mut(app) else {
            return;
        };
        let payload = json!({
            "token": "local-verification-token",
            "team_id": team,
            "context_team_id": team,
            "context_enterprise_id": null,
            "api_app_id": a.id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now_secs(),
            "authorizations": [{
                "enterprise_id": null,
                "team_id": team,
                "user_id": a.bot_user,
                "is_bot": true,
                "is_enterprise_install": false,
            }],
            "is_ext_shared_channel": false,
            "event_context": context,
        });
        a.pending.push_back(Pending {
            event_id,
            payload,
            envelopes: Vec::new(),
            attempts: 0,
            in_flight: None,
        });
        for control in a.sockets.values() {
            let _ = control.send(crate::socket::Control::Wake);
        }
    }

    /// The `bot_profile` of an app's messages.
    fn bot_profile(&self, app: &App) -> Value {
        json!({
            "id": app.bot_id,
            "app_id": app.id,
            "name": app.name,
            "icons": {"image_36": "", "image_48": "", "image_72": ""},
            "deleted": false,
            "updated": now_secs(),
            "team_id": self.team_id,
        })
    }

    /// Stores a message and emits its `message` event (api.slack.com/events/message and its
    /// subtypes) to the apps in the channel, and `app_mention` (api.slack.com/events/app_mention)
    /// to the mentioned apps. Returns the stored message.
    pub(crate) fn post(&mut self, channel: &str, mut message: Value) -> Value {
        let ts = self.ts();
        let team = self.team_id.clone();
        let Some(m) = message.as_object_mut() else {
            // Every caller builds an object; anything else is not a message.
            return message;
        };
        m.insert("type".into(), "message".into());
        m.insert("ts".into(), ts.clone().into());
        m.insert("team".into(), team.into());
        let thread_ts = message
            .get("thread_ts")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let author = message
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(ch) = self.channels.get_mut(channel) else {
            return message;
        };
        if let Some(root_ts) = &thread_ts
            && let Some(root) = ch
                .messages
                .iter_mut()
                .find(|m| m.get("ts").and_then(Value::as_str) == Some(root_ts))
                .and_then(Value::as_object_mut)
        {
            let count = root.get("reply_count").and_then(Value::as_u64).unwrap_or(0) + 1;
            root.insert("thread_ts".into(), root_ts.clone().into());
            root.insert("reply_count".into(), count.into());
            root.insert("latest_reply".into(), ts.clone().into());
            let mut users: Vec<Value> = root
                .get("reply_users")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !users.iter().any(|u| u.as_str() == Some(&author)) {
                users.push(author.clone().into());
            }
            root.insert("reply_users_count".into(), users.len().into());
            root.insert("reply_users".into(), users.into());
            let parent = root.get("user").cloned().unwrap_or(Value::Null);
            message["parent_user_id"] = parent;
        }
        ch.messages.push(message.clone());
        let kind = ch.kind;
        let mut event = message.clone();
        if let Some(e) = event.as_object_mut() {
            e.insert("channel".into(), channel.into());
            e.insert("event_ts".into(), ts.clone().into());
            e.insert("channel_type".into(), Self::channel_type(kind).into());
        }
        self.emit_to_members(channel, event);
        if matches!(kind, Kind::Public | Kind::Private) {
            let text = message
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mentioned = mentions(text);
            let members = self
                .channels
                .get(channel)
                .map(|c| c.members.clone())
                .unwrap_or_default();
            let apps: Vec<String> = self
                .apps
                .values()
                .filter(|a| mentioned.contains(&a.bot_user) && members.contains(&a.bot_user))
                .map(|a| a.id.clone())
                .collect();
            for app in apps {
                let mut mention = json!({
                    "type": "app_mention",
                    "user": author,
                    "text": text,
                    "ts": ts,
                    "team": self.team_id,
                    "channel": channel,
                    "event_ts": ts,
                });
                for key in ["thread_ts", "blocks", "client_msg_id", "files"] {
                    if let Some(v) = message.get(key) {
                        mention[key] = v.clone();
                    }
                }
                self.emit(&app, mention);
            }
        }
        message
    }

    /// A message as a person types it in Slack's client: `client_msg_id` and a `rich_text`
    /// block (the shape of api.slack.com/events/message's example).
    pub(crate) fn person_message(
        &mut self,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Value {
        let block_id = self.id("b");
        let client_msg_id = format!("{:08x}-0000-4000-8000-{:012x}", self.counter, self.counter);
        let mut message = json!({
            "user": user,
            "text": text,
            "client_msg_id": client_msg_id,
            "blocks": rich_text_block(&block_id, text),
        });
        if let Some(t) = thread_ts {
            message["thread_ts"] = t.into();
        }
        message
    }

    fn find_message(&self, channel: &str, ts: &str) -> Option<&Value> {
        self.channels
            .get(channel)?
            .messages
            .iter()
            .find(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
    }

    /// Changes a message's text (and blocks); emits `message_changed`
    /// (api.slack.com/events/message/message_changed).
    pub(crate) fn edit(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
        text: Option<&str>,
        blocks: Option<Value>,
    ) -> Result<Value, &'static str> {
        let edit_ts = self.ts();
        let kind = self
            .channels
            .get(channel)
            .map(|c| c.kind)
            .ok_or("channel_not_found")?;
        let ch = self.channels.get_mut(channel).ok_or("channel_not_found")?;
        let stored = ch
            .messages
            .iter_mut()
            .find(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
            .ok_or("message_not_found")?;
        if stored.get("user").and_then(Value::as_str) != Some(user) {
            return Err("cant_update_message");
        }
        let previous = stored.clone();
        if let Some(t) = text {
            stored["text"] = t.into();
        }
        if let Some(b) = blocks {
            stored["blocks"] = b;
        }
        stored["edited"] = json!({"user": user, "ts": edit_ts});
        let current = stored.clone();
        let event = json!({
            "type": "message",
            "subtype": "message_changed",
            "message": current,
            "previous_message": previous,
            "channel": channel,
            "hidden": true,
            "ts": edit_ts,
            "event_ts": edit_ts,
            "channel_type": Self::channel_type(kind),
        });
        self.emit_to_members(channel, event);
        Ok(current)
    }

    /// Deletes a message; emits `message_deleted` (api.slack.com/events/message/message_deleted).
    pub(crate) fn delete(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
    ) -> Result<(), &'static str> {
        let event_ts = self.ts();
        let ch = self.channels.get_mut(channel).ok_or("channel_not_found")?;
        let kind = ch.kind;
        let index = ch
            .messages
            .iter()
            .position(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
            .ok_or("message_not_found")?;
        if ch.messages[index].get("user").and_then(Value::as_str) != Some(user) {
            return Err("cant_delete_message");
        }
        let previous = ch.messages.remove(index);
        let event = json!({
            "type": "message",
            "subtype": "message_deleted",
            "hidden": true,
            "channel": channel,
            "ts": event_ts,
            "deleted_ts": ts,
            "event_ts": event_ts,
            "previous_message": previous,
            "channel_type": Self::channel_type(kind),
        });
        self.emit_to_members(channel, event);
        Ok(())
    }

    /// A file object (api.slack.com/types/file).
    pub(crate) fn file_json(&self, file: &FileRec) -> Value {
        let filetype = file
            .name
            .rsplit('.')
            .next()
            .unwrap_or("binary")
            .to_lowercase();
        let url_private = format!(
            "{}/files-pri/{}-{}/{}",
            self.base, self.team_id, file.id, file.name
        );
        let url_download = format!(
            "{}/files-pri/{}-{}/download/{}",
            self.base, self.team_id, file.id, file.name
        );
        json!({
            "id": file.id,
            "created": file.created,
            "timestamp": file.created,
            "name": file.name,
            "title": file.title,
            "mimetype": file.mimetype,
            "filetype": filetype,
            "pretty_type": filetype.to_uppercase(),
            "user": file.user,
            "user_team": self.team_id,
            "editable": false,
            "size": file.length,
            "mode": "hosted",
            "is_external": false,
            "external_type": "",
            "is_public": file.channels.iter().any(|c| self.channels.get(c).is_some_and(|c| c.kind == Kind::Public)),
            "public_url_shared": false,
            "display_as_bot": false,
            "username": "",
            "url_private": url_private,
            "url_private_download": url_download,
            "permalink": format!("https://{}.slack.com/files/{}/{}/{}", self.domain, file.user, file.id, file.name),
            "permalink_public": format!("https://slack-files.com/{}-{}-0000", self.team_id, file.id),
            "channels": file.channels.iter().filter(|c| self.channels.get(*c).is_some_and(|c| c.kind == Kind::Public)).collect::<Vec<_>>(),
            "groups": file.channels.iter().filter(|c| self.channels.get(*c).is_some_and(|c| matches!(c.kind, Kind::Private | Kind::Mpim))).collect::<Vec<_>>(),
            "ims": file.channels.iter().filter(|c| self.channels.get(*c).is_some_and(|c| c.kind == Kind::Im)).collect::<Vec<_>>(),
            "has_rich_preview": false,
            "file_access": "visible",
        })
    }

    /// Registers an upload (files.getUploadURLExternal): the file id and the upload key.
    pub(crate) fn start_upload(&mut self, user: &str, name: &str, length: u64) -> (String, String) {
        let id = self.id("F");
        let key = self.secret("up");
        self.files.insert(
            id.clone(),
            FileRec {
                id: id.clone(),
                name: name.to_owned(),
                title: name.to_owned(),
                mimetype: mime_for(name).to_owned(),
                length,
                bytes: None,
                user: user.to_owned(),
                created: now_secs(),
                channels: Vec::new(),
            },
        );
        self.uploads.insert(key.clone(), id.clone());
        (id, key)
    }

    /// Shares uploaded files into `channel` as one `file_share` message
    /// (api.slack.com/events/message/file_share) and emits `file_shared`
    /// (api.slack.com/events/file_shared).
    pub(crate) fn share_files(
        &mut self,
        user: &str,
        channel: &str,
        ids: &[String],
        comment: Option<&str>,
        blocks: Option<Value>,
        thread_ts: Option<&str>,
    ) -> Value {
        for id in ids {
            if let Some(f) = self.files.get_mut(id)
                && !f.channels.iter().any(|c| c == channel)
            {
                f.channels.push(channel.to_owned());
            }
        }
        let files: Vec<Value> = ids
            .iter()
            .filter_map(|id| self.files.get(id))
            .map(|f| self.file_json(f))
            .collect();
        let mut message = match comment {
            Some(text) => self.person_message(user, text, thread_ts),
            None => {
                let mut m = json!({"user": user, "text": ""});
                if let Some(b) = blocks {
                    m["blocks"] = b;
                }
                if let Some(t) = thread_ts {
                    m["thread_ts"] = t.into();
                }
                m
            }
        };
        message["subtype"] = "file_share".into();
        message["files"] = Value::Array(files);
        message["upload"] = false.into();
        message["display_as_bot"] = false.into();
        if let Some(app) = self.apps.values().find(|a| a.bot_user == user) {
            message["bot_id"] = app.bot_id.clone().into();
            message["app_id"] = app.id.clone().into();
        }
        let stored = self.post(channel, message);
        for id in ids {
            let event = json!({
                "type": "file_shared",
                "channel_id": channel,
                "file_id": id,
                "user_id": user,
                "file": {"id": id},
                "event_ts": stored.get("ts").cloned().unwrap_or(Value::Null),
            });
            self.emit_to_members(channel, event);
        }
        stored
    }

    /// A conversation object as conversations.info answers it (api.slack.com/types/conversation),
    /// seen by `viewer`.
    pub(crate) fn channel_json(&self, ch: &Channel, viewer: &str) -> Value {
        let is_member = ch.members.iter().any(|m| m == viewer);
        match ch.kind {
            Kind::Im => {
                let other = ch
                    .members
                    .iter()
                    .find(|m| *m != viewer)
                    .or(ch.members.first())
                    .cloned()
                    .unwrap_or_default();
                json!({
                    "id": ch.id,
                    "created": ch.created,
                    "is_archived": false,
                    "is_im": true,
                    "is_org_shared": false,
                    "context_team_id": self.team_id,
                    "updated": ch.created * 1000,
                    "user": other,
                    "is_user_deleted": false,
                    "priority": 0,
                })
            }
            kind => json!({
                "id": ch.id,
                "name": ch.name,
                "is_channel": matches!(kind, Kind::Public | Kind::Private),
                "is_group": false,
                "is_im": false,
                "is_mpim": kind == Kind::Mpim,
                "is_private": kind != Kind::Public,
                "created": ch.created,
                "is_archived": false,
                "is_general": false,
                "unlinked": 0,
                "name_normalized": ch.name,
                "is_shared": false,
                "is_org_shared": false,
                "is_pending_ext_shared": false,
                "pending_shared": [],
                "context_team_id": self.team_id,
                "updated": ch.created * 1000,
                "parent_conversation": null,
                "creator": ch.creator,
                "is_ext_shared": false,
                "shared_team_ids": [self.team_id],
                "pending_connected_team_ids": [],
                "is_member": is_member,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
            }),
        }
    }

    /// A user object as users.info answers it (api.slack.com/types/user).
    pub(crate) fn user_json(&self, u: &User) -> Value {
        let mut profile = json!({
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": u.real_name,
            "real_name_normalized": u.real_name,
            "display_name": u.name,
            "display_name_normalized": u.name,
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": "g000000000",
            "team": self.team_id,
        });
        if let (Some(bot_id), Some(app_id)) = (&u.bot_id, &u.app_id) {
            profile["bot_id"] = bot_id.clone().into();
            profile["api_app_id"] = app_id.clone().into();
            profile["always_active"] = false.into();
        }
        json!({
            "id": u.id,
            "team_id": self.team_id,
            "name": u.name,
            "deleted": false,
            "color": "9f69e7",
            "real_name": u.real_name,
            "tz": "Etc/UTC",
            "tz_label": "Coordinated Universal Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": false,
            "is_owner": false,
            "is_primary_owner": false,
            "is_restricted": false,
            "is_ultra_restricted": false,
            "is_bot": u.bot_id.is_some(),
            "is_app_user": false,
            "updated": u.created,
        })
    }

    /// Whether the user has a live connection: bots while their app has a socket open, people
    /// always (they are "in the client" in this workspace) unless set away.
    fn is_active(&self, user: &User) -> bool {
        if user.manual_away {
            return false;
        }
        match &user.app_id {
            Some(app) => self.apps.get(app).is_some_and(|a| !a.sockets.is_empty()),
            None => true,
        }
    }

    /// Runs one Web API method for a caller (already authenticated).
    pub(crate) fn call(
        &mut self,
        method: &str,
        caller: &Caller,
        args: &Map<String, Value>,
    ) -> Reply {
        if let Some(queue) = self.failures.get_mut(method)
            && let Some(code) = queue.pop_front()
        {
            return Reply::error(&code);
        }
        match (method, caller) {
            ("apps.connections.open", Caller::AppLevel { .. }) => {}
            ("apps.connections.open", _) | (_, Caller::AppLevel { .. }) => {
                return Reply::error("not_allowed_token_type");
            }
            _ => {}
        }
        if let (Caller::Bot { app }, Some(scope)) = (caller, needed_scope(method))
            && let Some(a) = self.apps.get(app)
            && !a.scopes.contains(scope)
        {
            let mut reply = Reply::error("missing_scope");
            reply.body["needed"] = scope.into();
            reply.body["provided"] = a
                .scopes
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
                .into();
            return reply;
        }
        let me = self.user_of(caller).unwrap_or_default();
        match method {
            "auth.test" => self.auth_test(caller),
            "apps.connections.open" => {
                let Caller::AppLevel { app } = caller else {
                    return Reply::error("not_allowed_token_type");
                };
                let ticket = self.secret("ticket");
                self.tickets.insert(ticket.clone(), app.clone());
                if let Some(a) = self.apps.get_mut(app) {
                    a.connections_opened += 1;
                }
                let base = self.base.replacen("http://", "ws://", 1);
                Reply::ok(json!({"url": format!("{base}/link/?ticket={ticket}&app_id={app}")}))
            }
            "chat.postMessage" => self.chat_post_message(caller, &me, args),
            "chat.update" => {
                let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts"))
                else {
                    return Reply::error(if str_arg(args, "channel").is_none() {
                        "channel_not_found"
                    } else {
                        "message_not_found"
                    });
                };
                let text = str_arg(args, "text");
                let blocks = json_arg(args, "blocks");
                if text.is_none() && blocks.is_none() {
                    return Reply::error("no_text");
                }
                match self.edit(&me, channel, ts, text, blocks) {
                    Ok(message) => Reply::ok(json!({
                        "channel": channel,
                        "ts": ts,
                        "text": message.get("text").cloned().unwrap_or_default(),
                        "message": message,
                    })),
                    Err(code) => Reply::error(code),
                }
            }
            "chat.delete" => {
                let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts"))
                else {
                    return Reply::error("message_not_found");
                };
                match self.delete(&me, channel, ts) {
                    Ok(()) => Reply::ok(json!({"channel": channel, "ts": ts})),
                    Err(code) => Reply::error(code),
                }
            }
            "conversations.open" => {
                if let Some(channel) = str_arg(args, "channel") {
                    return match self.channels.get(channel) {
                        Some(ch) => Reply::ok(json!({"channel": self.channel_json(ch, &me)})),
                        None => Reply::error("channel_not_found"),
                    };
                }
                let Some(users) = str_arg(args, "users") else {
                    return Reply::error("users_list_not_supplied");
                };
                let mut list: Vec<String> = users.split(',').map(|u| u.trim().to_owned()).collect();
                if list.iter().any(|u| !self.users.contains_key(u)) {
                    return Reply::error("user_not_found");
                }
                if list.len() > 8 {
                    return Reply::error("too_many_users");
                }
                list.push(me.clone());
                let existed_before = self.channels.len();
                let id = self.open_conversation(list);
                let ch = &self.channels[&id];
                let mut body = if bool_arg(args, "return_im") {
                    json!({"channel": self.channel_json(ch, &me)})
                } else {
                    json!({"channel": {"id": id}})
                };
                if self.channels.len() == existed_before {
                    body["no_op"] = true.into();
                    body["already_open"] = true.into();
                }
                Reply::ok(body)
            }
            "conversations.info" => {
                match str_arg(args, "channel").and_then(|c| self.visible(c, &me)) {
                    Some(ch) => {
                        let mut channel = self.channel_json(ch, &me);
                        if bool_arg(args, "include_num_members") {
                            channel["num_members"] = ch.members.len().into();
                        }
                        Reply::ok(json!({"channel": channel}))
                    }
                    None => Reply::error("channel_not_found"),
                }
            }
            "conversations.members" => {
                let Some(ch) = str_arg(args, "channel").and_then(|c| self.visible(c, &me)) else {
                    return Reply::error("channel_not_found");
                };
                let limit = num_arg(args, "limit").unwrap_or(100).clamp(1, 1000) as usize;
                let start = match str_arg(args, "cursor") {
                    Some(c) => match parse_cursor(c) {
                        Some(n) => n,
                        None => return Reply::error("invalid_cursor"),
                    },
                    None => 0,
                };
                let page: Vec<&String> = ch.members.iter().skip(start).take(limit).collect();
                let next = if start + page.len() < ch.members.len() {
                    cursor(start + page.len())
                } else {
                    String::new()
                };
                Reply::ok(json!({"members": page, "response_metadata": {"next_cursor": next}}))
            }
            "conversations.history" => self.history(&me, args),
            "conversations.replies" => {
                let Some(ch) = str_arg(args, "channel").and_then(|c| self.visible(c, &me)) else {
                    return Reply::error("channel_not_found");
                };
                if !ch.members.contains(&me) {
                    return Reply::error("not_in_channel");
                }
                let Some(ts) = str_arg(args, "ts") else {
                    return Reply::error("thread_not_found");
                };
                let Some(parent) = self.find_message(&ch.id, ts) else {
                    return Reply::error("thread_not_found");
                };
                let root = parent
                    .get("thread_ts")
                    .and_then(Value::as_str)
                    .unwrap_or(ts)
                    .to_owned();
                let messages: Vec<Value> = ch
                    .messages
                    .iter()
                    .filter(|m| {
                        m.get("ts").and_then(Value::as_str) == Some(&root)
                            || m.get("thread_ts").and_then(Value::as_str) == Some(&root)
                    })
                    .cloned()
                    .collect();
                Reply::ok(
                    json!({"messages": messages, "has_more": false, "response_metadata": {"next_cursor": ""}}),
                )
            }
            "conversations.list" => {
                let types = str_arg(args, "types").unwrap_or("public_channel");
                let wanted: Vec<Kind> = types
                    .split(',')
                    .filter_map(|t| match t.trim() {
                        "public_channel" => Some(Kind::Public),
                        "private_channel" => Some(Kind::Private),
                        "im" => Some(Kind::Im),
                        "mpim" => Some(Kind::Mpim),
                        _ => None,
                    })
                    .collect();
                let channels: Vec<Value> = self
                    .channels
                    .values()
                    .filter(|c| wanted.contains(&c.kind))
                    .filter(|c| c.kind == Kind::Public || c.members.contains(&me))
                    .map(|c| self.channel_json(c, &me))
                    .collect();
                Reply::ok(json!({"channels": channels, "response_metadata": {"next_cursor": ""}}))
            }
            "conversations.join" => {
                let Some(id) = str_arg(args, "channel") else {
                    return Reply::error("channel_not_found");
                };
                let Some(kind) = self.channels.get(id).map(|c| c.kind) else {
                    return Reply::error("channel_not_found");
                };
                if kind != Kind::Public {
                    return Reply::error("method_not_supported_for_channel_type");
                }
                let joined = self.join(&me, id);
                let mut body = json!({"channel": self.channel_json(&self.channels[id], &me)});
                if !joined {
                    body["warning"] = "already_in_channel".into();
                    body["response_metadata"] = json!({"warnings": ["already_in_channel"]});
                }
                Reply::ok(body)
            }
            "conversations.leave" => {
                let Some(id) = str_arg(args, "channel") else {
                    return Reply::error("channel_not_found");
                };
                if self.visible(id, &me).is_none() {
                    return Reply::error("channel_not_found");
                }
                if self.leave(&me, id) {
                    Reply::ok(json!({}))
                } else {
                    Reply::ok(json!({"not_in_channel": true}))
                }
            }
            "users.info" => match str_arg(args, "user").and_then(|u| self.users.get(u)) {
                Some(u) => Reply::ok(json!({"user": self.user_json(u)})),
                None => Reply::error("user_not_found"),
            },
            "users.getPresence" => {
                let who = str_arg(args, "user").unwrap_or(&me).to_owned();
                let Some(u) = self.users.get(&who) else {
                    return Reply::error("user_not_found");
                };
                let active = self.is_active(u);
                let presence = if active { "active" } else { "away" };
                if who == me {
                    Reply::ok(json!({
                        "presence": presence,
                        "online": active,
                        "auto_away": false,
                        "manual_away": u.manual_away,
                        "connection_count": if active { 1 } else { 0 },
                        "last_activity": now_secs(),
                    }))
                } else {
                    Reply::ok(json!({"presence": presence}))
                }
            }
            "users.setPresence" => {
                let away = match str_arg(args, "presence") {
                    Some("away") => true,
                    Some("auto") => false,
                    _ => return Reply::error("invalid_presence"),
                };
                if let Some(u) = self.users.get_mut(&me) {
                    u.manual_away = away;
                }
                Reply::ok(json!({}))
            }
            "files.getUploadURLExternal" => {
                let Some(name) = str_arg(args, "filename") else {
                    return Reply::error("invalid_arguments");
                };
                let Some(length) = num_arg(args, "length") else {
                    return Reply::error("invalid_arguments");
                };
                let name = name.to_owned();
                let (id, key) = self.start_upload(&me, &name, length);
                Reply::ok(
                    json!({"upload_url": format!("{}/upload/v1/{key}", self.base), "file_id": id}),
                )
            }
            "files.completeUploadExternal" => self.complete_upload(&me, args),
            "files.info" => match str_arg(args, "file").and_then(|f| self.files.get(f)) {
                Some(f) if f.bytes.is_some() => Reply::ok(json!({
                    "file": self.file_json(f),
                    "comments": [],
                    "response_metadata": {"next_cursor": ""},
                })),
                _ => Reply::error("file_not_found"),
            },
            _ => Reply::error("unknown_method"),
        }
    }

    /// The channel, if `viewer` may see it: public channels always, the rest to members.
    fn visible(&self, channel: &str, viewer: &str) -> Option<&Channel> {
        self.channels
            .get(channel)
            .filter(|c| c.kind == Kind::Public || c.members.iter().any(|m| m == viewer))
    }

    /// api.slack.com/methods/auth.test, "Example response".
    fn auth_test(&self, caller: &Caller) -> Reply {
        let url = format!("https://{}.slack.com/", self.domain);
        match caller {
            Caller::Bot { app } => {
                let Some(a) = self.apps.get(app) else {
                    return Reply::error("invalid_auth");
                };
                Reply::ok(json!({
                    "url": url,
                    "team": self.team_name,
                    "user": a.name,
                    "team_id": self.team_id,
                    "user_id": a.bot_user,
                    "bot_id": a.bot_id,
                    "is_enterprise_install": false,
                }))
            }
            Caller::User { user } => {
                let name = self
                    .users
                    .get(user)
                    .map(|u| u.name.clone())
                    .unwrap_or_default();
                Reply::ok(json!({
                    "url": url,
                    "team": self.team_name,
                    "user": name,
                    "team_id": self.team_id,
                    "user_id": user,
                    "is_enterprise_install": false,
                }))
            }
            Caller::AppLevel { .. } => Reply::error("not_allowed_token_type"),
        }
    }

    /// api.slack.com/methods/chat.postMessage: `channel` is a conversation id, or a user id for
    /// the DM with that user.
    fn chat_post_message(&mut self, caller: &Caller, me: &str, args: &Map<String, Value>) -> Reply {
        let Some(target) = str_arg(args, "channel").map(str::to_owned) else {
            return Reply::error("channel_not_found");
        };
        let channel = if (target.starts_with('U') || target.starts_with('W'))
            && self.users.contains_key(&target)
        {
            self.open_conversation(vec![me.to_owned(), target.clone()])
        } else {
            target
        };
        let Some(ch) = self.channels.get(&channel) else {
            return Reply::error("channel_not_found");
        };
        let member = ch.members.iter().any(|m| m == me);
        if !member {
            return Reply::error(if ch.kind == Kind::Public {
                "not_in_channel"
            } else {
                "channel_not_found"
            });
        }
        let text = str_arg(args, "text").map(str::to_owned);
        let blocks = json_arg(args, "blocks");
        if blocks == Some(Value::Null) {
            return Reply::error("invalid_blocks");
        }
        if let Some(b) = &blocks
            && !b.is_array()
        {
            return Reply::error("invalid_blocks_format");
        }
        if text.is_none() && blocks.is_none() {
            return Reply::error("no_text");
        }
        if text.as_ref().is_some_and(|t| t.chars().count() > 40_000) {
            return Reply::error("msg_too_long");
        }
        let thread_ts = str_arg(args, "thread_ts").map(str::to_owned);
        if let Some(t) = &thread_ts
            && self.find_message(&channel, t).is_none()
        {
            // Slack posts to the channel when the parent does not exist; it does not fail.
            tracing::debug!(thread_ts = %t, "no such parent: posting to the channel");
        }
        let mut message = json!({"user": me, "text": text.clone().unwrap_or_default()});
        if let Some(b) = blocks {
            message["blocks"] = b;
        }
        if let Some(t) = thread_ts.filter(|t| self.find_message(&channel, t).is_some()) {
            message["thread_ts"] = t.into();
        }
        if let Some(meta) = json_arg(args, "metadata") {
            if meta.get("event_type").and_then(Value::as_str).is_none()
                || !meta.get("event_payload").is_some_and(Value::is_object)
            {
                return Reply::error("invalid_metadata_format");
            }
            message["metadata"] = meta;
        }
        if let Caller::Bot { app } = caller
            && let Some(a) = self.apps.get(app)
        {
            message["bot_id"] = a.bot_id.clone().into();
            message["app_id"] = a.id.clone().into();
            message["bot_profile"] = self.bot_profile(a);
        }
        let stored = self.post(&channel, message);
        let ts = stored.get("ts").cloned().unwrap_or(Value::Null);
        Reply::ok(json!({"channel": channel, "ts": ts, "message": stored}))
    }

    /// api.slack.com/methods/conversations.history: newest first, thread replies left out,
    /// `metadata` only with `include_all_metadata`.
    fn history(&self, me: &str, args: &Map<String, Value>) -> Reply {
        let Some(ch) = str_arg(args, "channel").and_then(|c| self.visible(c, me)) else {
            return Reply::error("channel_not_found");
        };
        if !ch.members.iter().any(|m| m == me) {
            return Reply::error("not_in_channel");
        }
        let limit = num_arg(args, "limit").unwrap_or(100).clamp(1, 999) as usize;
        let inclusive = bool_arg(args, "inclusive");
        let parse = |v: Option<&str>| v.and_then(|s| s.parse::<f64>().ok());
        let latest = parse(str_arg(args, "latest"));
        let oldest = parse(str_arg(args, "oldest"));
        let metadata = bool_arg(args, "include_all_metadata");
        let mut roots: Vec<Value> = ch
            .messages
            .iter()
            .rev()
            .filter(|m| {
                let ts = m.get("ts").and_then(Value::as_str).unwrap_or_default();
                match m.get("thread_ts").and_then(Value::as_str) {
                    Some(t) => t == ts,
                    None => true,
                }
            })
            .filter(|m| {
                let ts: f64 = m
                    .get("ts")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                let below = latest.is_none_or(|l| if inclusive { ts <= l } else { ts < l });
                let above = oldest.is_none_or(|o| if inclusive { ts >= o } else { ts > o });
                below && above
            })
            .cloned()
            .collect();
        let start = match str_arg(args, "cursor") {
            Some(c) => match parse_cursor(c) {
                Some(n) => n,
                None => return Reply::error("invalid_cursor"),
            },
            None => 0,
        };
        let total = roots.len();
        let mut page: Vec<Value> = roots.drain(..).skip(start).take(limit).collect();
        if !metadata {
            for m in &mut page {
                if let Some(o) = m.as_object_mut() {
                    o.remove("metadata");
                }
            }
        }
        let has_more = start + page.len() < total;
        let next = if has_more {
            cursor(start + page.len())
        } else {
            String::new()
        };
        Reply::ok(json!({
            "messages": page,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": next},
        }))
    }

    /// api.slack.com/methods/files.completeUploadExternal.
    fn complete_upload(&mut self, me: &str, args: &Map<String, Value>) -> Reply {
        let Some(Value::Array(files)) = json_arg(args, "files") else {
            return Reply::error("invalid_arguments");
        };
        let mut ids = Vec::new();
        for f in &files {
            let Some(id) = f.get("id").and_then(Value::as_str) else {
                return Reply::error("invalid_arguments");
            };
            match self.files.get_mut(id) {
                Some(rec) if rec.user == me && rec.bytes.is_some() => {
                    if let Some(title) = f.get("title").and_then(Value::as_str) {
                        rec.title = title.to_owned();
                    }
                    ids.push(id.to_owned());
                }
                Some(rec) if rec.user == me => return Reply::error("file_upload_not_completed"),
                _ => return Reply::error("file_not_found"),
            }
        }
        let mut targets: Vec<String> = Vec::new();
        if let Some(c) = str_arg(args, "channel_id") {
            targets.push(c.to_owned());
        }
        if let Some(cs) = str_arg(args, "channels") {
            targets.extend(cs.split(',').map(|c| c.trim().to_owned()));
        }
        let thread_ts = str_arg(args, "thread_ts").map(str::to_owned);
        if thread_ts.is_some() && targets.len() > 1 {
            return Reply::error("invalid_arguments");
        }
        let comment = str_arg(args, "initial_comment").map(str::to_owned);
        let blocks = if comment.is_some() {
            None
        } else {
            json_arg(args, "blocks")
        };
        let mut resolved = Vec::new();
        for target in targets {
            let channel = if (target.starts_with('U') || target.starts_with('W'))
                && self.users.contains_key(&target)
            {
                self.open_conversation(vec![me.to_owned(), target])
            } else {
                target
            };
            match self.channels.get(&channel) {
                Some(ch) if ch.members.iter().any(|m| m == me) => resolved.push(channel),
                Some(ch) if ch.kind == Kind::Public => return Reply::error("not_in_channel"),
                _ => return Reply::error("channel_not_found"),
            }
        }
        for channel in &resolved {
            let thread = thread_ts
                .as_deref()
                .filter(|t| self.find_message(channel, t).is_some())
                .map(str::to_owned);
            self.share_files(
                me,
                channel,
                &ids,
                comment.as_deref(),
                blocks.clone(),
                thread.as_deref(),
            );
        }
        let out: Vec<Value> = ids
            .iter()
            .filter_map(|id| self.files.get(id))
            .map(|f| json!({"id": f.id, "title": f.title}))
            .collect();
        Reply::ok(json!({"files": out}))
    }

    /// Authenticates a token: `Err` with Slack's error code.
    pub(crate) fn authenticate(&self, token: Option<&str>) -> Result<Caller, &'static str> {
        let token = token.ok_or("not_authed")?;
        self.tokens.get(token).cloned().ok_or("invalid_auth")
    }

    /// Fault injection: `Some(retry_after)` if this call is to be refused with HTTP 429.
    pub(crate) fn rate_limited(&mut self, method: &str) -> Option<u64> {
        let entry = self.rate_limits.get_mut(method)?;
        if entry.0 == 0 {
            return None;
        }
        entry.0 -= 1;
        Some(entry.1)
    }

    /// Whether `caller` may download the file: its uploader, or a member of a conversation it is
    /// shared in.
    pub(crate) fn may_download(&self, caller: &Caller, file: &FileRec) -> bool {
        let Some(user) = self.user_of(caller) else {
            return false;
        };
        if matches!(caller, Caller::AppLevel { .. }) {
            return false;
        }
        file.user == user
            || file.channels.iter().any(|c| {
                self.channels
                    .get(c)
                    .is_some_and(|ch| ch.kind == Kind::Public || ch.members.contains(&user))
            })
    }
}

/// A media type from a file name's extension.
pub(crate) fn mime_for(name: &str) -> &'static str {
    match name.rsplit('.').next().map(str::to_lowercase).as_deref() {
        Some("txt") => "text/plain",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        Some("html") => "text/html",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found() {
        assert_eq!(mentions("hi <@U1> and <@U2|bob>!"), vec!["U1", "U2"]);
        assert!(mentions("no <#C1> <@>").is_empty());
    }

    #[test]
    fn timestamps_increase() {
        let mut ws = Workspace::new("http://127.0.0.1:1".into());
        let a = ws.ts();
        let b = ws.ts();
        assert!(b.parse::<f64>().unwrap() > a.parse::<f64>().unwrap() || b > a);
        assert_ne!(a, b);
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(parse_cursor(&cursor(42)), Some(42));
        assert_eq!(parse_cursor("garbage"), None);
    }

    #[test]
    fn rich_text_has_user_elements() {
        let b = rich_text_block("x", "hi <@U1> there");
        let els = &b[0]["elements"][0]["elements"];
        assert_eq!(els[1]["type"], "user");
        assert_eq!(els[1]["user_id"], "U1");
        assert_eq!(els[2]["text"], " there");
    }
}
