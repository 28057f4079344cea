//! Message Reactions (XEP-0444) against the test Prosody: reactions both ways between two
//! sessions one-to-one and in a room, one withdrawn, and the wire format against a plain
//! tokio-xmpp client, and both sets remembered across a restart under a journal. See the crate
//! README to run them.

mod common;

use chatty_core::journal::MemoryJournal;
use chatty_core::{Address, Body, EditKind, Message, Signal, SignalId, Status, StatusChange};
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::{RoomConfig, XmppSession};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Lang, Message as XmppMessage, MessageType};
use tokio_xmpp::parsers::muc::Muc;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

use common::{WAIT, bot};

/// What a signal is: `reaction OF KEY`, `retraction OF`, or its text.
fn what(signal: &Signal) -> String {
    match &signal.body {
        Body::Message(m) => match &m.edit {
            Some(edit) if edit.kind == EditKind::Reaction => {
                format!("reaction {} {}", edit.of, m.text)
            }
            Some(edit) if edit.kind == EditKind::Retraction => format!("retraction {}", edit.of),
            _ => m.text.clone(),
        },
        other => format!("{other:?}"),
    }
}

/// The next signal of the bot that is a message (reactions and retractions included), skipping
/// the rest (presence, rooms' subjects and occupants).
async fn next_message(bot: &common::Bot) -> Signal {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match bot.remote.next_within(left).await {
            Some(signal) if matches!(signal.body, Body::Message(_)) && !signal.is_automatic() => {
                return signal;
            }
            Some(_) => {}
            None => panic!("no message within {WAIT:?}"),
        }
    }
}

/// The id a `<reactions>` names and its keys, if the message carries one.
fn reactions_of(m: &XmppMessage) -> Option<(String, Vec<String>)> {
    let element = m
        .payloads
        .iter()
        .find(|p| p.is("reactions", ns::REACTIONS))?;
    let keys = element.children().map(Element::text).collect();
    Some((element.attr("id")?.to_owned(), keys))
}

fn xml(text: &str) -> Element {
    text.parse().expect("well-formed XML")
}

/// The bot, whose set for the message `target` of `person` (the `client`) holds 🚀 (its reaction
/// `rocket`), adds 👀 and then withdraws 🚀: the client sees the whole set each time.
async fn add_eyes_then_withdraw_rocket(
    chatty: &mut common::Bot,
    client: &mut PlainClient,
    person: &Address,
    target: &str,
    rocket: SignalId,
) {
    let has_reactions = |m: &XmppMessage| reactions_of(m).is_some();
    chatty
        .send(Signal::new(Message::reaction(target.into(), "👀")).to(person.clone()))
        .await;
    let m = client.next_message(has_reactions).await;
    assert_eq!(
        reactions_of(&m),
        Some((target.into(), vec!["🚀".into(), "👀".into()]))
    );
    chatty
        .send(Signal::new(Message::retraction(rocket)).to(person.clone()))
        .await;
    let m = client.next_message(has_reactions).await;
    assert_eq!(reactions_of(&m), Some((target.into(), vec!["👀".into()])));
}

/// A client's message `id` to `to` (a JID) with its whole set of reactions `keys` to the message
/// `target`, and a store hint, as a client sends them.
fn reactions_to(to: &str, id: &str, target: &str, keys: &[&str]) -> XmppMessage {
    let keys: String = keys
        .iter()
        .map(|k| format!("<reaction>{k}</reaction>"))
        .collect();
    let mut m = XmppMessage::chat(Some(Jid::new(to).unwrap()));
    m.id = Some(Id(id.into()));
    m.payloads.push(xml(&format!(
        "<reactions xmlns='urn:xmpp:reactions:0' id='{target}'>{keys}</reactions>"
    )));
    m.payloads.push(xml("<store xmlns='urn:xmpp:hints'/>"));
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_one_to_one_both_ways_and_one_withdrawn() {
    let mut a = bot(common::config(&common::account())).await;
    let mut b = bot(common::config(&common::account())).await;

    let poll = a
        .send(Signal::new(Message::text("lunch at noon?")).to(b.address.clone()))
        .await;
    let heard = next_message(&b).await;
    assert_eq!(heard.id(), &poll);

    // B reacts twice, then withdraws the first: A sees each change once, with B's ids.
    let thumbs = b
        .send(Signal::new(Message::reaction(poll.clone(), "👍")).to(a.address.clone()))
        .await;
    let got = next_message(&a).await;
    assert_eq!(what(&got), format!("reaction {poll} 👍"));
    assert_eq!(got.id(), &thumbs);
    assert_eq!(got.meta.origin.as_ref(), Some(&b.address));
    let party = b
        .send(Signal::new(Message::reaction(poll.clone(), "🎉")).to(a.address.clone()))
        .await;
    let got = next_message(&a).await;
    assert_eq!(
        what(&got),
        format!("reaction {poll} 🎉"),
        "only the new one"
    );
    assert_eq!(got.id(), &party);
    let withdrawal = b
        .send(Signal::new(Message::retraction(thumbs.clone())).to(a.address.clone()))
        .await;
    let got = next_message(&a).await;
    assert_eq!(what(&got), format!("retraction {thumbs}"));
    assert_eq!(got.id(), &withdrawal);

    // And the other way: A reacts to B's answer.
    let answer = b
        .send(Signal::new(Message::text("sure")).to(a.address.clone()))
        .await;
    assert_eq!(next_message(&a).await.id(), &answer);
    let ok = a
        .send(Signal::new(Message::reaction(answer.clone(), "👌")).to(b.address.clone()))
        .await;
    let got = next_message(&b).await;
    assert_eq!(what(&got), format!("reaction {answer} 👌"));
    assert_eq!(got.id(), &ok);
    a.finish().await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_standard_stanzas_for_a_plain_client() {
    let bot_account = common::account();
    let client_account = common::account();
    let mut chatty = bot(common::config(&bot_account)).await;
    let mut client = PlainClient::connect(&client_account.jid, &client_account.password).await;
    let person: Address = format!("xmpp:{}", client_account.jid).parse().unwrap();

    // The client's message, and the bot's reactions to it: the whole set each time, with a
    // store hint, naming the message's id.
    let mut said = XmppMessage::chat(Some(Jid::new(&bot_account.jid).unwrap()))
        .with_body(Lang::from("en"), "deploy?".into());
    said.id = Some(Id("plain-1".into()));
    client.send(said).await;
    assert_eq!(next_message(&chatty).await.id().as_str(), "plain-1");
    let has_reactions = |m: &XmppMessage| reactions_of(m).is_some();
    let rocket = chatty
        .send(Signal::new(Message::reaction("plain-1".into(), "🚀")).to(person.clone()))
        .await;
    let m = client.next_message(has_reactions).await;
    assert_eq!(
        reactions_of(&m),
        Some(("plain-1".into(), vec!["🚀".into()]))
    );
    assert!(m.payloads.iter().any(|p| p.is("store", "urn:xmpp:hints")));
    add_eyes_then_withdraw_rocket(&mut chatty, &mut client, &person, "plain-1", rocket).await;

    // The client's reactions to the bot's message, as a client sends them.
    let question = chatty
        .send(Signal::new(Message::text("ready?")).to(person.clone()))
        .await;
    client
        .next_message(|m| m.get_best_body(vec![]).is_some_and(|(_, b)| b == "ready?"))
        .await;
    let react =
        |id: &str, keys: &[&str]| reactions_to(&bot_account.jid, id, question.as_str(), keys);
    client.send(react("r-1", &["👍"])).await;
    let got = next_message(&chatty).await;
    assert_eq!(what(&got), format!("reaction {question} 👍"));
    assert_eq!(got.id().as_str(), "r-1");
    client.send(react("r-2", &[])).await;
    let got = next_message(&chatty).await;
    assert_eq!(what(&got), "retraction r-1");
    assert_eq!(got.id().as_str(), "r-2");
    chatty.finish().await;
    client.close().await;
}

/// A room of its own.
fn room_jid() -> String {
    let unique: String = SignalId::generate()
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("reactions-{unique}@rooms.{}", common::server().domain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_in_a_room_name_the_rooms_ids_and_arrive_as_reactions() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let room = room_jid();
    let room_address: Address = format!("xmpp:{room};kind=channel").parse().unwrap();
    let alice_account = common::account();
    let mut alice = bot(
        common::config(&alice_account).with_room(RoomConfig::new(&room).with_nick("alice-bot"))
    )
    .await;
    let mut bob = bot(common::config(&common::account())).await;
    let joined = |signal: &Signal| {
        matches!(
            &signal.body,
            Body::StatusChange(StatusChange {
                status: Status::InRoom { present: true, .. },
                ..
            })
        )
    };
    // Alice in first (her own join), then Bob (Alice sees him come).
    while !joined(&alice.remote.next().await.expect("alice's join")) {}
    bob.send(Signal::new(StatusChange::new(Status::InRoom {
        room: room_address.clone(),
        present: true,
        role: None,
    })))
    .await;
    while !joined(&bob.remote.next().await.expect("bob's join")) {}
    while !joined(
        &alice
            .remote
            .next()
            .await
            .expect("bob's join, seen by alice"),
    ) {}

    // A plain client in the room too, to see the wire.
    let carol_account = common::account();
    let mut carol = PlainClient::connect(&carol_account.jid, &carol_account.password).await;
    let join = Presence::available()
        .with_to(Jid::new(&format!("{room}/carol")).unwrap())
        .with_payloads(vec![Muc::new().into()]);
    carol.send(join).await;
    let carol_came = |signal: &Signal| {
        joined(signal)
            && signal
                .meta
                .origin
                .as_ref()
                .is_some_and(|o| o.id().ends_with("/carol"))
    };
    while !carol_came(&alice.remote.next().await.expect("carol's join")) {}

    let poll = alice
        .send(Signal::new(Message::text("pizza?")).to(room_address.clone()))
        .await;
    let heard = next_message(&bob).await;
    assert_eq!(heard.id(), &poll);
    let original = carol
        .next_message(|m| m.type_ == MessageType::Groupchat && m.get_best_body(vec![]).is_some())
        .await;
    let room_id = original
        .payloads
        .iter()
        .find(|p| p.is("stanza-id", ns::SID) && p.attr("by") == Some(room.as_str()))
        .and_then(|p| p.attr("id"))
        .expect("the room gives ids")
        .to_owned();

    let yum = bob
        .send(Signal::new(Message::reaction(poll.clone(), "🍕")).to(room_address.clone()))
        .await;
    let wire = carol.next_message(|m| reactions_of(m).is_some()).await;
    assert_eq!(
        reactions_of(&wire),
        Some((room_id, vec!["🍕".to_owned()])),
        "the room's id for the message (XEP-0444)"
    );
    let got = next_message(&alice).await;
    assert_eq!(
        what(&got),
        format!("reaction {poll} 🍕"),
        "the id Alice knows"
    );
    assert_eq!(got.id(), &yum);
    assert_eq!(got.meta.visible_to, vec![room_address.clone()]);
    let withdrawal = bob
        .send(Signal::new(Message::retraction(yum.clone())).to(room_address.clone()))
        .await;
    let got = next_message(&alice).await;
    assert_eq!(what(&got), format!("retraction {yum}"));
    assert_eq!(got.id(), &withdrawal);
    alice.finish().await;
    bob.finish().await;
    carol.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_sets_are_remembered_across_a_restart_under_a_journal() {
    let bot_account = common::account();
    let client_account = common::account();
    let journal = MemoryJournal::new();
    let start = || {
        let session = XmppSession::new(common::config(&bot_account)).expect("a valid config");
        let address = session.address().clone();
        chatty_test::run_journaled_bot(session, address, WAIT, journal.clone())
    };
    let mut chatty = start().await;
    let mut client = PlainClient::connect(&client_account.jid, &client_account.password).await;
    let person: Address = format!("xmpp:{}", client_account.jid).parse().unwrap();
    let react = |id: &str, keys: &[&str]| reactions_to(&bot_account.jid, id, "kept-1", keys);
    let has_reactions = |m: &XmppMessage| reactions_of(m).is_some();

    // First run: the client says something and reacts to it; the bot reacts too.
    let mut said = XmppMessage::chat(Some(Jid::new(&bot_account.jid).unwrap()))
        .with_body(Lang::from("en"), "ship it?".into());
    said.id = Some(Id("kept-1".into()));
    client.send(said).await;
    assert_eq!(next_message(&chatty).await.id().as_str(), "kept-1");
    client.send(react("kept-r1", &["👍"])).await;
    let got = next_message(&chatty).await;
    assert_eq!(what(&got), "reaction kept-1 👍");
    let rocket = chatty
        .send(Signal::new(Message::reaction("kept-1".into(), "🚀")).to(person.clone()))
        .await;
    let m = client.next_message(has_reactions).await;
    assert_eq!(reactions_of(&m).unwrap().1, ["🚀"]);
    chatty.finish().await;

    // Second run on the same journal: the client's set grows by one key, and only that key
    // is a new reaction (with an empty memory, 👍 would come again first, as `kept-r2#1`).
    let mut chatty = start().await;
    client.send(react("kept-r2", &["👍", "❤"])).await;
    let got = next_message(&chatty).await;
    assert_eq!(what(&got), "reaction kept-1 ❤");
    assert_eq!(got.id().as_str(), "kept-r2");
    // The bot's own set still holds its reaction of the first run; withdrawing it by its id
    // sends the set without it (not a retraction of a message).
    add_eyes_then_withdraw_rocket(&mut chatty, &mut client, &person, "kept-1", rocket).await;
    // And the client's withdrawal of its first-run key withdraws that run's signal.
    client.send(react("kept-r3", &["❤"])).await;
    let got = next_message(&chatty).await;
    assert_eq!(what(&got), "retraction kept-r1");
    chatty.finish().await;
    client.close().await;
}
