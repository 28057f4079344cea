//! Mapping between stanzas and signals, both ways. Pure functions: no network here.
//!
//! Inbound, anything malformed (a bad JID, an unparsable delay stamp, user-defined JSON that is
//! not JSON) becomes a [`Body::SystemError`] of component `xmpp` for that one stanza; the
//! signals around it are unaffected.

use chatty_core::reexports::serde_json;
use chatty_core::reexports::time::OffsetDateTime;
use std::sync::{Arc, Mutex, MutexGuard};

use chatty_core::{
    Address, AddressKind, Availability, Body, Content, DeliveryStatus, Edit, EditKind, FailureKind,
    File, Message as ChattyMessage, Metadata, Presence as PresenceStatus, Refusal, SendFailure,
    Signal, SignalId, Status, StatusChange, SystemError, TypingState, UserDefined, now,
};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::delay::Delay;
use tokio_xmpp::parsers::message::{Id, Lang, Message, MessageType};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Show, Type as PresenceType};
use tokio_xmpp::parsers::stanza_id::OriginId;

use crate::PLATFORM;
use crate::files::name_from_url;
use crate::rooms::{State, join_presence, leave_presence, occupant_presence};

/// Out of Band Data (XEP-0066): file URLs in messages.
pub(crate) const NS_OOB: &str = "jabber:x:oob";
/// Message Delivery Receipts (XEP-0184).
pub(crate) const NS_RECEIPTS: &str = "urn:xmpp:receipts";

/// The namespace of Chatty's user-defined signals on the wire:
/// `<signal xmlns='urn:chatty:signal:0' name='NAME'>JSON</signal>` in a `<message>`.
pub const NS_SIGNAL: &str = "urn:chatty:signal:0";
/// Message Replies (XEP-0461).
pub const NS_REPLY: &str = "urn:xmpp:reply:0";
/// Message Retraction (XEP-0424).
pub(crate) const NS_RETRACT: &str = "urn:xmpp:message-retract:1";
/// Fallback Indication (XEP-0428): which part of a message is only there for older clients.
const NS_FALLBACK: &str = "urn:xmpp:fallback:0";
/// Message Processing Hints (XEP-0334).
const NS_HINTS: &str = "urn:xmpp:hints";
/// The body of a retraction for clients without XEP-0424 (the XEP's own example).
const RETRACTION_FALLBACK: &str =
    "This person attempted to retract a previous message, but it's unsupported by your client.";
/// The component named in system errors.
const COMPONENT: &str = "xmpp";

/// A system error signal about one stanza.
pub(crate) fn system_error(message: impl Into<String>) -> Signal {
    Signal::new(SystemError {
        component: COMPONENT.into(),
        message: message.into(),
    })
}

/// Builds an element with attributes and optional text.
fn element(name: &str, namespace: &str, attrs: &[(&str, &str)], text: Option<&str>) -> Element {
    let mut builder = Element::builder(name, namespace);
    for (key, value) in attrs {
        if let Ok(key) = NcName::try_from(*key) {
            builder = builder.attr(key, *value);
        }
    }
    if let Some(text) = text {
        builder = builder.append(text);
    }
    builder.build()
}

/// Converts an XEP-0082 time to a timestamp.
pub(crate) fn timestamp(stamp: &tokio_xmpp::parsers::date::DateTime) -> Option<OffsetDateTime> {
    let nanos = stamp.0.timestamp_nanos_opt()?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()
}

/// The sender's own id for a message (XEP-0359 `origin-id`).
fn origin_id(message: &Message) -> Option<String> {
    message
        .payloads
        .iter()
        .find(|p| p.is("origin-id", ns::SID))
        .and_then(|p| p.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// The id `room` gave a message it passed on (XEP-0359 `stanza-id` with `by` the room).
fn room_stanza_id(message: &Message, room: &BareJid) -> Option<String> {
    message
        .payloads
        .iter()
        .filter(|p| p.is("stanza-id", ns::SID))
        .find(|p| p.attr("by") == Some(room.as_str()))
        .and_then(|p| p.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// Knows the session's own address and name, and maps with them.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    /// The session name (`xmpp` unless several accounts serve a bot).
    name: String,
    /// The bot's own address: `xmpp:bare-jid;kind=individual`.
    own: Address,
    /// Rooms, contacts' presence, delivery statuses.
    state: Arc<Mutex<State>>,
    /// The nickname in rooms when none is configured: the account's local part.
    default_nick: String,
    /// The ids of recent inbound messages: one sent again after a lost stream is dropped.
    seen: Arc<Mutex<SeenIds>>,
}

/// A bounded set of recent ids.
#[derive(Debug, Default)]
pub(crate) struct SeenIds {
    ids: std::collections::HashSet<SignalId>,
    order: std::collections::VecDeque<SignalId>,
}

impl SeenIds {
    const LIMIT: usize = 10_000;

    /// Records `id`; `false` if it was seen already.
    pub(crate) fn insert(&mut self, id: &SignalId) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= Self::LIMIT
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.ids.insert(id.clone());
        true
    }
}

impl Mapper {
    pub(crate) fn new(name: &str, jid: &BareJid) -> Result<Self, String> {
        let mut mapper = Mapper {
            name: name.to_owned(),
            own: Address::new(PLATFORM, "placeholder").map_err(|e| e.to_string())?,
            state: Arc::default(),
            seen: Arc::default(),
            default_nick: jid
                .node()
                .map_or_else(|| "bot".to_owned(), |n| n.as_str().to_owned()),
        };
        mapper.own = mapper
            .address(jid.as_str(), AddressKind::Individual)
            .map_err(|e| e.to_string())?;
        Ok(mapper)
    }

    /// The bot's own address.
    pub(crate) fn own(&self) -> &Address {
        &self.own
    }

    /// The session's run-time state.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The nickname in rooms when none is given.
    pub(crate) fn default_nick(&self) -> &str {
        &self.default_nick
    }

    /// An address on this session for the JID `id`.
    pub(crate) fn address(&self, id: &str, kind: AddressKind) -> Result<Address, String> {
        let address = if self.name == PLATFORM {
            Address::new(PLATFORM, id)
        } else {
            Address::with_session(PLATFORM, &self.name, id)
        };
        address
            .map(|a| a.with_kind(kind))
            .map_err(|e| format!("the JID {id} is not an address: {e}"))
    }

    /// The signal for an inbound message, if it carries one; malformed ones become a system
    /// error.
    pub(crate) fn inbound_message(&self, message: Message) -> Option<Signal> {
        self.try_inbound_message(message, true)
            .unwrap_or_else(|e| Some(system_error(e)))
    }

    /// A message from the archive (MAM), as the signal it was: sent by the bot (origin: the bot,
    /// addressees: whom it went to) or received. `None` for what carries no signal.
    pub(crate) fn archived_message(
        &self,
        message: Message,
        stamp: Option<&tokio_xmpp::parsers::date::DateTime>,
    ) -> Option<Signal> {
        let to = message.to.clone();
        let from_own = message
            .from
            .as_ref()
            .is_some_and(|f| f.to_bare().as_str() == self.own.id());
        let mut signal = match self.try_inbound_message(message, false) {
            Ok(Some(signal)) => signal,
            Ok(None) => return None,
            Err(e) => return Some(system_error(e)),
        };
        if let Some(sent) = stamp.and_then(timestamp) {
            signal.meta.sent = Some(sent);
        }
        if from_own
            && let Some(to) = to
            && let Ok(to) = self.address(to.to_bare().as_str(), AddressKind::Individual)
        {
            signal.meta.addressees = vec![to];
        }
        Some(signal)
    }

    /// `live`: a message arriving now (receipts recorded, repeats dropped); else one from the
    /// archive.
    fn try_inbound_message(&self, message: Message, live: bool) -> Result<Option<Signal>, String> {
        let from = message
            .from
            .clone()
            .ok_or("a message without a sender (no `from`)")?;
        let bare = from.to_bare();
        let own_nick = self.state().room(&bare).map(|r| r.nick.clone());
        // Someone in a room (`room@service/nick`) is addressed by the full JID; anyone else by
        // the bare JID.
        let origin = match (&own_nick, from.resource()) {
            (Some(_), Some(_)) => self.address(from.as_str(), AddressKind::Individual)?,
            _ => self.address(bare.as_str(), AddressKind::Individual)?,
        };
        let mut room = None;
        match message.type_ {
            MessageType::Error => return self.send_failure(&message, origin).map(Some),
            MessageType::Groupchat => {
                let Some(own_nick) = own_nick else {
                    tracing::debug!(from = %from, "ignoring a groupchat message from a room the session is not in");
                    return Ok(None);
                };
                match from.resource() {
                    // The room itself: its subject, notices.
                    None => return Ok(None),
                    // The room reflecting the bot's own message: only the id the room gave it
                    // is kept, for a retraction later (XEP-0424 names that id in rooms).
                    Some(nick) if nick.as_str() == own_nick => {
                        if let (Some(room_id), Some(own_id)) =
                            (room_stanza_id(&message, &bare), origin_id(&message))
                        {
                            self.state()
                                .room_message_id(room_id, SignalId::from(own_id));
                        }
                        return Ok(None);
                    }
                    Some(_) => {}
                }
                room = Some(self.address(bare.as_str(), AddressKind::Channel)?);
            }
            MessageType::Chat | MessageType::Normal | MessageType::Headline => {}
        }
        let mut origin_id = None;
        let mut reply_to = None;
        let mut sent = None;
        let mut user_defined = None;
        let mut chat_state = None;
        let mut edit: Option<(EditKind, String)> = None;
        let mut retraction_fallback = false;
        let mut oob: Vec<(String, Option<String>)> = Vec::new();
        for payload in &message.payloads {
            if payload.is("x", NS_OOB) {
                let url = payload
                    .get_child("url", NS_OOB)
                    .map(Element::text)
                    .filter(|u| !u.trim().is_empty())
                    .ok_or_else(|| {
                        format!("a message from {from} has a file (OOB) without a URL")
                    })?;
                let desc = payload
                    .get_child("desc", NS_OOB)
                    .map(Element::text)
                    .filter(|d| !d.trim().is_empty());
                oob.push((url.trim().to_owned(), desc));
                continue;
            }
            if payload.is("origin-id", ns::SID) {
                origin_id = payload.attr("id").map(str::to_owned);
            } else if payload.is("reply", NS_REPLY) {
                reply_to = payload.attr("id").map(SignalId::from);
            } else if payload.is("replace", ns::MESSAGE_CORRECT) {
                let id = payload
                    .attr("id")
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| {
                        format!("a correction (XEP-0308) from {from} does not say what it corrects")
                    })?;
                edit = Some((EditKind::Correction, id.to_owned()));
            } else if payload.is("retract", NS_RETRACT) {
                let id = payload
                    .attr("id")
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| {
                        format!("a retraction (XEP-0424) from {from} does not say what it retracts")
                    })?;
                edit = Some((EditKind::Retraction, id.to_owned()));
            } else if payload.is("fallback", NS_FALLBACK) && payload.attr("for") == Some(NS_RETRACT)
            {
                retraction_fallback = true;
            } else if payload.is("delay", ns::DELAY) {
                let delay = Delay::try_from(payload.clone())
                    .map_err(|e| format!("a message from {from} has a malformed delay: {e}"))?;
                sent = timestamp(&delay.stamp);
            } else if payload.is("signal", NS_SIGNAL) {
                user_defined = Some(payload);
            } else if payload.is("received", NS_RECEIPTS) {
                if live && let Some(id) = payload.attr("id").filter(|id| !id.is_empty()) {
                    self.state()
                        .delivery(&SignalId::from(id), DeliveryStatus::Delivered);
                }
            } else if payload.has_ns(ns::CHATSTATES) {
                chat_state = Some(ChatState::try_from(payload.clone()).map_err(|e| {
                    format!("a message from {from} has a malformed chat state: {e}")
                })?);
            }
        }
        let origin_id_present = origin_id.is_some();
        let id = origin_id
            .or_else(|| message.id.as_ref().map(|id| id.0.clone()))
            .filter(|id| !id.is_empty())
            .map_or_else(SignalId::generate, SignalId::from);
        // The same message again (the sender's stream was lost before the server acknowledged
        // it, and it sent it again): dropped. Only ids the sender chose count.
        if live
            && (message.id.is_some() || origin_id_present)
            && !self
                .seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(&id)
        {
            tracing::debug!(id = %id, from = %from, "dropping a message seen already");
            return Ok(None);
        }
        if room.is_some()
            && let Some(room_id) = room_stanza_id(&message, &bare)
        {
            self.state().room_message_id(room_id, id.clone());
        }
        // What an edit names: in a room a retraction names the room's id for the message
        // (XEP-0424), which bots know by the id it came with.
        let edit = edit.map(|(kind, named)| {
            let of = match (&room, kind) {
                (Some(_), EditKind::Retraction) => self
                    .state()
                    .signal_of_room_id(&named)
                    .cloned()
                    .unwrap_or_else(|| SignalId::from(named.as_str())),
                _ => SignalId::from(named.as_str()),
            };
            Edit { of, kind }
        });
        let mut meta = Metadata::with_id(id);
        meta.response_to = reply_to;
        meta.sent = Some(sent.unwrap_or_else(now));
        meta.origin = Some(origin.clone());
        match &room {
            Some(room) => {
                meta.addressees = vec![room.clone()];
                meta.visible_to = vec![room.clone()];
            }
            None => meta.addressees = vec![self.own.clone()],
        }

        let body: Body = if let Some(element) = user_defined {
            let name = element
                .attr("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("a user-defined signal from {from} has no name"))?;
            let payload: serde_json::Value =
                serde_json::from_str(&element.text()).map_err(|e| {
                    format!("the user-defined signal {name:?} from {from} is not JSON: {e}")
                })?;
            UserDefined {
                name: name.to_owned(),
                payload,
            }
            .into()
        } else if !oob.is_empty() {
            let text = message
                .get_best_body(vec![])
                .map(|(_, text)| text.trim().to_owned())
                .unwrap_or_default();
            let file = |(url, desc): &(String, Option<String>)| {
                File::url(
                    desc.clone().unwrap_or_else(|| name_from_url(url)),
                    None,
                    url.clone(),
                )
            };
            // Senders put the URLs in the body too, for clients without XEP-0066: take them
            // out again.
            let text = text
                .lines()
                .filter(|line| !oob.iter().any(|(url, _)| line.trim() == url))
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end()
                .to_owned();
            if oob.len() == 1 && text.is_empty() && edit.is_none() {
                file(&oob[0]).into()
            } else {
                let mut m = ChattyMessage::text(text);
                m.subject = message.get_best_subject(vec![]).map(|(_, s)| s.clone());
                m.attachments = oob.iter().map(file).collect();
                m.edit = edit;
                m.into()
            }
        } else if !message.bodies.is_empty() || !message.subjects.is_empty() || edit.is_some() {
            // Bodies are keyed by the stream's language (`en`), not "": take the best one.
            let text = message
                .get_best_body(vec![])
                .map(|(_, text)| text.clone())
                .unwrap_or_default();
            // A retraction's body is only there for clients without XEP-0424.
            let fallback_only =
                retraction_fallback && matches!(&edit, Some(e) if e.kind == EditKind::Retraction);
            let mut m = ChattyMessage::text(if fallback_only { String::new() } else { text });
            m.subject = message.get_best_subject(vec![]).map(|(_, s)| s.clone());
            m.edit = edit;
            m.into()
        } else if let Some(state) = chat_state {
            StatusChange::new(Status::Typing {
                conversation: room.unwrap_or(origin),
                state: typing_state(&state),
            })
            .into()
        } else {
            // Receipts, markers and the like: nothing a bot sees yet.
            return Ok(None);
        };
        Ok(Some(Signal { meta, body }))
    }

    /// A `type='error'` message: the failure of the message with its id.
    fn send_failure(&self, message: &Message, origin: Address) -> Result<Signal, String> {
        let failed = origin_id(message)
            .or_else(|| message.id.as_ref().map(|id| id.0.clone()))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("an error message from {origin} without an id"))?;
        let error = message
            .payloads
            .iter()
            .find(|p| p.is("error", ns::DEFAULT_NS));
        let condition = error.and_then(|e| {
            e.children()
                .find(|c| c.has_ns(ns::XMPP_STANZAS) && c.name() != "text")
                .map(|c| c.name().to_owned())
        });
        let text = error.and_then(|e| {
            e.children()
                .find(|c| c.is("text", ns::XMPP_STANZAS))
                .map(Element::text)
        });
        let kind = match condition.as_deref() {
            Some(
                "item-not-found"
                | "service-unavailable"
                | "recipient-unavailable"
                | "remote-server-not-found"
                | "gone"
                | "jid-malformed",
            ) => FailureKind::UnknownAddressee,
            Some(
                "forbidden"
                | "not-allowed"
                | "not-authorized"
                | "not-acceptable"
                | "policy-violation"
                | "registration-required"
                | "subscription-required",
            ) => FailureKind::Rejected,
            Some("resource-constraint") => FailureKind::RateLimited,
            Some("remote-server-timeout") => FailureKind::Unreachable,
            _ => FailureKind::Other,
        };
        let message_text = match (&condition, text) {
            (_, Some(text)) if !text.is_empty() => text,
            (Some(condition), _) => format!("{origin} answered with the error {condition}"),
            (None, _) => format!("{origin} answered with an error"),
        };
        let failed = SignalId::from(failed);
        self.state().delivery(
            &failed,
            DeliveryStatus::Failed {
                kind,
                message: message_text.clone(),
            },
        );
        let mut signal = Signal::new(SendFailure {
            failed: failed.clone(),
            kind,
            code: condition,
            message: message_text,
        });
        signal.meta.response_to = Some(failed);
        signal.meta.sent = Some(now());
        signal.meta.origin = Some(origin);
        signal.meta.addressees = vec![self.own.clone()];
        Ok(signal)
    }

    /// The signal for an inbound presence, if it carries one. `own` is the session's full JID:
    /// the server's echo of the bot's own presence is not reported.
    pub(crate) fn inbound_presence(&self, presence: Presence, own: Option<&Jid>) -> Option<Signal> {
        let Some(from) = presence.from.clone() else {
            return Some(system_error("a presence without a sender (no `from`)"));
        };
        if own == Some(&from) {
            return None;
        }
        let bare = from.to_bare();
        let in_room = self.state().room(&bare).is_some();
        if presence.type_ == PresenceType::Error {
            return Some(self.presence_error(&presence, &from, in_room));
        }
        if in_room && let Some(nick) = from.resource() {
            return self.occupant_signal(&presence, &bare, nick.as_str(), &from);
        }
        let availability = match presence.type_ {
            PresenceType::None => match presence.show {
                None => Availability::Available,
                Some(Show::Chat) => Availability::Chatty,
                Some(Show::Away) => Availability::Away,
                Some(Show::Xa) => Availability::ExtendedAway,
                Some(Show::Dnd) => Availability::Busy,
            },
            PresenceType::Unavailable => Availability::Offline,
            other => {
                // Subscription requests and presence errors come with rosters, later.
                tracing::debug!(from = %from, "ignoring a presence of type {other:?}");
                return None;
            }
        };
        let origin = match self.address(from.to_bare().as_str(), AddressKind::Individual) {
            Ok(origin) => origin,
            Err(e) => return Some(system_error(e)),
        };
        let mut sent = None;
        for payload in &presence.payloads {
            if payload.is("delay", ns::DELAY) {
                match Delay::try_from(payload.clone()) {
                    Ok(delay) => sent = timestamp(&delay.stamp),
                    Err(e) => {
                        return Some(system_error(format!(
                            "a presence from {from} has a malformed delay: {e}"
                        )));
                    }
                }
            }
        }
        let mut change = StatusChange::new(Status::Presence { availability });
        change.message = presence
            .statuses
            .get("")
            .or_else(|| presence.statuses.values().next())
            .filter(|s| !s.is_empty())
            .cloned();
        self.state().contact_presence(
            bare,
            PresenceStatus {
                availability,
                message: change.message.clone(),
            },
        );
        let mut signal = match presence.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Signal {
                meta: Metadata::with_id(SignalId::from(id)),
                body: change.into(),
            },
            None => Signal::new(change),
        };
        signal.meta.sent = Some(sent.unwrap_or_else(now));
        signal.meta.origin = Some(origin);
        signal.meta.addressees = vec![self.own.clone()];
        Some(signal)
    }

    /// An occupant joining, changing or leaving a room the session is in: a "present in room"
    /// status change from `room@service/nick`, visible to the room.
    fn occupant_signal(
        &self,
        presence: &Presence,
        room: &BareJid,
        nick: &str,
        from: &Jid,
    ) -> Option<Signal> {
        let occupant = occupant_presence(presence)?;
        if !self.state().occupant(room, nick, &occupant) {
            return None;
        }
        let (origin, room_address) = match (
            self.address(from.as_str(), AddressKind::Individual),
            self.address(room.as_str(), AddressKind::Channel),
        ) {
            (Ok(origin), Ok(room)) => (origin, room),
            (Err(e), _) | (_, Err(e)) => return Some(system_error(e)),
        };
        let change = StatusChange::new(Status::InRoom {
            room: room_address.clone(),
            present: occupant.present,
            role: occupant.role,
        });
        let mut signal = Signal::new(change);
        signal.meta.sent = Some(now());
        signal.meta.origin = Some(origin);
        signal.meta.addressees = vec![self.own.clone()];
        signal.meta.visible_to = vec![room_address];
        Some(signal)
    }

    /// A presence of type error: the failure of the presence with its id (a room refusing a
    /// join, say; the room is then forgotten, so that it is not joined again).
    fn presence_error(&self, presence: &Presence, from: &Jid, in_room: bool) -> Signal {
        let error = presence
            .payloads
            .iter()
            .find(|p| p.is("error", ns::DEFAULT_NS));
        let condition = error.and_then(|e| {
            e.children()
                .find(|c| c.has_ns(ns::XMPP_STANZAS) && c.name() != "text")
                .map(|c| c.name().to_owned())
        });
        if in_room {
            self.state().leave_room(&from.to_bare());
        }
        let Some(id) = presence.id.as_deref().filter(|id| !id.is_empty()) else {
            return system_error(format!(
                "{from} answered a presence with the error {}",
                condition.as_deref().unwrap_or("(no condition)")
            ));
        };
        let kind = match condition.as_deref() {
            Some("item-not-found" | "remote-server-not-found" | "jid-malformed") => {
                FailureKind::UnknownAddressee
            }
            Some(
                "forbidden"
                | "not-allowed"
                | "not-authorized"
                | "registration-required"
                | "conflict"
                | "service-unavailable",
            ) => FailureKind::Rejected,
            _ => FailureKind::Other,
        };
        let mut signal = Signal::new(SendFailure {
            failed: SignalId::from(id),
            kind,
            message: format!(
                "{from} refused: {}",
                condition.as_deref().unwrap_or("an error")
            ),
            code: condition,
        });
        signal.meta.response_to = Some(SignalId::from(id));
        signal.meta.sent = Some(now());
        signal.meta.origin = self
            .address(from.to_bare().as_str(), AddressKind::Individual)
            .ok();
        signal.meta.addressees = vec![self.own.clone()];
        signal
    }

    /// The room JID of a channel address of this session.
    fn room_of(&self, address: &Address) -> Result<BareJid, Refusal> {
        if address.platform() != PLATFORM {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not an XMPP address"),
            ));
        }
        let jid = BareJid::new(address.id()).map_err(|e| {
            Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not a room JID: {e}"),
            )
            .with_code("jid-malformed")
        })?;
        Ok(jid)
    }

    /// The room JID of a channel address, if the session is in that room.
    fn joined_room(&self, address: &Address) -> Result<BareJid, Refusal> {
        let jid = self.room_of(address)?;
        if self.state().room(&jid).is_none() {
            return Err(Refusal::new(
                FailureKind::Rejected,
                format!(
                    "the bot is not in the room {address}: join it first (a status change InRoom with present: true, or `rooms` in the config)"
                ),
            ));
        }
        Ok(jid)
    }

    /// The stanzas that carry an outbound signal (one per addressee), or why it cannot go.
    pub(crate) fn outbound(&self, signal: &Signal) -> Result<Vec<Stanza>, Refusal> {
        match &signal.body {
            Body::Message(_) | Body::UserDefined(_) | Body::File(_) => {
                if signal.meta.addressees.is_empty() {
                    return Err(Refusal::new(
                        FailureKind::UnknownAddressee,
                        "the signal has no addressee",
                    ));
                }
                signal
                    .meta
                    .addressees
                    .iter()
                    .map(|to| self.message_to(to, signal).map(Stanza::from))
                    .collect()
            }
            Body::StatusChange(change) => match &change.status {
                Status::Typing {
                    conversation,
                    state,
                } => {
                    let mut message = if conversation.kind() == AddressKind::Channel {
                        Message::groupchat(Some(self.joined_room(conversation)?.into()))
                    } else {
                        Message::chat(Some(self.jid_of(conversation)?))
                    };
                    message.id = Some(Id(signal.meta.id.to_string()));
                    message.payloads.push(chat_state(*state).into());
                    Ok(vec![message.into()])
                }
                Status::Presence { availability } => {
                    let presence = own_presence(*availability, change.message.as_deref());
                    if signal.meta.addressees.is_empty() {
                        return Ok(vec![presence.into()]);
                    }
                    signal
                        .meta
                        .addressees
                        .iter()
                        .map(|to| Ok(presence.clone().with_to(self.jid_of(to)?).into()))
                        .collect()
                }
                Status::InRoom { room, present, .. } => {
                    let jid = self.room_of(room)?;
                    let id = Some(signal.meta.id.to_string());
                    if *present {
                        let nick = self.default_nick.clone();
                        self.state().want_room(jid.clone(), nick.clone(), None);
                        Ok(vec![join_presence(&jid, &nick, None, id).into()])
                    } else {
                        match self.state().leave_room(&jid) {
                            Some(nick) => Ok(vec![leave_presence(&jid, &nick, id).into()]),
                            None => Ok(Vec::new()),
                        }
                    }
                }
            },
            other => Err(Refusal::new(
                FailureKind::Rejected,
                format!("the XMPP session cannot carry {:?} signals", other.kind()),
            )),
        }
    }

    /// The JID of a person or bot on this session (a bare JID, or `room@service/nick` for
    /// someone in a room).
    fn jid_of(&self, address: &Address) -> Result<Jid, Refusal> {
        if address.platform() != PLATFORM {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not an XMPP address"),
            ));
        }
        Jid::new(address.id()).map_err(|e| {
            Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not a JID: {e}"),
            )
            .with_code("jid-malformed")
        })
    }

    /// A one-to-one message to `to` carrying `signal` (a message or a user-defined signal).
    fn message_to(&self, to: &Address, signal: &Signal) -> Result<Message, Refusal> {
        let id = signal.meta.id.to_string();
        let (jid, mut message) = if to.kind() == AddressKind::Channel {
            let room: Jid = self.joined_room(to)?.into();
            (room.clone(), Message::groupchat(Some(room)))
        } else {
            let jid = self.jid_of(to)?;
            let mut message = Message::chat(Some(jid.clone()));
            // Ask for a delivery receipt (XEP-0184); rooms do not give them.
            message
                .payloads
                .push(Element::builder("request", NS_RECEIPTS).build());
            self.state().delivery(&signal.meta.id, DeliveryStatus::Sent);
            (jid, message)
        };
        message.id = Some(Id(id.clone()));
        message.payloads.push(OriginId { id }.into());
        if let Some(reply_to) = &signal.meta.response_to {
            message.payloads.push(element(
                "reply",
                NS_REPLY,
                &[("to", jid.to_bare().as_str()), ("id", reply_to.as_str())],
                None,
            ));
        }
        match &signal.body {
            Body::Message(m) => {
                let mut text = m.text.clone();
                for file in &m.attachments {
                    let url = file_url(file)?;
                    // The URLs in the body too, for clients without XEP-0066.
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(url);
                    message.payloads.push(oob_element(url, &file.name));
                }
                match &m.edit {
                    Some(Edit {
                        of,
                        kind: EditKind::Correction,
                    }) => message.payloads.push(element(
                        "replace",
                        ns::MESSAGE_CORRECT,
                        &[("id", of.as_str())],
                        None,
                    )),
                    Some(Edit {
                        of,
                        kind: EditKind::Retraction,
                    }) => {
                        // In a room, the id the room gave the message (XEP-0424).
                        let named = match to.kind() {
                            AddressKind::Channel => self
                                .state()
                                .room_id_of(of)
                                .map_or_else(|| of.to_string(), str::to_owned),
                            _ => of.to_string(),
                        };
                        message.payloads.push(element(
                            "retract",
                            NS_RETRACT,
                            &[("id", named.as_str())],
                            None,
                        ));
                        message.payloads.push(element(
                            "fallback",
                            NS_FALLBACK,
                            &[("for", NS_RETRACT)],
                            None,
                        ));
                        message.payloads.push(element("store", NS_HINTS, &[], None));
                        if text.is_empty() {
                            text = RETRACTION_FALLBACK.to_owned();
                        }
                    }
                    None => {}
                }
                message.bodies.insert(Lang::new(), text);
                if let Some(subject) = &m.subject {
                    message.subjects.insert(Lang::new(), subject.clone());
                }
            }
            Body::File(file) => {
                let url = file_url(file)?;
                message.bodies.insert(Lang::new(), url.to_owned());
                message.payloads.push(oob_element(url, &file.name));
            }
            Body::UserDefined(u) => {
                let json = serde_json::to_string(&u.payload).map_err(|e| {
                    Refusal::new(
                        FailureKind::Rejected,
                        format!("the payload is not JSON: {e}"),
                    )
                })?;
                message.payloads.push(element(
                    "signal",
                    NS_SIGNAL,
                    &[("name", u.name.as_str())],
                    Some(&json),
                ));
            }
            _ => {}
        }
        Ok(message)
    }
}

/// The URL a file is at; a file with its bytes must have been uploaded first.
fn file_url(file: &File) -> Result<&str, Refusal> {
    match &file.content {
        Content::Url { url, .. } => Ok(url),
        Content::Bytes { .. } => Err(Refusal::new(
            FailureKind::Rejected,
            format!(
                "the file {} was not uploaded (no HTTP upload service)",
                file.name
            ),
        )),
    }
}

/// `<x xmlns='jabber:x:oob'><url>URL</url><desc>NAME</desc></x>`.
fn oob_element(url: &str, name: &str) -> Element {
    Element::builder("x", NS_OOB)
        .append(Element::builder("url", NS_OOB).append(url).build())
        .append(Element::builder("desc", NS_OOB).append(name).build())
        .build()
}

/// The bot's own presence stanza for `availability`.
pub(crate) fn own_presence(availability: Availability, status: Option<&str>) -> Presence {
    let mut presence = match availability {
        Availability::Offline => Presence::unavailable(),
        Availability::Available => Presence::available(),
        Availability::Chatty => Presence::available().with_show(Show::Chat),
        Availability::Away => Presence::available().with_show(Show::Away),
        Availability::ExtendedAway => Presence::available().with_show(Show::Xa),
        Availability::Busy => Presence::available().with_show(Show::Dnd),
    };
    if let Some(status) = status {
        presence.statuses.insert(Lang::new(), status.to_owned());
    }
    if availability != Availability::Offline {
        // Entity Capabilities (XEP-0115): what the bot supports, without a disco#info round trip.
        presence.payloads.push(crate::caps::own_caps().into());
    }
    presence
}

fn typing_state(state: &ChatState) -> TypingState {
    match state {
        ChatState::Active => TypingState::Active,
        ChatState::Composing => TypingState::Composing,
        ChatState::Gone => TypingState::Gone,
        ChatState::Inactive => TypingState::Inactive,
        ChatState::Paused => TypingState::Paused,
    }
}

fn chat_state(state: TypingState) -> ChatState {
    match state {
        TypingState::Active => ChatState::Active,
        TypingState::Composing => ChatState::Composing,
        TypingState::Gone => ChatState::Gone,
        TypingState::Inactive => ChatState::Inactive,
        TypingState::Paused => ChatState::Paused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper::new("xmpp", &BareJid::new("bot@example.org").unwrap()).unwrap()
    }

    fn message(xml: &str) -> Message {
        Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn inbound_message_keeps_ids_reply_delay_and_language_keyed_body() {
        let m = message(
            "<message xmlns='jabber:client' from='alice@example.org/phone' to='bot@example.org' \
             type='chat' id='stanza-1' xml:lang='en'>\
             <body xml:lang='en'>hello</body><subject>greeting</subject>\
             <origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/>\
             <reply xmlns='urn:xmpp:reply:0' to='bot@example.org' id='question-1'/>\
             <delay xmlns='urn:xmpp:delay' stamp='2024-05-06T07:08:09Z'/></message>",
        );
        let signal = mapper().inbound_message(m).unwrap();
        assert_eq!(signal.meta.id.as_str(), "origin-1");
        assert_eq!(
            signal.meta.response_to.as_ref().map(SignalId::as_str),
            Some("question-1")
        );
        assert_eq!(
            signal.meta.sent.unwrap().unix_timestamp(),
            1_714_979_289,
            "the delay stamp"
        );
        assert_eq!(
            signal.meta.origin.unwrap().to_string(),
            "xmpp:alice@example.org;kind=individual",
            "the bare JID: the resource is dropped"
        );
        assert_eq!(
            signal.meta.addressees[0].to_string(),
            "xmpp:bot@example.org;kind=individual"
        );
        match signal.body {
            Body::Message(m) => {
                assert_eq!(m.text, "hello");
                assert_eq!(m.subject.as_deref(), Some("greeting"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stanza_id_is_used_without_origin_id_and_chat_state_alone_is_typing() {
        let m = message(
            "<message xmlns='jabber:client' from='alice@example.org/x' type='chat' id='s-2'>\
             <paused xmlns='http://jabber.org/protocol/chatstates'/></message>",
        );
        let signal = mapper().inbound_message(m).unwrap();
        assert_eq!(signal.meta.id.as_str(), "s-2");
        match signal.body {
            Body::StatusChange(StatusChange {
                status: Status::Typing { state, .. },
                ..
            }) => assert_eq!(state, TypingState::Paused),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_message_is_a_send_failure_naming_the_id() {
        let m = message(
            "<message xmlns='jabber:client' from='nobody@example.org' type='error' id='sent-1'>\
             <error type='cancel'><service-unavailable \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
        );
        let signal = mapper().inbound_message(m).unwrap();
        assert_eq!(
            signal.meta.response_to.as_ref().map(SignalId::as_str),
            Some("sent-1")
        );
        match signal.body {
            Body::SendFailure(f) => {
                assert_eq!(f.failed.as_str(), "sent-1");
                assert_eq!(f.kind, FailureKind::UnknownAddressee);
                assert_eq!(f.code.as_deref(), Some("service-unavailable"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_input_is_a_system_error() {
        for xml in [
            "<message xmlns='jabber:client' type='chat'><body>no sender</body></message>",
            "<message xmlns='jabber:client' from='a@example.org' type='chat'>\
             <delay xmlns='urn:xmpp:delay' stamp='yesterday'/><body>x</body></message>",
            "<message xmlns='jabber:client' from='a@example.org' type='chat'>\
             <signal xmlns='urn:chatty:signal:0' name='n'>{not json</signal></message>",
            "<message xmlns='jabber:client' from='a@example.org' type='error'/>",
            "<message xmlns='jabber:client' from='a@example.org' type='chat'><body>x</body>\
             <replace xmlns='urn:xmpp:message-correct:0'/></message>",
            "<message xmlns='jabber:client' from='a@example.org' type='chat'>\
             <retract xmlns='urn:xmpp:message-retract:1' id=''/></message>",
        ] {
            let signal = mapper().inbound_message(message(xml)).unwrap();
            match signal.body {
                Body::SystemError(e) => assert_eq!(e.component, "xmpp"),
                other => panic!("{xml}: {other:?}"),
            }
        }
    }

    #[test]
    fn outbound_message_and_user_defined_round_trip() {
        let mapper = mapper();
        let alice: Address = "xmpp:alice@example.org".parse().unwrap();
        let question: SignalId = "q-1".into();
        let sent = Signal::new(ChattyMessage::text("hi").with_subject("s"))
            .to(alice.clone())
            .in_response_to(question.clone());
        let stanzas = mapper.outbound(&sent).unwrap();
        let [Stanza::Message(mut m)] = <[Stanza; 1]>::try_from(stanzas).unwrap() else {
            panic!("one message");
        };
        assert_eq!(
            m.id.as_ref().map(|i| i.0.as_str()),
            Some(sent.id().as_str())
        );
        m.from = Some(Jid::new("bot@example.org/r").unwrap());
        let back = mapper.inbound_message(m).unwrap();
        assert_eq!(back.meta.id, sent.meta.id);
        assert_eq!(back.meta.response_to, Some(question));
        assert_eq!(back.body, sent.body);

        let user = Signal::new(
            UserDefined::new("order", &serde_json::json!({"tea": 2, "s": "<&>"})).unwrap(),
        )
        .to(alice);
        let [Stanza::Message(mut m)] =
            <[Stanza; 1]>::try_from(mapper.outbound(&user).unwrap()).unwrap()
        else {
            panic!("one message");
        };
        m.from = Some(Jid::new("bot@example.org/r").unwrap());
        assert_eq!(mapper.inbound_message(m).unwrap().body, user.body);
    }

    fn one_message(mapper: &Mapper, signal: &Signal) -> Message {
        let [Stanza::Message(m)] =
            <[Stanza; 1]>::try_from(mapper.outbound(signal).unwrap()).unwrap()
        else {
            panic!("one message");
        };
        m
    }

    fn payload<'a>(m: &'a Message, name: &str, namespace: &str) -> Option<&'a Element> {
        m.payloads.iter().find(|p| p.is(name, namespace))
    }

    #[test]
    fn corrections_and_retractions_go_out_as_xep_0308_and_0424_and_come_back() {
        let mapper = mapper();
        let alice: Address = "xmpp:alice@example.org".parse().unwrap();
        let first: SignalId = "first-1".into();

        let correction =
            Signal::new(ChattyMessage::text("fixed").correcting(first.clone())).to(alice.clone());
        let mut m = one_message(&mapper, &correction);
        assert_eq!(
            payload(&m, "replace", ns::MESSAGE_CORRECT).and_then(|p| p.attr("id")),
            Some("first-1")
        );
        assert_eq!(
            m.get_best_body(vec![]).map(|(_, b)| b.as_str()),
            Some("fixed")
        );
        m.from = Some(Jid::new("bot@example.org/r").unwrap());
        assert_eq!(mapper.inbound_message(m).unwrap().body, correction.body);

        let retraction = Signal::new(ChattyMessage::retraction(first.clone())).to(alice);
        let mut m = one_message(&mapper, &retraction);
        assert_eq!(
            payload(&m, "retract", NS_RETRACT).and_then(|p| p.attr("id")),
            Some("first-1")
        );
        assert_eq!(
            payload(&m, "fallback", NS_FALLBACK).and_then(|p| p.attr("for")),
            Some(NS_RETRACT)
        );
        assert!(payload(&m, "store", NS_HINTS).is_some());
        assert_eq!(
            m.get_best_body(vec![]).map(|(_, b)| b.as_str()),
            Some(RETRACTION_FALLBACK),
            "for clients without XEP-0424"
        );
        m.from = Some(Jid::new("bot@example.org/r").unwrap());
        assert_eq!(
            mapper.inbound_message(m).unwrap().body,
            retraction.body,
            "the fallback body is not the bot's text"
        );

        // Another client's correction, as the XEP shows it.
        let theirs = message(
            "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' id='c-2'>\
             <body>But soft, what light through yonder window breaks?</body>\
             <replace id='bad1' xmlns='urn:xmpp:message-correct:0'/></message>",
        );
        match mapper.inbound_message(theirs).unwrap().body {
            Body::Message(m) => {
                assert_eq!(m.text, "But soft, what light through yonder window breaks?");
                assert_eq!(
                    m.edit,
                    Some(Edit {
                        of: "bad1".into(),
                        kind: EditKind::Correction
                    })
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retractions_in_rooms_name_the_rooms_ids() {
        let mapper = mapper();
        let room = BareJid::new("r@rooms.example.org").unwrap();
        mapper.state().want_room(room.clone(), "bot".into(), None);
        let own = crate::rooms::OccupantPresence {
            present: true,
            role: None,
            own: true,
        };
        mapper.state().occupant(&room, "bot", &own);
        let channel: Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();

        // The room reflects the bot's message with the id it gave it.
        let reflected = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/bot' type='groupchat' \
             id='mine-1'><body>oops</body><origin-id xmlns='urn:xmpp:sid:0' id='mine-1'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='r@rooms.example.org' id='room-7'/></message>",
        );
        assert!(
            mapper
                .try_inbound_message(reflected, true)
                .unwrap()
                .is_none()
        );
        let retraction = Signal::new(ChattyMessage::retraction("mine-1".into())).to(channel);
        let m = one_message(&mapper, &retraction);
        assert_eq!(
            payload(&m, "retract", NS_RETRACT).and_then(|p| p.attr("id")),
            Some("room-7")
        );

        // Someone else's message, and their retraction of it by the room's id.
        let said = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat' \
             id='a-1'><body>hi</body><origin-id xmlns='urn:xmpp:sid:0' id='a-1'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='r@rooms.example.org' id='room-8'/></message>",
        );
        let said = mapper.inbound_message(said).unwrap();
        assert_eq!(said.meta.id.as_str(), "a-1");
        let retracted = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat' \
             id='a-2'><body>retracted</body>\
             <retract xmlns='urn:xmpp:message-retract:1' id='room-8'/>\
             <fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/></message>",
        );
        match mapper.inbound_message(retracted).unwrap().body {
            Body::Message(m) => {
                assert_eq!(m.text, "");
                assert_eq!(
                    m.edit,
                    Some(Edit {
                        of: said.meta.id,
                        kind: EditKind::Retraction
                    })
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outbound_refuses_rooms_and_non_jids() {
        let mapper = mapper();
        let room: Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
        assert!(mapper.outbound(&Signal::message("x").to(room)).is_err());
        let mail: Address = "mailto:a@example.org".parse().unwrap();
        let refusal = mapper.outbound(&Signal::message("x").to(mail)).unwrap_err();
        assert_eq!(refusal.kind, FailureKind::UnknownAddressee);
        assert!(mapper.outbound(&Signal::message("nobody")).is_err());
    }

    #[test]
    fn presence_maps_show_status_and_unavailable() {
        let mapper = mapper();
        let p = |xml: &str| Presence::try_from(xml.parse::<Element>().unwrap()).unwrap();
        let away = mapper
            .inbound_presence(
                p("<presence xmlns='jabber:client' from='a@example.org/x'>\
                   <show>dnd</show><status>busy busy</status></presence>"),
                None,
            )
            .unwrap();
        match away.body {
            Body::StatusChange(c) => {
                assert_eq!(
                    c.status,
                    Status::Presence {
                        availability: Availability::Busy
                    }
                );
                assert_eq!(c.message.as_deref(), Some("busy busy"));
            }
            other => panic!("{other:?}"),
        }
        let gone = mapper
            .inbound_presence(
                p("<presence xmlns='jabber:client' from='a@example.org/x' type='unavailable'/>"),
                None,
            )
            .unwrap();
        assert!(matches!(gone.body, Body::StatusChange(c)
            if c.status == Status::Presence { availability: Availability::Offline }));
        let own = Jid::new("bot@example.org/me").unwrap();
        assert!(
            mapper
                .inbound_presence(
                    p("<presence xmlns='jabber:client' from='bot@example.org/me'/>"),
                    Some(&own)
                )
                .is_none(),
            "the server's echo of the own presence"
        );
    }

    #[test]
    fn named_sessions_qualify_addresses() {
        let mapper = Mapper::new("work", &BareJid::new("bot@example.org").unwrap()).unwrap();
        assert_eq!(
            mapper.own().to_string(),
            "xmpp+work:bot@example.org;kind=individual"
        );
    }
}
