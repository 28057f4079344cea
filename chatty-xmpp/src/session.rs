//! The XMPP session: one account serving a bot.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{
    Address, AddressKind, Answer, Availability, Body, Capabilities, ConnectionError,
    ConnectionErrorKind, Content, FailureKind, Features, File, InboundSink, MemberStatus, Page,
    Query, QueryError, Refusal, Revealed, Session, SessionEnd, SessionError, Signal, Signals,
};
use sasl::common::Credentials;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::caps::Caps;
use tokio_xmpp::parsers::disco::{
    DiscoInfoQuery, DiscoInfoResult, DiscoItemsQuery, DiscoItemsResult,
};
use tokio_xmpp::parsers::http_upload::{SlotRequest, SlotResult};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::mam::Fin;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::rsm::SetQuery;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::stanzastream::{Connection, Event, StanzaStage, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts};

use crate::PLATFORM;
use crate::archive::{self, ArchivedMessage};
use crate::caps::{self, PeerCaps};
use crate::config::{ConfigError, TlsMode, XmppConfig};
use crate::connect::Connector;
use crate::convert::{Mapper, NS_RECEIPTS, own_presence};
use crate::files::{Http, name_from_url};

/// What the session carries to a person or bot.
const CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::DOWNLOAD_FILE)
        .union(Signals::PRESENCE)
        .union(Signals::TYPING)
        .union(Signals::USER_DEFINED),
    Features::SUBJECT
        .union(Features::ATTACHMENTS)
        .union(Features::REPLIES)
        .union(Features::STATUS_MESSAGE)
        .union(Features::DELIVERY_REPORTS)
        .union(Features::EDITS)
        .union(Features::ORDERED),
);

/// What the session carries to a room (XEP-0045): a subject would set the room's topic, so
/// messages with one come back as Unsupported; rooms give no delivery receipts.
const ROOM_CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::TYPING)
        .union(Signals::USER_DEFINED)
        .union(Signals::IN_ROOM),
    Features::REPLIES
        .union(Features::ATTACHMENTS)
        .union(Features::EDITS)
        .union(Features::ORDERED),
);

/// HTTP File Upload (XEP-0363).
const NS_HTTP_UPLOAD: &str = "urn:xmpp:http:upload:0";

/// How long an IQ request (disco#info) may wait for its answer.
const IQ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a contact's client may take to say what it supports (a client that never answers
/// disco#info is taken to support the base of XMPP only).
const DISCO_TIMEOUT: Duration = Duration::from_secs(5);

/// How many outbound signals may wait for the connection task before `send` waits.
const COMMAND_QUEUE: usize = 1024;
/// How long the session waits for its last stanzas and the stream's close when it ends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What `send` hands to the connection task.
enum Command {
    /// Stanzas to send.
    Send(Vec<Stanza>),
    /// End the session.
    End(SessionEnd),
    /// Send an IQ request and hand its answer (a result or an error) back.
    Iq(Box<Iq>, oneshot::Sender<Iq>),
    /// Fetch a file for a `DownloadFile` signal.
    Download(Box<Signal>),
    /// Query the archive (MAM): the IQ, its query id, and where the results go.
    Archive(Box<Iq>, String, oneshot::Sender<ArchiveAnswer>),
}

/// The messages an archive query found, and how it ended; or why it failed.
type ArchiveAnswer = Result<(Vec<ArchivedMessage>, Fin), String>;

/// Where the results of an archive query go.
enum ArchiveWaiter {
    /// To a query of the bot's.
    Reply(oneshot::Sender<ArchiveAnswer>),
    /// To the bot as inbound signals: the catch-up after a lost stream.
    CatchUp,
}

/// An archive query in progress: its IQ's id, what it found so far, and who waits.
struct PendingArchive {
    iq_id: String,
    found: Vec<ArchivedMessage>,
    waiter: ArchiveWaiter,
}

/// How many archived messages one catch-up page asks for.
const CATCH_UP_PAGE: usize = 100;

/// An XMPP account serving a bot: one-to-one messages, typing and presence (see the crate
/// documentation for what is not supported yet).
///
/// [`run`](Session::run) connects (STARTTLS, direct TLS or, when configured explicitly,
/// plaintext), sends the bot's presence, pushes `SessionStarted` with the bot's own address
/// (`xmpp:bot@example.org;kind=individual`), then maps stanzas to signals. A failed connection
/// attempt (a wrong password, an unreachable server, a TLS failure, no answer within the connect
/// timeout) becomes a [`ConnectionError`] with its cause and the time of the next attempt;
/// attempts go on with jittered exponential backoff between the configured bounds. A lost
/// connection is a [`ConnectionError`] too, and the stream is resumed (XEP-0198) or re-opened.
///
/// [`send`](Session::send) turns a signal into stanzas at once (refusing what it cannot carry)
/// and hands them to the connection task, so it does not wait on the network.
pub struct XmppSession {
    config: XmppConfig,
    /// The HTTP client for uploads and downloads, made on first use.
    http: std::sync::OnceLock<Result<Http, String>>,
    /// The server's upload service (XEP-0363), once found.
    upload_service: tokio::sync::Mutex<Option<Jid>>,
    jid: BareJid,
    mapper: Mapper,
    /// What the contacts' clients can receive (XEP-0030, XEP-0115).
    peers: Arc<Mutex<PeerCaps>>,
    commands: mpsc::Sender<Command>,
    receiver: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl fmt::Debug for XmppSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppSession")
            .field("address", self.mapper.own())
            .field("name", &self.config.name)
            .finish()
    }
}

/// The bare JID of the account, with a local part.
pub(crate) fn parse_account_jid(jid: &str) -> Result<BareJid, ConfigError> {
    let bad = |reason: String| ConfigError::BadJid {
        jid: jid.to_owned(),
        reason,
    };
    let parsed = BareJid::new(jid).map_err(|e| bad(e.to_string()))?;
    if parsed.node().is_none() {
        return Err(bad("it has no local part (user@)".into()));
    }
    Ok(parsed)
}

impl XmppSession {
    /// A session for the account in `config` (checked here; nothing connects until `run`).
    pub fn new(config: XmppConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let jid = parse_account_jid(&config.jid)?;
        let mapper = Mapper::new(&config.name, &jid).map_err(|reason| ConfigError::BadJid {
            jid: config.jid.clone(),
            reason,
        })?;
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        Ok(XmppSession {
            config,
            http: std::sync::OnceLock::new(),
            upload_service: tokio::sync::Mutex::new(None),
            jid,
            mapper,
            peers: Arc::default(),
            commands,
            receiver: Mutex::new(Some(receiver)),
        })
    }

    /// The bot's own address on this session: `xmpp:bare-jid;kind=individual`.
    pub fn address(&self) -> &Address {
        self.mapper.own()
    }

    fn error(&self, message: impl Into<String>) -> SessionError {
        SessionError {
            session: self.config.name.clone(),
            message: message.into(),
        }
    }

    fn own(&self) -> Option<Address> {
        Some(self.mapper.own().clone())
    }

    /// The stanza stream, connecting through the configured transport.
    fn stanza_stream(
        &self,
        password: Revealed,
        reports: mpsc::UnboundedSender<ConnectionError>,
    ) -> StanzaStream {
        let identity: Jid = match &self.config.resource {
            Some(resource) => match self.jid.with_resource_str(resource) {
                Ok(full) => full.into(),
                Err(e) => {
                    tracing::warn!(resource, "ignoring an invalid resource: {e}");
                    self.jid.clone().into()
                }
            },
            None => self.jid.clone().into(),
        };
        let domain = self.jid.domain().as_str().to_owned();
        let host = self.config.server.clone().unwrap_or(domain);
        let default_port = match self.config.tls {
            TlsMode::Direct => 5223,
            TlsMode::Starttls | TlsMode::Plaintext => 5222,
        };
        let port = self.config.port.unwrap_or(default_port);
        let dns = match (&self.config.server, self.config.port, self.config.tls) {
            (None, None, TlsMode::Direct) => DnsConfig::srv_xmpps(&host),
            (None, None, _) => DnsConfig::srv_default_client(&host),
            _ => DnsConfig::no_srv(&host, port),
        };
        let (min, max) = self.config.reconnect_backoff();
        let attempt = Attempt {
            identity,
            password,
            target: format!("{host}:{port}"),
            timeout: self.config.connect_timeout(),
            min,
            max,
            reports,
        };
        let connector = attempt.connector(Connector {
            dns,
            tls: self.config.tls,
        });
        StanzaStream::new(connector, 16)
    }

    /// Pushes `signal`; `false` once the bot has stopped listening.
    async fn push(inbound: &InboundSink, signal: Signal) -> bool {
        inbound.send(signal).await.is_ok()
    }

    async fn serve(&self, inbound: &InboundSink) -> Result<Option<Ended>, SessionError> {
        install_crypto_provider();
        let Some(mut commands) = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return Err(self.error("the session is running already, or has run"));
        };
        let password = match self.config.load_password() {
            Ok(password) => password,
            Err(e) => {
                let error = ConnectionError {
                    kind: ConnectionErrorKind::Other,
                    cause: e.to_string(),
                    retry_in: None,
                };
                let _ = inbound.send(Signal::internal(self.own(), error)).await;
                return Err(self.error(e.to_string()));
            }
        };
        for room in &self.config.rooms {
            let password = match room.password.as_ref().map(chatty_core::Secret::reveal) {
                Some(Err(e)) => {
                    let error = ConnectionError {
                        kind: ConnectionErrorKind::Other,
                        cause: format!("room {}: password: {e}", room.jid),
                        retry_in: None,
                    };
                    let _ = inbound.send(Signal::internal(self.own(), error)).await;
                    return Err(self.error(format!("room {}: password: {e}", room.jid)));
                }
                Some(Ok(password)) => Some(password),
                None => None,
            };
            if let Ok(jid) = BareJid::new(&room.jid) {
                let nick = room
                    .nick
                    .clone()
                    .unwrap_or_else(|| self.mapper.default_nick().to_owned());
                self.mapper.state().want_room(jid, nick, password);
            }
        }
        let mut pending_iqs: std::collections::HashMap<String, oneshot::Sender<Iq>> =
            std::collections::HashMap::new();
        let (downloads_tx, mut downloads) = mpsc::unbounded_channel::<Signal>();
        let mut unacked = Unacked::default();
        let mut archive_queries: std::collections::HashMap<String, PendingArchive> =
            std::collections::HashMap::new();
        // The archive id of the last message received: where a catch-up starts.
        let mut last_archived: Option<String> = None;
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        let mut stream = self.stanza_stream(password, reports_tx);
        let mut bound: Option<Jid> = None;
        // The bot's presence, sent again on every new stream.
        let mut presence = own_presence(Availability::Available, None);
        // SessionStarted waits for the server's echo of the initial presence: until the
        // server has processed it, messages to the bare JID do not reach this resource (and
        // the bot would miss the first ones). Any other stanza, or the connect timeout,
        // starts the session too.
        let mut awaiting_echo: Option<tokio::time::Instant> = None;
        let end = loop {
            let echo_deadline = awaiting_echo
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                () = tokio::time::sleep_until(echo_deadline), if awaiting_echo.is_some() => {
                    tracing::debug!("no echo of the initial presence; starting anyway");
                    awaiting_echo = None;
                    if inbound.started(PLATFORM, self.own()).await.is_err() {
                        break None;
                    }
                }
                Some(error) = reports.recv() => {
                    if !Self::push(inbound, Signal::internal(self.own(), error)).await {
                        break None;
                    }
                }
                Some(fetched) = downloads.recv() => {
                    if !Self::push(inbound, fetched).await {
                        break None;
                    }
                }
                event = stream.next() => match event {
                    None => {
                        break Some(SessionEnd { reason: Some("the XMPP stream closed".into()) });
                    }
                    Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => {
                        tracing::debug!(jid = %bound_jid, "online");
                        let reconnected = bound.is_some();
                        bound = Some(bound_jid);
                        // The server sends every contact's presence again on a new stream.
                        self.peers().forget_resources();
                        drop(stream.send(Box::new(presence.clone().into())).await);
                        if reconnected {
                            // A fresh stream after a lost one (the server could not resume it,
                            // after a restart, say): what it never acknowledged goes again.
                            // The receiver drops what it has seen already (by id).
                            let again = unacked.take_unacknowledged();
                            if !again.is_empty() {
                                tracing::info!(count = again.len(), "sending again what the lost stream did not acknowledge");
                            }
                            for message in again {
                                let token = stream.send(Box::new(message.clone().into())).await;
                                unacked.push(message, token);
                            }
                            // And what arrived at the server meanwhile, or was in flight to
                            // the bot when the stream broke: from the archive, after the last
                            // message received (repeats are dropped by id).
                            if let Some(after) = last_archived.clone() {
                                let query_id = format!("catchup-{}", chatty_core::SignalId::generate());
                                let iq = archive::query(&query_id, None, SetQuery {
                                    max: Some(CATCH_UP_PAGE),
                                    after: Some(after),
                                    before: None,
                                    index: None,
                                });
                                archive_queries.insert(query_id, PendingArchive {
                                    iq_id: iq_id(&iq),
                                    found: Vec::new(),
                                    waiter: ArchiveWaiter::CatchUp,
                                });
                                drop(stream.send(Box::new(iq.into())).await);
                            }
                        }
                        // A new stream: the rooms forgot the bot; join them again.
                        let joins = self.mapper.state().rejoin_all();
                        for join in joins {
                            drop(stream.send(Box::new(join.into())).await);
                        }
                        if !inbound.has_started() {
                            awaiting_echo =
                                Some(tokio::time::Instant::now() + self.config.connect_timeout());
                        }
                    }
                    Some(Event::Stream(StreamEvent::Suspended)) => {
                        let error = ConnectionError {
                            kind: ConnectionErrorKind::Unreachable,
                            cause: "the connection to the server was lost; reconnecting".into(),
                            retry_in: Some(Duration::ZERO),
                        };
                        if !Self::push(inbound, Signal::internal(self.own(), error)).await {
                            break None;
                        }
                    }
                    Some(Event::Stream(StreamEvent::Resumed)) => {
                        tracing::debug!("stream resumed (XEP-0198): nothing lost");
                    }
                    Some(Event::Stanza(stanza)) => {
                        if awaiting_echo.take().is_some()
                            && inbound.started(PLATFORM, self.own()).await.is_err()
                        {
                            break None;
                        }
                        let stanza = match stanza {
                            Stanza::Iq(
                                iq @ (Iq::Result { .. } | Iq::Error { .. }),
                            ) => {
                                let id = iq_id(&iq);
                                if let Some(waiting) = pending_iqs.remove(&id) {
                                    let _ = waiting.send(iq);
                                    continue;
                                }
                                let query = archive_queries
                                    .iter()
                                    .find(|(_, p)| p.iq_id == id)
                                    .map(|(q, _)| q.clone());
                                let Some(query) = query else { continue };
                                let Some(pending) = archive_queries.remove(&query) else { continue };
                                let answer = archive::fin(iq).map(|fin| (pending.found, fin));
                                match pending.waiter {
                                    ArchiveWaiter::Reply(reply) => {
                                        let _ = reply.send(answer);
                                    }
                                    ArchiveWaiter::CatchUp => match answer {
                                        Ok((found, fin)) => {
                                            let mut ended = false;
                                            for item in found {
                                                last_archived = Some(item.archive_id.clone());
                                                if let Some(mut signal) = self.mapper.inbound_message(item.message) {
                                                    if let Some(sent) = item.delay.as_ref().and_then(|d| crate::convert::timestamp(&d.stamp)) {
                                                        signal.meta.sent = Some(sent);
                                                    }
                                                    if !Self::push(inbound, signal).await {
                                                        ended = true;
                                                        break;
                                                    }
                                                }
                                            }
                                            if ended {
                                                break None;
                                            }
                                            if !fin.complete && let Some(after) = fin.set.last {
                                                let query_id = format!("catchup-{}", chatty_core::SignalId::generate());
                                                let iq = archive::query(&query_id, None, SetQuery {
                                                    max: Some(CATCH_UP_PAGE),
                                                    after: Some(after),
                                                    before: None,
                                                    index: None,
                                                });
                                                archive_queries.insert(query_id, PendingArchive {
                                                    iq_id: iq_id(&iq),
                                                    found: Vec::new(),
                                                    waiter: ArchiveWaiter::CatchUp,
                                                });
                                                drop(stream.send(Box::new(iq.into())).await);
                                            }
                                        }
                                        Err(e) => {
                                            tracing::warn!("catching up from the archive failed: {e}");
                                            let error = Signal::internal(self.own(), chatty_core::SystemError {
                                                component: "xmpp".into(),
                                                message: format!("catching up from the archive after a reconnection failed: {e}; messages sent meanwhile may be missing"),
                                            });
                                            if !Self::push(inbound, error).await {
                                                break None;
                                            }
                                        }
                                    },
                                }
                                continue;
                            }
                            Stanza::Message(message) if archive::result_query_id(&message).is_some() => {
                                let query = archive::result_query_id(&message).unwrap_or_default().to_owned();
                                if let Some(pending) = archive_queries.get_mut(&query) {
                                    match archive::result_for(&message, &query) {
                                        Some(Ok(item)) => pending.found.push(item),
                                        Some(Err(e)) => tracing::warn!("{e}"),
                                        None => {}
                                    }
                                }
                                continue;
                            }
                            Stanza::Message(message) => {
                                if let Some(id) = archive::stanza_id(&message, self.jid.as_str()) {
                                    last_archived = Some(id);
                                }
                                Stanza::Message(message)
                            }
                            other => other,
                        };
                        if let Some(signal) = self.inbound(stanza, bound.as_ref(), &stream).await
                            && !Self::push(inbound, signal).await
                        {
                            break None;
                        }
                    }
                },
                command = commands.recv() => match command {
                    Some(Command::Send(stanzas)) => {
                        for stanza in stanzas {
                            if let Stanza::Presence(p) = &stanza && p.to.is_none() {
                                presence = p.clone();
                            }
                            let keep = match &stanza {
                                Stanza::Message(message) => Some(message.clone()),
                                _ => None,
                            };
                            let token = stream.send(Box::new(stanza)).await;
                            if let Some(message) = keep {
                                unacked.push(message, token);
                            }
                        }
                    }
                    Some(Command::End(end)) => break Some(end),
                    Some(Command::Iq(iq, answer)) => {
                        let id = match &*iq {
                            Iq::Get { id, .. } | Iq::Set { id, .. } | Iq::Result { id, .. } | Iq::Error { id, .. } => id.clone(),
                        };
                        pending_iqs.retain(|_, waiting| !waiting.is_closed());
                        pending_iqs.insert(id, answer);
                        drop(stream.send(Box::new((*iq).into())).await);
                    }
                    Some(Command::Archive(iq, query_id, reply)) => {
                        archive_queries.insert(query_id, PendingArchive {
                            iq_id: iq_id(&iq),
                            found: Vec::new(),
                            waiter: ArchiveWaiter::Reply(reply),
                        });
                        drop(stream.send(Box::new((*iq).into())).await);
                    }
                    Some(Command::Download(request)) => {
                        let http = self.http().cloned();
                        let own = self.own();
                        let downloads = downloads_tx.clone();
                        tokio::spawn(async move {
                            let _ = downloads.send(download(http, *request, own).await);
                        });
                    }
                    None => break None,
                },
            }
        };
        let Some(end) = end else {
            // The bot stopped listening: close quietly.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.close()).await;
            return Ok(None);
        };
        // The last chance to send: keep carrying the bot's signals until it has handled
        // SessionAboutToEnd.
        let about = inbound.send(Signal::internal(
            self.own(),
            Body::SessionAboutToEnd(end.clone()),
        ));
        tokio::pin!(about);
        loop {
            tokio::select! {
                _ = &mut about => break,
                Some(command) = commands.recv() => {
                    if let Command::Send(stanzas) = command {
                        for stanza in stanzas {
                            drop(stream.send(Box::new(stanza)).await);
                        }
                    }
                }
            }
        }
        while let Ok(command) = commands.try_recv() {
            if let Command::Send(stanzas) = command {
                for stanza in stanzas {
                    drop(stream.send(Box::new(stanza)).await);
                }
            }
        }
        if bound.is_some() {
            let mut token = stream.send(Box::new(Presence::unavailable().into())).await;
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, token.wait_for(StanzaStage::Sent)).await;
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.close()).await;
        } else {
            // Never connected: there is no stream to close; dropping the stanza stream stops
            // the connection attempts.
            drop(stream);
        }
        Ok(Some(Ended(end)))
    }

    /// Maps one inbound stanza; answers IQ requests itself.
    async fn inbound(
        &self,
        stanza: Stanza,
        bound: Option<&Jid>,
        stream: &StanzaStream,
    ) -> Option<Signal> {
        match stanza {
            Stanza::Message(message) => {
                if let Some(receipt) = receipt_for(&message) {
                    drop(stream.send(Box::new(receipt.into())).await);
                }
                self.mapper.inbound_message(message)
            }
            Stanza::Presence(presence) => {
                self.track_presence(&presence);
                self.mapper.inbound_presence(presence, bound)
            }
            Stanza::Iq(iq) => {
                if let Some(answer) = answer_iq(iq) {
                    drop(stream.send(Box::new(answer.into())).await);
                }
                None
            }
        }
    }

    /// A room's bare JID from a channel address (or an occupant's `room@service/nick`).
    fn room_jid(&self, address: &Address) -> Result<BareJid, QueryError> {
        if address.platform() != PLATFORM {
            return Err(QueryError::Failed {
                message: format!("{address} is not an XMPP address"),
            });
        }
        Jid::new(address.id())
            .map(|jid| jid.to_bare())
            .map_err(|e| QueryError::Failed {
                message: format!("{address} is not a JID: {e}"),
            })
    }

    /// The HTTP client, made on first use.
    fn http(&self) -> Result<&Http, String> {
        self.http
            .get_or_init(Http::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Sends an IQ request through the connection and waits for its answer.
    async fn request(&self, iq: Iq, what: &str) -> Result<Iq, String> {
        request(&self.commands, iq, what, IQ_TIMEOUT).await
    }

    /// The disco#info of `to`, if it answers with one.
    async fn disco_info(&self, to: Jid) -> Result<Option<DiscoInfoResult>, String> {
        disco_info(
            &self.commands,
            to,
            DiscoInfoQuery { node: None },
            IQ_TIMEOUT,
        )
        .await
    }

    /// The peers' capabilities, locked.
    fn peers(&self) -> std::sync::MutexGuard<'_, PeerCaps> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps track of a contact's online resources and learns what a new client version can
    /// receive (in the background: the answer may take a while, or never come).
    fn track_presence(&self, presence: &Presence) {
        let Some(Ok(from)) = presence.from.clone().map(Jid::try_into_full) else {
            return;
        };
        // The bot's own resources, and occupants of its rooms, are not contacts.
        if from.to_bare() == self.jid || self.mapper.state().room(&from.to_bare()).is_some() {
            return;
        }
        let discover = match presence.type_ {
            PresenceType::None => {
                let caps = presence
                    .payloads
                    .iter()
                    .find(|p| p.is("c", ns::CAPS))
                    .and_then(|c| Caps::try_from(c.clone()).ok());
                self.peers().available(from, caps)
            }
            PresenceType::Unavailable => {
                self.peers().unavailable(&from);
                None
            }
            _ => None,
        };
        if let Some(discover) = discover {
            let (commands, peers) = (self.commands.clone(), self.peers.clone());
            tokio::spawn(async move {
                let to = Jid::from(discover.to.clone());
                match disco_info(&commands, to, discover.query, DISCO_TIMEOUT).await {
                    Ok(info) => peers.lock().unwrap_or_else(|p| p.into_inner()).learned(
                        &discover.to,
                        discover.ver.as_deref(),
                        info.as_ref(),
                    ),
                    // No answer yet: a query asks again when it needs to know.
                    Err(e) => tracing::debug!("{e}"),
                }
            });
        }
    }

    /// What `address` can receive: a room's fixed set; for a person, what their online
    /// clients announce (asking those not known yet), or the static table when none is online.
    async fn peer_capabilities(&self, address: &Address) -> Result<Capabilities, QueryError> {
        if address.kind() == AddressKind::Channel {
            return Ok(ROOM_CAPABILITIES);
        }
        let jid = Jid::new(address.id()).map_err(|e| QueryError::Failed {
            message: format!("{address} is not a JID: {e}"),
        })?;
        let bare = jid.to_bare();
        if self.mapper.state().room(&bare).is_some() {
            // Someone in a room the bot is in: a private message through the room.
            return Ok(CAPABILITIES);
        }
        let ask = match jid.clone().try_into_full() {
            Ok(full) if !self.peers().is_online(&full) => {
                // Not online as far as presence says (no subscription, say): ask it directly.
                let info = disco_info(
                    &self.commands,
                    jid,
                    DiscoInfoQuery { node: None },
                    DISCO_TIMEOUT,
                )
                .await
                .map_err(|message| QueryError::Failed { message })?;
                return Ok(info.map_or(CAPABILITIES, |i| caps::from_features(&i.features)));
            }
            Ok(full) => vec![full],
            Err(_) => self.peers().unknown(&bare),
        };
        let answers = futures::future::join_all(ask.into_iter().map(|full| async move {
            let query = DiscoInfoQuery { node: None };
            let info = disco_info(&self.commands, full.clone().into(), query, DISCO_TIMEOUT).await;
            (full, info)
        }))
        .await;
        {
            let mut peers = self.peers();
            for (full, info) in answers {
                // No answer (or a malformed one): the base of XMPP, until its presence changes.
                let info = info.unwrap_or_else(|e| {
                    tracing::debug!("{e}");
                    None
                });
                peers.learned(&full, None, info.as_ref());
            }
        }
        Ok(self.known_capabilities(address))
    }

    /// No receipt request to someone whose clients are known not to give receipts (XEP-0184
    /// §5.1); the delivery status of such a message stays `sent`.
    fn drop_unwanted_receipt_requests(&self, stanzas: &mut [Stanza]) {
        for stanza in stanzas {
            let Stanza::Message(message) = stanza else {
                continue;
            };
            let Some(to) = message.to.as_ref() else {
                continue;
            };
            let bare = to.to_bare();
            let known = self
                .peers()
                .capabilities(bare.as_str(), to.resource().map(|r| r.as_str()));
            if known.is_some_and(|c| !c.features.contains(Features::DELIVERY_REPORTS)) {
                message.payloads.retain(|p| !p.is("request", NS_RECEIPTS));
            }
        }
    }

    /// What is known of `address` now: learnt capabilities, or the static tables.
    fn known_capabilities(&self, address: &Address) -> Capabilities {
        if address.kind() == AddressKind::Channel {
            return ROOM_CAPABILITIES;
        }
        let (bare, resource) = match address.id().split_once('/') {
            Some((bare, resource)) => (bare, Some(resource)),
            None => (address.id(), None),
        };
        self.peers()
            .capabilities(bare, resource)
            .unwrap_or(CAPABILITIES)
    }

    /// The server's HTTP upload service: from the config, or found among the items of the
    /// account's domain (disco#items, then disco#info of each).
    async fn upload_service(&self) -> Result<Jid, String> {
        let mut known = self.upload_service.lock().await;
        if let Some(service) = known.as_ref() {
            return Ok(service.clone());
        }
        let service = match &self.config.upload_service {
            Some(service) => Jid::new(service)
                .map_err(|e| format!("upload_service `{service}` is not a JID: {e}"))?,
            None => {
                let domain = Jid::new(self.jid.domain().as_str())
                    .map_err(|e| format!("the account's domain is not a JID: {e}"))?;
                let iq = Iq::from_get(
                    format!("items-{}", chatty_core::SignalId::generate()),
                    DiscoItemsQuery {
                        node: None,
                        rsm: None,
                    },
                )
                .with_to(domain.clone());
                let items =
                    match self.request(iq, "disco#items").await? {
                        Iq::Result {
                            payload: Some(payload),
                            ..
                        } => DiscoItemsResult::try_from(payload)
                            .map_err(|e| {
                                format!(
                                    "{domain} answered disco#items with something malformed: {e}"
                                )
                            })?
                            .items,
                        _ => Vec::new(),
                    };
                let mut found = None;
                for item in items {
                    if let Some(info) = self.disco_info(item.jid.clone()).await?
                        && info.features.contains(NS_HTTP_UPLOAD)
                    {
                        found = Some(item.jid);
                        break;
                    }
                }
                found.ok_or_else(|| {
                    format!("the server {domain} offers no HTTP file upload (XEP-0363)")
                })?
            }
        };
        *known = Some(service.clone());
        Ok(service)
    }

    /// Uploads `file`'s bytes (XEP-0363) and returns the file with the URL to fetch it from.
    async fn upload(&self, file: File) -> Result<File, String> {
        let Content::Bytes { data } = file.content else {
            return Ok(file);
        };
        let service = self.upload_service().await?;
        let request = SlotRequest {
            filename: file.name.clone(),
            size: data.len() as u64,
            content_type: file.media_type.clone(),
        };
        let iq = Iq::from_get(
            format!("slot-{}", chatty_core::SignalId::generate()),
            request,
        )
        .with_to(service.clone());
        let slot = match self.request(iq, "an upload slot").await? {
            Iq::Result {
                payload: Some(payload),
                ..
            } => SlotResult::try_from(payload)
                .map_err(|e| format!("{service} answered with a malformed upload slot: {e}"))?,
            Iq::Error { error, .. } => {
                return Err(format!(
                    "{service} refused an upload slot for {} ({} bytes): {:?}",
                    file.name,
                    data.len(),
                    error.defined_condition
                ));
            }
            _ => return Err(format!("{service} answered the slot request with nothing")),
        };
        let headers: Vec<(String, String)> = slot
            .put
            .headers
            .iter()
            .map(|h| (h.name.as_str().to_owned(), h.value.clone()))
            .collect();
        let size = data.len() as u64;
        self.http()?
            .put(&slot.put.url, &headers, file.media_type.as_deref(), data)
            .await?;
        Ok(File {
            name: file.name,
            media_type: file.media_type,
            content: Content::Url {
                url: slot.get.url,
                size: Some(size),
            },
        })
    }

    /// Uploads the bytes of a file signal, or of a message's attachments, first.
    async fn upload_files(&self, mut signal: Signal) -> Result<Signal, Refusal> {
        let refuse = |e: String| Refusal::new(FailureKind::Rejected, e).with_code("upload-failed");
        match &mut signal.body {
            Body::File(file) if matches!(file.content, Content::Bytes { .. }) => {
                let uploaded = self.upload(file.clone()).await.map_err(refuse)?;
                *file = uploaded;
            }
            Body::Message(message)
                if message
                    .attachments
                    .iter()
                    .any(|f| matches!(f.content, Content::Bytes { .. })) =>
            {
                let mut uploaded = Vec::with_capacity(message.attachments.len());
                for file in std::mem::take(&mut message.attachments) {
                    uploaded.push(self.upload(file).await.map_err(refuse)?);
                }
                message.attachments = uploaded;
            }
            _ => {}
        }
        Ok(signal)
    }

    /// History with `address` from the server's archive (MAM), newest first: what it sent
    /// (`sent: false`) or what the bot sent it. A page holds at most `page.limit` messages of
    /// the conversation, of which those in the other direction are left out.
    async fn history(
        &self,
        address: &Address,
        page: &Page,
        sent: bool,
    ) -> Result<Answer, QueryError> {
        let with = self.room_jid(address)?;
        let query_id = format!("q-{}", chatty_core::SignalId::generate());
        let iq = archive::query(
            &query_id,
            Some(&with.clone().into()),
            SetQuery {
                max: Some(page.limit as usize),
                after: None,
                // Empty: the newest page.
                before: Some(
                    page.before
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ),
                index: None,
            },
        );
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Archive(Box::new(iq), query_id, tx))
            .await
            .map_err(|_| QueryError::Closed)?;
        let (found, fin) = tokio::time::timeout(IQ_TIMEOUT, rx)
            .await
            .map_err(|_| QueryError::Failed {
                message: format!("the archive did not answer within {IQ_TIMEOUT:?}"),
            })?
            .map_err(|_| QueryError::Closed)?
            .map_err(|message| QueryError::Failed { message })?;
        let own = self.jid.as_str();
        let mut signals: Vec<Signal> = found
            .into_iter()
            .filter(|item| {
                let from_own = item
                    .message
                    .from
                    .as_ref()
                    .is_some_and(|f| f.to_bare().as_str() == own);
                from_own == sent
            })
            .filter_map(|item| {
                self.mapper
                    .archived_message(item.message, item.delay.as_ref().map(|d| &d.stamp))
            })
            .collect();
        signals.reverse();
        let next = match (fin.complete, fin.set.first) {
            (false, Some(first)) => Some(Page {
                limit: page.limit,
                before: Some(chatty_core::SignalId::from(first.item.as_str())),
            }),
            _ => None,
        };
        Ok(Answer::History(chatty_core::History { signals, next }))
    }

    /// Asks `to` for its disco#info (XEP-0030) and returns its identities' categories.
    async fn disco_categories(&self, to: Jid) -> Result<Vec<String>, QueryError> {
        let iq = Iq::from_get(
            format!("disco-{}", chatty_core::SignalId::generate()),
            DiscoInfoQuery { node: None },
        )
        .with_to(to.clone());
        let answer = self
            .request(iq, &format!("disco#info to {to}"))
            .await
            .map_err(|message| QueryError::Failed { message })?;
        match answer {
            Iq::Result {
                payload: Some(payload),
                ..
            } => {
                let info = DiscoInfoResult::try_from(payload).map_err(|e| QueryError::Failed {
                    message: format!("{to} answered disco#info with something malformed: {e}"),
                })?;
                Ok(info.identities.into_iter().map(|i| i.category).collect())
            }
            // No answer of its own (an account the bot may not see): not a room, at least.
            _ => Ok(Vec::new()),
        }
    }

    async fn answer(&self, query: &Query) -> Result<Answer, QueryError> {
        match query {
            Query::AddressKind { address } => {
                let jid = self.room_jid(address)?;
                let full = Jid::new(address.id()).map_err(|e| QueryError::Failed {
                    message: format!("{address} is not a JID: {e}"),
                })?;
                let in_room = self.mapper.state().room(&jid).is_some();
                // Someone in a room, or one resource of an account, is an individual; a room
                // the bot is in, or a JID whose disco#info says `conference`, a channel.
                let channel = full.resource().is_none()
                    && (in_room
                        || self
                            .disco_categories(jid.into())
                            .await?
                            .iter()
                            .any(|c| c == "conference"));
                let kind = if channel {
                    AddressKind::Channel
                } else {
                    AddressKind::Individual
                };
                Ok(Answer::AddressKind { kind })
            }
            Query::SupportedSignals { address } => Ok(Answer::SupportedSignals {
                signals: self.peer_capabilities(address).await?.signals,
            }),
            Query::SupportedFeatures { address } => {
                let caps = self.peer_capabilities(address).await?;
                Ok(Answer::SupportedFeatures {
                    features: caps.features,
                    degraded: caps.degraded,
                })
            }
            Query::Members { address } => {
                let jid = self.room_jid(address)?;
                let state = self.mapper.state();
                let room = state.room(&jid).ok_or_else(|| QueryError::Failed {
                    message: format!("the bot is not in the room {address}"),
                })?;
                let members = room
                    .occupants
                    .keys()
                    .filter_map(|nick| {
                        let full = jid.with_resource_str(nick).ok()?;
                        self.mapper
                            .address(full.as_str(), AddressKind::Individual)
                            .ok()
                    })
                    .collect();
                Ok(Answer::Members { members })
            }
            Query::MemberStatus { member, channel } => {
                let jid = self.room_jid(channel)?;
                let nick = Jid::new(member.id())
                    .ok()
                    .and_then(|j| j.resource().map(|r| r.as_str().to_owned()))
                    .ok_or_else(|| QueryError::Failed {
                        message: format!("{member} is not someone in a room (room@service/nick)"),
                    })?;
                let state = self.mapper.state();
                let room = state.room(&jid).ok_or_else(|| QueryError::Failed {
                    message: format!("the bot is not in the room {channel}"),
                })?;
                let occupant = room.occupants.get(&nick);
                Ok(Answer::MemberStatus(MemberStatus {
                    present: occupant.is_some(),
                    role: occupant.and_then(|o| o.role.clone()),
                }))
            }
            Query::OwnStatus { channel } => {
                let jid = self.room_jid(channel)?;
                let state = self.mapper.state();
                let status = match state.room(&jid) {
                    Some(room) => {
                        let own = room.occupants.get(&room.nick);
                        MemberStatus {
                            present: room.joined,
                            role: own.and_then(|o| o.role.clone()),
                        }
                    }
                    None => MemberStatus {
                        present: false,
                        role: None,
                    },
                };
                Ok(Answer::MemberStatus(status))
            }
            Query::Status { address } => {
                let jid = self.room_jid(address)?;
                Ok(Answer::Status(self.mapper.state().presence_of(&jid)))
            }
            Query::DeliveryStatus { id } => {
                Ok(Answer::DeliveryStatus(self.mapper.state().delivery_of(id)))
            }
            Query::ReceivedFrom { address, page } => self.history(address, page, false).await,
            Query::SentTo { address, page } => self.history(address, page, true).await,
        }
    }
}

/// An IQ's id.
fn iq_id(iq: &Iq) -> String {
    match iq {
        Iq::Get { id, .. } | Iq::Set { id, .. } | Iq::Result { id, .. } | Iq::Error { id, .. } => {
            id.clone()
        }
    }
}

/// Fetches the file of a `DownloadFile` request: the file with its bytes, in response to the
/// request, or a send failure for it.
async fn download(http: Result<Http, String>, request: Signal, own: Option<Address>) -> Signal {
    let failure = |message: String| {
        let mut signal = Signal::new(chatty_core::SendFailure {
            failed: request.meta.id.clone(),
            kind: FailureKind::Unreachable,
            code: Some("download-failed".into()),
            message,
        })
        .in_response_to(request.meta.id.clone());
        signal.meta.origin = own.clone();
        signal.meta.addressees = own.iter().cloned().collect();
        signal
    };
    let Body::DownloadFile(chatty_core::DownloadFile { file }) = &request.body else {
        return failure("not a download request".into());
    };
    let Content::Url { url, .. } = &file.content else {
        return failure(format!("the file {} has its bytes already", file.name));
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return failure(format!("{url} is not an HTTP URL"));
    }
    let http = match http {
        Ok(http) => http,
        Err(e) => return failure(e),
    };
    match http.get(url).await {
        Ok((data, media_type)) => {
            let fetched = File {
                name: if file.name.is_empty() {
                    name_from_url(url)
                } else {
                    file.name.clone()
                },
                media_type: file.media_type.clone().or(media_type),
                content: Content::Bytes { data },
            };
            let mut signal = Signal::new(fetched).in_response_to(request.meta.id.clone());
            signal.meta.origin = own.clone();
            signal.meta.addressees = own.iter().cloned().collect();
            signal.meta.received = Some(chatty_core::now());
            signal
        }
        Err(e) => failure(e),
    }
}

/// Messages sent on the stream that the server has not acknowledged yet (XEP-0198), to send
/// again on a fresh stream when the old one could not be resumed.
#[derive(Default)]
struct Unacked {
    sent: std::collections::VecDeque<(
        tokio_xmpp::parsers::message::Message,
        tokio_xmpp::stanzastream::StanzaToken,
    )>,
    /// Whether the server ever acknowledged anything: without Stream Management nothing is
    /// acknowledged, and nothing can be known to be lost.
    acks_seen: bool,
}

/// The most messages kept for sending again.
const UNACKED_LIMIT: usize = 10_000;

impl Unacked {
    fn push(
        &mut self,
        stanza: tokio_xmpp::parsers::message::Message,
        token: tokio_xmpp::stanzastream::StanzaToken,
    ) {
        self.prune();
        if self.sent.len() >= UNACKED_LIMIT {
            self.sent.pop_front();
        }
        self.sent.push_back((stanza, token));
    }

    /// Forgets what the server acknowledged.
    fn prune(&mut self) {
        while let Some((_, token)) = self.sent.front() {
            if StanzaStage::from(&token.state()) == StanzaStage::Acked {
                self.acks_seen = true;
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// What was sent or failed but never acknowledged (what is still queued, tokio-xmpp sends
    /// itself).
    fn take_unacknowledged(&mut self) -> Vec<tokio_xmpp::parsers::message::Message> {
        self.prune();
        if !self.acks_seen {
            self.sent.clear();
            return Vec::new();
        }
        let (again, queued): (Vec<_>, Vec<_>) = self.sent.drain(..).partition(|(_, token)| {
            !matches!(
                StanzaStage::from(&token.state()),
                StanzaStage::Acked | StanzaStage::Queued
            )
        });
        self.sent.extend(queued);
        again.into_iter().map(|(stanza, _)| stanza).collect()
    }
}

/// The end of a session that was asked to end.
struct Ended(SessionEnd);

/// The receipt (XEP-0184) for a one-to-one message that asks for one.
fn receipt_for(
    message: &tokio_xmpp::parsers::message::Message,
) -> Option<tokio_xmpp::parsers::message::Message> {
    use tokio_xmpp::parsers::message::{Id, Message, MessageType};
    if message.type_ == MessageType::Groupchat || message.type_ == MessageType::Error {
        return None;
    }
    if !message
        .payloads
        .iter()
        .any(|p| p.is("request", NS_RECEIPTS))
    {
        return None;
    }
    let id = message
        .id
        .as_ref()
        .map(|id| id.0.clone())
        .filter(|id| !id.is_empty())?;
    let mut receipt = Message::new(message.from.clone());
    receipt.type_ = message.type_.clone();
    receipt.id = Some(Id(format!("receipt-{id}")));
    receipt.payloads.push(
        tokio_xmpp::minidom::Element::builder("received", NS_RECEIPTS)
            .attr(tokio_xmpp::minidom::rxml::xml_ncname!("id").into(), id)
            .build(),
    );
    Some(receipt)
}

/// Sends an IQ request through the connection task and waits up to `timeout` for its answer.
async fn request(
    commands: &mpsc::Sender<Command>,
    iq: Iq,
    what: &str,
    timeout: Duration,
) -> Result<Iq, String> {
    let (tx, rx) = oneshot::channel();
    commands
        .send(Command::Iq(Box::new(iq), tx))
        .await
        .map_err(|_| "the XMPP session has ended".to_owned())?;
    tokio::time::timeout(timeout, rx)
        .await
        .map_err(|_| format!("no answer to {what} within {timeout:?}"))?
        .map_err(|_| "the XMPP session has ended".to_owned())
}

/// The disco#info (XEP-0030) of `to` for `query`, if it answers with one.
async fn disco_info(
    commands: &mpsc::Sender<Command>,
    to: Jid,
    query: DiscoInfoQuery,
    timeout: Duration,
) -> Result<Option<DiscoInfoResult>, String> {
    let iq = Iq::from_get(
        format!("disco-{}", chatty_core::SignalId::generate()),
        query,
    )
    .with_to(to.clone());
    match request(commands, iq, &format!("disco#info to {to}"), timeout).await? {
        Iq::Result {
            payload: Some(payload),
            ..
        } => DiscoInfoResult::try_from(payload)
            .map(Some)
            .map_err(|e| format!("{to} answered disco#info with something malformed: {e}")),
        _ => Ok(None),
    }
}

/// The answer to an IQ request: a pong to a ping (XEP-0199), the bot's identity and features
/// to disco#info (XEP-0030), `service-unavailable` to the rest.
fn answer_iq(iq: Iq) -> Option<Iq> {
    match iq {
        Iq::Get {
            from, id, payload, ..
        } if payload.is("query", ns::DISCO_INFO) && caps::is_own_node(payload.attr("node")) => {
            let info = caps::own_info(payload.attr("node").map(str::to_owned));
            Some(Iq::Result {
                from: None,
                to: from,
                id,
                payload: Some(info.into()),
            })
        }
        Iq::Get {
            from, id, payload, ..
        } if payload.is("ping", ns::PING) => Some(Iq::Result {
            from: None,
            to: from,
            id,
            payload: None,
        }),
        Iq::Get { from, id, .. } | Iq::Set { from, id, .. } => Some(Iq::Error {
            from: None,
            to: from,
            id,
            error: StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "en",
                "not supported by this bot",
            ),
            payload: None,
        }),
        Iq::Result { .. } | Iq::Error { .. } => None,
    }
}

/// Installs rustls's ring provider as the process default, once (an error means a provider is
/// installed already, which is fine).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Everything one connection attempt needs; `connector` makes the stanza stream's connector.
struct Attempt {
    identity: Jid,
    password: Revealed,
    target: String,
    timeout: Duration,
    min: Duration,
    max: Duration,
    reports: mpsc::UnboundedSender<ConnectionError>,
}

/// The stanza stream's connector: called for the first connection and after every loss.
type Reconnector = Box<dyn FnMut(Option<String>, oneshot::Sender<Connection>) + Send + 'static>;

impl Attempt {
    /// A connector that tries `server` until it logs in, reporting each failure with its cause
    /// and waiting with jittered, capped exponential backoff in between.
    fn connector<C: ServerConnector>(self, server: C) -> Reconnector {
        let attempt = Arc::new(self);
        Box::new(move |_location, slot| {
            let attempt = attempt.clone();
            let server = server.clone();
            tokio::spawn(async move { attempt.run(server, slot).await });
        })
    }

    async fn run<C: ServerConnector>(&self, server: C, mut slot: oneshot::Sender<Connection>) {
        let mut delay = self.min;
        loop {
            let login = tokio::time::timeout(
                self.timeout,
                login(
                    server.clone(),
                    self.identity.clone(),
                    &self.password,
                    self.timeout,
                ),
            );
            let mut error = tokio::select! {
                result = login => match result {
                    Ok(Ok(connection)) => {
                        let _ = slot.send(connection);
                        return;
                    }
                    Ok(Err(e)) => ConnectionError {
                        kind: classify(&e),
                        cause: format!("connecting to {} as {}: {e}", self.target, self.identity),
                        retry_in: None,
                    },
                    Err(_) => ConnectionError {
                        kind: ConnectionErrorKind::Unreachable,
                        cause: format!(
                            "no connection to {} as {} within {:?} (no answer, or a login that does not finish)",
                            self.target, self.identity, self.timeout
                        ),
                        retry_in: None,
                    },
                },
                () = slot.closed() => return,
            };
            let wait = chatty_core::jittered(delay);
            error.retry_in = Some(wait);
            tracing::warn!(kind = ?error.kind, retry_in = ?wait, "{}", error.cause);
            if self.reports.send(error).is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = slot.closed() => return,
            }
            delay = (delay * 2).min(self.max);
        }
    }
}

/// Connects and logs in (SASL), without binding a resource: what the stanza stream expects of
/// its connector. tokio-xmpp's own connector does the same but only logs its errors; here they
/// become connection error signals.
async fn login<C: ServerConnector>(
    server: C,
    jid: Jid,
    password: &Revealed,
    response_timeout: Duration,
) -> Result<Connection, tokio_xmpp::Error> {
    let timeouts = Timeouts {
        read_timeout: Duration::from_secs(60),
        response_timeout,
    };
    let (stream, channel_binding) = server.connect(&jid, ns::JABBER_CLIENT, timeouts).await?;
    let (features, stream) = stream.recv_features().await?;
    let username = jid
        .node()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let credentials = Credentials::default()
        .with_username(username)
        .with_password(password.expose())
        .with_channel_binding(channel_binding);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, credentials).await?;
    let stream = stream
        .send_header(StreamHeader {
            to: Some(Cow::Borrowed(jid.domain().as_str())),
            from: None,
            id: None,
        })
        .await?;
    let (features, stream) = stream.recv_features().await?;
    Ok(Connection {
        stream: stream.box_stream(),
        features,
        identity: jid,
    })
}

/// The kind of a connection failure.
fn classify(error: &tokio_xmpp::Error) -> ConnectionErrorKind {
    use tokio_xmpp::Error as E;
    use tokio_xmpp::error::ProtocolError;
    match error {
        E::Auth(_) => ConnectionErrorKind::Authentication,
        E::Connection(_) | E::Protocol(ProtocolError::NoTls) => ConnectionErrorKind::Tls,
        E::Io(e) => {
            let text = e.to_string().to_lowercase();
            if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
                ConnectionErrorKind::Tls
            } else {
                ConnectionErrorKind::Unreachable
            }
        }
        E::Disconnected | E::Addr(_) => ConnectionErrorKind::Unreachable,
        E::Protocol(_) | E::StreamError(_) | E::JidParse(_) => ConnectionErrorKind::Protocol,
        _ => ConnectionErrorKind::Other,
    }
}

impl Session for XmppSession {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        match address {
            Some(address) => self.known_capabilities(address),
            None => CAPABILITIES,
        }
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        Box::pin(async move {
            if let Some(Ended(end)) = self.serve(&inbound).await? {
                let _ = inbound
                    .send(Signal::internal(self.own(), Body::SessionEnded(end)))
                    .await;
            }
            Ok(())
        })
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        Box::pin(async move {
            let command = match &signal.body {
                Body::InitiateSessionEnd(end) => {
                    // Ending a session that has ended already is not a failure.
                    let _ = self.commands.send(Command::End(end.clone())).await;
                    return Ok(());
                }
                Body::DownloadFile(_) => Command::Download(Box::new(signal)),
                _ => {
                    let signal = self.upload_files(signal).await?;
                    let mut stanzas = self.mapper.outbound(&signal)?;
                    self.drop_unwanted_receipt_requests(&mut stanzas);
                    Command::Send(stanzas)
                }
            };
            self.commands
                .send(command)
                .await
                .map_err(|_| Refusal::new(FailureKind::Unreachable, "the XMPP session has ended"))
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
    fn pings_are_answered_and_other_requests_refused() {
        let from = Jid::new("localhost").unwrap();
        let ping = Iq::Get {
            from: Some(from.clone()),
            to: None,
            id: "p1".into(),
            payload: tokio_xmpp::minidom::Element::builder("ping", ns::PING).build(),
        };
        assert!(matches!(answer_iq(ping), Some(Iq::Result { id, .. }) if id == "p1"));
        let version = Iq::Get {
            from: Some(from),
            to: None,
            id: "v1".into(),
            payload: tokio_xmpp::minidom::Element::builder("query", "jabber:iq:version").build(),
        };
        assert!(matches!(answer_iq(version), Some(Iq::Error { id, .. }) if id == "v1"));
    }
}
