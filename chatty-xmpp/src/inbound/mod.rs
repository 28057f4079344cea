//! The connection task: the one loop that drives the stanza stream, maps what arrives, sends
//! what the bot hands over, and ends the session.

mod failure;
pub(crate) mod message;
mod presence;

use std::time::Duration;

use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{
    Availability, Body, ConnectionError, ConnectionErrorKind, InboundSink, Revealed, SessionEnd,
    SessionError, Signal,
};
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::parsers::rsm::SetQuery;
use tokio_xmpp::stanzastream::{Event, StanzaStage, StanzaStream, StreamEvent};

use crate::archive::{self, ArchivedMessage};
use crate::command::{ArchiveAnswer, Command};
use crate::config::PLATFORM;
use crate::config::TlsMode;
use crate::connect::{Attempt, install_crypto_provider};
use crate::iq::{answer_iq, iq_id};
use crate::ns::NS_RECEIPTS;
use crate::outbound::stanzas::own_presence;
use crate::session::{Ended, XmppSession};
use crate::tcp::Connector;
use crate::transfer::download;
use crate::unacked::Unacked;

/// How long the session waits for its last stanzas and the stream's close when it ends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

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

impl XmppSession {
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

    pub(crate) async fn serve(&self, inbound: &InboundSink) -> Result<Option<Ended>, SessionError> {
        install_crypto_provider();
        let Some(mut commands) = chatty_core::driver::lock(&self.receiver).take() else {
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
        let mut presence = own_presence(Availability::Available, None, self.config.client_type);
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
                                                    if let Some(sent) = item.delay.as_ref().and_then(|d| crate::mapper::timestamp(&d.stamp)) {
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
                self.learn_sender(&message);
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
                if let Some(answer) = answer_iq(iq, self.config.client_type) {
                    drop(stream.send(Box::new(answer.into())).await);
                }
                None
            }
        }
    }
}

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
