//! What the parts of the session share: the account, its mapper and the channel to the
//! connection ([`Shared`]); what outlives one stanza stream ([`Live`]); and one stanza stream
//! with the answers it waits for ([`Connection`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chatty_core::Address;
use chatty_core::driver::Link;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use tokio::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::stanzastream::{Event, StanzaStage, StanzaStream, StanzaToken};

use crate::archive;
use crate::command::{CONFIRM_TIMEOUT, Command};
use crate::config::{ConfigError, XmppConfig, parse_account_jid};
use crate::files::Http;
use crate::iq::{self, IQ_TIMEOUT};
use crate::mapper::Mapper;
use crate::marker::{Marker, RoomMarkers};
use crate::room_archive::RoomCatchUps;
use crate::unacked::Unacked;

/// How many outbound signals may wait for the connection before `send` waits.
const COMMAND_QUEUE: usize = 1024;

/// How many stream events are read ahead at most while a push waits for the bot (see
/// [`Connection::reading_ahead`]).
pub(crate) const AHEAD_LIMIT: usize = 10_000;

/// The conversation's newest archived messages that the last lookup of an unsure answer read
/// (`crate::sent`), newest first: a contiguous run of the archive back from its newest message
/// when they were read.
#[derive(Debug)]
pub(crate) struct LookedUp {
    pub(crate) with: BareJid,
    pub(crate) read_at: std::time::Instant,
    pub(crate) newest_first: Vec<crate::archive::ArchivedMessage>,
}

/// What `connect`, `serve`, `send`, `query` and `download` share.
pub(crate) struct Shared {
    pub(crate) config: XmppConfig,
    /// The account's bare JID.
    pub(crate) jid: BareJid,
    pub(crate) mapper: Mapper,
    /// What `send` and `query` hand to the connection.
    pub(crate) commands: mpsc::Sender<Command>,
    /// What outlives one stanza stream: held by the connection while there is one.
    live: Arc<Mutex<Live>>,
    /// The HTTP client for uploads and downloads, made on first use.
    http: OnceLock<Result<Http, String>>,
    /// The server's upload service (XEP-0363), once found.
    pub(crate) upload_service: Mutex<Option<Jid>>,
    /// Whether a send waits until the server has its messages: under a router with a journal,
    /// which records an answer as gone once the send returns.
    confirm_sends: AtomicBool,
    /// The archive pages the last lookup of an unsure answer read ([`crate::sent`]).
    pub(crate) looked_up: std::sync::Mutex<Option<LookedUp>>,
    /// The session's link, under a router with a journal: what the bot's own reactions are
    /// kept through ([`crate::reaction_marks`]).
    pub(crate) journal_link: OnceLock<Link>,
}

impl Shared {
    /// The state of a session for the account in `config` (checked here).
    pub(crate) fn new(config: XmppConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let jid = parse_account_jid(&config.jid)?;
        let mapper = Mapper::new(&config.name, &jid)
            .map_err(|reason| ConfigError::BadJid {
                jid: config.jid.clone(),
                reason,
                source: None,
            })?
            .with_client_type(config.client_type)
            .with_bots_by_identity(config.bots_by_identity);
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let live = Live {
            commands: receiver,
            unacked: Unacked::default(),
            last_archived: None,
            marker: None,
            room_last_archived: HashMap::new(),
            room_markers: RoomMarkers::default(),
            presence: None,
            bound_before: false,
            rooms_wanted: false,
        };
        Ok(Shared {
            config,
            jid,
            mapper,
            commands,
            live: Arc::new(Mutex::new(live)),
            http: OnceLock::new(),
            upload_service: Mutex::new(None),
            confirm_sends: AtomicBool::new(false),
            looked_up: std::sync::Mutex::new(None),
            journal_link: OnceLock::new(),
        })
    }

    /// The bot's own address: `xmpp:bare-jid;kind=individual`.
    pub(crate) fn own(&self) -> &Address {
        self.mapper.own()
    }

    /// What outlives one stanza stream, for a new connection (waits while another holds it).
    pub(crate) async fn live(&self) -> OwnedMutexGuard<Live> {
        self.live.clone().lock_owned().await
    }

    /// Whether a send waits until the server has its messages (see [`Confirm`]).
    ///
    /// [`Confirm`]: crate::command::Confirm
    pub(crate) fn confirms_sends(&self) -> bool {
        self.confirm_sends.load(Ordering::Relaxed)
    }

    /// Makes sends wait until the server has their messages.
    pub(crate) fn confirm_sends(&self) {
        self.confirm_sends.store(true, Ordering::Relaxed);
    }

    /// Whether a connection is being made or serves.
    pub(crate) fn is_connected(&self) -> bool {
        self.live.try_lock().is_err()
    }

    /// The HTTP client, made on first use.
    pub(crate) fn http(&self) -> Result<&Http, String> {
        self.http
            .get_or_init(Http::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Sends an IQ request through the connection and waits for its answer.
    pub(crate) async fn request(&self, iq: Iq, what: &str) -> Result<Iq, String> {
        request(&self.commands, iq, what, IQ_TIMEOUT).await
    }

    /// The disco#info of `to`, if it answers with one.
    pub(crate) async fn disco_info(&self, to: Jid) -> Result<Option<DiscoInfoResult>, String> {
        disco_info(
            &self.commands,
            to,
            DiscoInfoQuery { node: None },
            IQ_TIMEOUT,
        )
        .await
    }
}

/// Sends an IQ request through the connection and waits up to `timeout` for its answer.
pub(crate) async fn request(
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
        .map_err(|_| "the XMPP connection was lost before the answer came".to_owned())
}

/// The disco#info (XEP-0030) of `to` for `query`, if it answers with one.
pub(crate) async fn disco_info(
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

/// What outlives one stanza stream: a stream that tokio-xmpp could not resume, or one the
/// driver connected anew, goes on from here.
pub(crate) struct Live {
    /// What `send` and `query` hand to the connection.
    pub(crate) commands: mpsc::Receiver<Command>,
    /// Messages the server has not acknowledged yet, to send again on a fresh stream.
    pub(crate) unacked: Unacked,
    /// The archive id of the last message the bot was given (or that needed no signal): where
    /// a catch-up starts; [`FROM_THE_START`](crate::marker::FROM_THE_START) for the whole
    /// archive.
    pub(crate) last_archived: Option<String>,
    /// Keeps `last_archived` as the journal's mark, when the router has a journal.
    pub(crate) marker: Option<Marker>,
    /// For each room, the archive id (the room's, XEP-0313 in a MUC) of the last message of
    /// it the bot was given (or that needed no signal): where the room's catch-up starts.
    pub(crate) room_last_archived: HashMap<BareJid, String>,
    /// Keeps `room_last_archived` as the journal's marks, when the router has a journal.
    pub(crate) room_markers: RoomMarkers,
    /// The bot's presence as it last set it, sent again on every fresh stream (`None`:
    /// available, the initial presence).
    pub(crate) presence: Option<Presence>,
    /// Whether a stream was bound before: a fresh one then sends again what the old one lost
    /// and catches up from the archive.
    pub(crate) bound_before: bool,
    /// Whether the configured rooms are wanted already (once per run).
    pub(crate) rooms_wanted: bool,
}

impl Live {
    /// Notes that the bot was given the archived message `id` (pushed: in the journal, when
    /// there is one), or that it needed no signal: a catch-up starts after it.
    pub(crate) fn archived(&mut self, id: &str) {
        if let Some(marker) = &self.marker {
            marker.advance(id);
        }
        self.last_archived = Some(id.to_owned());
    }

    /// Notes that the bot was given the message archived in `room` as `id` (pushed: in the
    /// journal, when there is one), or that it needed no signal: the room's catch-up starts
    /// after it.
    pub(crate) fn archived_in_room(&mut self, room: &BareJid, id: &str) {
        self.room_markers.advance(room, id);
        self.room_last_archived.insert(room.clone(), id.to_owned());
    }
}

/// Whether to read the stream on while a push waits, with the events read `ahead` already:
/// while someone `waiting` on the server, the stream has not ended, and fewer than
/// [`AHEAD_LIMIT`] were read.
fn may_read_ahead(waiting: bool, ahead: &VecDeque<Option<Event>>) -> bool {
    waiting && !matches!(ahead.back(), Some(None)) && ahead.len() < AHEAD_LIMIT
}

/// One stanza stream and what it waits for: from `connect` to the end of `serve`.
pub struct Connection {
    pub(crate) stream: StanzaStream,
    /// The full JID the stream is bound to, once it is.
    pub(crate) bound: Option<Jid>,
    /// IQ requests waiting for their answers.
    pub(crate) iqs: iq::Pending,
    /// Archive queries in progress.
    pub(crate) archive: archive::Queries,
    /// Where the catch-up from the archive is, and the live messages it holds back.
    pub(crate) catch_up: archive::CatchUp,
    /// The catch-ups from the rooms' archives, each holding back its room's live messages.
    pub(crate) room_catch_ups: RoomCatchUps,
    /// Stanzas that arrived while connecting, for `serve` to handle first.
    pub(crate) early: Vec<Stanza>,
    /// What was read from the stream while a push waited for the bot (`None`: the stream
    /// ended), for `serve` to handle next, in order.
    pub(crate) ahead: VecDeque<Option<Event>>,
    /// Messages whose sends wait for the server's acknowledgement (XEP-0198), with when they
    /// were handed out: while there are any, the stream is read on even when the bot's queue is
    /// full, since the acknowledgements come behind what the server sent before them (so too
    /// while requests and queries wait).
    pub(crate) confirming: VecDeque<(Instant, StanzaToken)>,
    /// Whether the stream has Stream Management (XEP-0198): the server acknowledges stanzas.
    pub(crate) sm: bool,
    pub(crate) live: OwnedMutexGuard<Live>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection over `stream`, going on from `live`.
    pub(crate) fn new(stream: StanzaStream, live: OwnedMutexGuard<Live>) -> Self {
        Connection {
            stream,
            bound: None,
            iqs: iq::Pending::default(),
            archive: archive::Queries::default(),
            catch_up: archive::CatchUp::default(),
            room_catch_ups: RoomCatchUps::default(),
            early: Vec::new(),
            ahead: VecDeque::new(),
            confirming: VecDeque::new(),
            sm: false,
            live,
        }
    }

    /// Whether to read the stream on while a push waits: while someone waits on the server (a
    /// send for its acknowledgements, a query or request for its answer), whose answer may come
    /// behind what the bot has no room for yet; and while fewer than [`AHEAD_LIMIT`] events
    /// were read ahead. Past that the stream is left unread until the bot takes the signal:
    /// whoever waits on the server then waits no longer than its own timeout (a send
    /// [`CONFIRM_TIMEOUT`], a request or query its own), after which the bot goes on and takes
    /// it; nothing waits for ever.
    pub(crate) fn reading_ahead(&mut self) -> bool {
        while let Some((since, token)) = self.confirming.front() {
            let done = StanzaStage::from(&token.state()) >= StanzaStage::Acked;
            if done || since.elapsed() >= CONFIRM_TIMEOUT {
                self.confirming.pop_front();
            } else {
                break;
            }
        }
        let waiting =
            !self.confirming.is_empty() || self.iqs.is_waiting() || self.archive.replies_waiting();
        may_read_ahead(waiting, &self.ahead)
    }

    /// Queues `stanza` on the stream (sent once it is connected).
    pub(crate) async fn send(&self, stanza: impl Into<Stanza>) {
        drop(self.stream.send(Box::new(stanza.into())).await);
    }

    /// Queues `message`, and keeps it until the server acknowledges it, to send again on a
    /// fresh stream; its token tells how far it got.
    pub(crate) async fn send_kept(&mut self, message: Message) -> StanzaToken {
        let token = self.stream.send(Box::new(message.clone().into())).await;
        self.live.unacked.push(message, token.clone());
        token
    }
}

#[cfg(test)]
mod tests {
    use tokio_xmpp::stanzastream::StreamEvent;

    use super::*;

    #[test]
    fn reading_ahead_stops_at_the_limit_at_the_end_and_when_nobody_waits() {
        let mut ahead = VecDeque::new();
        assert!(may_read_ahead(true, &ahead));
        assert!(!may_read_ahead(false, &ahead), "nobody waits on the server");
        for _ in 0..AHEAD_LIMIT - 1 {
            ahead.push_back(Some(Event::Stream(StreamEvent::Resumed)));
        }
        assert!(may_read_ahead(true, &ahead));
        ahead.push_back(Some(Event::Stream(StreamEvent::Resumed)));
        assert!(!may_read_ahead(true, &ahead), "the limit");
        ahead.clear();
        ahead.push_back(None);
        assert!(!may_read_ahead(true, &ahead), "the stream ended");
    }
}
