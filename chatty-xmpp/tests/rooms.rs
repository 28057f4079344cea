//! Multi-user rooms (XEP-0045) and the queries that need the server, against the test Prosody:
//! joining from the config and at run time, groupchat both ways with the right origin and no
//! reflected echo, occupants' presence, members and roles, a plain tokio-xmpp client in the same
//! room, an occupant whose nickname has a space, address kinds through disco#info, delivery
//! receipts (XEP-0184) and contacts' presence.

mod common;

use std::time::Duration;

use chatty_core::{
    Address, AddressKind, Availability, Body, DeliveryStatus, Edit, EditKind, Message, SendError,
    Signal, SignalId, Status, StatusChange,
};
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::RoomConfig;
use common::{WAIT, bot};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message as XmppMessage, MessageType};
use tokio_xmpp::parsers::muc::Muc;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

/// A room of its own for each test.
fn room_jid(test: &str) -> String {
    let unique = chatty_core::SignalId::generate();
    let unique: String = unique
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{test}-{unique}@rooms.{}", common::server().domain)
}

fn channel(jid: &str) -> Address {
    format!("xmpp:{jid};kind=channel").parse().unwrap()
}

/// The next signal of the bot that satisfies `pick`, skipping the rest.
async fn next_matching(bot: &common::Bot, what: &str, pick: impl Fn(&Signal) -> bool) -> Signal {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match bot.remote.next_within(left).await {
            Some(signal) if pick(&signal) => return signal,
            Some(_) => {}
            None => panic!("{what}: nothing within {WAIT:?}"),
        }
    }
}

fn in_room(signal: &Signal, nick: &str, present: bool) -> bool {
    matches!(&signal.body, Body::StatusChange(StatusChange { status: Status::InRoom { present: p, .. }, .. }) if *p == present)
        && signal
            .meta
            .origin
            .as_ref()
            .is_some_and(|o| o.id().ends_with(&format!("/{nick}")))
}

/// The text of a message a person sent; the room's own (its subject on join, notices) are
/// marked automatic and skipped.
fn message_text(signal: &Signal) -> Option<&str> {
    match &signal.body {
        Body::Message(m) if !signal.is_automatic() => Some(&m.text),
        _ => None,
    }
}

#[tokio::test]
async fn two_bots_talk_in_a_room_with_the_right_origin_and_no_echo() {
    let room = room_jid("talk");
    let room_address = channel(&room);
    let alice_account = common::account();
    let bob_account = common::account();
    let alice_nick = "alice-bot";
    // Alice joins from her config; Bob at run time.
    let mut alice =
        bot(common::config(&alice_account).with_room(RoomConfig::new(&room).with_nick(alice_nick)))
            .await;
    next_matching(&alice, "alice's own join", |s| in_room(s, alice_nick, true)).await;
    let mut bob = bot(common::config(&bob_account)).await;
    let bob_nick = bob_account.jid.split('@').next().unwrap().to_owned();
    bob.send(Signal::new(StatusChange::new(Status::InRoom {
        room: room_address.clone(),
        present: true,
        role: None,
    })))
    .await;
    let joined = next_matching(&alice, "bob's join", |s| in_room(s, &bob_nick, true)).await;
    assert_eq!(joined.meta.visible_to, vec![room_address.clone()]);
    let Body::StatusChange(change) = &joined.body else {
        unreachable!()
    };
    let Status::InRoom { room: r, role, .. } = &change.status else {
        unreachable!()
    };
    assert_eq!(r, &room_address);
    assert_eq!(role.as_deref(), Some("participant"));
    next_matching(&bob, "bob's own join", |s| in_room(s, &bob_nick, true)).await;

    // Bob speaks in the room; Alice hears it from room/bob, Bob hears no echo of it.
    let said = bob
        .send(Signal::new(Message::text("hello room")).to(room_address.clone()))
        .await;
    let heard = next_matching(&alice, "bob's message", |s| message_text(s).is_some()).await;
    assert_eq!(message_text(&heard), Some("hello room"));
    assert_eq!(heard.id(), &said, "the origin-id is kept");
    assert_eq!(
        heard.meta.origin.as_ref().map(|o| o.id().to_owned()),
        Some(format!("{room}/{bob_nick}"))
    );
    assert_eq!(heard.meta.visible_to, vec![room_address.clone()]);
    // Alice answers: the reply goes to the room, in response to Bob's message.
    let answer = heard.reply(Message::text("hello bob"));
    assert_eq!(answer.meta.addressees, vec![room_address.clone()]);
    alice.send(answer).await;
    let got = next_matching(&bob, "alice's answer", |s| message_text(s).is_some()).await;
    assert_eq!(
        message_text(&got),
        Some("hello bob"),
        "bob got no echo of his own first"
    );
    assert_eq!(got.meta.response_to.as_ref(), Some(&said));

    // Members, roles, the bot's own status.
    let handle = alice.remote.handle().await;
    let mut members: Vec<String> = handle
        .members(&room_address)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id().rsplit('/').next().unwrap().to_owned())
        .collect();
    members.sort();
    let mut expected = vec![alice_nick.to_owned(), bob_nick.clone()];
    expected.sort();
    assert_eq!(members, expected);
    let bob_in_room: Address = format!("xmpp:{room}/{bob_nick}").parse().unwrap();
    let status = handle
        .member_status(&bob_in_room, &room_address)
        .await
        .unwrap();
    assert!(status.present);
    let own = handle.own_status(&room_address).await.unwrap();
    assert!(own.present);
    // The room was created by Alice, who is its owner and so a moderator.
    assert_eq!(own.role.as_deref(), Some("moderator"));
    assert_eq!(
        handle.address_kind(&room_address).await.unwrap(),
        AddressKind::Channel
    );

    // A subject would set the room's topic: refused by the send for a room.
    let subject = Signal::new(Message::text("x").with_subject("topic")).to(room_address.clone());
    assert!(
        matches!(
            handle.send(subject).await,
            Err(SendError::Unsupported { .. })
        ),
        "the subject refused"
    );

    // Bob leaves.
    bob.send(Signal::new(StatusChange::new(Status::InRoom {
        room: room_address.clone(),
        present: false,
        role: None,
    })))
    .await;
    next_matching(&alice, "bob's leave", |s| in_room(s, &bob_nick, false)).await;
    let status = handle
        .member_status(&bob_in_room, &room_address)
        .await
        .unwrap();
    assert!(!status.present);
    alice.finish().await;
    bob.finish().await;
}

/// A bot that joined `room` as "chatty" from its config, and a plain client that joined it as
/// "carol" (the bot has seen her come in).
async fn bot_and_carol_in(room: &str) -> (common::Bot, PlainClient) {
    bot_and_person_in(room, "carol", "carol").await
}

/// A bot that joined `room` as "chatty" from its config, and a plain client that joined it as
/// `nick`, which the bot's addresses write as `nick_in_address` (the bot has seen it come in).
async fn bot_and_person_in(
    room: &str,
    nick: &str,
    nick_in_address: &str,
) -> (common::Bot, PlainClient) {
    let bot_account = common::account();
    let chatty =
        bot(common::config(&bot_account).with_room(RoomConfig::new(room).with_nick("chatty")))
            .await;
    next_matching(&chatty, "the bot's join", |s| in_room(s, "chatty", true)).await;
    let person = common::account();
    let mut client = PlainClient::connect(&person.jid, &person.password).await;
    let join = Presence::available()
        .with_to(Jid::new(&format!("{room}/{nick}")).unwrap())
        .with_payloads(vec![Muc::new().into()]);
    client.send(join).await;
    next_matching(&chatty, "the person's join", |s| {
        in_room(s, nick_in_address, true)
    })
    .await;
    (chatty, client)
}

fn xml(text: &str) -> Element {
    text.parse().expect("well-formed XML")
}

/// The id the room gave a message it passed on (XEP-0359 `stanza-id` by the room).
fn room_stanza_id(message: &XmppMessage, room: &str) -> Option<String> {
    message
        .payloads
        .iter()
        .find(|p| p.is("stanza-id", ns::SID) && p.attr("by") == Some(room))
        .and_then(|p| p.attr("id"))
        .map(str::to_owned)
}

#[tokio::test]
async fn corrections_and_retractions_in_a_room_name_the_rooms_ids() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let room = room_jid("edits");
    let room_address = channel(&room);
    let (mut chatty, mut client) = bot_and_carol_in(&room).await;
    let groupchat_with = |text: &'static str| {
        move |m: &XmppMessage| {
            m.type_ == MessageType::Groupchat
                && m.get_best_body(vec![]).is_some_and(|(_, b)| b == text)
        }
    };

    // The bot says something, corrects it, and retracts it: the correction names the message's
    // id (XEP-0308), the retraction the id the room gave it (XEP-0424), with a fallback body.
    let first = chatty
        .send(Signal::new(Message::text("teh answer")).to(room_address.clone()))
        .await;
    let original = client.next_message(groupchat_with("teh answer")).await;
    let room_id = room_stanza_id(&original, &room).expect("the room (muc_mam) gives ids");
    assert_ne!(room_id, first.as_str());
    chatty
        .send(
            Signal::new(Message::text("the answer").correcting(first.clone()))
                .to(room_address.clone()),
        )
        .await;
    let corrected = client.next_message(groupchat_with("the answer")).await;
    let replace = corrected
        .payloads
        .iter()
        .find(|p| p.is("replace", ns::MESSAGE_CORRECT))
        .expect("a <replace/>");
    assert_eq!(replace.attr("id"), Some(first.as_str()));
    chatty
        .send(Signal::new(Message::retraction(first.clone())).to(room_address.clone()))
        .await;
    let retraction = client
        .next_message(|m| {
            m.payloads
                .iter()
                .any(|p| p.is("retract", "urn:xmpp:message-retract:1"))
        })
        .await;
    let retract = retraction
        .payloads
        .iter()
        .find(|p| p.is("retract", "urn:xmpp:message-retract:1"))
        .unwrap();
    assert_eq!(retract.attr("id"), Some(room_id.as_str()));
    assert!(
        retraction
            .payloads
            .iter()
            .any(|p| p.is("fallback", "urn:xmpp:fallback:0")),
        "a fallback marker for clients without XEP-0424"
    );

    // Carol does the same, as a standard client would: the bot sees both edits name the
    // message it heard.
    let mut said = XmppMessage::groupchat(Some(Jid::new(&room).unwrap()));
    said.id = Some(tokio_xmpp::parsers::message::Id("carol-1".into()));
    said.bodies.insert(Lang::new(), "helo".into());
    client.send(said).await;
    let carols = client.next_message(groupchat_with("helo")).await;
    let carols_room_id = room_stanza_id(&carols, &room).expect("a room id");
    let heard = next_matching(&chatty, "carol's message", |s| {
        message_text(s) == Some("helo")
    })
    .await;
    assert_eq!(heard.id().as_str(), "carol-1");
    let mut fix = XmppMessage::groupchat(Some(Jid::new(&room).unwrap()));
    fix.bodies.insert(Lang::new(), "hello".into());
    fix.payloads.push(xml(
        "<replace xmlns='urn:xmpp:message-correct:0' id='carol-1'/>",
    ));
    client.send(fix).await;
    let fixed = next_matching(&chatty, "carol's correction", |s| {
        message_text(s) == Some("hello")
    })
    .await;
    let Body::Message(m) = &fixed.body else {
        unreachable!()
    };
    assert_eq!(m.edit, Some(Edit::correction(SignalId::from("carol-1"))));
    let mut withdraw = XmppMessage::groupchat(Some(Jid::new(&room).unwrap()));
    withdraw
        .bodies
        .insert(Lang::new(), "carol retracted a message".into());
    withdraw.payloads.push(xml(&format!(
        "<retract xmlns='urn:xmpp:message-retract:1' id='{carols_room_id}'/>"
    )));
    withdraw.payloads.push(xml(
        "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>",
    ));
    client.send(withdraw).await;
    let withdrawn = next_matching(&chatty, "carol's retraction", |s| {
        matches!(&s.body, Body::Message(m) if m.edit.as_ref().is_some_and(|e| e.kind == EditKind::Retraction))
    })
    .await;
    let Body::Message(m) = &withdrawn.body else {
        unreachable!()
    };
    assert_eq!(m.edit.as_ref().map(|e| e.of.as_str()), Some("carol-1"));
    assert_eq!(m.text, "", "the fallback body is not carol's text");
    chatty.finish().await;
}

#[tokio::test]
async fn a_plain_client_in_the_room_is_heard_and_hears_the_bot() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let room = room_jid("plain");
    let (mut chatty, mut client) = bot_and_carol_in(&room).await;

    let mut said = XmppMessage::groupchat(Some(Jid::new(&room).unwrap()));
    said.bodies.insert(Lang::new(), "hi chatty".into());
    client.send(said).await;
    let heard = next_matching(&chatty, "carol's message", |s| message_text(s).is_some()).await;
    assert_eq!(message_text(&heard), Some("hi chatty"));
    assert_eq!(
        heard.meta.origin.as_ref().map(|o| o.id().to_owned()),
        Some(format!("{room}/carol"))
    );
    chatty.send(heard.reply(Message::text("hi carol"))).await;
    let answer = client
        .next_message(|m| {
            m.type_ == MessageType::Groupchat
                && m.get_best_body(vec![])
                    .is_some_and(|(_, b)| b == "hi carol")
        })
        .await;
    assert_eq!(
        answer.from.map(|f| f.to_string()),
        Some(format!("{room}/chatty"))
    );
    chatty.finish().await;
}

#[tokio::test]
async fn an_occupant_whose_nickname_has_a_space_is_heard_answered_and_reached_in_private() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let room = room_jid("spaces");
    let room_address = channel(&room);
    // The nickname's space is percent-encoded in the address (RFC 5122), as XMPP URIs write it.
    let (mut chatty, mut client) = bot_and_person_in(&room, "John Smith", "John%20Smith").await;
    let john: Address = format!("xmpp:{room}/John%20Smith;kind=individual")
        .parse()
        .unwrap();

    let mut said = XmppMessage::groupchat(Some(Jid::new(&room).unwrap()));
    said.bodies.insert(Lang::new(), "hello, I am John".into());
    client.send(said).await;
    let heard = next_matching(&chatty, "john's message", |s| {
        matches!(s.body, Body::Message(_) | Body::SystemError(_)) && !s.is_automatic()
    })
    .await;
    assert_eq!(
        message_text(&heard),
        Some("hello, I am John"),
        "a message, not a system error: {heard:?}"
    );
    let origin = heard.meta.origin.clone().expect("an origin");
    assert_eq!(origin, john);
    assert_eq!(origin.to_string(), john.to_string());
    assert_eq!(heard.meta.visible_to, vec![room_address.clone()]);

    // The answer goes to the room.
    chatty.send(heard.reply(Message::text("hi John"))).await;
    let answer = client
        .next_message(|m| {
            m.type_ == MessageType::Groupchat
                && m.get_best_body(vec![]).is_some_and(|(_, b)| b == "hi John")
        })
        .await;
    assert_eq!(
        answer.from.map(|f| f.to_string()),
        Some(format!("{room}/chatty"))
    );

    // A private message to John's address reaches him through the room.
    chatty
        .send(Signal::new(Message::text("just between us")).to(origin.clone()))
        .await;
    let private = client
        .next_message(|m| {
            m.get_best_body(vec![])
                .is_some_and(|(_, b)| b == "just between us")
        })
        .await;
    assert_eq!(private.type_, MessageType::Chat);
    assert_eq!(
        private.from.map(|f| f.to_string()),
        Some(format!("{room}/chatty"))
    );

    // The queries about him take his address too.
    let handle = chatty.remote.handle().await;
    let members = handle.members(&room_address).await.unwrap();
    assert!(members.contains(&john), "{members:?}");
    let status = handle.member_status(&john, &room_address).await.unwrap();
    assert!(status.present);
    assert_eq!(status.role.as_deref(), Some("participant"));
    assert_eq!(
        handle.address_kind(&john).await.unwrap(),
        AddressKind::Individual
    );
    chatty.finish().await;
}

#[tokio::test]
async fn receipts_give_delivery_status_and_presence_is_remembered() {
    let alice_account = common::account();
    let bob_account = common::account();
    let mut alice = bot(common::config(&alice_account)).await;
    let mut bob = bot(common::config(&bob_account)).await;
    let bob_address: Address = format!("xmpp:{}", bob_account.jid).parse().unwrap();
    let alice_address: Address = format!("xmpp:{}", alice_account.jid).parse().unwrap();

    let sent = alice
        .send(Signal::new(Message::text("did you get this?")).to(bob_address.clone()))
        .await;
    next_matching(&bob, "the message", |s| message_text(s).is_some()).await;
    let handle = alice.remote.handle().await;
    // Bob's session sends the receipt by itself; it arrives soon after.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = handle.delivery_status(&sent).await.unwrap();
        if status == DeliveryStatus::Delivered {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status:?} after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        handle.address_kind(&bob_address).await.unwrap(),
        AddressKind::Individual
    );

    // Bob tells Alice he is away; Alice's session remembers it.
    let mut away = StatusChange::new(Status::Presence {
        availability: Availability::Away,
    });
    away.message = Some("lunch".into());
    bob.send(Signal::new(away).to(alice_address)).await;
    next_matching(&alice, "bob's presence", |s| {
        matches!(
            &s.body,
            Body::StatusChange(StatusChange {
                status: Status::Presence {
                    availability: Availability::Away
                },
                ..
            })
        )
    })
    .await;
    let status = handle.status(&bob_address).await.unwrap();
    assert_eq!(status.availability, Availability::Away);
    assert_eq!(status.message.as_deref(), Some("lunch"));
    alice.finish().await;
    bob.finish().await;
}
