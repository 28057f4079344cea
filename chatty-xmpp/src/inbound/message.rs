//! Inbound messages: a `<message>` stanza (live, or from the archive) to the signal it carries.

use chatty_core::driver::Deliveries;
use chatty_core::reexports::serde_json;
use chatty_core::{
    AddressKind, Automatic, Body, DeliveryStatus, Edit, EditKind, File, Message as ChattyMessage,
    Metadata, Signal, SignalId, Status, StatusChange, TypingState, UserDefined, now,
};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::delay::Delay;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::reactions::Reactions;

use crate::address_id;
use crate::automatic;
use crate::choice;
use crate::files::name_from_url;
use crate::mapper::{Mapper, system_error, timestamp};
use crate::ns::{NS_FALLBACK, NS_OOB, NS_RECEIPTS, NS_REPLY, NS_RETRACT, NS_SIGNAL};

/// The sender's own id for a message (XEP-0359 `origin-id`).
pub(crate) fn origin_id(message: &Message) -> Option<String> {
    message
        .payloads
        .iter()
        .find(|p| p.is("origin-id", ns::SID))
        .and_then(|p| p.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// `url` if it is an absolute URL (RFC 3986: a scheme, then no spaces or control characters),
/// else what is wrong with it.
fn checked_url(url: &str) -> Result<String, String> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .unwrap_or_default();
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(format!("a URL without a scheme: {:?}", shorten(url)));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "a URL with spaces or control characters: {:?}",
            shorten(url)
        ));
    }
    Ok(url.to_owned())
}

/// The first 100 characters of `text`, for an error message.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(100).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// The ids of the bot's messages that `message` says were delivered (XEP-0184 receipts).
fn receipts(message: &Message) -> impl Iterator<Item = &str> {
    message
        .payloads
        .iter()
        .filter(|p| p.is("received", NS_RECEIPTS))
        .filter_map(|p| p.attr("id"))
        .filter(|id| !id.is_empty())
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

impl Mapper {
    /// The signals an inbound message carries (none, one, or one per reaction that changed);
    /// a malformed one becomes a system error.
    pub(crate) fn inbound_signals(&self, message: Message) -> Vec<Signal> {
        self.try_inbound_signals(message, true)
            .unwrap_or_else(|e| vec![system_error(e)])
    }

    /// The first signal of [`inbound_signals`](Self::inbound_signals), for tests of messages
    /// that carry one.
    #[cfg(test)]
    pub(crate) fn inbound_message(&self, message: Message) -> Option<Signal> {
        self.inbound_signals(message).into_iter().next()
    }

    /// The signals of an inbound message, as [`inbound_signals`](Self::inbound_signals); what
    /// it says of the bot's own messages goes into `deliveries`: a receipt (XEP-0184) that one
    /// was delivered, an error that one failed.
    pub(crate) fn inbound_signals_noting_deliveries(
        &self,
        message: Message,
        deliveries: &Deliveries,
    ) -> Vec<Signal> {
        for id in receipts(&message) {
            deliveries.advance(&SignalId::from(id), DeliveryStatus::Delivered);
        }
        let signals = self.inbound_signals(message);
        for signal in &signals {
            if let Body::SendFailure(failure) = &signal.body {
                let status = DeliveryStatus::Failed {
                    kind: failure.kind,
                    message: failure.message.clone(),
                };
                deliveries.advance(&failure.failed, status);
            }
        }
        signals
    }

    /// A message from the archive (MAM), as the signals it was: sent by the bot (origin: the
    /// bot, addressees: whom it went to) or received. None for what carries no signal.
    pub(crate) fn archived_signals(
        &self,
        message: Message,
        stamp: Option<&tokio_xmpp::parsers::date::DateTime>,
    ) -> Vec<Signal> {
        let to = message.to.clone();
        let from_own = message
            .from
            .as_ref()
            .is_some_and(|f| address_id::encode(f.to_bare().as_str()) == self.own().id());
        let mut signals = match self.try_inbound_signals(message, false) {
            Ok(signals) => signals,
            Err(e) => return vec![system_error(e)],
        };
        let to = to.filter(|_| from_own).and_then(|to| {
            self.address(to.to_bare().as_str(), AddressKind::Individual)
                .ok()
        });
        for signal in &mut signals {
            if let Some(sent) = stamp.and_then(timestamp) {
                signal.meta.sent = Some(sent);
            }
            if let Some(to) = &to {
                signal.meta.addressees = vec![to.clone()];
            }
        }
        signals
    }

    /// The first signal of [`try_inbound_signals`](Self::try_inbound_signals).
    #[cfg(test)]
    pub(crate) fn try_inbound_message(
        &self,
        message: Message,
        live: bool,
    ) -> Result<Option<Signal>, String> {
        Ok(self.try_inbound_signals(message, live)?.into_iter().next())
    }

    /// `live`: a message arriving now (repeats dropped; reactions compared with the sender's
    /// set seen last); else one from the archive read out of order (a history query's).
    pub(crate) fn try_inbound_signals(
        &self,
        message: Message,
        live: bool,
    ) -> Result<Vec<Signal>, String> {
        let from = message
            .from
            .clone()
            .ok_or("a message without a sender (no `from`)")?;
        let bare = from.to_bare();
        let own_nick = self.state().room(&bare).map(|r| r.nick.clone());
        let in_room = own_nick.is_some();
        // Someone in a room (`room@service/nick`) is addressed by the full JID, the room itself
        // as a channel; anyone else by the bare JID.
        let origin = match (&own_nick, from.resource()) {
            (Some(_), Some(_)) => self.address(from.as_str(), AddressKind::Individual)?,
            _ if automatic::is_from_room_itself(&message, &from, in_room) => {
                self.address(bare.as_str(), AddressKind::Channel)?
            }
            _ => self.address(bare.as_str(), AddressKind::Individual)?,
        };
        let automatic = automatic::of_message(&message, &from, in_room)
            .or_else(|| self.is_bot(&from).then_some(Automatic::Bot));
        let mut room = None;
        match message.type_ {
            MessageType::Error => return self.send_failure(&message, origin).map(|s| vec![s]),
            MessageType::Groupchat => {
                let Some(own_nick) = own_nick else {
                    tracing::debug!(from = %from, "ignoring a groupchat message from a room the session is not in");
                    return Ok(Vec::new());
                };
                match from.resource() {
                    // The room itself: its subject on join, notices (marked as generated).
                    None => {}
                    // The room reflecting the bot's own message: only the id the room gave it
                    // is kept, for a retraction later (XEP-0424 names that id in rooms).
                    Some(nick) if nick.as_str() == own_nick => {
                        if let (Some(room_id), Some(own_id)) =
                            (room_stanza_id(&message, &bare), origin_id(&message))
                        {
                            self.state()
                                .room_message_id(room_id, SignalId::from(own_id));
                        }
                        return Ok(Vec::new());
                    }
                    Some(_) => {}
                }
                if automatic::is_room_history(&message, &bare) {
                    tracing::debug!(from = %from, "dropping a message of the room's history");
                    return Ok(Vec::new());
                }
                room = Some(self.address(bare.as_str(), AddressKind::Channel)?);
            }
            MessageType::Chat | MessageType::Normal | MessageType::Headline => {}
        }
        let mut origin_id = None;
        let mut reply_to = None;
        let mut sent = None;
        let mut user_defined = None;
        let mut form = None;
        let mut chat_state = None;
        let mut edit: Option<(EditKind, String)> = None;
        let mut retraction_fallback = false;
        let mut reactions = None;
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
                let url = checked_url(url.trim())
                    .map_err(|e| format!("a message from {from} has a file (OOB) with {e}"))?;
                let desc = payload
                    .get_child("desc", NS_OOB)
                    .map(Element::text)
                    .filter(|d| !d.trim().is_empty());
                oob.push((url, desc));
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
            } else if payload.is("reactions", ns::REACTIONS) {
                reactions = Some(Reactions::try_from(payload.clone()).map_err(|e| {
                    format!("a message from {from} has malformed reactions (XEP-0444): {e}")
                })?);
            } else if payload.is("fallback", NS_FALLBACK) && payload.attr("for") == Some(NS_RETRACT)
            {
                retraction_fallback = true;
            } else if payload.is("delay", ns::DELAY) {
                let delay = Delay::try_from(payload.clone())
                    .map_err(|e| format!("a message from {from} has a malformed delay: {e}"))?;
                sent = timestamp(&delay.stamp);
            } else if payload.is("signal", NS_SIGNAL) {
                user_defined = Some(payload);
            } else if payload.is("x", ns::DATA_FORMS) && form.is_none() {
                // A question or an answer of Chatty's (XEP-0004); other forms are not the bot's.
                form = choice::read(payload, &from)
                    .map_err(|e| format!("a data form (XEP-0004) from {from} {e}"))?;
            } else if payload.has_ns(ns::CHATSTATES) {
                chat_state = Some(ChatState::try_from(payload.clone()).map_err(|e| {
                    format!("a message from {from} has a malformed chat state: {e}")
                })?);
            }
        }
        // The id is the same each time the message is read (live, from the archive after a
        // restart, from offline storage): the sender's (XEP-0359 origin-id, else the stanza's
        // id: kept end to end, and the same when the sender sends it again after its own lost
        // stream), else the id the archive gave it: the room's for a room message (live, or
        // from the room's archive), else the account's.
        let id = origin_id
            .filter(|id| !id.is_empty())
            .or_else(|| message.id.as_ref().map(|id| id.0.clone()))
            .filter(|id| !id.is_empty())
            .or_else(|| match &room {
                Some(_) => room_stanza_id(&message, &bare),
                None => crate::archive::stanza_id(&message, self.account()),
            });
        let deterministic = id.is_some();
        let id = id.map_or_else(SignalId::generate, SignalId::from);
        // The same message again (the sender's stream was lost before the server acknowledged
        // it, and it sent it again; or live and from the archive): dropped. Only the same
        // sender's ids count: an id someone else used first does not hide a message, nor does
        // one whose stanza was malformed (it is recorded once the message has become a signal).
        let repeat_key = (live && deterministic).then(|| (origin.clone(), id.clone()));
        if let Some(key) = &repeat_key
            && self.seen(key)
        {
            tracing::debug!(id = %id, from = %from, "dropping a message seen already");
            return Ok(Vec::new());
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
            Edit::new(of, kind)
        });
        let mut meta = Metadata::with_id(id);
        meta.response_to = reply_to;
        meta.sent = Some(sent.unwrap_or_else(now));
        meta.origin = Some(origin.clone());
        meta.automatic = automatic;
        match &room {
            Some(room) => {
                meta.addressees = vec![room.clone()];
                meta.visible_to = vec![room.clone()];
            }
            None => meta.addressees = vec![self.own().clone()],
        }

        if let Some(reactions) = reactions {
            let signals = self.reaction_signals(&meta, room.is_some(), &reactions, live)?;
            if let Some(key) = repeat_key
                && !signals.is_empty()
            {
                self.remember(key);
            }
            return Ok(signals);
        }

        let file = |(url, desc): &(String, Option<String>)| {
            File::url(
                desc.clone().unwrap_or_else(|| name_from_url(url)),
                None,
                url.clone(),
            )
        };
        let body: Body = if let Some(element) = user_defined {
            let name = element
                .attr("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("a user-defined signal from {from} has no name"))?;
            let payload: serde_json::Value =
                serde_json::from_str(&element.text()).map_err(|e| {
                    let name = shorten(name);
                    format!("the user-defined signal {name:?} from {from} is not JSON: {e}")
                })?;
            UserDefined::from_value(name.to_owned(), payload).into()
        } else if let Some(form) = form {
            let mut m = self
                .form_message(form, &message, &mut meta)
                .map_err(|e| format!("a data form (XEP-0004) from {from} {e}"))?;
            m.attachments = oob.iter().map(file).collect();
            m.edit = edit;
            m.into()
        } else if !oob.is_empty() {
            let text = message
                .get_best_body(vec![])
                .map(|(_, text)| text.trim().to_owned())
                .unwrap_or_default();
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
            return Ok(Vec::new());
        };
        // Only what a repeat would show twice: a typing notification may come again.
        if let Some(key) = repeat_key
            && matches!(
                body,
                Body::Message(_) | Body::File(_) | Body::UserDefined(_)
            )
        {
            self.remember(key);
        }
        Ok(vec![Signal { meta, body }])
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::test_support::{mapper, message};

    #[test]
    fn receipts_and_errors_advance_the_delivery_status_of_what_the_bot_sent() {
        let mapper = mapper();
        let deliveries = Deliveries::default();
        let (one, two) = (SignalId::from("sent-1"), SignalId::from("sent-2"));
        deliveries.advance(&one, DeliveryStatus::Sent);
        deliveries.advance(&two, DeliveryStatus::Sent);
        let receipt = message(
            "<message xmlns='jabber:client' from='alice@example.org/phone' id='r-1'>\
             <received xmlns='urn:xmpp:receipts' id='sent-1'/></message>",
        );
        assert!(
            mapper
                .inbound_signals_noting_deliveries(receipt, &deliveries)
                .is_empty(),
            "a receipt alone is no signal"
        );
        assert_eq!(deliveries.get(&one), DeliveryStatus::Delivered);
        let error = message(
            "<message xmlns='jabber:client' from='nobody@example.org' type='error' id='sent-2'>\
             <error type='cancel'><service-unavailable \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
        );
        let [failure] =
            <[Signal; 1]>::try_from(mapper.inbound_signals_noting_deliveries(error, &deliveries))
                .unwrap();
        assert!(matches!(failure.body, Body::SendFailure(_)), "{failure:?}");
        assert!(
            matches!(deliveries.get(&two), DeliveryStatus::Failed { .. }),
            "{:?}",
            deliveries.get(&two)
        );
        assert_eq!(deliveries.get(&one), DeliveryStatus::Delivered, "untouched");
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
    fn an_id_someone_else_or_a_malformed_stanza_used_first_does_not_hide_a_message() {
        let mapper = mapper();
        let text = |signal: Option<Signal>| match signal.map(|s| s.body) {
            Some(Body::Message(m)) => Some(m.text),
            other => panic!("{other:?}"),
        };
        // Mallory uses the id of Alice's next message first.
        let mallory = message(
            "<message xmlns='jabber:client' from='mallory@example.org/x' type='chat' id='a-1'>\
             <body>first!</body></message>",
        );
        assert_eq!(
            text(mapper.inbound_message(mallory)).as_deref(),
            Some("first!")
        );
        let alice = "<message xmlns='jabber:client' from='alice@example.org/x' type='chat' \
                     id='a-1'><body>hello</body></message>";
        assert_eq!(
            text(mapper.inbound_message(message(alice))).as_deref(),
            Some("hello")
        );
        assert!(
            mapper.inbound_message(message(alice)).is_none(),
            "Alice's own repeat is dropped"
        );
        // A malformed stanza does not use up its id: the sender's corrected one arrives.
        let broken = message(
            "<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='b-1'>\
             <signal xmlns='urn:chatty:signal:0' name='n'>{not json</signal></message>",
        );
        assert!(matches!(
            mapper.inbound_message(broken).map(|s| s.body),
            Some(Body::SystemError(_))
        ));
        let fixed = message(
            "<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='b-1'>\
             <body>sorry</body></message>",
        );
        assert_eq!(
            text(mapper.inbound_message(fixed)).as_deref(),
            Some("sorry")
        );
    }

    #[test]
    fn the_id_is_the_senders_else_the_accounts_archive_id() {
        let id = |xml: &str| mapper().inbound_message(message(xml)).unwrap().meta.id;
        let archived = "<stanza-id xmlns='urn:xmpp:sid:0' by='bot@example.org' id='A1'/>";
        let foreign = "<stanza-id xmlns='urn:xmpp:sid:0' by='elsewhere.org' id='X1'/>";
        let from = "from='alice@example.org/x' type='chat'";
        assert_eq!(
            id(&format!(
                "<message xmlns='jabber:client' {from} id='s1'><body>a</body>\
                 <origin-id xmlns='urn:xmpp:sid:0' id='o1'/>{archived}</message>"
            )),
            SignalId::from("o1")
        );
        assert_eq!(
            id(&format!(
                "<message xmlns='jabber:client' {from} id='s1'><body>a</body>{archived}</message>"
            )),
            SignalId::from("s1")
        );
        assert_eq!(
            id(&format!(
                "<message xmlns='jabber:client' {from}><body>a</body>{archived}</message>"
            )),
            SignalId::from("A1"),
            "no id of the sender's: the account's archive id, the same when read again"
        );
        let unnamed =
            format!("<message xmlns='jabber:client' {from}><body>a</body>{foreign}</message>");
        assert_ne!(
            id(&unnamed),
            id(&unnamed),
            "no id to keep: a new one each time"
        );
    }

    #[test]
    fn a_file_url_must_be_an_absolute_url() {
        let oob = |url: &str| {
            message(&format!(
                "<message xmlns='jabber:client' from='a@example.org/x' type='chat'>\
                 <x xmlns='jabber:x:oob'><url>{url}</url></x></message>"
            ))
        };
        for bad in [
            "report.pdf",
            "/file_share/report.pdf",
            "://no-scheme",
            "1http://digit-first",
            "https://example.org/a file.pdf",
            "https://example.org/a&#x9;b",
        ] {
            match mapper().inbound_message(oob(bad)).map(|s| s.body) {
                Some(Body::SystemError(e)) => assert!(e.message.contains("URL"), "{bad}: {e:?}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        for good in [
            "https://example.org/r.pdf",
            "  http://h/x  ",
            "xmpp:alice@example.org",
        ] {
            match mapper().inbound_message(oob(good)).map(|s| s.body) {
                Some(Body::File(f)) => assert!(matches!(
                    f.content,
                    chatty_core::Content::Url { ref url, .. } if url == good.trim()
                )),
                other => panic!("{good}: {other:?}"),
            }
        }
    }

    #[test]
    fn system_errors_stay_short_whatever_the_input() {
        let huge = "n".repeat(5_000);
        for xml in [
            format!(
                "<message xmlns='jabber:client' from='a@example.org/x' type='chat'>\
                 <signal xmlns='urn:chatty:signal:0' name='{huge}'>{{not json</signal></message>"
            ),
            format!(
                "<message xmlns='jabber:client' from='a@example.org/x' type='chat'>\
                 <x xmlns='jabber:x:oob'><url>{huge}</url></x></message>"
            ),
        ] {
            match mapper().inbound_message(message(&xml)).map(|s| s.body) {
                Some(Body::SystemError(e)) => {
                    assert!(e.message.len() < 1000, "{}", e.message.len())
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_room_message_without_an_id_is_known_by_the_id_the_rooms_archive_gave_it() {
        let mapper = crate::mapper::test_support::mapper_in_room();
        let xml = "<message xmlns='jabber:client' from='r@rooms.example.org/carol' \
                   type='groupchat'><body>hi</body>\
                   <stanza-id xmlns='urn:xmpp:sid:0' by='bot@example.org' id='not-the-room'/>\
                   <stanza-id xmlns='urn:xmpp:sid:0' by='r@rooms.example.org' id='R-1'/>\
                   </message>";
        let signal = mapper.inbound_message(message(xml)).unwrap();
        assert_eq!(signal.meta.id.as_str(), "R-1");
        assert!(
            mapper.inbound_message(message(xml)).is_none(),
            "the same message again (live, then from the room's archive) is a repeat"
        );
    }
}
