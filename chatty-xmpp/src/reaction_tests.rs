//! Reactions (XEP-0444) mapped both ways: the bot's set sent whole each time, withdrawals, the
//! ids in rooms, and inbound sets compared with the one seen last.

use chatty_core::{Address, Body, Edit, EditKind, Message as ChattyMessage, Signal, SignalId};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;

use crate::mapper::Mapper;
use crate::mapper::test_support::{mapper, mapper_in_room, message};
use crate::ns::{NS_HINTS, NS_RETRACT};

fn one_message(mapper: &Mapper, signal: &Signal) -> Message {
    let [Stanza::Message(m)] = <[Stanza; 1]>::try_from(mapper.outbound(signal).unwrap()).unwrap()
    else {
        panic!("one message");
    };
    m
}

/// The id a `<reactions>` names and its keys.
fn reactions_of(m: &Message) -> Option<(String, Vec<String>)> {
    let element = m
        .payloads
        .iter()
        .find(|p| p.is("reactions", ns::REACTIONS))?;
    let keys = element
        .children()
        .filter(|c| c.is("reaction", ns::REACTIONS))
        .map(Element::text)
        .collect();
    Some((element.attr("id")?.to_owned(), keys))
}

/// What a signal is: `reaction OF KEY`, `retraction OF`, or its text.
fn what(signal: &Signal) -> String {
    match &signal.body {
        Body::Message(ChattyMessage {
            edit: Some(Edit { of, kind, .. }),
            text,
            ..
        }) => match kind {
            EditKind::Reaction => format!("reaction {of} {text}"),
            EditKind::Retraction => format!("retraction {of}"),
            other => format!("{other:?}"),
        },
        Body::Message(m) => m.text.clone(),
        other => format!("{other:?}"),
    }
}

/// The bot's stanza as another Chatty session receives it: ids and what each signal is.
fn received(receiver: &Mapper, mut m: Message) -> Vec<(String, String)> {
    m.from = Some(Jid::new("bot@example.org/r").unwrap());
    receiver
        .inbound_signals(m)
        .iter()
        .map(|s| (s.meta.id.to_string(), what(s)))
        .collect()
}

fn pair(id: &str, what: &str) -> (String, String) {
    (id.to_owned(), what.to_owned())
}

#[test]
fn one_to_one_reactions_send_the_whole_set_and_arrive_as_one_reaction_each() {
    let bot = mapper();
    let other = Mapper::new(
        "xmpp",
        &tokio_xmpp::jid::BareJid::new("alice@example.org").unwrap(),
    )
    .unwrap();
    let alice: Address = "xmpp:alice@example.org".parse().unwrap();
    let first: SignalId = "m-1".into();

    let thumbs = Signal::new(ChattyMessage::reaction(first.clone(), "👍")).to(alice.clone());
    let m = one_message(&bot, &thumbs);
    assert_eq!(
        reactions_of(&m),
        Some(("m-1".to_owned(), vec!["👍".to_owned()]))
    );
    assert!(m.payloads.iter().any(|p| p.is("store", NS_HINTS)), "stored");
    assert!(m.bodies.is_empty(), "no body");
    assert_eq!(
        m.id.as_ref().map(|i| i.0.as_str()),
        Some(thumbs.id().as_str())
    );
    assert_eq!(
        received(&other, m),
        [pair(thumbs.id().as_str(), "reaction m-1 👍")],
        "the same id, the same reaction"
    );

    let party = Signal::new(ChattyMessage::reaction(first.clone(), "🎉")).to(alice.clone());
    let m = one_message(&bot, &party);
    assert_eq!(
        reactions_of(&m).unwrap().1,
        ["👍", "🎉"],
        "the whole set, the new one added"
    );
    assert_eq!(
        received(&other, m),
        [pair(party.id().as_str(), "reaction m-1 🎉")],
        "only what is new"
    );

    // Withdrawing the first: the set without it, a retraction of its id on the other side.
    let withdraw = Signal::new(ChattyMessage::retraction(thumbs.id().clone())).to(alice.clone());
    let m = one_message(&bot, &withdraw);
    assert_eq!(
        reactions_of(&m).unwrap(),
        ("m-1".to_owned(), vec!["🎉".to_owned()])
    );
    assert!(!m.payloads.iter().any(|p| p.is("retract", NS_RETRACT)));
    assert!(m.bodies.is_empty());
    assert_eq!(
        received(&other, m),
        [pair(
            withdraw.id().as_str(),
            &format!("retraction {}", thumbs.id())
        )]
    );
    let last = Signal::new(ChattyMessage::retraction(party.id().clone())).to(alice.clone());
    let m = one_message(&bot, &last);
    assert_eq!(
        reactions_of(&m).unwrap().1,
        Vec::<String>::new(),
        "none left"
    );
    assert_eq!(
        received(&other, m),
        [pair(
            last.id().as_str(),
            &format!("retraction {}", party.id())
        )]
    );

    // A retraction of a message, not a reaction, is XEP-0424's as before.
    let m = one_message(
        &bot,
        &Signal::new(ChattyMessage::retraction(first)).to(alice),
    );
    assert!(reactions_of(&m).is_none());
    assert!(m.payloads.iter().any(|p| p.is("retract", NS_RETRACT)));
}

#[test]
fn a_clients_set_becomes_reactions_and_retractions_and_a_repeat_nothing() {
    let bot = mapper();
    let set = |id: &str, keys: &[&str]| {
        let keys: String = keys
            .iter()
            .map(|k| format!("<reaction>{k}</reaction>"))
            .collect();
        message(&format!(
            "<message xmlns='jabber:client' from='carol@example.org/phone' type='chat' \
             id='{id}'><reactions xmlns='urn:xmpp:reactions:0' id='q-1'>{keys}</reactions>\
             <store xmlns='urn:xmpp:hints'/></message>"
        ))
    };
    let got = |m: Message| -> Vec<(String, String)> {
        bot.inbound_signals(m)
            .iter()
            .map(|s| (s.meta.id.to_string(), what(s)))
            .collect()
    };
    assert_eq!(
        got(set("c-1", &["👍", "🐢"])),
        [
            pair("c-1#1", "reaction q-1 👍"),
            pair("c-1", "reaction q-1 🐢")
        ]
    );
    assert!(got(set("c-1", &["👍", "🐢"])).is_empty(), "a repeat");
    assert_eq!(
        got(set("c-2", &["🐢", "❤"])),
        [
            pair("c-2#1", "retraction c-1#1"),
            pair("c-2", "reaction q-1 ❤")
        ]
    );
    assert_eq!(
        got(set("c-3", &[])),
        [
            pair("c-3#1", "retraction c-1"),
            pair("c-3", "retraction c-2")
        ]
    );
    let signal = bot.inbound_message(set("c-4", &["👍"])).unwrap();
    assert_eq!(
        signal.meta.origin.unwrap().to_string(),
        "xmpp:carol@example.org;kind=individual"
    );
    assert_eq!(signal.meta.addressees, vec![bot.own().clone()]);

    // Malformed: no id of the message reacted to.
    let bad = message(
        "<message xmlns='jabber:client' from='carol@example.org/phone' type='chat' id='c-9'>\
         <reactions xmlns='urn:xmpp:reactions:0' id=''><reaction>👍</reaction></reactions>\
         </message>",
    );
    assert!(matches!(
        &bot.inbound_signals(bad)[..],
        [Signal {
            body: Body::SystemError(_),
            ..
        }]
    ));
}

#[test]
fn history_answers_show_each_set_whole_and_leave_the_sets_seen_alone() {
    let bot = mapper();
    let xml = "<message xmlns='jabber:client' from='carol@example.org/phone' \
               to='bot@example.org' type='chat' id='h-1'>\
               <reactions xmlns='urn:xmpp:reactions:0' id='q-1'><reaction>👍</reaction>\
               </reactions></message>";
    let archived = bot.archived_signals(message(xml), None);
    assert_eq!(archived.len(), 1);
    assert_eq!(what(&archived[0]), "reaction q-1 👍");
    // Live, the same set is still new: the history did not count as seen.
    assert_eq!(bot.inbound_signals(message(xml)).len(), 1);
}

#[test]
fn in_rooms_reactions_name_the_rooms_ids_both_ways() {
    let bot = mapper_in_room();
    let channel: Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
    // The room reflects the bot's message with the id it gave it.
    let reflected = message(
        "<message xmlns='jabber:client' from='r@rooms.example.org/bot' type='groupchat' \
         id='mine-1'><body>poll</body><origin-id xmlns='urn:xmpp:sid:0' id='mine-1'/>\
         <stanza-id xmlns='urn:xmpp:sid:0' by='r@rooms.example.org' id='room-7'/></message>",
    );
    assert!(bot.inbound_signals(reflected).is_empty());
    let thumbs = Signal::new(ChattyMessage::reaction("mine-1".into(), "👍")).to(channel.clone());
    let m = one_message(&bot, &thumbs);
    assert_eq!(
        m.type_,
        tokio_xmpp::parsers::message::MessageType::Groupchat
    );
    assert_eq!(reactions_of(&m).unwrap().0, "room-7");
    let withdraw = Signal::new(ChattyMessage::retraction(thumbs.id().clone())).to(channel);
    assert_eq!(
        reactions_of(&one_message(&bot, &withdraw)).unwrap(),
        ("room-7".to_owned(), Vec::new())
    );

    // Someone's message, and their reaction to it by the room's id.
    let said = message(
        "<message xmlns='jabber:client' from='r@rooms.example.org/alice' type='groupchat' \
         id='a-1'><body>hi</body><origin-id xmlns='urn:xmpp:sid:0' id='a-1'/>\
         <stanza-id xmlns='urn:xmpp:sid:0' by='r@rooms.example.org' id='room-8'/></message>",
    );
    assert_eq!(bot.inbound_signals(said).len(), 1);
    let reaction = message(
        "<message xmlns='jabber:client' from='r@rooms.example.org/carol' type='groupchat' \
         id='c-1'><reactions xmlns='urn:xmpp:reactions:0' id='room-8'>\
         <reaction>👋</reaction></reactions>\
         <stanza-id xmlns='urn:xmpp:sid:0' by='r@rooms.example.org' id='room-9'/></message>",
    );
    let [signal] = <[Signal; 1]>::try_from(bot.inbound_signals(reaction)).unwrap();
    assert_eq!(what(&signal), "reaction a-1 👋");
    assert_eq!(
        signal.meta.origin.unwrap().to_string(),
        "xmpp:r@rooms.example.org/carol;kind=individual"
    );
}
