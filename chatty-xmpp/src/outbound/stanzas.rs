//! Outbound signals: the stanzas that carry what the bot sends.

use chatty_core::reexports::serde_json;
use chatty_core::session::Refusal;
use chatty_core::{
    Address, AddressKind, Availability, Body, Content, Edit, EditKind, FailureKind, File, Signal,
    SignalId, Status, TypingState,
};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::message::{Id, Lang, Message};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Show};
use tokio_xmpp::parsers::stanza_id::OriginId;

use crate::address_id;
use crate::config::ClientType;
use crate::config::PLATFORM;
use crate::mapper::Mapper;
use crate::ns::{NS_FALLBACK, NS_HINTS, NS_OOB, NS_RECEIPTS, NS_REPLY, NS_RETRACT, NS_SIGNAL};
use crate::reactions;
use crate::rooms::{join_presence, leave_presence};

/// The body of a retraction for clients without XEP-0424 (the XEP's own example).
const RETRACTION_FALLBACK: &str =
    "This person attempted to retract a previous message, but it's unsupported by your client.";
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

impl Mapper {
    /// The room JID of a channel address of this session.
    fn room_of(&self, address: &Address) -> Result<BareJid, Refusal> {
        if address.platform() != PLATFORM {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not an XMPP address"),
            ));
        }
        let jid = address_id::bare_jid(address.id()).map_err(|e| {
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
                    let presence =
                        own_presence(*availability, change.message.as_deref(), self.client_type());
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
                        let nick = self.default_nick().to_owned();
                        self.state().want_room(jid.clone(), nick.clone(), None);
                        Ok(vec![join_presence(&jid, &nick, None, id).into()])
                    } else {
                        match self.state().leave_room(&jid) {
                            Some(nick) => Ok(vec![leave_presence(&jid, &nick, id).into()]),
                            None => Ok(Vec::new()),
                        }
                    }
                }
                other => Err(Refusal::new(
                    FailureKind::Rejected,
                    format!("the XMPP session cannot carry the status {other:?}"),
                )),
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
        address_id::jid(address.id()).map_err(|e| {
            Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not a JID: {e}"),
            )
            .with_code("jid-malformed")
        })
    }

    /// The id a stanza to `to` names the message `of` by: in a room the id the room gave it
    /// (its `stanza-id`, as XEP-0424 and XEP-0444 ask), where the session saw it; else `of`.
    fn named_id(&self, to: &Address, of: &SignalId) -> String {
        match to.kind() {
            AddressKind::Channel => self
                .state()
                .room_id_of(of)
                .map_or_else(|| of.to_string(), str::to_owned),
            _ => of.to_string(),
        }
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
                // A question's options as numbered lines too, for clients without forms.
                let mut text = m.text_with_choice();
                self.add_form(
                    &mut message,
                    to,
                    &signal.meta.id,
                    signal.meta.response_to.as_ref(),
                    m,
                )?;
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
                        ..
                    }) => message.payloads.push(element(
                        "replace",
                        ns::MESSAGE_CORRECT,
                        &[("id", of.as_str())],
                        None,
                    )),
                    Some(Edit {
                        of,
                        kind: EditKind::Reaction,
                        ..
                    }) => {
                        let key = m.text.trim();
                        if key.is_empty() {
                            return Err(Refusal::new(
                                FailureKind::Rejected,
                                "a reaction without a key (its text is empty)",
                            ));
                        }
                        // XEP-0444 sends the bot's whole set for the message each time.
                        let named = self.named_id(to, of);
                        let keys = self.reactions().react(
                            &to.to_string(),
                            &named,
                            key,
                            signal.meta.id.clone(),
                        );
                        message.payloads.push(reactions::element(&named, keys));
                        message.payloads.push(element("store", NS_HINTS, &[], None));
                        return Ok(message);
                    }
                    Some(Edit {
                        of,
                        kind: EditKind::Retraction,
                        ..
                    }) => {
                        // A reaction of the bot's: the set without it (XEP-0444).
                        let withdrawn = self.reactions().withdraw(&to.to_string(), of);
                        if let Some((target, keys)) = withdrawn {
                            message.payloads.push(reactions::element(&target, keys));
                            message.payloads.push(element("store", NS_HINTS, &[], None));
                            return Ok(message);
                        }
                        let named = self.named_id(to, of);
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
                    Some(edit) => {
                        return Err(Refusal::new(
                            FailureKind::Rejected,
                            format!(
                                "the XMPP session cannot carry an edit of kind {:?}",
                                edit.kind
                            ),
                        ));
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
        _ => Err(Refusal::new(
            FailureKind::Rejected,
            format!("the file {} has content XMPP cannot carry", file.name),
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

/// The session's own presence stanza for `availability`, with the entity capabilities of a
/// client of `client_type`.
pub(crate) fn own_presence(
    availability: Availability,
    status: Option<&str>,
    client_type: ClientType,
) -> Presence {
    let mut presence = match availability {
        Availability::Offline => Presence::unavailable(),
        Availability::Available => Presence::available(),
        Availability::Chatty => Presence::available().with_show(Show::Chat),
        Availability::Away => Presence::available().with_show(Show::Away),
        Availability::ExtendedAway => Presence::available().with_show(Show::Xa),
        Availability::Busy => Presence::available().with_show(Show::Dnd),
        // An availability XMPP has no word for: online, without a `<show/>`.
        _ => Presence::available(),
    };
    if let Some(status) = status {
        presence.statuses.insert(Lang::new(), status.to_owned());
    }
    if availability != Availability::Offline {
        // Entity Capabilities (XEP-0115): what the bot supports, without a disco#info round trip.
        presence
            .payloads
            .push(crate::caps::own_caps(client_type).into());
    }
    presence
}

fn chat_state(state: TypingState) -> ChatState {
    match state {
        TypingState::Active => ChatState::Active,
        TypingState::Composing => ChatState::Composing,
        TypingState::Gone => ChatState::Gone,
        TypingState::Inactive => ChatState::Inactive,
        TypingState::Paused => ChatState::Paused,
        // A state XEP-0085 has no word for: the neutral one.
        _ => ChatState::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::test_support::{mapper, message};
    use chatty_core::{Message as ChattyMessage, SignalId, UserDefined};

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
                assert_eq!(m.edit, Some(Edit::new("bad1".into(), EditKind::Correction)));
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
                assert_eq!(m.edit, Some(Edit::new(said.meta.id, EditKind::Retraction)));
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
    fn reply_all_one_to_one_goes_to_the_person_only() {
        let mapper = mapper();
        let heard = mapper
            .inbound_message(message(
                "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' \
                 id='q-1'><body>anyone?</body></message>",
            ))
            .unwrap();
        let answer = heard.reply_all(ChattyMessage::text("me"));
        // XMPP carries no copies one-to-one: what reply_all keeps as "visible to" is the bot
        // itself, the original's addressee.
        assert_eq!(answer.meta.visible_to, vec![mapper.own().clone()]);
        let stanzas = mapper.outbound(&answer).unwrap();
        let tos: Vec<String> = stanzas
            .iter()
            .map(|s| match s {
                Stanza::Message(m) => m.to.as_ref().map(ToString::to_string).unwrap_or_default(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(tos, ["alice@example.org"]);

        // In a room, the room is the addressee and nothing else goes anywhere.
        let mapper = crate::mapper::test_support::mapper_in_room();
        let said = mapper
            .inbound_message(message(
                "<message xmlns='jabber:client' from='r@rooms.example.org/alice' \
                 type='groupchat' id='q-2'><body>anyone?</body></message>",
            ))
            .unwrap();
        let answer = said.reply_all(ChattyMessage::text("me"));
        let stanzas = mapper.outbound(&answer).unwrap();
        assert_eq!(stanzas.len(), 1);
        assert!(matches!(&stanzas[0], Stanza::Message(m)
            if m.to.as_ref().map(ToString::to_string).as_deref() == Some("r@rooms.example.org")));
    }
}
