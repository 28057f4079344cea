//! The catch-up from a room's archive (MAM in a MUC, XEP-0313) against the test Prosody (whose
//! rooms keep archives: `muc_mam`): a bot whose process stopped, then started again on the same
//! journal, is given what was said in its room while it was away, in order, once each, and not
//! what it said itself there; live messages that come while it catches up follow, once each; a
//! room without an archive is not caught up, and its live messages come all the same.

mod common;

use std::time::Duration;

use chatty_core::journal::{Journal, MemoryJournal};
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{Body, Bot, BotError, Handle, Inbound, Router, SignalId};
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::{RoomConfig, XmppSession};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Lang, Message as XmppMessage};
use tokio_xmpp::parsers::presence::Presence;

use common::WAIT;

/// The bot's nickname in the room.
const NICK: &str = "chatty";

/// What the bot was given: a message's text, id, sender and whether it was redelivered; a
/// system error; or that its session started.
#[derive(Debug, Clone)]
enum Seen {
    Started,
    Message {
        text: String,
        id: SignalId,
        origin: String,
        redelivered: bool,
    },
    Error(String),
}

/// A bot that reports what it is given.
struct Recorder(mpsc::UnboundedSender<Seen>);

impl Bot for Recorder {
    async fn run(self, mut inbound: Inbound, _handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            let seen = match &signal.body {
                Body::SessionStarted(_) => Seen::Started,
                Body::Message(m) if !signal.is_automatic() => Seen::Message {
                    text: m.text.clone(),
                    id: signal.meta.id.clone(),
                    origin: signal
                        .meta
                        .origin
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    redelivered: signal.meta.redelivered,
                },
                Body::SystemError(e) => Seen::Error(format!("{e:?}")),
                _ => continue,
            };
            let _ = self.0.send(seen);
        }
        Ok(())
    }
}

/// A room of its own for each test.
fn room_jid(test: &str) -> String {
    let unique: String = SignalId::generate()
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{test}-{unique}@rooms.{}", common::server().domain)
}

/// Runs a [`Recorder`] on `account`, in `room` as [`NICK`], through a router with `journal`;
/// the returned task is the "process" (abort it to stop it the hard way).
fn run(
    account: &common::Account,
    room: &str,
    journal: &MemoryJournal,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let config = common::config(account).with_room(RoomConfig::new(room).with_nick(NICK));
    let session = XmppSession::new(config).expect("a valid config");
    let router = Router::new().journal(journal.clone()).session(session);
    let task = tokio::spawn(async move {
        let _ = router.run(Recorder(tx)).await;
    });
    (task, rx)
}

/// Waits for the session's start.
async fn started(rx: &mut mpsc::UnboundedReceiver<Seen>) {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(Seen::Started)) => {}
        Ok(Some(other)) => panic!("before SessionStarted: {other:?}"),
        Ok(None) | Err(_) => panic!("no SessionStarted within {WAIT:?}"),
    }
}

/// Waits until the journal's mark of `room`'s archive is `wanted` (`None`: any value).
async fn mark_is(journal: &MemoryJournal, room: &str, wanted: Option<&str>) -> String {
    let name = format!("mam:{room}");
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let mark = journal.mark("xmpp", &name).await.unwrap();
            match (&mark, wanted) {
                (Some(mark), None) => return mark.clone(),
                (Some(mark), Some(wanted)) if mark == wanted => return mark.clone(),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("the room mark {name} is not {wanted:?} within {WAIT:?}"))
}

/// The next message the bot is given (a system error fails the test).
async fn next_message(rx: &mut mpsc::UnboundedReceiver<Seen>) -> (String, SignalId, String, bool) {
    loop {
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(Seen::Message {
                text,
                id,
                origin,
                redelivered,
            })) => return (text, id, origin, redelivered),
            Ok(Some(Seen::Started)) => {}
            Ok(Some(Seen::Error(e))) => panic!("a system error: {e}"),
            Ok(None) | Err(_) => panic!("no message within {WAIT:?}"),
        }
    }
}

/// Asserts that the bot is given no more message (nor error) for a while.
async fn nothing_more(rx: &mut mpsc::UnboundedReceiver<Seen>) {
    let quiet = Duration::from_secs(2);
    loop {
        match tokio::time::timeout(quiet, rx.recv()).await {
            Ok(Some(Seen::Started)) => {}
            Ok(Some(other)) => panic!("given more: {other:?}"),
            Ok(None) | Err(_) => return,
        }
    }
}

/// Stops the "process" the hard way and waits until it is gone.
async fn stop(task: JoinHandle<()>) {
    task.abort();
    let _ = task.await;
}

/// A person's client in `room` as `nick` (it made the room, if it was first).
async fn join(account: &common::Account, room: &str, nick: &str) -> PlainClient {
    let mut client = PlainClient::connect(&account.jid, &account.password).await;
    client.join_room(room, nick).await;
    client
}

/// The first run of the bot in `room` on `journal`: it comes in, hears `first` live (said by
/// `person`), and its room mark names that message when it stops.
async fn first_run(
    bot: &common::Account,
    person: &mut PlainClient,
    room: &str,
    journal: &MemoryJournal,
    first: &str,
) {
    let (task, mut seen) = run(bot, room, journal);
    started(&mut seen).await;
    person.presence_of(&format!("{room}/{NICK}")).await;
    // A first join has no mark: the catch-up starts from now (the room's newest id).
    mark_is(journal, room, None).await;
    let first_id = person.say_in_room(room, first).await;
    let (text, id, _, redelivered) = next_message(&mut seen).await;
    assert_eq!((text.as_str(), redelivered), (first, false));
    assert_eq!(id.as_str(), format!("id-{first}"));
    // The mark is written behind the message it names.
    mark_is(journal, room, Some(&first_id)).await;
    stop(task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_said_in_a_room_while_the_bot_was_away_is_given_once_in_order() {
    let room = room_jid("away");
    let (bot, person) = (common::account(), common::account());
    let mut carol = join(&person, &room, "carol").await;
    let journal = MemoryJournal::new();
    let tag = SignalId::generate();
    first_run(&bot, &mut carol, &room, &journal, &format!("{tag}-first")).await;

    // While the bot is away: carol talks, and the bot's account (another client of it, as the
    // bot's nickname) says something too, which must not come back to the bot as inbound.
    let mut own = join(&bot, &room, NICK).await;
    let said: Vec<String> = (0..12).map(|i| format!("{tag}-away-{i:02}")).collect();
    for (i, text) in said.iter().enumerate() {
        carol.say_in_room(&room, text).await;
        if i == 5 {
            own.say_in_room(&room, &format!("{tag}-own")).await;
        }
    }
    own.send(Presence::unavailable().with_to(Jid::new(&format!("{room}/{NICK}")).unwrap()))
        .await;
    own.close().await;

    let (task, mut seen) = run(&bot, &room, &journal);
    started(&mut seen).await;
    for text in &said {
        let (heard, id, origin, redelivered) = next_message(&mut seen).await;
        assert_eq!(&heard, text, "in order, each once, and nothing else");
        assert_eq!(id.as_str(), format!("id-{text}"), "the id it has live");
        assert!(
            origin.ends_with(&format!("{room}/carol;kind=individual")),
            "{origin}"
        );
        assert!(!redelivered, "{text}: new to the journal");
    }
    nothing_more(&mut seen).await;
    stop(task).await;
    carol.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_room_messages_during_the_catch_up_follow_the_archived_ones_once() {
    let room = room_jid("during");
    let (bot, person) = (common::account(), common::account());
    let mut carol = join(&person, &room, "carol").await;
    let journal = MemoryJournal::new();
    let tag = SignalId::generate();
    first_run(&bot, &mut carol, &room, &journal, &format!("{tag}-first")).await;

    // More than two pages of the archive while the bot is away.
    let away: Vec<String> = (0..230).map(|i| format!("{tag}-away-{i:03}")).collect();
    for text in &away {
        carol.say_in_room(&room, text).await;
    }
    // As soon as the bot is back in the room (its catch-up has just started), carol goes on.
    let (task, mut seen) = run(&bot, &room, &journal);
    started(&mut seen).await;
    carol.presence_of(&format!("{room}/{NICK}")).await;
    let live: Vec<String> = (0..20).map(|i| format!("{tag}-live-{i:02}")).collect();
    for text in &live {
        carol.say_in_room(&room, text).await;
    }
    for text in away.iter().chain(&live) {
        let (heard, id, _, redelivered) = next_message(&mut seen).await;
        assert_eq!(&heard, text, "in order, each once, and nothing else");
        assert_eq!(id.as_str(), format!("id-{text}"));
        assert!(!redelivered, "{text}: new to the journal");
    }
    nothing_more(&mut seen).await;
    // The mark names the last of them.
    let last = carol.say_in_room(&room, &format!("{tag}-last")).await;
    let (heard, _, _, _) = next_message(&mut seen).await;
    assert_eq!(heard, format!("{tag}-last"));
    mark_is(&journal, &room, Some(&last)).await;
    stop(task).await;
    carol.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_without_an_archive_is_not_caught_up_and_its_live_messages_come() {
    let room = room_jid("unarchived");
    let (bot, person) = (common::account(), common::account());
    let mut carol = join(&person, &room, "carol").await;
    // Carol owns the room she made: she turns its archive off (Prosody's muc_mam option).
    let form: Element = "<query xmlns='http://jabber.org/protocol/muc#owner'>\
        <x xmlns='jabber:x:data' type='submit'>\
        <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
        <field var='muc#roomconfig_enablearchiving'><value>0</value></field>\
        </x></query>"
        .parse()
        .unwrap();
    let configured = carol
        .iq(Iq::Set {
            from: None,
            to: Some(Jid::new(&room).unwrap()),
            id: String::new(),
            payload: form,
        })
        .await;
    assert!(matches!(configured, Iq::Result { .. }), "{configured:?}");

    let journal = MemoryJournal::new();
    let (task, mut seen) = run(&bot, &room, &journal);
    started(&mut seen).await;
    carol.presence_of(&format!("{room}/{NICK}")).await;
    let tag = SignalId::generate();
    let said: Vec<String> = (0..3).map(|i| format!("{tag}-live-{i}")).collect();
    for text in &said {
        let mut message = XmppMessage::groupchat(Some(Jid::new(&room).unwrap()));
        message.id = Some(Id(format!("id-{text}")));
        message.bodies.insert(Lang::new(), text.clone());
        carol.send(message).await;
    }
    for text in &said {
        let (heard, id, _, _) = next_message(&mut seen).await;
        assert_eq!(&heard, text);
        assert_eq!(id.as_str(), format!("id-{text}"));
    }
    nothing_more(&mut seen).await;
    let mark = journal.mark("xmpp", &format!("mam:{room}")).await.unwrap();
    assert_eq!(mark, None, "no archive, no mark");
    stop(task).await;
    carol.close().await;
}
