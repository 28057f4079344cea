//! Which inbound stanzas a machine sent (RFC 3834's automatic messages, as XMPP shows them), so
//! that bots do not answer them: [`Metadata::automatic`](chatty_core::Metadata::automatic).
//!
//! | stanza | mark |
//! |---|---|
//! | `type='error'` (a send failure) | `Report` |
//! | from a JID without a local part (the server, a service) | `Generated` |
//! | `type='headline'` (RFC 6121 §5.2.2: no reply expected) | `Generated` |
//! | from a room itself (its bare JID): status notices, invitations, the subject on join | `Generated` |
//! | a subject change in a room (a `<subject/>` without `<body/>`, XEP-0045 §8.1) | `Generated` |
//! | from a client whose disco#info identity is `client/bot` | `Bot` |
//!
//! A room's history replayed on join is not passed on at all: see [`is_room_history`].

use chatty_core::Automatic;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::ns;

/// What the stanza itself says about a message from `from`: why it counts as sent by a machine,
/// if it does. `in_room`: `from` is (in) a room the session is in. A bot's identity is not
/// seen in the stanza; the mapper adds [`Automatic::Bot`] from what the session learnt.
pub(crate) fn of_message(message: &Message, from: &Jid, in_room: bool) -> Option<Automatic> {
    if message.type_ == MessageType::Error {
        return Some(Automatic::Report);
    }
    let generated = is_service(from)
        || message.type_ == MessageType::Headline
        || is_from_room_itself(message, from, in_room)
        || is_subject_change(message);
    generated.then_some(Automatic::Generated)
}

/// The same for a presence: an error is a report, and the server's or a service's presence is
/// generated.
pub(crate) fn of_presence(error: bool, from: &Jid) -> Option<Automatic> {
    if error {
        Some(Automatic::Report)
    } else if is_service(from) {
        Some(Automatic::Generated)
    } else {
        None
    }
}

/// A JID without a local part: a server (`example.org`, its announcements and message of the
/// day) or a service on it (`pubsub.example.org`), never a person's account (RFC 6120 §2.1).
pub(crate) fn is_service(from: &Jid) -> bool {
    from.node().is_none()
}

/// A message from a room itself, not from one of its occupants: its bare JID, either a room
/// the session is in, or one that says it is a room (MUC user data, as in a mediated
/// invitation, XEP-0045 §7.8.2, or a status notice, §10.2.1).
pub(crate) fn is_from_room_itself(message: &Message, from: &Jid, in_room: bool) -> bool {
    from.resource().is_none()
        && (in_room || message.payloads.iter().any(|p| p.is("x", ns::MUC_USER)))
}

/// A room's subject change (XEP-0045 §8.1): a groupchat message with a subject and no body.
/// The room sends one on every join too: its current subject, empty when it has none.
pub(crate) fn is_subject_change(message: &Message) -> bool {
    message.type_ == MessageType::Groupchat
        && !message.subjects.is_empty()
        && message.bodies.is_empty()
}

/// Whether a groupchat message is the room's history, replayed to the session when it joined:
/// XEP-0045 §7.2.14 has the room stamp each with a delay whose `from` is the room's own JID,
/// which live messages never carry. The session asks for no history when it joins, so these come
/// only from a room that ignores the request; they are dropped, never passed on, since a bot
/// answering a room's past on every join would loop with the room. The subject sent on join is
/// stamped the same way but is not history (see [`is_subject_change`]).
pub(crate) fn is_room_history(message: &Message, room: &BareJid) -> bool {
    message.type_ == MessageType::Groupchat
        && !is_subject_change(message)
        && message
            .payloads
            .iter()
            .any(|p| p.is("delay", ns::DELAY) && p.attr("from") == Some(room.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::test_support::{mapper, mapper_in_room, message, presence};

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn each_kind_of_machine_traffic_is_marked_and_a_persons_message_is_not() {
        let person = "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat'>\
                      <body>hi</body></message>";
        assert_eq!(
            of_message(&message(person), &jid("alice@example.org/phone"), false),
            None
        );
        for (xml, from, in_room, expected) in [
            (
                "<message xmlns='jabber:client' from='alice@example.org/x' type='headline'>\
                 <body>news</body></message>",
                "alice@example.org/x",
                false,
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='example.org'><body>motd</body></message>",
                "example.org",
                false,
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='example.org/announce/online'>\
                 <body>maintenance at 10</body></message>",
                "example.org/announce/online",
                false,
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='nobody@example.org' type='error' id='1'/>",
                "nobody@example.org",
                false,
                Automatic::Report,
            ),
            (
                "<message xmlns='jabber:client' from='r@rooms.example.org' type='groupchat'>\
                 <body>This room is now non-anonymous</body>\
                 <x xmlns='http://jabber.org/protocol/muc#user'><status code='172'/></x></message>",
                "r@rooms.example.org",
                true,
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='r@rooms.example.org'>\
                 <x xmlns='http://jabber.org/protocol/muc#user'>\
                 <invite from='alice@example.org/x'/></x><body>join us</body></message>",
                "r@rooms.example.org",
                false,
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='r@rooms.example.org/alice' \
                 type='groupchat'><subject>new topic</subject></message>",
                "r@rooms.example.org/alice",
                true,
                Automatic::Generated,
            ),
        ] {
            assert_eq!(
                of_message(&message(xml), &jid(from), in_room),
                Some(expected),
                "{xml}"
            );
        }
        // A private message from an occupant carries MUC user data too (XEP-0045 §7.5): a
        // person, not the room.
        let private = "<message xmlns='jabber:client' from='r@rooms.example.org/alice' \
                       type='chat'><body>psst</body>\
                       <x xmlns='http://jabber.org/protocol/muc#user'/></message>";
        assert_eq!(
            of_message(&message(private), &jid("r@rooms.example.org/alice"), true),
            None
        );
        // A message with a subject and a body is a message, not a subject change.
        let titled = "<message xmlns='jabber:client' from='r@rooms.example.org/alice' \
                      type='groupchat'><subject>s</subject><body>b</body></message>";
        assert_eq!(
            of_message(&message(titled), &jid("r@rooms.example.org/alice"), true),
            None
        );
    }

    #[test]
    fn presence_errors_are_reports_and_the_servers_presence_is_generated() {
        assert_eq!(
            of_presence(true, &jid("a@example.org/x")),
            Some(Automatic::Report)
        );
        assert_eq!(
            of_presence(false, &jid("example.org")),
            Some(Automatic::Generated)
        );
        assert_eq!(of_presence(false, &jid("a@example.org/x")), None);
    }

    #[test]
    fn history_is_what_the_room_stamped_and_not_its_subject() {
        let room = BareJid::new("r@rooms.example.org").unwrap();
        // As Prosody 0.12 replays history to an occupant that did not ask for none.
        let replayed = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' id='g1' \
             type='groupchat'><body>earlier words</body>\
             <delay xmlns='urn:xmpp:delay' from='r@rooms.example.org' \
             stamp='2026-12-06T11:05:30Z'/></message>",
        );
        assert!(is_room_history(&replayed, &room));
        let subject = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat'>\
             <subject>the topic</subject><delay xmlns='urn:xmpp:delay' \
             from='r@rooms.example.org' stamp='2026-12-06T11:05:31Z'/></message>",
        );
        assert!(!is_room_history(&subject, &room));
        // Delayed by someone else (a client's own stamp, an offline store): not the room's
        // history.
        let delayed = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat'>\
             <body>late</body><delay xmlns='urn:xmpp:delay' from='example.org' \
             stamp='2026-12-06T11:05:30Z'/></message>",
        );
        assert!(!is_room_history(&delayed, &room));
        let live = message(
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat'>\
             <body>now</body></message>",
        );
        assert!(!is_room_history(&live, &room));
    }

    /// Maps a live message.
    fn map(mapper: &crate::mapper::Mapper, xml: &str) -> Option<chatty_core::Signal> {
        mapper.inbound_message(message(xml))
    }

    fn subject_of(signal: &chatty_core::Signal) -> Option<&str> {
        match &signal.body {
            chatty_core::Body::Message(m) if m.text.is_empty() => m.subject.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn the_mapper_marks_what_machines_send_and_not_what_people_send() {
        let mapper = mapper();
        let person = map(
            &mapper,
            "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' \
             id='p1'><body>hi</body></message>",
        )
        .unwrap();
        assert_eq!(person.meta.automatic, None);
        for (xml, expected) in [
            (
                "<message xmlns='jabber:client' from='alice@example.org/x' type='headline' \
                 id='h1'><body>news</body></message>",
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='example.org' id='m1'>\
                 <body>message of the day</body></message>",
                Automatic::Generated,
            ),
            (
                "<message xmlns='jabber:client' from='example.org' type='error' id='sent-1'>\
                 <error type='cancel'><service-unavailable \
                 xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
                Automatic::Report,
            ),
            (
                "<message xmlns='jabber:client' from='r2@rooms.example.org' id='i1'>\
                 <x xmlns='http://jabber.org/protocol/muc#user'>\
                 <invite from='alice@example.org/x'/></x><body>join us</body></message>",
                Automatic::Generated,
            ),
        ] {
            let signal = map(&mapper, xml).unwrap();
            assert_eq!(signal.meta.automatic, Some(expected), "{xml}: {signal:?}");
        }
        let server = mapper
            .inbound_presence(
                presence("<presence xmlns='jabber:client' from='example.org'/>"),
                None,
            )
            .unwrap();
        assert_eq!(server.meta.automatic, Some(Automatic::Generated));
        let refused = mapper
            .inbound_presence(
                presence(
                    "<presence xmlns='jabber:client' from='r3@rooms.example.org/bot' \
                     type='error' id='join-1'><error type='auth'><forbidden \
                     xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
                ),
                None,
            )
            .unwrap();
        assert!(matches!(refused.body, chatty_core::Body::SendFailure(_)));
        assert_eq!(refused.meta.automatic, Some(Automatic::Report));
        let contact = mapper
            .inbound_presence(
                presence("<presence xmlns='jabber:client' from='alice@example.org/x'/>"),
                None,
            )
            .unwrap();
        assert_eq!(contact.meta.automatic, None);
    }

    #[test]
    fn in_a_room_history_is_dropped_and_the_subject_and_notices_are_generated() {
        let mapper = mapper_in_room();
        // What Prosody 0.12 sends after the join's self-presence: history (only to occupants
        // that did not ask for none), then the subject, stamped by the room.
        assert!(
            map(
                &mapper,
                "<message xmlns='jabber:client' from='r@rooms.example.org/alice' id='g1' \
                 type='groupchat'><body>earlier words</body>\
                 <delay xmlns='urn:xmpp:delay' from='r@rooms.example.org' \
                 stamp='2026-12-06T11:05:30Z'/></message>",
            )
            .is_none(),
            "history is not passed on"
        );
        let subject = map(
            &mapper,
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat'>\
             <subject>the topic</subject><delay xmlns='urn:xmpp:delay' \
             from='r@rooms.example.org' stamp='2026-12-06T11:05:31Z'/></message>",
        )
        .unwrap();
        assert_eq!(subject_of(&subject), Some("the topic"));
        assert_eq!(subject.meta.automatic, Some(Automatic::Generated));
        let channel: chatty_core::Address =
            "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
        assert_eq!(subject.meta.visible_to, vec![channel.clone()]);
        // A room without a subject sends an empty one, from itself.
        let none = map(
            &mapper,
            "<message xmlns='jabber:client' from='r@rooms.example.org' type='groupchat'>\
             <subject/></message>",
        )
        .unwrap();
        assert_eq!(subject_of(&none), Some(""));
        assert_eq!(none.meta.automatic, Some(Automatic::Generated));
        let origin = none.meta.origin.unwrap();
        assert_eq!(origin, channel);
        assert_eq!(origin.kind(), chatty_core::AddressKind::Channel);
        // A status notice without text (Prosody's, on a configuration change): nothing to see;
        // with text (other servers'): a generated message.
        assert!(
            map(
                &mapper,
                "<message xmlns='jabber:client' from='r@rooms.example.org' type='groupchat'>\
                 <x xmlns='http://jabber.org/protocol/muc#user'><status code='172'/></x>\
                 </message>",
            )
            .is_none()
        );
        let notice = map(
            &mapper,
            "<message xmlns='jabber:client' from='r@rooms.example.org' type='groupchat'>\
             <body>This room is now non-anonymous</body>\
             <x xmlns='http://jabber.org/protocol/muc#user'><status code='172'/></x></message>",
        )
        .unwrap();
        assert_eq!(notice.meta.automatic, Some(Automatic::Generated));
        // Live: a subject change is generated, a message is not.
        let changed = map(
            &mapper,
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat'>\
             <subject>new topic</subject></message>",
        )
        .unwrap();
        assert_eq!(subject_of(&changed), Some("new topic"));
        assert_eq!(changed.meta.automatic, Some(Automatic::Generated));
        let said = map(
            &mapper,
            "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat' \
             id='a1'><body>now</body></message>",
        )
        .unwrap();
        assert_eq!(said.meta.automatic, None);
    }

    #[test]
    fn a_client_known_as_a_bot_is_marked_bot_and_its_other_clients_are_not() {
        let mapper = mapper_in_room();
        let info = |identity: &str| tokio_xmpp::parsers::disco::DiscoInfoResult {
            node: None,
            identities: vec![tokio_xmpp::parsers::disco::Identity::new(
                "client", identity, "en", "x",
            )],
            features: Default::default(),
            extensions: Vec::new(),
        };
        let full = |s: &str| tokio_xmpp::jid::FullJid::new(s).unwrap();
        // A sender without presence, asked after its first message.
        let echo = full("echo@example.org/bot");
        assert!(mapper.peers().ask_sender(&echo));
        let first = map(
            &mapper,
            "<message xmlns='jabber:client' from='echo@example.org/bot' type='chat' id='e1'>\
             <body>echo: hi</body></message>",
        )
        .unwrap();
        assert_eq!(first.meta.automatic, None, "not known yet");
        mapper.peers().learned_sender(&echo, Some(&info("bot")));
        for xml in [
            "<message xmlns='jabber:client' from='echo@example.org/bot' type='chat' id='e2'>\
             <body>echo: echo: hi</body></message>",
            "<message xmlns='jabber:client' from='echo@example.org/bot' type='chat' id='e3'>\
             <composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
        ] {
            assert_eq!(
                map(&mapper, xml).unwrap().meta.automatic,
                Some(Automatic::Bot),
                "{xml}"
            );
        }
        let error = map(
            &mapper,
            "<message xmlns='jabber:client' from='echo@example.org/bot' type='error' id='e4'/>",
        )
        .unwrap();
        assert_eq!(
            error.meta.automatic,
            Some(Automatic::Report),
            "a report first"
        );
        let phone = map(
            &mapper,
            "<message xmlns='jabber:client' from='echo@example.org/phone' type='chat' id='e5'>\
             <body>that was my bot</body></message>",
        )
        .unwrap();
        assert_eq!(phone.meta.automatic, None, "another client of the account");
        // A person's client answers with another identity.
        let carol = full("carol@example.org/pc");
        assert!(mapper.peers().ask_sender(&carol));
        mapper.peers().learned_sender(&carol, Some(&info("pc")));
        let person = map(
            &mapper,
            "<message xmlns='jabber:client' from='carol@example.org/pc' type='chat' id='c1'>\
             <body>hello</body></message>",
        )
        .unwrap();
        assert_eq!(person.meta.automatic, None);
        // An occupant of a room, asked through the room.
        let occupant = full("r@rooms.example.org/echo");
        assert!(mapper.peers().ask_sender(&occupant));
        mapper.peers().learned_sender(&occupant, Some(&info("bot")));
        let in_room = map(
            &mapper,
            "<message xmlns='jabber:client' from='r@rooms.example.org/echo' type='groupchat' \
             id='o1'><body>beep</body></message>",
        )
        .unwrap();
        assert_eq!(in_room.meta.automatic, Some(Automatic::Bot));
        // A contact online (its presence seen) whose client answered: known before any message.
        let dave = full("dave@example.org/daemon");
        mapper.peers().available(dave.clone(), None);
        mapper.peers().learned(&dave, None, Some(&info("bot")));
        let from_dave = mapper
            .inbound_presence(
                presence("<presence xmlns='jabber:client' from='dave@example.org/daemon'/>"),
                None,
            )
            .unwrap();
        assert_eq!(from_dave.meta.automatic, Some(Automatic::Bot));
    }
}
