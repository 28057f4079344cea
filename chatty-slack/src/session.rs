//! The Slack session: one app (bot token + app-level token) serving a bot.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::reexports::serde_json::{Map, Value, json};
use chatty_core::{
    Address, AddressKind, Answer, Availability, Body, Capabilities, ConnectionError,
    ConnectionErrorKind, Content, DeliveryStatus, FailureKind, Features, File, History,
    InboundSink, MemberStatus, Page, Presence, Query, QueryError, Refusal, Revealed, Session,
    SessionEnd, SessionError, Signal, SignalId, Signals, Status, SystemError,
};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::sync::mpsc;

use crate::PLATFORM;
use crate::config::{ConfigError, SlackConfig};
use crate::convert::{Ids, Inbound, Mapper, Place, Plan, describe, plan};

/// What the session carries: see the capability table in the crate documentation.
const CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::PRESENCE)
        .union(Signals::IN_ROOM)
        .union(Signals::USER_DEFINED)
        .union(Signals::DOWNLOAD_FILE),
    Features::HTML
        .union(Features::ATTACHMENTS)
        .union(Features::REPLIES)
        .union(Features::EDITS),
);

/// How many event ids and message places the session remembers to drop redeliveries.
const SEEN: usize = 10_000;
/// The largest file a Download file signal fetches.
const MAX_DOWNLOAD: usize = 1 << 30;

type Client = SlackClient<SlackClientHyperConnector<HttpsConnector<HttpConnector>>>;
type Http = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, String>;

/// What `send` hands to the session's task.
enum Command {
    /// End the session.
    End(SessionEnd),
}

/// What the Socket Mode callbacks hand to the session's task (after the ack went out).
#[derive(Debug)]
enum Pushed {
    /// A socket said hello.
    Hello,
    /// An `events_api` payload (the `event_callback`).
    Event(Value),
    /// The listener reported an error.
    Error(String),
}

/// The Socket Mode callbacks' way to the session's task (slack-morphism's user state).
struct Bridge(mpsc::UnboundedSender<Pushed>);

/// What the session knows once connected.
struct Conn {
    client: Arc<Client>,
    bot: SlackApiToken,
    bot_secret: Revealed,
    http: Http,
    mapper: Mapper,
}

/// A Web API failure.
#[derive(Debug)]
enum ApiError {
    /// `ok: false` with Slack's error code.
    Slack(String),
    /// HTTP 429 more often in a row than configured.
    RateLimited(String),
    /// The request did not get an answer (network, HTTP status, unreadable answer).
    Transport(String),
}

impl ApiError {
    fn refusal(&self, method: &str) -> Refusal {
        match self {
            ApiError::Slack(code) => {
                let kind = match code.as_str() {
                    "channel_not_found" | "user_not_found" | "users_not_found" | "is_archived"
                    | "invalid_channel" => FailureKind::UnknownAddressee,
                    "msg_too_long" | "too_many_attachments" | "file_too_large" => {
                        FailureKind::TooLarge
                    }
                    "ratelimited" | "rate_limited" => FailureKind::RateLimited,
                    "not_in_channel"
                    | "restricted_action"
                    | "missing_scope"
                    | "not_authed"
                    | "invalid_auth"
                    | "account_inactive"
                    | "cant_update_message"
                    | "cant_delete_message"
                    | "no_permission" => FailureKind::Rejected,
                    _ => FailureKind::Other,
                };
                Refusal::new(kind, format!("Slack's {method} answered {code}")).with_code(code)
            }
            ApiError::RateLimited(m) => {
                Refusal::new(FailureKind::RateLimited, m.clone()).with_code("ratelimited")
            }
            ApiError::Transport(m) => Refusal::new(FailureKind::Unreachable, m.clone()),
        }
    }

    fn query_error(&self, method: &str) -> QueryError {
        QueryError::Failed {
            message: match self {
                ApiError::Slack(code) => format!("Slack's {method} answered {code}"),
                ApiError::RateLimited(m) | ApiError::Transport(m) => m.clone(),
            },
        }
    }
}

/// Recently seen keys, bounded.
#[derive(Default)]
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// `true` the first time a key is seen.
    fn first(&mut self, key: String) -> bool {
        if !self.set.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > SEEN {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// A Slack app serving a bot: Events API over Socket Mode in, the Web API out.
///
/// [`run`](Session::run) checks the bot token (`auth.test`) and the app-level token, joins the
/// configured channels, opens Socket Mode, and pushes `SessionStarted` with the bot's own
/// address (`slack:TEAM/USER;kind=individual`) once the socket said `hello`. Envelopes are
/// acknowledged as soon as they arrive; the mapping happens after the ack, so a slow bot never
/// makes Slack redeliver, and a redelivered envelope (same `event_id`) is dropped.
///
/// [`send`](Session::send) calls the Web API one signal at a time, in order: an `ok: false`
/// answer becomes the refusal (a `SendFailure` naming the signal, with Slack's error code);
/// HTTP 429 is waited out for its `Retry-After` and the call made again.
pub struct SlackSession {
    config: SlackConfig,
    conn: RwLock<Option<Arc<Conn>>>,
    sending: tokio::sync::Mutex<()>,
    ids: Mutex<Ids>,
    dms: Mutex<HashMap<String, String>>,
    delivery: Mutex<(HashMap<SignalId, DeliveryStatus>, VecDeque<SignalId>)>,
    inbound: Mutex<Option<InboundSink>>,
    commands: mpsc::Sender<Command>,
    receiver: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl fmt::Debug for SlackSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackSession")
            .field("name", &self.config.name)
            .field("api_url", &self.config.api_url)
            .field("address", &self.address())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SlackSession {
    /// A session for the app in `config` (checked here; nothing connects until `run`).
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (commands, receiver) = mpsc::channel(16);
        Ok(SlackSession {
            config,
            conn: RwLock::new(None),
            sending: tokio::sync::Mutex::new(()),
            ids: Mutex::new(Ids::default()),
            dms: Mutex::new(HashMap::new()),
            delivery: Mutex::new((HashMap::new(), VecDeque::new())),
            inbound: Mutex::new(None),
            commands,
            receiver: Mutex::new(Some(receiver)),
        })
    }

    /// The bot's own address, once the session has connected (`auth.test` told it).
    pub fn address(&self) -> Option<Address> {
        self.conn().map(|c| c.mapper.own().clone())
    }

    fn conn(&self) -> Option<Arc<Conn>> {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn own(&self) -> Option<Address> {
        self.address()
    }

    fn error(&self, message: impl Into<String>) -> SessionError {
        SessionError {
            session: self.config.name.clone(),
            message: message.into(),
        }
    }

    /// Calls a Web API method with the bot token (JSON body for write methods, query
    /// arguments for the rest), waiting out HTTP 429 answers for their `Retry-After`.
    async fn call(
        &self,
        conn: &Conn,
        method: &str,
        args: Map<String, Value>,
        json_body: bool,
    ) -> Result<Value, ApiError> {
        let mut limited = 0;
        loop {
            let session = conn.client.open_session(&conn.bot);
            let result: ClientResult<Value> = if json_body {
                session
                    .http_session_api
                    .http_post(method, &Value::Object(args.clone()), None)
                    .await
            } else {
                let params: Vec<(&str, Option<String>)> = args
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.as_str(), Some(text))
                    })
                    .collect();
                session
                    .http_session_api
                    .http_get(method, &params, None)
                    .await
            };
            match result {
                Ok(value) => return Ok(value),
                Err(SlackClientError::RateLimitError(e)) => {
                    limited += 1;
                    if limited > self.config.rate_limit_retries {
                        return Err(ApiError::RateLimited(format!(
                            "Slack's {method} answered HTTP 429 {limited} times in a row"
                        )));
                    }
                    let wait = e.retry_after.unwrap_or(Duration::from_secs(1));
                    tracing::debug!(%method, ?wait, "rate limited: waiting for Retry-After");
                    tokio::time::sleep(wait).await;
                }
                Err(SlackClientError::ApiError(e)) => return Err(ApiError::Slack(e.code)),
                Err(e) => {
                    return Err(ApiError::Transport(format!(
                        "Slack's {method} could not be called: {e}"
                    )));
                }
            }
        }
    }

    /// The conversation an address names: the DM for a user (opened once, then remembered),
    /// the channel for a conversation id.
    async fn channel_for(&self, conn: &Conn, address: &Address) -> Result<String, Refusal> {
        let id = conn
            .mapper
            .slack_id(address)
            .map_err(|m| Refusal::new(FailureKind::UnknownAddressee, m))?;
        match Mapper::kind_of_id(id) {
            AddressKind::Individual if !id.starts_with('D') => {
                if let Some(dm) = lock(&self.dms).get(id) {
                    return Ok(dm.clone());
                }
                let mut args = Map::new();
                args.insert("users".into(), id.into());
                let answer = self
                    .call(conn, "conversations.open", args, true)
                    .await
                    .map_err(|e| e.refusal("conversations.open"))?;
                let dm = answer["channel"]["id"]
                    .as_str()
                    .ok_or_else(|| {
                        Refusal::new(
                            FailureKind::Other,
                            "conversations.open answered no channel id",
                        )
                    })?
                    .to_owned();
                lock(&self.dms).insert(id.to_owned(), dm.clone());
                Ok(dm)
            }
            _ => Ok(id.to_owned()),
        }
    }

    fn record(&self, id: &SignalId, status: DeliveryStatus) {
        let mut guard = lock(&self.delivery);
        let (map, order) = &mut *guard;
        if map.insert(id.clone(), status).is_none() {
            order.push_back(id.clone());
        }
        while order.len() > SEEN {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// Carries one signal (the send lock is held: signals go out in order).
    async fn carry(&self, conn: &Conn, signal: Signal) -> Result<(), Refusal> {
        match &signal.body {
            Body::StatusChange(change) => return self.status(conn, &change.status).await,
            Body::DownloadFile(request) => {
                return self.download(conn, &signal, &request.file).await;
            }
            Body::Message(_) | Body::File(_) | Body::UserDefined(_) => {}
            other => {
                return Err(Refusal::new(
                    FailureKind::Other,
                    format!("a {:?} signal cannot be sent to Slack", other.kind()),
                ));
            }
        }
        if signal.meta.addressees.is_empty() {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                "the signal has no addressee",
            ));
        }
        let edited = match &signal.body {
            Body::Message(m) => m.edit.as_ref().and_then(|e| lock(&self.ids).place(&e.of)),
            _ => None,
        };
        let plan = plan(&signal, edited).map_err(|m| Refusal::new(FailureKind::Rejected, m))?;
        let response = signal
            .meta
            .response_to
            .as_ref()
            .and_then(|r| lock(&self.ids).place(r));
        for address in &signal.meta.addressees {
            let channel = self.channel_for(conn, address).await?;
            // A reply goes in the thread of the message it answers (a thread's root: Slack
            // threads are one level deep), when that message is in the same conversation.
            let thread_ts = response
                .as_ref()
                .filter(|p| p.channel == channel)
                .map(|p| p.thread.clone().unwrap_or_else(|| p.ts.clone()));
            let result = self
                .execute(conn, &plan, &channel, thread_ts.as_deref())
                .await;
            match result {
                Ok(Some(ts)) => {
                    self.record(&signal.meta.id, DeliveryStatus::Sent);
                    lock(&self.ids).remember(
                        signal.meta.id.clone(),
                        Place {
                            channel: channel.clone(),
                            ts,
                            thread: thread_ts.clone(),
                        },
                    );
                }
                Ok(None) => self.record(&signal.meta.id, DeliveryStatus::Sent),
                Err((method, e)) => {
                    let refusal = e.refusal(method);
                    self.record(
                        &signal.meta.id,
                        DeliveryStatus::Failed {
                            kind: refusal.kind,
                            message: refusal.message.clone(),
                        },
                    );
                    return Err(refusal);
                }
            }
        }
        Ok(())
    }

    /// Runs a plan in `channel`; the `ts` of the new message where there is one.
    async fn execute(
        &self,
        conn: &Conn,
        plan: &Plan,
        channel: &str,
        thread_ts: Option<&str>,
    ) -> Result<Option<String>, (&'static str, ApiError)> {
        match plan {
            Plan::Post(args) => {
                let mut args = args.clone();
                args.insert("channel".into(), channel.into());
                if let Some(t) = thread_ts {
                    args.insert("thread_ts".into(), t.into());
                }
                tracing::debug!(channel, text = %describe(&args), "chat.postMessage");
                let answer = self
                    .call(conn, "chat.postMessage", args, true)
                    .await
                    .map_err(|e| ("chat.postMessage", e))?;
                Ok(answer["ts"].as_str().map(str::to_owned))
            }
            Plan::Update(place, args) => {
                let mut args = args.clone();
                args.insert("channel".into(), place.channel.clone().into());
                args.insert("ts".into(), place.ts.clone().into());
                self.call(conn, "chat.update", args, true)
                    .await
                    .map_err(|e| ("chat.update", e))?;
                Ok(None)
            }
            Plan::Delete(place) => {
                let mut args = Map::new();
                args.insert("channel".into(), place.channel.clone().into());
                args.insert("ts".into(), place.ts.clone().into());
                self.call(conn, "chat.delete", args, true)
                    .await
                    .map_err(|e| ("chat.delete", e))?;
                Ok(None)
            }
            Plan::Upload { files, blocks } => {
                let mut ids = Vec::new();
                for (name, media_type, data) in files {
                    ids.push(self.upload(conn, name, media_type.as_deref(), data).await?);
                }
                let mut args = Map::new();
                args.insert(
                    "files".into(),
                    Value::Array(
                        ids.iter()
                            .zip(files)
                            .map(|(id, (name, _, _))| json!({"id": id, "title": name}))
                            .collect(),
                    ),
                );
                args.insert("channel_id".into(), channel.into());
                args.insert("blocks".into(), blocks.clone());
                if let Some(t) = thread_ts {
                    args.insert("thread_ts".into(), t.into());
                }
                self.call(conn, "files.completeUploadExternal", args, true)
                    .await
                    .map_err(|e| ("files.completeUploadExternal", e))?;
                // The share's ts comes with its event (the session's own, skipped), not here.
                Ok(None)
            }
        }
    }

    /// Files v2: `files.getUploadURLExternal`, then the bytes to the upload URL.
    async fn upload(
        &self,
        conn: &Conn,
        name: &str,
        media_type: Option<&str>,
        data: &Bytes,
    ) -> Result<String, (&'static str, ApiError)> {
        let mut args = Map::new();
        args.insert("filename".into(), name.into());
        args.insert("length".into(), data.len().to_string().into());
        let answer = self
            .call(conn, "files.getUploadURLExternal", args, false)
            .await
            .map_err(|e| ("files.getUploadURLExternal", e))?;
        let typed: SlackApiFilesGetUploadUrlExternalResponse =
            chatty_core::reexports::serde_json::from_value(answer).map_err(|e| {
                (
                    "files.getUploadURLExternal",
                    ApiError::Transport(format!(
                        "files.getUploadURLExternal answered no usable upload_url and file_id: {e}"
                    )),
                )
            })?;
        let url = typed.upload_url.value().clone();
        let id = typed.file_id.value().clone();
        let session = conn.client.open_session(&conn.bot);
        let mut limited = 0;
        loop {
            let result: ClientResult<Value> = session
                .http_session_api
                .http_post_uri_binary(
                    url.clone(),
                    media_type.unwrap_or("application/octet-stream").to_owned(),
                    data,
                    None,
                )
                .await;
            match result {
                Ok(_) => return Ok(id),
                Err(SlackClientError::RateLimitError(e))
                    if limited < self.config.rate_limit_retries =>
                {
                    limited += 1;
                    tokio::time::sleep(e.retry_after.unwrap_or(Duration::from_secs(1))).await;
                }
                Err(e) => {
                    return Err((
                        "files upload",
                        ApiError::Transport(format!("uploading {name} failed: {e}")),
                    ));
                }
            }
        }
    }

    /// The bot's own presence (`users.setPresence`), or joining / leaving a channel.
    async fn status(&self, conn: &Conn, status: &Status) -> Result<(), Refusal> {
        match status {
            Status::Presence { availability } => {
                let presence = match availability {
                    Availability::Available | Availability::Chatty => "auto",
                    _ => "away",
                };
                let mut args = Map::new();
                args.insert("presence".into(), presence.into());
                self.call(conn, "users.setPresence", args, false)
                    .await
                    .map(drop)
                    .map_err(|e| e.refusal("users.setPresence"))
            }
            Status::InRoom { room, present, .. } => {
                let channel = conn
                    .mapper
                    .slack_id(room)
                    .map_err(|m| Refusal::new(FailureKind::UnknownAddressee, m))?;
                let method = if *present {
                    "conversations.join"
                } else {
                    "conversations.leave"
                };
                let mut args = Map::new();
                args.insert("channel".into(), channel.into());
                self.call(conn, method, args, true)
                    .await
                    .map(drop)
                    .map_err(|e| e.refusal(method))
            }
            Status::Typing { .. } => Err(Refusal::new(
                FailureKind::Other,
                "typing indicators are not in the Events API (RTM only)",
            )),
        }
    }

    /// Fetches a file's URL with the bot token and pushes the bytes as a File signal answering
    /// the request.
    async fn download(&self, conn: &Conn, request: &Signal, file: &File) -> Result<(), Refusal> {
        let Content::Url { url, .. } = &file.content else {
            return Err(Refusal::new(
                FailureKind::Other,
                "the file has its bytes already",
            ));
        };
        let data = fetch(&conn.http, url, conn.bot_secret.expose())
            .await
            .map_err(|m| Refusal::new(FailureKind::Unreachable, m))?;
        let mut answer = Signal::new(File::bytes(
            file.name.clone(),
            file.media_type.as_deref(),
            data,
        ));
        answer.meta.response_to = Some(request.meta.id.clone());
        answer.meta.origin = Some(conn.mapper.own().clone());
        answer.meta.addressees = vec![conn.mapper.own().clone()];
        answer.meta.sent = Some(chatty_core::now());
        let sink = lock(&self.inbound).clone();
        match sink {
            Some(sink) => sink
                .send(answer)
                .await
                .map_err(|_| Refusal::new(FailureKind::Other, "the bot stopped listening")),
            None => Err(Refusal::new(
                FailureKind::Unreachable,
                "the session is not running",
            )),
        }
    }

    async fn serve(
        self: &Arc<Self>,
        inbound: &InboundSink,
    ) -> Result<Option<SessionEnd>, SessionError> {
        install_crypto_provider();
        let Some(mut commands) = lock(&self.receiver).take() else {
            return Err(self.error("the session is running already, or has run"));
        };
        *lock(&self.inbound) = Some(inbound.clone());
        let fail = |kind, cause: String| ConnectionError {
            kind,
            cause,
            retry_in: None,
        };
        let tokens = self
            .config
            .load_bot_token()
            .and_then(|b| self.config.load_app_token().map(|a| (b, a)));
        let (bot_secret, app_secret) = match tokens {
            Ok(t) => t,
            Err(e) => {
                let _ = inbound
                    .send(Signal::internal(
                        None,
                        fail(ConnectionErrorKind::Other, e.to_string()),
                    ))
                    .await;
                return Err(self.error(e.to_string()));
            }
        };
        let connector = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
            Ok(builder) => builder
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .build(),
            Err(e) => {
                let cause = format!("no TLS root certificates: {e}");
                let _ = inbound
                    .send(Signal::internal(
                        None,
                        fail(ConnectionErrorKind::Tls, cause.clone()),
                    ))
                    .await;
                return Err(self.error(cause));
            }
        };
        let http: Http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector.clone());
        let client = Arc::new(SlackClient::new(
            SlackClientHyperConnector::with_connector(connector)
                .with_slack_api_url(&self.config.api_base()),
        ));
        let bot = SlackApiToken::new(SlackApiTokenValue::new(bot_secret.expose().to_owned()));
        let app = SlackApiToken::new(SlackApiTokenValue::new(app_secret.expose().to_owned()));

        // auth.test (the bot token) and apps.connections.open (the app token), with backoff.
        let (min, max) = self.config.reconnect_backoff();
        let mut delay = min;
        let mapper = loop {
            let attempt = self.check_tokens(&client, &bot, &app).await;
            let error = match attempt {
                Ok(mapper) => break mapper,
                Err((kind, cause, retry)) => {
                    let mut error = fail(kind, cause);
                    if retry {
                        error.retry_in = Some(chatty_core::jittered(delay));
                    }
                    error
                }
            };
            tracing::warn!(kind = ?error.kind, "{}", error.cause);
            let retry_in = error.retry_in;
            if inbound
                .send(Signal::internal(None, error.clone()))
                .await
                .is_err()
            {
                return Ok(None);
            }
            let Some(wait) = retry_in else {
                return Err(self.error(error.cause));
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                command = commands.recv() => match command {
                    Some(Command::End(end)) => return Ok(Some(end)),
                    None => return Ok(None),
                },
            }
            delay = (delay * 2).min(max);
        };
        let own = Some(mapper.own().clone());
        let conn = Arc::new(Conn {
            client: client.clone(),
            bot,
            bot_secret,
            http,
            mapper,
        });
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());

        for channel in &self.config.channels {
            let mut args = Map::new();
            args.insert("channel".into(), channel.clone().into());
            if let Err(e) = self.call(&conn, "conversations.join", args, true).await {
                let error = SystemError {
                    component: "slack".into(),
                    message: format!(
                        "joining {channel}: {}",
                        e.refusal("conversations.join").message
                    ),
                };
                let _ = inbound.send(Signal::internal(own.clone(), error)).await;
            }
        }

        // Socket Mode: the callbacks only queue what arrives (the ack goes out when they
        // return); the mapping happens here.
        let (pushed_tx, mut pushed) = mpsc::unbounded_channel();
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client.clone())
                .with_error_handler(on_error)
                .with_user_state(Bridge(pushed_tx)),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(on_hello)
            .with_push_events(on_push);
        let reconnect_secs = min.as_secs().max(1);
        let socket_config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(1)
            .with_initial_backoff_in_seconds(reconnect_secs)
            .with_reconnect_timeout_in_seconds(reconnect_secs)
            .with_ping_interval_in_seconds(5)
            .with_ping_failure_threshold_times(3);
        let listener = Arc::new(SlackClientSocketModeListener::new(
            &socket_config,
            environment,
            callbacks,
        ));
        if let Err(e) = listener.listen_for(&app).await {
            let cause = format!("Socket Mode could not start: {e}");
            let _ = inbound
                .send(Signal::internal(
                    own.clone(),
                    fail(ConnectionErrorKind::Protocol, cause.clone()),
                ))
                .await;
            return Err(self.error(cause));
        }
        let starter = {
            let listener = listener.clone();
            tokio::spawn(async move { listener.start().await })
        };

        let mut events = Seen::default();
        let mut places = Seen::default();
        let hello_timeout = self.config.connect_timeout();
        let mut started = false;
        let mut hello_deadline = tokio::time::Instant::now() + hello_timeout;
        let end = loop {
            tokio::select! {
                () = tokio::time::sleep_until(hello_deadline), if !started => {
                    let error = ConnectionError {
                        kind: ConnectionErrorKind::Unreachable,
                        cause: format!("no Socket Mode hello within {hello_timeout:?}; still trying"),
                        retry_in: Some(Duration::from_secs(reconnect_secs)),
                    };
                    if inbound.send(Signal::internal(own.clone(), error)).await.is_err() {
                        break None;
                    }
                    hello_deadline = tokio::time::Instant::now() + hello_timeout;
                }
                item = pushed.recv() => match item {
                    Some(Pushed::Hello) => {
                        if !started {
                            started = true;
                            if inbound.started(PLATFORM, own.clone()).await.is_err() {
                                break None;
                            }
                        } else {
                            tracing::debug!("Socket Mode reconnected");
                        }
                    }
                    Some(Pushed::Event(payload)) => {
                        if !started {
                            // An event before hello cannot happen; start anyway.
                            started = true;
                            if inbound.started(PLATFORM, own.clone()).await.is_err() {
                                break None;
                            }
                        }
                        if let Some(signal) = self.inbound_event(&conn, &payload, &mut events, &mut places)
                            && inbound.send(signal).await.is_err()
                        {
                            break None;
                        }
                    }
                    Some(Pushed::Error(cause)) => {
                        let error = ConnectionError {
                            kind: ConnectionErrorKind::Unreachable,
                            cause,
                            retry_in: Some(Duration::from_secs(reconnect_secs)),
                        };
                        if started && inbound.send(Signal::internal(own.clone(), error)).await.is_err() {
                            break None;
                        }
                    }
                    None => break Some(SessionEnd { reason: Some("Socket Mode stopped".into()) }),
                },
                command = commands.recv() => match command {
                    Some(Command::End(end)) => break Some(end),
                    None => break None,
                },
            }
        };
        starter.abort();
        let Some(end) = end else {
            listener.shutdown().await;
            return Ok(None);
        };
        // The last chance to send: sends go straight to the Web API, so the bot's answers go
        // out while it handles SessionAboutToEnd.
        let _ = inbound
            .send(Signal::internal(
                own.clone(),
                Body::SessionAboutToEnd(end.clone()),
            ))
            .await;
        // Wait for sends in progress.
        drop(self.sending.lock().await);
        listener.shutdown().await;
        Ok(Some(end))
    }

    /// `auth.test` with the bot token and `apps.connections.open` with the app token.
    async fn check_tokens(
        &self,
        client: &Arc<Client>,
        bot: &SlackApiToken,
        app: &SlackApiToken,
    ) -> Result<Mapper, (ConnectionErrorKind, String, bool)> {
        let classify = |method: &str, e: SlackClientError| match e {
            SlackClientError::ApiError(e) => {
                let auth = matches!(
                    e.code.as_str(),
                    "invalid_auth"
                        | "not_authed"
                        | "account_inactive"
                        | "token_revoked"
                        | "token_expired"
                        | "not_allowed_token_type"
                        | "missing_scope"
                );
                let kind = if auth {
                    ConnectionErrorKind::Authentication
                } else {
                    ConnectionErrorKind::Protocol
                };
                (kind, format!("Slack's {method} answered {}", e.code), !auth)
            }
            SlackClientError::RateLimitError(_) => (
                ConnectionErrorKind::Unreachable,
                format!("Slack's {method} is rate limited"),
                true,
            ),
            other => (
                ConnectionErrorKind::Unreachable,
                format!(
                    "Slack's {method} at {} could not be called: {other}",
                    self.config.api_url
                ),
                true,
            ),
        };
        let answer: Value = client
            .open_session(bot)
            .http_session_api
            .http_post("auth.test", &json!({}), None)
            .await
            .map_err(|e| classify("auth.test", e))?;
        let (Some(team), Some(user)) = (answer["team_id"].as_str(), answer["user_id"].as_str())
        else {
            return Err((
                ConnectionErrorKind::Protocol,
                "auth.test answered no team_id or user_id".into(),
                true,
            ));
        };
        let bot_id = answer["bot_id"].as_str().unwrap_or_default();
        let _: Value = client
            .open_session(app)
            .http_session_api
            .http_post("apps.connections.open", &json!({}), None)
            .await
            .map_err(|e| classify("apps.connections.open", e))?;
        Mapper::new(&self.config.name, team, user, bot_id)
            .map_err(|m| (ConnectionErrorKind::Protocol, m, false))
    }

    /// Maps one `event_callback`; `None` for redeliveries and events that are not for the bot.
    fn inbound_event(
        &self,
        conn: &Conn,
        payload: &Value,
        events: &mut Seen,
        places: &mut Seen,
    ) -> Option<Signal> {
        let event = payload.get("event")?;
        if let Some(event_id) = payload.get("event_id").and_then(Value::as_str)
            && !events.first(event_id.to_owned())
        {
            tracing::debug!(event_id, "a redelivered event: dropped");
            return None;
        }
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // A mention arrives twice (`message` and `app_mention`): the first one counts.
        if matches!(kind, "message" | "app_mention")
            && event
                .get("subtype")
                .is_none_or(|s| s == "file_share" || s == "thread_broadcast" || s == "bot_message")
            && let (Some(channel), Some(ts)) = (
                event.get("channel").and_then(Value::as_str),
                event.get("ts").and_then(Value::as_str),
            )
            && !places.first(format!("{channel}/{ts}"))
        {
            return None;
        }
        let mapped = {
            let ids = lock(&self.ids);
            conn.mapper.inbound(event, &ids)
        };
        match mapped {
            Inbound::Signal(signal, place) => {
                if let Some(place) = place {
                    lock(&self.ids).remember(signal.meta.id.clone(), place);
                }
                Some(*signal)
            }
            Inbound::Skip(why) => {
                tracing::trace!(kind, "skipped: {why}");
                None
            }
            Inbound::Malformed(message) => Some(Signal::internal(
                Some(conn.mapper.own().clone()),
                SystemError {
                    component: "slack".into(),
                    message,
                },
            )),
        }
    }

    async fn answer(&self, query: &Query) -> Result<Answer, QueryError> {
        let not_connected = || QueryError::Failed {
            message: "the Slack session is not connected".into(),
        };
        match query {
            Query::SupportedSignals { address } => {
                return Ok(Answer::SupportedSignals {
                    signals: self.capabilities(Some(address)).signals,
                });
            }
            Query::SupportedFeatures { address } => {
                let caps = self.capabilities(Some(address));
                return Ok(Answer::SupportedFeatures {
                    features: caps.features,
                    degraded: caps.degraded,
                });
            }
            Query::DeliveryStatus { id } => {
                let status = lock(&self.delivery).0.get(id).cloned();
                return Ok(Answer::DeliveryStatus(
                    status.unwrap_or(DeliveryStatus::Unknown),
                ));
            }
            _ => {}
        }
        let conn = self.conn().ok_or_else(not_connected)?;
        let failed = |m: String| QueryError::Failed { message: m };
        match query {
            Query::AddressKind { address } => {
                let id = conn.mapper.slack_id(address).map_err(failed)?;
                let kind = match Mapper::kind_of_id(id) {
                    AddressKind::Channel | AddressKind::Group => {
                        let info = self.info(&conn, id).await?;
                        if info["is_mpim"].as_bool() == Some(true) {
                            AddressKind::Group
                        } else if info["is_im"].as_bool() == Some(true) {
                            AddressKind::Individual
                        } else {
                            AddressKind::Channel
                        }
                    }
                    AddressKind::Unknown => {
                        return Err(failed(format!(
                            "{address}: not a Slack user or conversation id"
                        )));
                    }
                    other => other,
                };
                Ok(Answer::AddressKind { kind })
            }
            Query::Members { address } => {
                let id = self.conversation_id(&conn, address)?;
                let members = self.members(&conn, &id).await?;
                Ok(Answer::Members {
                    members: members
                        .iter()
                        .filter_map(|u| conn.mapper.address(u, AddressKind::Individual))
                        .collect(),
                })
            }
            Query::Status { address } => {
                let id = conn.mapper.slack_id(address).map_err(failed)?;
                if Mapper::kind_of_id(id) != AddressKind::Individual || id.starts_with('D') {
                    return Err(failed(format!("{address} is not a person")));
                }
                let mut args = Map::new();
                args.insert("user".into(), id.into());
                let answer = self
                    .call(&conn, "users.getPresence", args, false)
                    .await
                    .map_err(|e| e.query_error("users.getPresence"))?;
                let availability = match answer["presence"].as_str() {
                    Some("active") => Availability::Available,
                    _ => Availability::Away,
                };
                Ok(Answer::Status(Presence {
                    availability,
                    message: None,
                }))
            }
            Query::MemberStatus { member, channel } => {
                let id = self.conversation_id(&conn, channel)?;
                let user = conn.mapper.slack_id(member).map_err(failed)?.to_owned();
                let members = self.members(&conn, &id).await?;
                Ok(Answer::MemberStatus(MemberStatus {
                    present: members.contains(&user),
                    role: None,
                }))
            }
            Query::OwnStatus { channel } => {
                let id = self.conversation_id(&conn, channel)?;
                let info = self.info(&conn, &id).await?;
                let present = info["is_member"]
                    .as_bool()
                    .unwrap_or(info["is_im"].as_bool() == Some(true));
                Ok(Answer::MemberStatus(MemberStatus {
                    present,
                    role: None,
                }))
            }
            Query::ReceivedFrom { address, page } => {
                self.history(&conn, address, page, false).await
            }
            Query::SentTo { address, page } => self.history(&conn, address, page, true).await,
            Query::SupportedSignals { .. }
            | Query::SupportedFeatures { .. }
            | Query::DeliveryStatus { .. } => Err(not_connected()),
        }
    }

    /// The conversation id of a channel or group address (not of a person).
    fn conversation_id(&self, conn: &Conn, address: &Address) -> Result<String, QueryError> {
        let id = conn
            .mapper
            .slack_id(address)
            .map_err(|m| QueryError::Failed { message: m })?;
        match Mapper::kind_of_id(id) {
            AddressKind::Channel | AddressKind::Group => Ok(id.to_owned()),
            _ if id.starts_with('D') => Ok(id.to_owned()),
            _ => Err(QueryError::Failed {
                message: format!("{address} is a person, not a conversation"),
            }),
        }
    }

    async fn info(&self, conn: &Conn, id: &str) -> Result<Value, QueryError> {
        let mut args = Map::new();
        args.insert("channel".into(), id.into());
        let answer = self
            .call(conn, "conversations.info", args, false)
            .await
            .map_err(|e| e.query_error("conversations.info"))?;
        Ok(answer["channel"].clone())
    }

    /// Every member of a conversation (`conversations.members`, all pages).
    async fn members(&self, conn: &Conn, id: &str) -> Result<Vec<String>, QueryError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut args = Map::new();
            args.insert("channel".into(), id.into());
            args.insert("limit".into(), "200".into());
            if let Some(c) = &cursor {
                args.insert("cursor".into(), c.clone().into());
            }
            let answer = self
                .call(conn, "conversations.members", args, false)
                .await
                .map_err(|e| e.query_error("conversations.members"))?;
            out.extend(
                answer["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
            match answer["response_metadata"]["next_cursor"].as_str() {
                Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Signals from (or, with `sent`, by the bot to) an address, from `conversations.history`:
    /// a person's DM with the bot, or a conversation.
    async fn history(
        &self,
        conn: &Conn,
        address: &Address,
        page: &Page,
        sent: bool,
    ) -> Result<Answer, QueryError> {
        let id = conn
            .mapper
            .slack_id(address)
            .map_err(|m| QueryError::Failed { message: m })?
            .to_owned();
        let person = Mapper::kind_of_id(&id) == AddressKind::Individual && !id.starts_with('D');
        let channel = if person {
            self.channel_for(conn, address)
                .await
                .map_err(|r| QueryError::Failed { message: r.message })?
        } else {
            id.clone()
        };
        let info = self.info(conn, &channel).await?;
        let channel_type = if info["is_im"].as_bool() == Some(true) {
            "im"
        } else if info["is_mpim"].as_bool() == Some(true) {
            "mpim"
        } else if info["is_private"].as_bool() == Some(true) {
            "group"
        } else {
            "channel"
        };
        let latest = match &page.before {
            Some(before) => Some(lock(&self.ids).place(before).map(|p| p.ts).ok_or_else(|| {
                QueryError::Failed {
                    message: format!("{before} is not a Slack message this session knows"),
                }
            })?),
            None => None,
        };
        let limit = page.limit.clamp(1, 999);
        let mut signals = Vec::new();
        let mut cursor: Option<String> = None;
        let own = conn.mapper.own().clone();
        let mut exhausted = false;
        while signals.len() < limit as usize {
            let mut args = Map::new();
            args.insert("channel".into(), channel.clone().into());
            args.insert("limit".into(), "200".into());
            args.insert("include_all_metadata".into(), "true".into());
            if let Some(l) = &latest {
                args.insert("latest".into(), l.clone().into());
            }
            if let Some(c) = &cursor {
                args.insert("cursor".into(), c.clone().into());
            }
            let answer = self
                .call(conn, "conversations.history", args, false)
                .await
                .map_err(|e| e.query_error("conversations.history"))?;
            let ids = lock(&self.ids);
            for message in answer["messages"].as_array().into_iter().flatten() {
                let Some(signal) =
                    conn.mapper
                        .history_message(&channel, channel_type, message, &ids)
                else {
                    continue;
                };
                let from_bot = signal.meta.origin.as_ref() == Some(&own);
                let wanted = if sent {
                    from_bot
                } else if person {
                    signal
                        .meta
                        .origin
                        .as_ref()
                        .is_some_and(|o| o.matches(address) || address.matches(o))
                } else {
                    !from_bot
                };
                if wanted && signals.len() < limit as usize {
                    signals.push(signal);
                }
            }
            drop(ids);
            match answer["response_metadata"]["next_cursor"].as_str() {
                Some(c) if !c.is_empty() && answer["has_more"].as_bool() == Some(true) => {
                    cursor = Some(c.to_owned())
                }
                _ => {
                    exhausted = true;
                    break;
                }
            }
        }
        let next = match (exhausted, signals.last()) {
            (false, Some(last)) => Some(Page {
                limit: page.limit,
                before: Some(last.meta.id.clone()),
            }),
            _ => None,
        };
        Ok(Answer::History(History { signals, next }))
    }
}

/// Socket Mode `hello` (generic over the event type, which slack-morphism does not export).
async fn on_hello<E: Send + 'static>(
    _event: E,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) {
    if let Some(bridge) = state.read().await.get_user_state::<Bridge>() {
        let _ = bridge.0.send(Pushed::Hello);
    }
}

/// An `events_api` envelope's payload: queued, so that the ack goes out at once.
async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let payload = chatty_core::reexports::serde_json::to_value(&event)?;
    if let Some(bridge) = state.read().await.get_user_state::<Bridge>() {
        let _ = bridge.0.send(Pushed::Event(payload));
    }
    Ok(())
}

/// Listener errors: a broken socket is a connection error (slack-morphism reconnects); an
/// envelope it cannot read is acknowledged anyway (it never parses better on retry).
fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> HttpStatusCode {
    let text = error.to_string();
    let socket = matches!(
        error.downcast_ref::<SlackClientError>(),
        Some(SlackClientError::SocketModeProtocolError(_))
    );
    if let Some(guard) = state.try_read().ok()
        && let Some(bridge) = guard.get_user_state::<Bridge>()
    {
        let message = if socket {
            format!("the Socket Mode connection failed; reconnecting: {text}")
        } else {
            format!("Socket Mode: {text}")
        };
        let _ = bridge.0.send(Pushed::Error(message));
    }
    HttpStatusCode::OK
}

/// GETs `url` with the bot token (following redirects, the token only to the same host);
/// Slack answers a request it does not authorize with its HTML sign-in page, not an error.
async fn fetch(http: &Http, url: &str, token: &str) -> Result<Bytes, String> {
    use hyper::body::Body as _;
    let mut target: hyper::Uri = url
        .parse()
        .map_err(|e| format!("{url} is not a URL: {e}"))?;
    let origin = target.authority().cloned();
    for _ in 0..5 {
        let mut request = hyper::Request::get(target.clone());
        if target.authority() == origin.as_ref() {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(String::new())
            .map_err(|e| format!("cannot make a request for {url}: {e}"))?;
        let response = http
            .request(request)
            .await
            .map_err(|e| format!("fetching {url} failed: {e}"))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("{url} redirects nowhere"))?;
            let next: hyper::Uri = location.parse().map_err(|e| format!("bad redirect: {e}"))?;
            target = if next.authority().is_some() {
                next
            } else {
                let mut parts = target.clone().into_parts();
                parts.path_and_query = next.path_and_query().cloned();
                hyper::Uri::from_parts(parts).map_err(|e| format!("bad redirect: {e}"))?
            };
            continue;
        }
        if !status.is_success() {
            return Err(format!("fetching {url} answered HTTP {status}"));
        }
        let html = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let mut body = response.into_body();
        let mut data = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| format!("reading {url} failed: {e}"))?;
            if let Ok(chunk) = frame.into_data() {
                data.extend_from_slice(&chunk);
                if data.len() > MAX_DOWNLOAD {
                    return Err(format!("{url} is larger than {MAX_DOWNLOAD} bytes"));
                }
            }
        }
        if html && data.windows(7).any(|w| w.eq_ignore_ascii_case(b"sign in")) {
            return Err(format!(
                "{url} answered Slack's sign-in page: the bot token may not read this file"
            ));
        }
        return Ok(Bytes::from(data));
    }
    Err(format!("{url} redirects too often"))
}

/// Installs rustls's ring provider as the process default, once (an error means a provider is
/// installed already, which is fine).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Session for SlackSession {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        CAPABILITIES
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        Box::pin(async move {
            let result = self.serve(&inbound).await;
            if let Ok(Some(end)) = &result {
                let _ = inbound
                    .send(Signal::internal(
                        self.own(),
                        Body::SessionEnded(end.clone()),
                    ))
                    .await;
            }
            *lock(&self.inbound) = None;
            result.map(drop)
        })
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        Box::pin(async move {
            if let Body::InitiateSessionEnd(end) = &signal.body {
                // Ending a session that has ended already is not a failure.
                let _ = self.commands.send(Command::End(end.clone())).await;
                return Ok(());
            }
            let Some(conn) = self.conn() else {
                return Err(Refusal::new(
                    FailureKind::Unreachable,
                    "the Slack session is not connected yet",
                ));
            };
            self.record(&signal.meta.id, DeliveryStatus::Pending);
            let _order = self.sending.lock().await;
            let id = signal.meta.id.clone();
            let result = self.carry(&conn, signal).await;
            if let Err(refusal) = &result {
                self.record(
                    &id,
                    DeliveryStatus::Failed {
                        kind: refusal.kind,
                        message: refusal.message.clone(),
                    },
                );
            }
            result
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move { self.answer(&query).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_errors_become_refusals_with_their_code() {
        let r = ApiError::Slack("channel_not_found".into()).refusal("chat.postMessage");
        assert_eq!(r.kind, FailureKind::UnknownAddressee);
        assert_eq!(r.code.as_deref(), Some("channel_not_found"));
        let r = ApiError::Slack("not_in_channel".into()).refusal("chat.postMessage");
        assert_eq!(r.kind, FailureKind::Rejected);
        assert_eq!(
            ApiError::RateLimited("x".into()).refusal("m").kind,
            FailureKind::RateLimited
        );
    }

    #[test]
    fn seen_keys_are_bounded_and_first_only_once() {
        let mut seen = Seen::default();
        assert!(seen.first("a".into()));
        assert!(!seen.first("a".into()));
        for i in 0..SEEN + 5 {
            seen.first(i.to_string());
        }
        assert!(seen.first("a".into()));
    }
}
