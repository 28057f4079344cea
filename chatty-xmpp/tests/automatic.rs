//! Automatic traffic (RFC 3834) as XMPP shows it, against the test Prosody: what a machine sent
//! reaches the bot marked (`Metadata::automatic`), so that bots do not answer it, and what a
//! person sent does not: headlines, the server's errors, a room's subject, notices and
//! invitations, other bots (disco#info identity `client/bot`); a room's history never arrives;
//! `reply_all` one-to-one reaches the person once and never the bot itself. See the crate README
//! to run them.

mod common;

use std::time::Duration;

use chatty_core::{
    Address, AddressKind, Automatic, Body, FailureKind, Message, Signal, SignalKind, Status,
    StatusChange,
};
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::RoomConfig;
use common::{WAIT, bot};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::caps::{self, Caps};
use tokio_xmpp::parsers::disco::{DiscoInfoResult, Identity};
use tokio_xmpp::parsers::hashes::Algo;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Lang, Message as XmppMessage};
use tokio_xmpp::parsers::muc::Muc;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

/// A plain tokio-xmpp client (no Chatty) on an account of its own.
async fn plain_client() -> PlainClient {
    let account = common::account();
    PlainClient::connect(&account.jid, &account.password).await
}

/// The bot's next signal that satisfies `pick`, skipping the rest; every skipped one is kept.
async fn until(
    bot: &common::Bot,
    what: &str,
    pick: impl Fn(&Signal) -> bool,
) -> (Signal, Vec<Signal>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match bot.remote.next_within(left).await {
            Some(signal) if pick(&signal) => return (signal, skipped),
            Some(signal) => skipped.push(signal),
            None => panic!("{what}: nothing within {WAIT:?}; skipped {skipped:?}"),
        }
    }
}

fn text(signal: &Signal) -> Option<&str> {
    match &signal.body {
        Body::Message(m) => Some(&m.text),
        _ => None,
    }
}

/// A message with only a subject: a room's subject (on join, or changed).
fn subject(signal: &Signal) -> Option<&str> {
    match &signal.body {
        Body::Message(m) if m.text.is_empty() => m.subject.as_deref(),
        _ => None,
    }
}

fn chat(to: &str, body: &str) -> XmppMessage {
    XmppMessage::chat(Some(Jid::new(to).expect("a JID"))).with_body(Lang::new(), body.into())
}

fn groupchat(room: &str) -> XmppMessage {
    XmppMessage::groupchat(Some(Jid::new(room).expect("a JID")))
}

fn xml(text: &str) -> Element {
    text.parse().expect("well-formed XML")
}

/// A room of its own for each test.
fn room_jid(test: &str) -> String {
    let unique: String = chatty_core::SignalId::generate()
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{test}-{unique}@rooms.{}", common::server().domain)
}

async fn join(client: &mut PlainClient, room: &str, nick: &str) {
    let join = Presence::available()
        .with_to(Jid::new(&format!("{room}/{nick}")).expect("a JID"))
        .with_payloads(vec![Muc::new().into()]);
    client.send(join).await;
    // The room answers with the occupants' presence, the own one last (status 110), then the
    // subject: wait for the subject, so that what follows is live.
    client
        .next_message(|m| !m.subjects.is_empty() && m.bodies.is_empty())
        .await;
}

/// A client's disco#info, with one identity of category `client`.
fn client_info(kind: &str) -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", kind, "en", "Plain")],
        features: [ns::DISCO_INFO.to_owned()].into(),
        extensions: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headline_is_generated_and_a_chat_message_is_not() {
    let chatty = bot(common::config(&common::account())).await;
    let mut client = plain_client().await;
    let to = Jid::new(chatty.address.id()).expect("a JID");

    let headline = XmppMessage::headline(Some(to.clone())).with_body(Lang::new(), "news".into());
    client.send(headline).await;
    client.send(chat(to.as_str(), "hello")).await;

    let news = chatty.next_io().await;
    assert_eq!(text(&news), Some("news"));
    assert_eq!(news.meta.automatic, Some(Automatic::Generated));
    let hello = chatty.next_io().await;
    assert_eq!(text(&hello), Some("hello"));
    assert_eq!(hello.meta.automatic, None, "a person's chat message");
    chatty.finish().await;
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_stanzas_from_the_server_and_an_account_are_reports() {
    let mut chatty = bot(common::config(&common::account())).await;
    let domain = common::server().domain;
    // Prosody answers a message to itself (a JID without a local part) with an error from it.
    for to in [domain.clone(), format!("nobody@{domain}")] {
        let address: Address = format!("xmpp:{to}").parse().expect("an address");
        let id = chatty.send(Signal::message("anyone?").to(address)).await;
        let failure = chatty
            .remote
            .next_of(SignalKind::SendFailure)
            .await
            .expect("a send failure");
        let Body::SendFailure(f) = &failure.body else {
            unreachable!()
        };
        assert_eq!(f.failed, id);
        assert_eq!(f.kind, FailureKind::UnknownAddressee, "{f:?}");
        assert_eq!(failure.meta.automatic, Some(Automatic::Report), "{to}");
        assert_eq!(
            failure.meta.origin.as_ref().map(Address::id),
            Some(to.as_str())
        );
    }
    chatty.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_own_traffic_is_generated_and_its_history_never_arrives() {
    let room = room_jid("auto");
    let mut carol = plain_client().await;
    join(&mut carol, &room, "carol").await;
    // Said before the bot comes, and the room's subject.
    let mut said = groupchat(&room);
    said.bodies.insert(Lang::new(), "earlier words".into());
    carol.send(said).await;
    let mut topic = groupchat(&room);
    topic.subjects.insert(Lang::new(), "the topic".into());
    carol.send(topic).await;
    carol
        .next_message(|m| {
            m.get_best_subject(vec![])
                .is_some_and(|(_, s)| s == "the topic")
        })
        .await;

    let chatty =
        bot(common::config(&common::account())
            .with_room(RoomConfig::new(&room).with_nick("chatty")))
        .await;
    // The join: the subject comes last (XEP-0045 §7.2.16), after any history.
    let (on_join, before) = until(&chatty, "the subject on join", |s| subject(s).is_some()).await;
    assert_eq!(subject(&on_join), Some("the topic"));
    assert_eq!(on_join.meta.automatic, Some(Automatic::Generated));
    assert_eq!(
        on_join.meta.origin.as_ref().map(Address::id),
        Some(format!("{room}/carol").as_str()),
        "who set it"
    );
    assert!(
        before.iter().all(|s| text(s).is_none()),
        "no history: {before:?}"
    );

    // Carol changes the subject: generated too.
    let mut topic = groupchat(&room);
    topic.subjects.insert(Lang::new(), "a new topic".into());
    carol.send(topic).await;
    let (changed, _) = until(&chatty, "the subject change", |s| subject(s).is_some()).await;
    assert_eq!(subject(&changed), Some("a new topic"));
    assert_eq!(changed.meta.automatic, Some(Automatic::Generated));

    // The owner changes the room's configuration: Prosody tells the occupants with a status
    // notice from the room itself (172, no text). Nothing unmarked reaches the bot before
    // carol's next message.
    let config = xml("<query xmlns='http://jabber.org/protocol/muc#owner'>\
         <x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
         <field var='muc#roomconfig_whois'><value>anyone</value></field></x></query>");
    let answer = carol
        .iq(Iq::Set {
            from: None,
            to: Some(Jid::new(&room).expect("a JID")),
            id: String::new(),
            payload: config,
        })
        .await;
    assert!(matches!(answer, Iq::Result { .. }), "{answer:?}");
    let mut after = groupchat(&room);
    after.bodies.insert(Lang::new(), "after the notice".into());
    carol.send(after).await;
    let (live, between) = until(&chatty, "carol's message", |s| {
        text(s) == Some("after the notice")
    })
    .await;
    assert_eq!(live.meta.automatic, None, "a person in the room");
    assert!(
        between
            .iter()
            .all(|s| text(s).is_none() || s.is_automatic()),
        "{between:?}"
    );

    // Carol invites the bot to a room it is not in, through that room (XEP-0045 §7.8.2): the
    // invitation comes from the room itself.
    let other = room_jid("invite");
    join(&mut carol, &other, "carol").await;
    let mut invite = XmppMessage::normal(Some(Jid::new(&other).expect("a JID")));
    invite.payloads.push(xml(&format!(
        "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='{}'/></x>",
        chatty.address.id()
    )));
    carol.send(invite).await;
    let (invitation, _) = until(&chatty, "the invitation", |s| {
        s.meta.origin.as_ref().is_some_and(|o| o.id() == other)
    })
    .await;
    assert!(text(&invitation).is_some(), "{invitation:?}");
    assert_eq!(invitation.meta.automatic, Some(Automatic::Generated));
    assert_eq!(
        invitation.meta.origin.as_ref().map(Address::kind),
        Some(AddressKind::Channel)
    );
    chatty.finish().await;
    carol.close().await;
}

/// Sends `body` from `send` every 200 ms until the bot hears one marked as a bot's; returns
/// the unmarked ones heard before.
async fn until_marked_bot(bot: &common::Bot, mut send: impl AsyncFnMut(String)) -> Vec<Signal> {
    let mut unmarked = Vec::new();
    for n in 0..50 {
        send(format!("message {n}")).await;
        let (heard, _) = until(bot, "a message", |s| text(s).is_some()).await;
        if heard.meta.automatic == Some(Automatic::Bot) {
            return unmarked;
        }
        assert_eq!(heard.meta.automatic, None, "{heard:?}");
        unmarked.push(heard);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never marked as a bot's: {unmarked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_bots_messages_are_marked_once_its_identity_is_known() {
    // Two Chatty bots, no roster between them: the first message is heard unmarked, the
    // session asks the sender's disco#info (Chatty answers client/bot), and what follows is
    // marked.
    let a = bot(common::config(&common::account()).with_bots_by_identity(true)).await;
    let mut b = bot(common::config(&common::account())).await;
    let (a_address, b_handle) = (a.address.clone(), b.remote.handle().await);
    let unmarked = until_marked_bot(&a, async |body| {
        b_handle
            .send(Signal::message(body).to(a_address.clone()))
            .await
            .expect("sent");
    })
    .await;
    assert!(
        !unmarked.is_empty(),
        "the first message comes before the answer"
    );
    a.finish().await;
    b.finish().await;

    // A plain client that says it is a bot is taken at its word ...
    let chatty = bot(common::config(&common::account()).with_bots_by_identity(true)).await;
    let to = chatty.address.id().to_owned();
    let mut robot = plain_client().await;
    robot.send(chat(&to, "beep")).await;
    robot.answer_disco(client_info("bot")).await;
    until_marked_bot(&chatty, async |body| robot.send(chat(&to, &body)).await).await;
    // ... and one that says it is a person's client (`client/pc`) is not marked.
    let mut person = plain_client().await;
    person.send(chat(&to, "hello")).await;
    person.answer_disco(client_info("pc")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    person.send(chat(&to, "hello again")).await;
    let (again, _) = until(&chatty, "hello again", |s| text(s) == Some("hello again")).await;
    assert_eq!(again.meta.automatic, None);
    chatty.finish().await;
    robot.close().await;
    person.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_client_that_says_it_is_a_bot_is_not_marked() {
    // slixmpp and aioxmpp say client/bot for every client, people's included: unless the
    // config asks for it, the identity marks nothing.
    let chatty = bot(common::config(&common::account())).await;
    let to = chatty.address.id().to_owned();
    let mut robot = plain_client().await;
    let info = client_info("bot");
    let hash = caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1).expect("SHA-1");
    let presence = Presence::available()
        .with_to(Jid::new(&to).expect("a JID"))
        .with_payloads(vec![Caps::new("https://example.org/robot", hash).into()]);
    robot.send(presence).await;
    robot.answer_disco(info).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 0..4 {
        let body = format!("beep {n}");
        robot.send(chat(&to, &body)).await;
        let (heard, _) = until(&chatty, "the message", |s| text(s) == Some(body.as_str())).await;
        assert_eq!(heard.meta.automatic, None, "{heard:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    chatty.finish().await;
    robot.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_stands_in_for_a_person_is_not_taken_for_a_bot() {
    // A Chatty session configured as a person's client (a proxy passing a person's messages on,
    // a chat window) answers disco#info with client/pc: its messages stay unmarked.
    let a = bot(common::config(&common::account()).with_bots_by_identity(true)).await;
    let mut person =
        bot(common::config(&common::account()).with_client_type(chatty_xmpp::ClientType::Pc)).await;
    for n in 0..4 {
        let body = format!("from a person, {n}");
        person
            .send(Signal::message(body.clone()).to(a.address.clone()))
            .await;
        let (heard, _) = until(&a, "the message", |s| text(s) == Some(body.as_str())).await;
        assert_eq!(heard.meta.automatic, None, "{heard:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    a.finish().await;
    person.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_whose_presence_says_bot_is_marked_from_its_first_message() {
    let chatty = bot(common::config(&common::account()).with_bots_by_identity(true)).await;
    let to = chatty.address.id().to_owned();
    let mut robot = plain_client().await;
    // Its presence carries entity capabilities (XEP-0115): the session asks for that version's
    // disco#info and learns it is a bot before any message.
    let info = client_info("bot");
    let hash = caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1).expect("SHA-1");
    let presence = Presence::available()
        .with_to(Jid::new(&to).expect("a JID"))
        .with_payloads(vec![Caps::new("https://example.org/robot", hash).into()]);
    robot.send(presence).await;
    robot.answer_disco(info).await;
    let (presence, _) = until(&chatty, "its presence", |s| {
        matches!(
            &s.body,
            Body::StatusChange(StatusChange {
                status: Status::Presence { .. },
                ..
            })
        )
    })
    .await;
    assert_eq!(
        presence.meta.automatic, None,
        "its presence arrived before the answer"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    robot.send(chat(&to, "beep")).await;
    let (first, _) = until(&chatty, "its first message", |s| text(s).is_some()).await;
    assert_eq!(first.meta.automatic, Some(Automatic::Bot));
    chatty.finish().await;
    robot.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_all_one_to_one_reaches_the_person_once_and_never_the_bot() {
    let mut chatty = bot(common::config(&common::account())).await;
    let mut client = plain_client().await;
    let to = chatty.address.id().to_owned();

    client.send(chat(&to, "anyone?")).await;
    let heard = chatty.next_io().await;
    let answer = heard.reply_all(Message::text("me"));
    assert_eq!(
        answer.meta.visible_to,
        vec![chatty.address.clone()],
        "reply_all keeps the original's addressee, the bot, as visible-to"
    );
    chatty.send(answer).await;
    let got = client.next_body().await;
    assert_eq!(
        got.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some("me")
    );
    assert_eq!(
        got.to.as_ref().map(|j| j.to_bare().to_string()),
        Some(client.jid().to_bare().to_string())
    );

    // Nothing came back to the bot (no copy of its own message, no failure, no Unsupported)
    // before the client's next message; and the client got one answer, not two.
    client.send(chat(&to, "done?")).await;
    let next = chatty.next_io().await;
    assert_eq!(text(&next), Some("done?"), "{next:?}");
    chatty.send(next.reply(Message::text("yes"))).await;
    let got = client.next_body().await;
    assert_eq!(
        got.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some("yes")
    );
    chatty.finish().await;
    client.close().await;
}
