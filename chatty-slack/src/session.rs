//! The Slack session: one app (bot token + app-level token) serving a bot.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::reexports::serde_json::{Map, Value};
use chatty_core::{
    Address, Answer, Body, Capabilities, ConnectionError, ConnectionErrorKind, DeliveryStatus,
    Features, InboundSink, Query, QueryError, Refusal, Session, SessionEnd, SessionError, Signal,
    Signals, SystemError,
};
use slack_morphism::prelude::{SlackClient, SlackClientHyperConnector};
use tokio::sync::{mpsc, oneshot};

use crate::PLATFORM;
use crate::api::{ApiError, WebApi};
use crate::config::{ConfigError, SlackConfig};
use crate::download::Http;
use crate::inbound::Mapper;
use crate::intake::{Intake, Outcome};
use crate::socket::{Backoff, Pushed, SocketMode};
use crate::state::{Conn, Memory, lock};

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

/// How often the Socket Mode connection is pinged; three intervals without a frame drop it.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long the socket may take to stop when the session ends.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// What `send` hands to the session's task.
enum Command {
    /// End the session.
    End(SessionEnd),
}

/// How the session's task ends.
enum Ending {
    /// The bot asked (InitiateSessionEnd).
    Requested(SessionEnd),
    /// The connection stopped for good, before or after SessionStarted.
    Failed(String),
    /// The bot stopped listening: nothing more to say.
    Silent,
}

/// A failed token check: the connection error, and whether to try again (and not before).
struct CheckFailure {
    kind: ConnectionErrorKind,
    cause: String,
    retry: bool,
    at_least: Option<Duration>,
}

impl CheckFailure {
    fn api(method: &str, e: &ApiError) -> Self {
        let (kind, retry) = e.connection();
        CheckFailure {
            kind,
            cause: e.describe(method),
            retry,
            at_least: e.retry_after(),
        }
    }
}

/// A Slack app serving a bot: Events API over Socket Mode in, the Web API out.
///
/// [`run`](Session::run) checks the bot token (`auth.test`), joins the configured channels,
/// opens Socket Mode with the app-level token, and pushes `SessionStarted` with the bot's own
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
    memory: Memory,
    sending: tokio::sync::Mutex<()>,
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

impl SlackSession {
    /// A session for the app in `config` (checked here; nothing connects until `run`).
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (commands, receiver) = mpsc::channel(16);
        Ok(SlackSession {
            config,
            conn: RwLock::new(None),
            memory: Memory::default(),
            sending: tokio::sync::Mutex::new(()),
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

    fn error(&self, message: impl Into<String>) -> SessionError {
        SessionError {
            session: self.config.name.clone(),
            message: message.into(),
        }
    }

    /// Logs a connection error at warn and hands it to the bot; `false` when the bot stopped
    /// listening.
    async fn connection_error(&self, inbound: &InboundSink, error: ConnectionError) -> bool {
        tracing::warn!(
            session = %self.config.name, kind = ?error.kind, retry_in = ?error.retry_in,
            "Slack connection error: {}", error.cause
        );
        inbound
            .send(Signal::internal(self.address(), error))
            .await
            .is_ok()
    }

    /// Logs a failure inside the session at warn and hands it to the bot as a SystemError.
    async fn system_error(&self, inbound: &InboundSink, message: String) -> bool {
        tracing::warn!(session = %self.config.name, "Slack: {message}");
        let error = SystemError {
            component: PLATFORM.into(),
            message,
        };
        inbound
            .send(Signal::internal(self.address(), error))
            .await
            .is_ok()
    }

    /// `auth.test` with the bot token: the team, the bot's user and bot id.
    async fn identify(&self, api: &WebApi) -> Result<Mapper, CheckFailure> {
        let method = "auth.test";
        let no_args = Map::new();
        let call = api.call_once(method, &no_args, true);
        let answer = match tokio::time::timeout(self.config.connect_timeout(), call).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(CheckFailure::api(method, &e)),
            Err(_) => {
                return Err(CheckFailure {
                    kind: ConnectionErrorKind::Unreachable,
                    cause: format!(
                        "Slack's {method} at {} did not answer within {:?}",
                        self.config.api_url,
                        self.config.connect_timeout()
                    ),
                    retry: true,
                    at_least: None,
                });
            }
        };
        let protocol = |cause: String| CheckFailure {
            kind: ConnectionErrorKind::Protocol,
            cause,
            retry: true,
            at_least: None,
        };
        let (Some(team), Some(user)) = (
            answer.get("team_id").and_then(Value::as_str),
            answer.get("user_id").and_then(Value::as_str),
        ) else {
            return Err(protocol(format!(
                "Slack's {method} answered no team_id or user_id"
            )));
        };
        let bot_id = answer
            .get("bot_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Mapper::new(&self.config.name, team, user, bot_id).map_err(|cause| CheckFailure {
            retry: false,
            ..protocol(cause)
        })
    }

    async fn serve(self: &Arc<Self>, inbound: &InboundSink) -> Result<Ending, SessionError> {
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
                self.connection_error(inbound, fail(ConnectionErrorKind::Other, e.to_string()))
                    .await;
                return Ok(Ending::Failed(e.to_string()));
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
                self.connection_error(inbound, fail(ConnectionErrorKind::Tls, cause.clone()))
                    .await;
                return Ok(Ending::Failed(cause));
            }
        };
        let http: Http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector.clone());
        let client = Arc::new(SlackClient::new(
            SlackClientHyperConnector::with_connector(connector)
                .with_slack_api_url(&self.config.api_base()),
        ));
        let retries = self.config.rate_limit_retries;
        let api = WebApi::new(client.clone(), bot_secret.expose(), retries);
        let app = WebApi::new(client, app_secret.expose(), retries);

        // auth.test with the bot token, again after a jittered backoff while Slack cannot be
        // reached; a wrong token ends the session.
        let (min, max) = self.config.reconnect_backoff();
        let mut backoff = Backoff::new(min, max);
        let mapper = loop {
            let failure = match self.identify(&api).await {
                Ok(mapper) => break mapper,
                Err(failure) => failure,
            };
            let retry_in = failure.retry.then(|| {
                backoff
                    .next_wait()
                    .max(failure.at_least.unwrap_or_default())
            });
            let error = ConnectionError {
                kind: failure.kind,
                cause: failure.cause.clone(),
                retry_in,
            };
            if !self.connection_error(inbound, error).await {
                return Ok(Ending::Silent);
            }
            let Some(wait) = retry_in else {
                return Ok(Ending::Failed(failure.cause));
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                command = commands.recv() => match command {
                    Some(Command::End(end)) => return Ok(Ending::Requested(end)),
                    None => return Ok(Ending::Silent),
                },
            }
        };
        let conn = Arc::new(Conn {
            api,
            http,
            bot_secret,
            api_url: self.config.api_url.clone(),
            mapper,
        });
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());

        for channel in &self.config.channels {
            let mut args = Map::new();
            args.insert("channel".into(), channel.clone().into());
            if let Err(e) = conn.api.call("conversations.join", args, true).await {
                let message = format!("joining {channel}: {}", e.describe("conversations.join"));
                self.system_error(inbound, message).await;
            }
        }

        let (pushed_tx, mut pushed) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let socket = SocketMode {
            app,
            backoff: Backoff::new(min, max),
            connect_timeout: self.config.connect_timeout(),
            ping_interval: PING_INTERVAL,
        };
        let task = tokio::spawn(socket.run(pushed_tx, stopped));
        let mut intake = Intake::default();
        let ending = loop {
            tokio::select! {
                item = pushed.recv() => {
                    let Some(item) = item else {
                        break Ending::Failed("Socket Mode stopped".into());
                    };
                    match self.handle(inbound, &conn, &mut intake, item).await {
                        Ok(()) => {}
                        Err(ending) => break ending,
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::End(end)) => break Ending::Requested(end),
                    None => break Ending::Silent,
                },
            }
        };
        // Stop the socket (events not acknowledged yet stay with Slack), then deliver what was
        // acknowledged already.
        let _ = stop.send(());
        let _ = tokio::time::timeout(STOP_WAIT, task).await;
        if !matches!(ending, Ending::Silent) {
            while let Ok(item) = pushed.try_recv() {
                if let Pushed::Event(_) = item
                    && inbound.has_started()
                    && self
                        .handle(inbound, &conn, &mut intake, item)
                        .await
                        .is_err()
                {
                    break;
                }
            }
        }
        Ok(ending)
    }

    /// Handles what the socket pushed; `Err` ends the session.
    async fn handle(
        &self,
        inbound: &InboundSink,
        conn: &Conn,
        intake: &mut Intake,
        item: Pushed,
    ) -> Result<(), Ending> {
        let own = Some(conn.mapper.own().clone());
        let delivered = match item {
            Pushed::Hello if !inbound.has_started() => inbound.started(PLATFORM, own).await.is_ok(),
            Pushed::Hello => {
                tracing::debug!(session = %self.config.name, "Socket Mode reconnected");
                true
            }
            Pushed::Event(payload) => {
                if !inbound.has_started() {
                    // An event before hello cannot happen; start anyway.
                    if inbound.started(PLATFORM, own).await.is_err() {
                        return Err(Ending::Silent);
                    }
                }
                let outcome = intake.payload(&conn.mapper, &mut lock(&self.memory.ids), &payload);
                match outcome {
                    Outcome::Signal(signal) => inbound.send(*signal).await.is_ok(),
                    Outcome::Error(message) => self.system_error(inbound, message).await,
                    Outcome::Skip(why) => {
                        tracing::trace!(session = %self.config.name, "skipped: {why}");
                        true
                    }
                }
            }
            Pushed::Malformed(message) => self.system_error(inbound, message).await,
            Pushed::Lost {
                kind,
                cause,
                retry_in,
            } => {
                let error = ConnectionError {
                    kind,
                    cause,
                    retry_in: Some(retry_in),
                };
                self.connection_error(inbound, error).await
            }
            Pushed::Fatal { kind, cause } => {
                let error = ConnectionError {
                    kind,
                    cause: cause.clone(),
                    retry_in: None,
                };
                self.connection_error(inbound, error).await;
                return Err(Ending::Failed(cause));
            }
        };
        if delivered {
            Ok(())
        } else {
            Err(Ending::Silent)
        }
    }
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
            // rustls needs a process-wide provider; an error means one is installed already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let result = self.serve(&inbound).await;
            let own = self.address();
            match &result {
                Ok(Ending::Requested(end)) => {
                    // The last chance to send: sends go straight to the Web API, so the bot's
                    // answers go out while it handles SessionAboutToEnd; then wait for sends
                    // in progress.
                    let about = Signal::internal(own.clone(), Body::SessionAboutToEnd(end.clone()));
                    let _ = inbound.send(about).await;
                    drop(self.sending.lock().await);
                    let _ = inbound
                        .send(Signal::internal(own, Body::SessionEnded(end.clone())))
                        .await;
                }
                Ok(Ending::Failed(cause)) => {
                    let end = SessionEnd {
                        reason: Some(cause.clone()),
                    };
                    if inbound.has_started() {
                        let about =
                            Signal::internal(own.clone(), Body::SessionAboutToEnd(end.clone()));
                        let _ = inbound.send(about).await;
                        drop(self.sending.lock().await);
                    }
                    let _ = inbound
                        .send(Signal::internal(own, Body::SessionEnded(end)))
                        .await;
                }
                Ok(Ending::Silent) | Err(_) => {}
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
            let result = match self.conn() {
                None => Err(Refusal::new(
                    chatty_core::FailureKind::Unreachable,
                    "the Slack session is not connected yet",
                )),
                Some(conn) => {
                    self.memory.record(&signal.meta.id, DeliveryStatus::Pending);
                    let _order = self.sending.lock().await;
                    crate::send::carry(&conn, &self.memory, &signal).await
                }
            };
            match result {
                Ok(None) => Ok(()),
                Ok(Some(answer)) => {
                    let sink = lock(&self.inbound).clone();
                    match sink {
                        Some(sink) => sink.send(answer).await.map_err(|_| {
                            Refusal::new(
                                chatty_core::FailureKind::Other,
                                "the bot stopped listening",
                            )
                        }),
                        None => Err(Refusal::new(
                            chatty_core::FailureKind::Unreachable,
                            "the session is not running",
                        )),
                    }
                }
                Err(refusal) => {
                    tracing::warn!(
                        session = %self.config.name, signal = %signal.meta.id,
                        kind = ?refusal.kind, code = ?refusal.code,
                        "Slack refused a signal: {}", refusal.message
                    );
                    self.memory.record(
                        &signal.meta.id,
                        DeliveryStatus::Failed {
                            kind: refusal.kind,
                            message: refusal.message.clone(),
                        },
                    );
                    Err(refusal)
                }
            }
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move {
            let conn = self.conn();
            let result =
                crate::query::answer(conn.as_deref(), &self.memory, CAPABILITIES, &query).await;
            if let Err(QueryError::Failed { message }) = &result {
                tracing::warn!(session = %self.config.name, "a Slack query failed: {message}");
            }
            result
        })
    }
}
