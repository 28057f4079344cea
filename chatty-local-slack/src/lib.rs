#![doc = include_str!("../README.md")]

mod control;
mod http;
mod interactions;
mod redelivery;
mod shared;
mod socket;
mod workspace;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::control::Control;
use crate::shared::Inner;
use crate::workspace::{Caller, Workspace};
pub use crate::workspace::{DEFAULT_SCOPES, SLACKBOT};

/// An app installed in the local workspace: its ids and tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    /// The app id (`A…`), as `api_app_id` in events.
    pub app_id: String,
    /// The bot user's id (`U…`): how people mention and DM the bot.
    pub bot_user_id: String,
    /// The bot id (`B…`), as `bot_id` on the bot's messages.
    pub bot_id: String,
    /// The bot token (`xoxb-…`) for the Web API.
    pub bot_token: String,
    /// The app-level token (`xapp-…`) for `apps.connections.open`.
    pub app_token: String,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("bot_user_id", &self.bot_user_id)
            .field("bot_id", &self.bot_id)
            .field("bot_token", &"<redacted>")
            .field("app_token", &"<redacted>")
            .finish()
    }
}

/// The name of a workspace started without one.
const DEFAULT_TEAM_NAME: &str = "Chatty Local";

/// A file shared by [`LocalSlack::share_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    /// The file id (`F…`).
    pub file_id: String,
    /// The `ts` of the `file_share` message.
    pub ts: String,
}

/// A running local Slack on 127.0.0.1: one workspace, its Web API under `/api/`, files v2
/// upload URLs and `url_private` downloads, and Socket Mode. Dropping it stops the server.
///
/// Several can run in one process, each its own workspace on its own port: every workspace
/// has its own team id, and its ids (users, channels, apps) are unique in the process, as
/// Slack's are across workspaces.
///
/// ```no_run
/// use chatty_local_slack::LocalSlack;
///
/// # async fn demo() -> std::io::Result<()> {
/// let acme = LocalSlack::start_named("Acme").await?;
/// let globex = LocalSlack::start_named("Globex").await?;
/// assert_ne!(acme.team_id(), globex.team_id());
/// # Ok(())
/// # }
/// ```
///
/// Acting as a person (`post`, `edit`, `join`, `share_file`, …) produces the events Slack
/// would send, and the fault-injection methods (`rate_limit`, `ignore_acks`, `disconnect`,
/// `kill_sockets`, …) make it misbehave the way Slack can.
pub struct LocalSlack {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for LocalSlack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSlack")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for LocalSlack {
    fn drop(&mut self) {
        self.server.abort();
        let state = self.inner.lock();
        for app in state.apps.values() {
            for control in app.sockets.values() {
                let _ = control.send(Control::Kill);
            }
        }
    }
}

impl LocalSlack {
    /// Starts a local Slack (a workspace named "Chatty Local") on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<LocalSlack> {
        LocalSlack::start_named(DEFAULT_TEAM_NAME).await
    }

    /// Starts a local Slack whose workspace is named `team_name` (its domain is made from
    /// the name) on a free port of 127.0.0.1.
    pub async fn start_named(team_name: &str) -> std::io::Result<LocalSlack> {
        let addr = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
        LocalSlack::bind_named(addr, team_name).await
    }

    /// Starts a local Slack on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<LocalSlack> {
        LocalSlack::bind_named(addr, DEFAULT_TEAM_NAME).await
    }

    /// Starts a local Slack whose workspace is named `team_name` on `addr`.
    pub async fn bind_named(addr: SocketAddr, team_name: &str) -> std::io::Result<LocalSlack> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            workspace: Mutex::new(Workspace::new(format!("http://{addr}"), team_name)),
            sockets: AtomicU64::new(1),
            changed: tokio::sync::Notify::new(),
        });
        let app = http::router(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("the local Slack stopped: {e}");
            }
        });
        Ok(LocalSlack {
            inner,
            addr,
            server,
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Web API base URL, `http://127.0.0.1:PORT/api/` (what SDKs call `base_url`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    /// The workspace's team id (`T…`), different for every local Slack of the process.
    pub fn team_id(&self) -> String {
        self.inner.lock().team_id.clone()
    }

    /// The workspace's name.
    pub fn team_name(&self) -> String {
        self.inner.lock().team_name.clone()
    }

    /// Adds a person; returns the user id (`U…`).
    pub fn add_user(&self, name: &str) -> String {
        self.inner.lock().add_user(name)
    }

    /// A user token (`xoxp-…`) of a person, for calling the Web API as them.
    pub fn user_token(&self, user: &str) -> Option<String> {
        self.inner.lock().user_token(user)
    }

    /// Installs an app with a bot user and the usual bot scopes ([`DEFAULT_SCOPES`]); returns
    /// its ids and tokens.
    pub fn add_app(&self, name: &str) -> AppCredentials {
        self.add_app_with_scopes(name, DEFAULT_SCOPES)
    }

    /// Installs an app granted only `scopes`: the methods that need another answer
    /// `{"ok": false, "error": "missing_scope", "needed": …, "provided": …}` as Slack does.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use chatty_local_slack::{DEFAULT_SCOPES, LocalSlack};
    ///
    /// let slack = LocalSlack::start().await?;
    /// // An app that may not open DMs (no `im:write`).
    /// let scopes: Vec<&str> = DEFAULT_SCOPES.iter().copied().filter(|s| *s != "im:write").collect();
    /// let app = slack.add_app_with_scopes("bot", &scopes);
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_app_with_scopes(&self, name: &str, scopes: &[&str]) -> AppCredentials {
        let mut state = self.inner.lock();
        let id = state.add_app(name, scopes);
        let app = &state.apps[&id];
        AppCredentials {
            app_id: app.id.clone(),
            bot_user_id: app.bot_user.clone(),
            bot_id: app.bot_id.clone(),
            bot_token: app.bot_token.clone(),
            app_token: app.app_token.clone(),
        }
    }

    /// Creates a channel (public, or private with `private`), `creator` in it; returns its id.
    pub fn create_channel(&self, name: &str, creator: &str, private: bool) -> String {
        self.inner.lock().create_channel(name, creator, private)
    }

    /// `user` (a person or a bot user) joins `channel`: `member_joined_channel` goes to the
    /// apps in it. `false` if already a member or no such channel.
    pub fn join(&self, user: &str, channel: &str) -> bool {
        self.inner.lock().join(user, channel)
    }

    /// `user` leaves `channel`: `member_left_channel` goes to the apps in it. `false` if not a
    /// member.
    pub fn leave(&self, user: &str, channel: &str) -> bool {
        self.inner.lock().leave(user, channel)
    }

    /// The DM between two users (opened if new); with more users, a group DM (`G…`).
    pub fn open_conversation(&self, users: &[&str]) -> String {
        self.inner
            .lock()
            .open_conversation(users.iter().map(|u| (*u).to_owned()).collect())
    }

    /// `user` posts `text` in `channel` as Slack's client would; returns the message's `ts`.
    pub fn post(&self, user: &str, channel: &str, text: &str) -> String {
        self.post_in_thread(user, channel, None, text)
    }

    /// `user` posts `text` in `channel`, in the thread of `thread_ts` if given.
    pub fn post_in_thread(
        &self,
        user: &str,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> String {
        let mut state = self.inner.lock();
        let message = state.person_message(user, text, thread_ts);
        let stored = state.post(channel, message);
        stored["ts"].as_str().unwrap_or_default().to_owned()
    }

    /// `user` edits their message: `message_changed` goes out.
    pub fn edit(&self, user: &str, channel: &str, ts: &str, text: &str) -> Result<(), String> {
        self.inner
            .lock()
            .edit(user, channel, ts, Some(text), None)
            .map(drop)
            .map_err(str::to_owned)
    }

    /// `user` deletes their message: `message_deleted` goes out.
    pub fn delete(&self, user: &str, channel: &str, ts: &str) -> Result<(), String> {
        self.inner
            .lock()
            .delete(user, channel, ts)
            .map_err(str::to_owned)
    }

    /// `user` reacts to the message `ts` with the emoji `name` (`thumbsup`, no colons), as
    /// reactions.add does: `reaction_added` goes out; `Err` with Slack's code
    /// (`already_reacted`, `message_not_found`, `invalid_name`, `channel_not_found`).
    pub fn react(&self, user: &str, channel: &str, ts: &str, name: &str) -> Result<(), String> {
        self.inner
            .lock()
            .react(user, channel, ts, name)
            .map_err(str::to_owned)
    }

    /// `user` takes their reaction `name` off the message `ts`, as reactions.remove does:
    /// `reaction_removed` goes out; `Err` with Slack's code (`no_reaction`, …).
    pub fn unreact(&self, user: &str, channel: &str, ts: &str, name: &str) -> Result<(), String> {
        self.inner
            .lock()
            .unreact(user, channel, ts, name)
            .map_err(str::to_owned)
    }

    /// `user` uploads a file and shares it in `channel` with an optional comment, as Slack's
    /// client does: a `file_share` message and `file_shared`.
    pub fn share_file(
        &self,
        user: &str,
        channel: &str,
        name: &str,
        data: impl Into<Bytes>,
        comment: Option<&str>,
    ) -> SharedFile {
        let data = data.into();
        let mut state = self.inner.lock();
        let (id, key) = state.start_upload(user, name, data.len() as u64);
        state.uploads.remove(&key);
        if let Some(f) = state.files.get_mut(&id) {
            f.bytes = Some(data);
        }
        let stored = state.share_files(
            user,
            channel,
            std::slice::from_ref(&id),
            comment,
            None,
            None,
        );
        SharedFile {
            file_id: id,
            ts: stored["ts"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// Every message in `channel` (roots and replies), oldest first, as Slack stores them.
    pub fn messages(&self, channel: &str) -> Vec<Value> {
        self.inner
            .lock()
            .channels
            .get(channel)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// Every message `user` posted anywhere, oldest first per conversation.
    pub fn messages_from(&self, user: &str) -> Vec<(String, Value)> {
        let state = self.inner.lock();
        state
            .channels
            .values()
            .flat_map(|c| {
                c.messages
                    .iter()
                    .filter(|m| m.get("user").and_then(Value::as_str) == Some(user))
                    .map(|m| (c.id.clone(), m.clone()))
            })
            .collect()
    }

    /// The members of a conversation.
    pub fn members(&self, channel: &str) -> Vec<String> {
        self.inner
            .lock()
            .channels
            .get(channel)
            .map(|c| c.members.clone())
            .unwrap_or_default()
    }

    /// An uploaded file's bytes.
    pub fn file_bytes(&self, file_id: &str) -> Option<Bytes> {
        self.inner
            .lock()
            .files
            .get(file_id)
            .and_then(|f| f.bytes.clone())
    }

    /// Fault injection: the next `calls` calls of `method` get HTTP 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn rate_limit(&self, method: &str, calls: u32, retry_after_secs: u64) {
        self.inner
            .lock()
            .rate_limits
            .insert(method.to_owned(), (calls, retry_after_secs));
    }

    /// Fault injection: the next call of `method` fails with `{"ok": false, "error": code}`.
    pub fn fail_next(&self, method: &str, code: &str) {
        self.inner
            .lock()
            .failures
            .entry(method.to_owned())
            .or_default()
            .push_back(code.to_owned());
    }

    /// Takes a scope away from an installed app: the methods that need it then fail with
    /// `missing_scope`, naming it as `needed`.
    pub fn remove_scope(&self, app_id: &str, scope: &str) {
        if let Some(a) = self.inner.lock().apps.get_mut(app_id) {
            a.scopes.remove(scope);
        }
    }

    /// Fault injection: revokes a token (a bot, app-level or user token): every Web API call
    /// with it then answers `{"ok": false, "error": "token_revoked"}`, as Slack does after
    /// `auth.revoke` or an uninstall, and it opens no new socket. Sockets already open stay
    /// open until they drop.
    pub fn revoke_token(&self, token: &str) {
        self.inner.lock().revoked.insert(token.to_owned());
    }

    /// How many times `method` was called, refused calls (bad token, 429, …) included.
    pub fn call_count(&self, method: &str) -> u32 {
        self.inner.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// Fault injection: sends `text` as it is, as one text frame, on every socket of the app
    /// (a malformed or unknown envelope, as a buggy or newer Slack might send).
    pub fn send_raw(&self, app_id: &str, text: &str) {
        if let Some(a) = self.inner.lock().apps.get(app_id) {
            for control in a.sockets.values() {
                let _ = control.send(Control::Raw(text.to_owned()));
            }
        }
    }

    /// Every envelope id the app's sockets acknowledged, in order (ignored acks included).
    pub fn acks_received(&self, app_id: &str) -> Vec<String> {
        self.inner
            .lock()
            .apps
            .get(app_id)
            .map(|a| a.acked.clone())
            .unwrap_or_default()
    }

    /// Calls the Web API method `method` with `token` (any token: a person's, an app's) and
    /// JSON arguments, as an HTTP call would, fault injection included; returns Slack's
    /// answer (`ok`, `error`, …; a 429 as `{"ok": false, "error": "ratelimited"}`).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use chatty_local_slack::LocalSlack;
    /// use serde_json::json;
    ///
    /// let slack = LocalSlack::start().await?;
    /// let alice = slack.add_user("alice");
    /// let general = slack.create_channel("general", &alice, false);
    /// let token = slack.user_token(&alice).unwrap();
    /// let answer = slack.call(&token, "chat.postMessage", json!({
    ///     "channel": general,
    ///     "text": "task created",
    ///     "metadata": {"event_type": "task_created", "event_payload": {"id": 42}},
    /// }));
    /// assert_eq!(answer["ok"], true);
    /// # Ok(())
    /// # }
    /// ```
    pub fn call(&self, token: &str, method: &str, args: Value) -> Value {
        let args = match args {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let reply = {
            let mut state = self.inner.lock();
            state.count_call(method);
            state.api(method, Some(token), &args)
        };
        self.inner.changed.notify_waiters();
        reply.body
    }

    /// The app posts `text` in `channel` as `chat.postMessage` with its bot token does (a
    /// message with `bot_id`, `app_id` and `bot_profile`, and its events); returns the `ts`,
    /// or Slack's error code.
    pub fn post_as_app(&self, app_id: &str, channel: &str, text: &str) -> Result<String, String> {
        let mut args = serde_json::Map::new();
        args.insert("channel".into(), channel.into());
        args.insert("text".into(), text.into());
        let caller = Caller::Bot {
            app: app_id.to_owned(),
        };
        let reply = self.inner.lock().call("chat.postMessage", &caller, &args);
        match reply.body["ts"].as_str() {
            Some(ts) if reply.body["ok"] == true => Ok(ts.to_owned()),
            _ => Err(reply.body["error"].as_str().unwrap_or("unknown").to_owned()),
        }
    }

    /// Fault injection: the next `count` acks from the app's sockets are ignored, so those
    /// events are sent again on Slack's timetable (see [`set_retry_schedule`]), with
    /// `retry_attempt` incremented.
    ///
    /// [`set_retry_schedule`]: LocalSlack::set_retry_schedule
    pub fn ignore_acks(&self, app_id: &str, count: u32) {
        if let Some(a) = self.inner.lock().apps.get_mut(app_id) {
            a.ignore_acks += count;
        }
    }

    /// How long an envelope waits for its ack before the attempt counts as failed (3 s, as
    /// Slack, by default).
    pub fn set_ack_timeout(&self, timeout: Duration) {
        self.inner.lock().timetable.ack_timeout = timeout;
    }

    /// When an event whose delivery failed (not acknowledged in time, its socket closed, or no
    /// socket open) is sent again: retry `n` no earlier than `retries[n - 1]` after the first
    /// attempt, and no more retries than `retries` has. By default Slack's timetable
    /// (docs.slack.dev/apis/events-api#retries): nearly immediately, after 1 minute, after 5
    /// minutes. Tests shorten it to see the same sequence sooner.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let slack = chatty_local_slack::LocalSlack::start().await?;
    /// slack.set_retry_schedule(&[Duration::ZERO, Duration::from_secs(1), Duration::from_secs(5)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_retry_schedule(&self, retries: &[Duration]) {
        self.inner.lock().timetable.retries = retries.to_vec();
    }

    /// The event ids Slack gave up on for the app (their last attempt failed), in order: lost
    /// to the app.
    pub fn dropped_events(&self, app_id: &str) -> Vec<String> {
        let mut state = self.inner.lock();
        let table = state.timetable.clone();
        state.apps.get_mut(app_id).map_or_else(Vec::new, |a| {
            a.sweep(std::time::Instant::now(), &table);
            a.dropped.clone()
        })
    }

    /// Sends `{"type": "disconnect", "reason": reason}` on every socket of the app
    /// (`refresh_requested`, `link_disabled`, `warning`, …); each closes shortly after.
    pub fn disconnect(&self, app_id: &str, reason: &str) {
        if let Some(a) = self.inner.lock().apps.get(app_id) {
            for control in a.sockets.values() {
                let _ = control.send(Control::Disconnect(reason.to_owned()));
            }
        }
    }

    /// Drops every socket of the app without a close frame (a network failure).
    pub fn kill_sockets(&self, app_id: &str) {
        if let Some(a) = self.inner.lock().apps.get(app_id) {
            for control in a.sockets.values() {
                let _ = control.send(Control::Kill);
            }
        }
    }

    /// How many sockets of the app are open.
    pub fn socket_count(&self, app_id: &str) -> usize {
        self.inner
            .lock()
            .apps
            .get(app_id)
            .map_or(0, |a| a.sockets.len())
    }

    /// How many times the app called `apps.connections.open`.
    pub fn connections_opened(&self, app_id: &str) -> u32 {
        self.inner
            .lock()
            .apps
            .get(app_id)
            .map_or(0, |a| a.connections_opened)
    }

    /// Every envelope sent to the app: (event id, `retry_attempt`), in order.
    pub fn deliveries(&self, app_id: &str) -> Vec<(String, u32)> {
        self.inner
            .lock()
            .apps
            .get(app_id)
            .map(|a| a.delivered.clone())
            .unwrap_or_default()
    }

    /// How many events wait for the app's ack or for their next attempt (not those Slack
    /// gave up on: see [`dropped_events`](LocalSlack::dropped_events)).
    pub fn pending_events(&self, app_id: &str) -> usize {
        let mut state = self.inner.lock();
        let table = state.timetable.clone();
        state.apps.get_mut(app_id).map_or(0, |a| {
            a.sweep(std::time::Instant::now(), &table);
            a.pending.len()
        })
    }

    /// Waits until `condition` holds, polling every 20 ms; `false` after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&LocalSlack) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
