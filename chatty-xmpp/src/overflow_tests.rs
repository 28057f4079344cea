//! The bounded hold-back of a catch-up against the test Prosody, with the limit set to a few
//! messages (`archive::HELD_LIMIT_IN_TESTS`; nextest runs each test in a process of its own):
//! a bot back in its room after a stop catches up three pages of the room's archive while a
//! person goes on talking; the live messages overflow what is held, are let go, and come from
//! the archive in their place: every message once, in order.
//!
//! Needs the test servers (`scripts/test-servers`), as the tests under `tests/` do.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chatty_core::journal::{Journal, MemoryJournal};
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{Body, Bot, BotError, Handle, Inbound, Router, SignalId};
use chatty_test::xmpp::PlainClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::archive::HELD_LIMIT_IN_TESTS;
use crate::{RoomConfig, TlsMode, XmppConfig, XmppSession};

/// How long the test waits for what must come.
const WAIT: Duration = Duration::from_secs(10);
/// The bot's nickname in the room.
const NICK: &str = "chatty";

/// What the bot was given: a person's message (its text and id), or a system error.
#[derive(Debug)]
enum Seen {
    Message(String, SignalId),
    Error(String),
}

/// A bot that reports the messages and errors it is given.
struct Recorder(mpsc::UnboundedSender<Seen>);

impl Bot for Recorder {
    async fn run(self, mut inbound: Inbound, _handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            let seen = match &signal.body {
                Body::Message(m) if !signal.is_automatic() => {
                    Seen::Message(m.text.clone(), signal.meta.id.clone())
                }
                Body::SystemError(e) => Seen::Error(format!("{e:?}")),
                _ => continue,
            };
            let _ = self.0.send(seen);
        }
        Ok(())
    }
}

/// Runs a [`Recorder`] for the account `(jid, password)` in `room` through a router with
/// `journal`.
fn run(
    (jid, password): &(String, String),
    room: &str,
    journal: &MemoryJournal,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<Seen>) {
    let server = chatty_test::servers::xmpp_server();
    let config = XmppConfig::new(jid, password.as_str())
        .with_server(server.host, server.port)
        .with_tls(TlsMode::Starttls)
        .with_connect_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .with_room(RoomConfig::new(room).with_nick(NICK));
    let session = XmppSession::new(config).expect("a valid config");
    let router = Router::new().journal(journal.clone()).session(session);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let _ = router.run(Recorder(tx)).await;
    });
    (task, rx)
}

/// The next message the bot is given (an error fails the test).
async fn next_message(rx: &mut mpsc::UnboundedReceiver<Seen>) -> (String, SignalId) {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(Seen::Message(text, id))) => (text, id),
        Ok(Some(Seen::Error(e))) => panic!("a system error: {e}"),
        Ok(None) | Err(_) => panic!("no message within {WAIT:?}"),
    }
}

/// Waits until the journal's mark of `room` is `wanted`.
async fn mark_is(journal: &MemoryJournal, room: &str, wanted: &str) {
    let name = format!("mam:{room}");
    let reached = tokio::time::timeout(WAIT, async {
        while journal.mark("xmpp", &name).await.unwrap().as_deref() != Some(wanted) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the mark {name} is not {wanted} within {WAIT:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_room_messages_past_the_hold_back_limit_come_from_the_archive_once_in_order() {
    HELD_LIMIT_IN_TESTS.store(3, Ordering::Relaxed);
    let server = chatty_test::servers::xmpp_server();
    let tag: String = SignalId::generate()
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let room = format!("overflow-{tag}@rooms.{}", server.domain);
    let bot = chatty_test::servers::xmpp_account();
    let (person, password) = chatty_test::servers::xmpp_account();
    let mut carol = PlainClient::connect(&person, &password).await;
    carol.join_room(&room, "carol").await;

    // A first run: the bot comes in, hears one message, and its mark names it.
    let journal = MemoryJournal::new();
    let (task, mut seen) = run(&bot, &room, &journal);
    carol.presence_of(&format!("{room}/{NICK}")).await;
    // The first join's catch-up (from now) is over once the mark is set.
    tokio::time::timeout(WAIT, async {
        while journal
            .mark("xmpp", &format!("mam:{room}"))
            .await
            .unwrap()
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the first join sets the mark");
    let first = format!("{tag}-first");
    let first_id = carol.say_in_room(&room, &first).await;
    assert_eq!(next_message(&mut seen).await.0, first);
    mark_is(&journal, &room, &first_id).await;
    task.abort();
    let _ = task.await;

    // Three pages while the bot is away; then, as it comes back, 30 more live.
    let away: Vec<String> = (0..230).map(|i| format!("{tag}-away-{i:03}")).collect();
    for text in &away {
        carol.say_in_room(&room, text).await;
    }
    let (task, mut seen) = run(&bot, &room, &journal);
    carol.presence_of(&format!("{room}/{NICK}")).await;
    let live: Vec<String> = (0..30).map(|i| format!("{tag}-live-{i:02}")).collect();
    for text in &live {
        carol.say_in_room(&room, text).await;
    }
    for text in away.iter().chain(&live) {
        let (heard, id) = next_message(&mut seen).await;
        assert_eq!(&heard, text, "in order, each once");
        assert_eq!(id.as_str(), format!("id-{text}"));
    }
    if let Ok(Some(more)) = tokio::time::timeout(Duration::from_secs(2), seen.recv()).await {
        panic!("given more: {more:?}");
    }
    task.abort();
    let _ = task.await;
    carol.close().await;
}
