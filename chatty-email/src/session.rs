//! The email session: one mailbox serving a bot.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{
    Address, AddressKind, Answer, AnswerLimit, Body, Capabilities, ConnectionError, DeliveryStatus,
    FailureKind, Features, InboundSink, Query, QueryError, Refusal, Revealed, SendFailure, Session,
    SessionEnd, SessionError, Signal, SignalId, Signals,
};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsConnector;

use crate::PLATFORM;
use crate::config::{ConfigError, EmailConfig, InboundConfig, TlsMode};
use crate::convert::{Inbound, Mapper, Threads, system_error};
use crate::net::ConnectFailure;
use crate::state::Store;

/// What the session carries: messages with every feature but edits, files and user-defined
/// signals; delivery reports from SMTP acceptance and bounces. No status changes: email has
/// no presence, rooms or typing, so the router hands those back as `Unsupported`.
const CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::USER_DEFINED),
    Features::SUBJECT
        .union(Features::HTML)
        .union(Features::MEDIA)
        .union(Features::ATTACHMENTS)
        .union(Features::REPLIES)
        .union(Features::DELIVERY_REPORTS),
);

/// How many delivery statuses are remembered.
const DELIVERY_MEMORY: usize = 100_000;
/// How long the session waits for its inbound task to stop when it ends.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivery statuses of sent signals, by id; bounded (the oldest are forgotten).
#[derive(Debug, Default)]
struct Deliveries {
    map: HashMap<SignalId, DeliveryStatus>,
    order: VecDeque<SignalId>,
}

impl Deliveries {
    /// Records `status` unless the known one is further along (a status never moves back).
    fn update(&mut self, id: &SignalId, status: DeliveryStatus) {
        match self.map.get_mut(id) {
            Some(known) => {
                if status.rank() > known.rank() {
                    *known = status;
                }
            }
            None => {
                self.map.insert(id.clone(), status);
                self.order.push_back(id.clone());
                while self.order.len() > DELIVERY_MEMORY {
                    if let Some(old) = self.order.pop_front() {
                        self.map.remove(&old);
                    }
                }
            }
        }
    }

    fn get(&self, id: &SignalId) -> DeliveryStatus {
        self.map.get(id).cloned().unwrap_or(DeliveryStatus::Unknown)
    }
}

/// What the session and its inbound task share.
pub(crate) struct Shared {
    pub(crate) config: EmailConfig,
    pub(crate) password: Revealed,
    pub(crate) mapper: Mapper,
    pub(crate) tls: Option<TlsConnector>,
    deliveries: Mutex<Deliveries>,
    threads: Mutex<Threads>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The inbound task's view of the session: delivers mails to the bot and reports what happens.
pub(crate) struct Context {
    pub(crate) shared: Arc<Shared>,
    sink: InboundSink,
    started: AtomicBool,
    /// The persisted state (only the inbound task uses it).
    pub(crate) store: tokio::sync::Mutex<Store>,
}

impl Context {
    fn own(&self) -> Option<Address> {
        Some(self.shared.mapper.own().clone())
    }

    /// Pushes `SessionStarted` once, after the first successful login. `false` once the bot
    /// has stopped listening.
    pub(crate) async fn started(&self) -> bool {
        if self.started.swap(true, Ordering::AcqRel) {
            return true;
        }
        self.sink.started(PLATFORM, self.own()).await.is_ok()
    }

    /// Pushes a signal; `false` once the bot has stopped listening.
    pub(crate) async fn push(&self, signal: Signal) -> bool {
        self.sink.send(signal).await.is_ok()
    }

    /// Pushes a connection error.
    pub(crate) async fn connection_error(
        &self,
        failure: &ConnectFailure,
        retry_in: Option<Duration>,
    ) -> bool {
        tracing::warn!(kind = ?failure.kind, ?retry_in, "{}", failure.cause);
        self.push(Signal::internal(
            self.own(),
            ConnectionError {
                kind: failure.kind,
                cause: failure.cause.clone(),
                retry_in,
            },
        ))
        .await
    }

    /// Pushes a system error about something other than one mail (state file, folder).
    pub(crate) async fn system_error(&self, message: impl Into<String>) -> bool {
        let mut signal = system_error(message);
        signal.meta.origin = self.own();
        self.push(signal).await
    }

    /// Turns one raw mail into what the bot gets (a signal, a send failure for a bounce, or a
    /// system error) and pushes it. `false` once the bot has stopped listening.
    pub(crate) async fn deliver(&self, raw: &[u8], place: &str) -> bool {
        let (inbound, thread) = self.shared.mapper.inbound(raw);
        if let Some((id, thread)) = thread {
            lock(&self.shared.threads).remember(id, thread);
        }
        let signal = match inbound {
            Inbound::Signal(signal) => *signal,
            Inbound::Report(report, meta) => {
                let status = if report.failed {
                    DeliveryStatus::Failed {
                        kind: FailureKind::Bounced,
                        message: report.message.clone(),
                    }
                } else {
                    DeliveryStatus::Delivered
                };
                lock(&self.shared.deliveries).update(&report.original, status);
                if !report.failed {
                    return true;
                }
                let mut meta = *meta;
                meta.response_to = Some(report.original.clone());
                Signal {
                    meta,
                    body: SendFailure {
                        failed: report.original,
                        kind: FailureKind::Bounced,
                        code: report.status,
                        message: report.message,
                    }
                    .into(),
                }
            }
            Inbound::Malformed(reason) => {
                let mut signal = system_error(format!("{place}: {reason}"));
                signal.meta.origin = self.own();
                signal
            }
        };
        self.push(signal).await
    }
}

/// How an inbound connection ended.
pub(crate) enum Outcome {
    /// Asked to stop.
    Stopped,
    /// The bot stopped listening.
    BotGone,
    /// It failed; `connected` says whether it had logged in (a lost connection rather than a
    /// failed attempt).
    Failed {
        connected: bool,
        failure: ConnectFailure,
    },
}

/// A mailbox serving a bot: SMTP out, IMAP or POP3 in.
///
/// [`run`](Session::run) connects to the inbound server and pushes `SessionStarted` (origin:
/// the bot's own address, `mailto:bot@example.org;kind=individual`) after the first login, then
/// every new mail as a signal. A failed attempt (wrong password, TLS refused, unreachable, no
/// answer within the connect timeout) becomes a [`ConnectionError`] with its cause and the time
/// of the next attempt; attempts go on with jittered exponential backoff between the
/// configured bounds. A lost connection is a [`ConnectionError`] too, and reading resumes where
/// it stopped (IMAP: after the last UID handed to the bot; POP3: the UIDLs not seen).
///
/// [`send`](Session::send) sends one mail over SMTP and waits for the server's answer: a
/// rejection is a [`Refusal`] (the router turns it into a `SendFailure` naming the signal);
/// acceptance records the delivery status `Sent`. A bounce that arrives later in the inbound
/// mailbox becomes a `SendFailure` for the original signal and sets its status to `Failed`.
pub struct EmailSession {
    shared: Arc<Shared>,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    end_tx: mpsc::Sender<SessionEnd>,
    end_rx: Mutex<Option<mpsc::Receiver<SessionEnd>>>,
    store: Mutex<Option<Store>>,
}

impl fmt::Debug for EmailSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailSession")
            .field("address", self.shared.mapper.own())
            .field("name", &self.shared.config.name)
            .finish()
    }
}

impl EmailSession {
    /// A session for the mailbox in `config` (checked here, the password read and the state
    /// file loaded; nothing connects until `run`).
    pub fn new(config: EmailConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let password = config.load_password()?;
        let mapper = Mapper::new(&config.name, &config.address)
            .map_err(|_| ConfigError::BadAddress(config.address.clone()))?;
        let store = Store::open(config.state_path.as_deref())?;
        let inbound_tls = match &config.inbound {
            InboundConfig::Imap(c) => c.tls,
            InboundConfig::Pop3(c) => c.tls,
        };
        let tls = match inbound_tls {
            TlsMode::Plaintext => None,
            TlsMode::Starttls | TlsMode::Implicit => {
                Some(crate::net::tls_connector().map_err(ConfigError::Invalid)?)
            }
        };
        let smtp = smtp_transport(&config, &password)?;
        let (end_tx, end_rx) = mpsc::channel(4);
        Ok(EmailSession {
            shared: Arc::new(Shared {
                config,
                password,
                mapper,
                tls,
                deliveries: Mutex::new(Deliveries::default()),
                threads: Mutex::new(Threads::default()),
            }),
            smtp,
            end_tx,
            end_rx: Mutex::new(Some(end_rx)),
            store: Mutex::new(Some(store)),
        })
    }

    /// The bot's own address on this session: `mailto:address;kind=individual`.
    pub fn address(&self) -> &Address {
        self.shared.mapper.own()
    }

    fn own(&self) -> Option<Address> {
        Some(self.shared.mapper.own().clone())
    }

    fn error(&self, message: impl Into<String>) -> SessionError {
        SessionError {
            session: self.shared.config.name.clone(),
            message: message.into(),
        }
    }

    /// Sends one signal as a mail.
    async fn send_mail(&self, signal: Signal) -> Result<(), Refusal> {
        let outbound = {
            let threads = lock(&self.shared.threads);
            self.shared.mapper.outbound(&signal, &threads)?
        };
        let id = signal.meta.id.clone();
        let parse = |mail: &str| {
            mail.parse::<lettre::Address>().map_err(|e| {
                Refusal::new(
                    FailureKind::UnknownAddressee,
                    format!("{mail} is not a mail address: {e}"),
                )
            })
        };
        let from = parse(&outbound.from)?;
        let to = outbound
            .to
            .iter()
            .map(|m| parse(m))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = Envelope::new(Some(from), to)
            .map_err(|e| Refusal::new(FailureKind::Other, format!("no envelope: {e}")))?;
        lock(&self.shared.deliveries).update(&id, DeliveryStatus::Pending);
        match self.smtp.send_raw(&envelope, &outbound.bytes).await {
            Ok(_) => {
                lock(&self.shared.deliveries).update(&id, DeliveryStatus::Sent);
                lock(&self.shared.threads).remember(id, outbound.thread);
                Ok(())
            }
            Err(e) => {
                let refusal = refusal(&e);
                lock(&self.shared.deliveries).update(
                    &id,
                    DeliveryStatus::Failed {
                        kind: refusal.kind,
                        message: refusal.message.clone(),
                    },
                );
                Err(refusal)
            }
        }
    }

    async fn answer(&self, query: &Query) -> Result<Answer, QueryError> {
        match query {
            Query::ReceivedFrom { address, page } => match &self.shared.config.inbound {
                InboundConfig::Imap(imap) if imap.history => {
                    if address.platform() != PLATFORM
                        || !crate::config::is_mail_address(address.id())
                    {
                        return Err(QueryError::Failed {
                            message: format!("{address} is not a mail address"),
                        });
                    }
                    crate::imap::history(imap, &self.shared, address.id(), page)
                        .await
                        .map(Answer::History)
                        .map_err(|message| QueryError::Failed { message })
                }
                _ => Err(QueryError::not_supported(
                    query,
                    "history is read from the mailbox only over IMAP with `history = true`; or wrap the bot in the Logger",
                )),
            },
            Query::AddressKind { address } => {
                if address.platform() != PLATFORM || !crate::config::is_mail_address(address.id()) {
                    return Err(QueryError::Failed {
                        message: format!("{address} is not a mail address"),
                    });
                }
                // A mailing list cannot be told apart from a person by its address: every
                // mail address is answered as an individual.
                Ok(Answer::AddressKind {
                    kind: AddressKind::Individual,
                })
            }
            Query::DeliveryStatus { id } => Ok(Answer::DeliveryStatus(
                lock(&self.shared.deliveries).get(id),
            )),
            Query::SupportedSignals { address } => Ok(Answer::SupportedSignals {
                signals: self.capabilities(Some(address)).signals,
            }),
            Query::SupportedFeatures { address } => {
                let caps = self.capabilities(Some(address));
                Ok(Answer::SupportedFeatures {
                    features: caps.features,
                    degraded: caps.degraded,
                })
            }
            Query::Members { .. } => Err(QueryError::not_supported(
                query,
                "email has no member lists (a list address looks like a person's)",
            )),
            Query::Status { .. } => Err(QueryError::not_supported(query, "email has no presence")),
            Query::MemberStatus { .. } | Query::OwnStatus { .. } => Err(QueryError::not_supported(
                query,
                "email has no rooms or channels",
            )),
            Query::SentTo { .. } => Err(QueryError::not_supported(
                query,
                "sent mail is not read from a Sent folder; wrap the bot in the Logger",
            )),
        }
    }

    async fn serve(
        self: &Arc<Self>,
        inbound: &InboundSink,
    ) -> Result<Option<SessionEnd>, SessionError> {
        let Some(mut ends) = lock(&self.end_rx).take() else {
            return Err(self.error("the session is running already, or has run"));
        };
        let Some(store) = lock(&self.store).take() else {
            return Err(self.error("the session is running already, or has run"));
        };
        let context = Arc::new(Context {
            shared: self.shared.clone(),
            sink: inbound.clone(),
            started: AtomicBool::new(false),
            store: tokio::sync::Mutex::new(store),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut reader = tokio::spawn(read_forever(context.clone(), stop_rx));
        let mut reader_done = false;
        let end = tokio::select! {
            end = ends.recv() => end,
            _ = &mut reader => {
                // It only returns by itself once the bot has stopped listening.
                reader_done = true;
                None
            }
            _ = inbound_closed(inbound) => None,
        };
        let _ = stop_tx.send(true);
        if !reader_done
            && tokio::time::timeout(STOP_TIMEOUT, &mut reader)
                .await
                .is_err()
        {
            tracing::warn!("the inbound task did not stop in time; aborting it");
            reader.abort();
        }
        if let Err(e) = context.store.lock().await.save() {
            let _ = context.system_error(e).await;
        }
        Ok(end)
    }
}

/// Resolves once the bot has stopped listening.
async fn inbound_closed(inbound: &InboundSink) {
    while !inbound.is_closed() && !inbound.has_ended() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads inbound mail until stopped, reconnecting with backoff.
async fn read_forever(context: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let (min, max) = context.shared.config.reconnect_backoff();
    let mut delay = min;
    loop {
        let outcome = match &context.shared.config.inbound {
            InboundConfig::Imap(config) => crate::imap::run(config, &context, &mut stop).await,
            InboundConfig::Pop3(config) => crate::pop3::run(config, &context, &mut stop).await,
        };
        let (connected, failure) = match outcome {
            Outcome::Stopped | Outcome::BotGone => return,
            Outcome::Failed { connected, failure } => (connected, failure),
        };
        if connected {
            delay = min;
        }
        let wait = if connected {
            Duration::ZERO
        } else {
            chatty_core::jittered(delay)
        };
        if !context.connection_error(&failure, Some(wait)).await {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if !connected {
            delay = (delay * 2).min(max);
        }
    }
}

/// The SMTP transport for the configuration.
fn smtp_transport(
    config: &EmailConfig,
    password: &Revealed,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, ConfigError> {
    let smtp = &config.smtp;
    let tls_parameters =
        || TlsParameters::new(smtp.host.clone()).map_err(|e| ConfigError::Smtp(e.to_string()));
    let tls = match smtp.tls {
        TlsMode::Starttls => Tls::Required(tls_parameters()?),
        TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
        TlsMode::Plaintext => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port())
        .tls(tls)
        .timeout(Some(config.connect_timeout()));
    if smtp.auth {
        builder = builder.credentials(Credentials::new(
            config.login().to_owned(),
            password.expose().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// The refusal for an SMTP error: permanent 5xx by code, temporary 4xx, or the connection.
fn refusal(error: &lettre::transport::smtp::Error) -> Refusal {
    let code = error.status().map(|c| c.to_string());
    let kind = match code.as_deref() {
        Some("550" | "551" | "553") => FailureKind::UnknownAddressee,
        Some("552") => FailureKind::TooLarge,
        Some("421" | "450" | "451" | "452") => FailureKind::RateLimited,
        Some(_) => FailureKind::Rejected,
        None if error.is_timeout() || error.is_tls() || error.is_transport_shutdown() => {
            FailureKind::Unreachable
        }
        None => FailureKind::Unreachable,
    };
    let mut refusal = Refusal::new(kind, format!("the SMTP server refused the mail: {error}"));
    if code.is_none() {
        refusal.message = format!("the mail could not be sent: {error}");
    }
    match code {
        Some(code) => refusal.with_code(code),
        None => refusal,
    }
}

impl Session for EmailSession {
    fn name(&self) -> &str {
        &self.shared.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        CAPABILITIES
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        Box::pin(async move {
            let Some(end) = self.serve(&inbound).await? else {
                return Ok(());
            };
            // The last chance to send: `send` works until the bot has handled this.
            let _ = inbound
                .send(Signal::internal(
                    self.own(),
                    Body::SessionAboutToEnd(end.clone()),
                ))
                .await;
            let _ = inbound
                .send(Signal::internal(self.own(), Body::SessionEnded(end)))
                .await;
            Ok(())
        })
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        Box::pin(async move {
            match &signal.body {
                Body::InitiateSessionEnd(end) => {
                    // Ending a session that has ended already is not a failure.
                    let _ = self.end_tx.try_send(end.clone());
                    Ok(())
                }
                Body::StatusChange(_) => Err(Refusal::new(
                    FailureKind::Rejected,
                    "email carries no status changes (presence, rooms, typing)",
                )),
                _ => self.send_mail(signal).await,
            }
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move { self.answer(&query).await })
    }

    /// [`AnswerLimit::MAIL`]: 100 answers to one correspondent per hour, the guard against a
    /// loop with an automatic responder that ignores `Auto-Submitted`.
    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::MAIL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_status_never_moves_back() {
        let mut d = Deliveries::default();
        let id = SignalId::from("a");
        assert_eq!(d.get(&id), DeliveryStatus::Unknown);
        d.update(&id, DeliveryStatus::Sent);
        d.update(&id, DeliveryStatus::Pending);
        assert_eq!(d.get(&id), DeliveryStatus::Sent);
        let failed = DeliveryStatus::Failed {
            kind: FailureKind::Bounced,
            message: "no".into(),
        };
        d.update(&id, failed.clone());
        d.update(&id, DeliveryStatus::Delivered);
        assert_eq!(d.get(&id), failed);
    }

    /// A config whose servers are never reached (port 9, discard) in these tests.
    fn offline_config() -> EmailConfig {
        EmailConfig::new(
            "bot@example.org",
            "secret",
            crate::SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(9),
                tls: TlsMode::Plaintext,
                auth: false,
            },
            InboundConfig::Pop3(crate::Pop3Config {
                host: "127.0.0.1".into(),
                port: Some(9),
                tls: TlsMode::Plaintext,
                poll_interval_ms: 1000,
                delete: false,
            }),
        )
    }

    #[tokio::test]
    async fn the_answer_limit_is_the_mail_default() {
        let session = EmailSession::new(offline_config()).unwrap();
        assert_eq!(session.answer_limit(), Some(AnswerLimit::MAIL));
        assert_ne!(AnswerLimit::MAIL, AnswerLimit::CHAT);
    }

    #[test]
    fn status_changes_are_not_carried() {
        let signal = Signal::new(chatty_core::StatusChange::new(
            chatty_core::Status::Presence {
                availability: chatty_core::Availability::Away,
            },
        ));
        assert!(CAPABILITIES.check(&signal).is_err());
        let edit = Signal::new(chatty_core::Message::text("x").correcting("y".into()));
        assert!(CAPABILITIES.check(&edit).is_err());
        assert!(CAPABILITIES.check(&Signal::message("x")).is_ok());
    }

    /// A session's inbound context on a plain sink, started.
    async fn context() -> (
        Context,
        chatty_core::reexports::async_channel::Receiver<Signal>,
    ) {
        let session = EmailSession::new(offline_config()).unwrap();
        let (tx, rx) = chatty_core::reexports::async_channel::unbounded();
        let context = Context {
            shared: session.shared.clone(),
            sink: InboundSink::new("mailto", tx),
            started: AtomicBool::new(false),
            store: tokio::sync::Mutex::new(Store::open(None).unwrap()),
        };
        assert!(context.started().await);
        assert_eq!(
            rx.recv().await.unwrap().kind(),
            chatty_core::SignalKind::SessionStarted
        );
        (context, rx)
    }

    fn good(n: u32) -> Vec<u8> {
        format!(
            "From: alice@example.org\r\nTo: bot@example.org\r\nMessage-ID: <good-{n}@example.org>\r\n\r\ngood {n}\r\n"
        )
        .into_bytes()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 128,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// A mail of any bytes between two good ones: the good ones arrive, in order, and the
        /// bad one is one signal (a message, a send failure or a system error naming where it
        /// was) or, for a delivery report of success, nothing.
        #[test]
        fn a_bad_mail_between_two_good_ones_loses_neither(
            bad in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let kinds = runtime.block_on(async {
                let (context, rx) = context().await;
                assert!(context.deliver(&good(1), "mail 1").await);
                assert!(context.deliver(&bad, "mail 2").await);
                assert!(context.deliver(&good(2), "mail 3").await);
                drop(context);
                let mut got = Vec::new();
                while let Ok(signal) = rx.try_recv() {
                    got.push(signal);
                }
                got
            });
            proptest::prop_assert!((2..=3).contains(&kinds.len()), "{kinds:?}");
            proptest::prop_assert_eq!(kinds[0].meta.id.as_str(), "good-1@example.org");
            proptest::prop_assert_eq!(kinds[kinds.len() - 1].meta.id.as_str(), "good-2@example.org");
            if let Some(Body::SystemError(e)) = kinds.get(1).map(|s| &s.body) && kinds.len() == 3 {
                proptest::prop_assert!(e.message.starts_with("mail 2: "), "{}", e.message);
            }
        }
    }
}
