//! The workspace: team, users, apps, conversations, messages and files, and the Web API
//! methods that read and change them (`methods`: the method table, the dispatcher and the
//! handlers by family; with `messages`, `files` and `shapes`; argument parsing in `args`).
//!
//! Every JSON shape built here follows the examples in Slack's method and event reference
//! (api.slack.com/methods/…, api.slack.com/events/…); each builder names the page it follows.

mod args;
mod blocks;
mod files;
mod interactions;
mod messages;
mod methods;
mod reactions;
mod shapes;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::redelivery::{Pending, Step, Timetable};

pub use args::DEFAULT_SCOPES;

/// Slackbot's user id, the same in every workspace: its messages (reminders, notices) come
/// from this user.
pub const SLACKBOT: &str = "USLACKBOT";

/// Numbers the workspaces of this process, so that each has its own team id and ids.
static NEXT_INSTANCE: AtomicU32 = AtomicU32::new(1);

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

impl User {
    /// A person `name` (`name` as `real_name` too), created now, not a bot.
    fn person(id: &str, name: &str) -> Self {
        User {
            id: id.to_owned(),
            name: name.to_owned(),
            real_name: name.to_owned(),
            bot_id: None,
            app_id: None,
            manual_away: false,
            created: now_secs(),
        }
    }
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
    /// Every envelope id the app's sockets acknowledged, in order.
    pub(crate) acked: Vec<String>,
    /// How many times apps.connections.open was called.
    pub(crate) connections_opened: u32,
    /// The live sockets: id → control channel.
    pub(crate) sockets: BTreeMap<u64, tokio::sync::mpsc::UnboundedSender<crate::control::Control>>,
    /// The sockets told to disconnect: open still, but nothing more is sent on them.
    pub(crate) closing: BTreeSet<u64>,
    /// The events Slack gave up on (their last attempt failed), in order.
    pub(crate) dropped: Vec<String>,
    /// The interactions and slash commands not acknowledged in time (or sent while no socket
    /// was open), by `trigger_id`, in order: the person saw an error.
    pub(crate) failed_interactions: Vec<String>,
}

/// Records that Slack gave up on `pending`: an event is lost to the app, an interaction or
/// slash command failed for the person.
pub(crate) fn give_up(pending: &Pending, dropped: &mut Vec<String>, failed: &mut Vec<String>) {
    if pending.kind.retried() {
        dropped.push(pending.event_id.clone());
    } else {
        failed.push(pending.event_id.clone());
    }
}

impl App {
    /// Whether a socket is open to send events on (one told to disconnect does not count).
    pub(crate) fn socket_open(&self) -> bool {
        self.sockets.keys().any(|id| !self.closing.contains(id))
    }

    /// Moves every pending event along Slack's timetable up to `now` without sending anything
    /// (a socket's task sends what is due): attempts due while no socket is open fail, and the
    /// events whose last attempt failed are dropped.
    pub(crate) fn sweep(&mut self, now: Instant, table: &Timetable) {
        let open = self.socket_open();
        let (dropped, failed) = (&mut self.dropped, &mut self.failed_interactions);
        self.pending
            .retain_mut(|p| match p.advance(now, open, table) {
                Step::GiveUp => {
                    give_up(p, dropped, failed);
                    false
                }
                Step::Send | Step::Wait => true,
            });
    }
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

impl Channel {
    /// A conversation created now, with no messages yet.
    fn new(id: &str, name: String, kind: Kind, creator: String, members: Vec<String>) -> Self {
        Channel {
            id: id.to_owned(),
            name,
            kind,
            creator,
            created: now_secs(),
            members,
            messages: Vec::new(),
        }
    }
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
    /// This workspace's number in the process (part of every id).
    instance: u32,
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
    /// Tokens revoked (fault injection): every call with them answers `token_revoked`.
    pub(crate) revoked: HashSet<String>,
    /// How many times each Web API method was called (refused calls included).
    pub(crate) calls: HashMap<String, u32>,
    /// When events are sent again: the ack timeout and the retries.
    pub(crate) timetable: Timetable,
    /// Slash commands (`/ticket`) → the app that declared them.
    pub(crate) commands: BTreeMap<String, String>,
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Workspace {
    /// A workspace named `team_name`, handing out URLs on `base`.
    pub(crate) fn new(base: String, team_name: &str) -> Self {
        let domain: String = team_name
            .chars()
            .filter_map(|c| match c {
                'a'..='z' | '0'..='9' | '-' => Some(c),
                'A'..='Z' => Some(c.to_ascii_lowercase()),
                ' ' | '_' => Some('-'),
                _ => None,
            })
            .collect();
        let mut ws = Workspace {
            team_id: String::new(),
            team_name: team_name.to_owned(),
            domain: if domain.is_empty() {
                "workspace".into()
            } else {
                domain
            },
            base,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
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
            revoked: HashSet::new(),
            calls: HashMap::new(),
            timetable: Timetable::default(),
            commands: BTreeMap::new(),
        };
        ws.team_id = ws.id("T");
        // Every workspace has Slackbot (api.slack.com/types/user: `USLACKBOT`).
        ws.users.insert(
            SLACKBOT.to_owned(),
            User {
                real_name: "Slackbot".into(),
                created: 0,
                ..User::person(SLACKBOT, "slackbot")
            },
        );
        ws
    }

    /// A new id with Slack's look: a type letter and upper-case alphanumerics (`U0100001A`),
    /// unique in the process (the workspace's number, then a counter), as Slack's ids are
    /// unique across workspaces.
    pub(crate) fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{:02X}{:06X}", self.instance, self.counter)
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
        self.users.insert(id.clone(), User::person(&id, name));
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

    /// Installs an app with the given bot scopes.
    pub(crate) fn add_app(&mut self, name: &str, scopes: &[&str]) -> String {
        let app_id = self.id("A");
        let bot_user = self.id("U");
        let bot_id = self.id("B");
        let bot_token = self.secret("xoxb");
        let app_token = self.secret("xapp-1");
        self.users.insert(
            bot_user.clone(),
            User {
                bot_id: Some(bot_id.clone()),
                app_id: Some(app_id.clone()),
                ..User::person(&bot_user, name)
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
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                pending: VecDeque::new(),
                ignore_acks: 0,
                delivered: Vec::new(),
                acked: Vec::new(),
                connections_opened: 0,
                sockets: BTreeMap::new(),
                closing: BTreeSet::new(),
                dropped: Vec::new(),
                failed_interactions: Vec::new(),
            },
        );
        app_id
    }

    pub(crate) fn create_channel(&mut self, name: &str, creator: &str, private: bool) -> String {
        let id = self.id("C");
        let kind = if private { Kind::Private } else { Kind::Public };
        self.channels.insert(
            id.clone(),
            Channel::new(&id, name.to_owned(), kind, creator.to_owned(), Vec::new()),
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
        let creator = users.first().cloned().unwrap_or_default();
        self.channels
            .insert(id.clone(), Channel::new(&id, name, kind, creator, users));
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
        let kind = ch.kind;
        let event = self.membership_event("member_joined_channel", user, channel, kind);
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
        let kind = ch.kind;
        let event = self.membership_event("member_left_channel", user, channel, kind);
        // The leaver's app hears of it too, so the audience is taken before the removal.
        self.emit_to_members(channel, event);
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.members.retain(|m| m != user);
        }
        true
    }

    /// A `member_joined_channel` or `member_left_channel` event (`event_type`) for `user` in
    /// `channel` of `kind`, stamped now, `channel_type` `C` for a public channel, else `G`
    /// (api.slack.com/events/member_joined_channel, api.slack.com/events/member_left_channel).
    fn membership_event(
        &mut self,
        event_type: &str,
        user: &str,
        channel: &str,
        kind: Kind,
    ) -> Value {
        let channel_type = if kind == Kind::Public { "C" } else { "G" };
        json!({
            "type": event_type,
            "user": user,
            "channel": channel,
            "channel_type": channel_type,
            "team": self.team_id,
            "event_ts": self.ts(),
        })
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
        a.pending
            .push_back(Pending::new(event_id, payload, Instant::now()));
        for control in a.sockets.values() {
            let _ = control.send(crate::control::Control::Wake);
        }
    }

    /// The channel, if `viewer` may see it: public channels always, the rest to members.
    fn visible(&self, channel: &str, viewer: &str) -> Option<&Channel> {
        self.channels
            .get(channel)
            .filter(|c| c.kind == Kind::Public || c.members.iter().any(|m| m == viewer))
    }

    /// Authenticates a token: `Err` with Slack's error code.
    pub(crate) fn authenticate(&self, token: Option<&str>) -> Result<Caller, &'static str> {
        let token = token.ok_or("not_authed")?;
        if self.revoked.contains(token) {
            return Err("token_revoked");
        }
        self.tokens.get(token).cloned().ok_or("invalid_auth")
    }

    /// Counts a call of `method`.
    pub(crate) fn count_call(&mut self, method: &str) {
        *self.calls.entry(method.to_owned()).or_default() += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_increase() {
        let mut ws = Workspace::new("http://127.0.0.1:1".into(), "Test");
        let a = ws.ts();
        let b = ws.ts();
        assert!(b.parse::<f64>().unwrap() > a.parse::<f64>().unwrap() || b > a);
        assert_ne!(a, b);
    }
}
