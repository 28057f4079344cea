//! A bot whose router is dropped mid-burst (the in-process picture of its process dying) and a
//! new one started on the same journal: with the catch-up from the archive (MAM) and the
//! journal's dedup, every message reaches the bot, none twice unless marked redelivered. And the
//! id a message gets is the same each time it is read, live or from the archive, whatever ids
//! its sender gave it (an origin-id, only a stanza id, or none).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chatty_core::journal::{Journal, MemoryJournal};
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{Body, Bot, BotError, Handle, Inbound, Router, SignalId};
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::XmppSession;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Lang, Message as XmppMessage, MessageType};
use tokio_xmpp::parsers::ns;

use common::WAIT;

/// What the bot was given: a message's text, id, sender and whether it was redelivered; or
/// that its session started.
#[derive(Debug, Clone)]
enum Seen {
    Started,
    Message {
        text: String,
        id: SignalId,
        origin: String,
        redelivered: bool,
    },
}

/// A bot that reports what it is given.
struct Recorder(mpsc::UnboundedSender<Seen>);

impl Bot for Recorder {
    async fn run(self, mut inbound: Inbound, _handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            let seen = match &signal.body {
                Body::SessionStarted(_) => Seen::Started,
                Body::Message(m) => Seen::Message {
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
                _ => continue,
            };
            let _ = self.0.send(seen);
        }
        Ok(())
    }
}

/// Runs a [`Recorder`] on the account `config` names, through a router with `journal`; the
/// returned task is the "process" (abort it to crash it).
fn run(
    config: chatty_xmpp::XmppConfig,
    journal: &MemoryJournal,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
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

/// The journal's archive mark once the session has set it (its first start sets it to the
/// newest archive id).
async fn mark(journal: &MemoryJournal) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(mark) = journal.mark("xmpp", "mam").await.unwrap() {
                return mark;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the first start sets the archive mark")
}

/// The next message the bot is given.
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
            Ok(None) | Err(_) => panic!("no message within {WAIT:?}"),
        }
    }
}

/// How a test message names itself.
#[derive(Debug, Clone, Copy)]
enum Ids {
    /// An origin-id (XEP-0359) and a stanza id.
    Origin,
    /// Only a stanza id.
    Stanza,
    /// None at all.
    None,
}

/// A chat message to `to` saying `text`, with the ids `ids` says (unique per `text`).
fn chat(to: &Jid, text: &str, ids: Ids) -> XmppMessage {
    let mut message = XmppMessage::new(Some(to.clone()));
    message.type_ = MessageType::Chat;
    message.bodies.insert(Lang::new(), text.to_owned());
    match ids {
        Ids::Origin => {
            message.id = Some(Id(format!("s-{text}")));
            message.payloads.push(
                Element::builder("origin-id", ns::SID)
                    .attr(
                        tokio_xmpp::minidom::rxml::xml_ncname!("id").into(),
                        format!("o-{text}"),
                    )
                    .build(),
            );
        }
        Ids::Stanza => message.id = Some(Id(format!("s-{text}"))),
        Ids::None => {}
    }
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_has_the_same_id_and_sender_live_and_from_the_archive() {
    let account = common::account();
    let peer = common::account();
    let bot_jid = Jid::new(&account.jid).unwrap();
    let mut sender = PlainClient::connect(&peer.jid, &peer.password).await;
    let tag = SignalId::generate();
    let texts: Vec<(String, Ids)> = [Ids::Origin, Ids::Stanza, Ids::None]
        .into_iter()
        .map(|ids| (format!("{tag}-{ids:?}"), ids))
        .collect();

    // Live: the first start of a journal catches up from now on.
    let journal = MemoryJournal::new();
    let (first, mut live) = run(common::config(&account), &journal);
    started(&mut live).await;
    let before = mark(&journal).await;
    for (text, ids) in &texts {
        sender.send(chat(&bot_jid, text, *ids)).await;
    }
    let mut heard = BTreeMap::new();
    for _ in &texts {
        let (text, id, origin, _) = next_message(&mut live).await;
        heard.insert(text, (id, origin));
    }
    first.abort();
    let _ = first.await;

    // From the archive, into a journal whose mark is from before them: the same ids and senders.
    let other = MemoryJournal::new();
    other.set_mark("xmpp", "mam", &before).await.unwrap();
    let (second, mut archived) = run(common::config(&account), &other);
    started(&mut archived).await;
    for _ in &texts {
        let (text, id, origin, redelivered) = next_message(&mut archived).await;
        assert!(!redelivered, "{text}: new to this journal");
        assert_eq!(
            heard.get(&text),
            Some(&(id.clone(), origin.clone())),
            "{text}: live and archived differ (archived: {id} from {origin})"
        );
    }
    second.abort();
    let _ = second.await;

    // The same archive read again into the first journal: each is known, none reaches the bot;
    // the next live message is the first thing it hears (the archive comes before live ones).
    journal.set_mark("xmpp", "mam", &before).await.unwrap();
    let (third, mut again) = run(common::config(&account), &journal);
    started(&mut again).await;
    let after = format!("{tag}-after");
    sender.send(chat(&bot_jid, &after, Ids::Origin)).await;
    loop {
        let (text, _, _, redelivered) = next_message(&mut again).await;
        if text == after {
            break;
        }
        assert!(
            redelivered,
            "{text} was given twice, and not as a redelivery"
        );
    }
    third.abort();
    let _ = third.await;
    sender.close().await;
}

/// How many messages the burst has.
const BURST: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_dropped_mid_burst_loses_nothing_and_repeats_nothing_unmarked() {
    let account = common::account();
    let peer = common::account();
    let bot_jid = Jid::new(&account.jid).unwrap();
    let journal = MemoryJournal::new();
    let (first, mut rx) = run(common::config(&account), &journal);
    started(&mut rx).await;
    mark(&journal).await;

    // The burst, from another client, in its own task: it goes on while the bot is down.
    let mut sender = PlainClient::connect(&peer.jid, &peer.password).await;
    let tag = SignalId::generate();
    let texts: Vec<String> = (0..BURST).map(|i| format!("{tag}-{i:04}")).collect();
    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel();
    let burst = {
        let texts = texts.clone();
        tokio::spawn(async move {
            for (i, text) in texts.iter().enumerate() {
                let ids = [Ids::Origin, Ids::Stanza, Ids::None][i % 3];
                sender.send(chat(&bot_jid, text, ids)).await;
                let _ = sent_tx.send(i);
            }
            sender
        })
    };

    // The crash: once the bot has been given a third of the burst.
    let mut given: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut first_run = 0;
    while first_run < BURST / 3 {
        let (text, _, _, redelivered) = next_message(&mut rx).await;
        assert!(!redelivered, "{text}: redelivered in the first run");
        given.entry(text).or_default().0 += 1;
        first_run += 1;
    }
    first.abort();
    let _ = first.await;
    // Whatever the bot was given until the abort took effect counts too.
    while let Ok(Some(Seen::Message {
        text, redelivered, ..
    })) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
    {
        assert!(!redelivered, "{text}: redelivered in the first run");
        given.entry(text).or_default().0 += 1;
        first_run += 1;
    }
    // Let the burst go on with no bot for a while: those wait in the archive.
    let mut sent = 0;
    while sent < BURST / 2 {
        sent = sent_rx.recv().await.expect("the burst goes on") + 1;
    }

    let (second, mut rx) = run(common::config(&account), &journal);
    let sender = burst.await.expect("the burst is sent");
    let mut second_run = 0;
    let mut redeliveries = 0;
    // Until every message came, then until nothing more comes for a while (to see repeats).
    loop {
        let wait = if given.len() < BURST {
            WAIT
        } else {
            Duration::from_secs(2)
        };
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(Seen::Message {
                text, redelivered, ..
            })) => {
                let counts = given.entry(text).or_default();
                if redelivered {
                    counts.1 += 1;
                    redeliveries += 1;
                } else {
                    counts.0 += 1;
                }
                second_run += 1;
            }
            Ok(Some(Seen::Started)) => {}
            Ok(None) => panic!("the second router ended"),
            Err(_) => break,
        }
    }
    second.abort();
    let _ = second.await;
    sender.close().await;

    let lost: Vec<&String> = texts.iter().filter(|t| !given.contains_key(*t)).collect();
    let twice: Vec<(&String, &(usize, usize))> =
        given.iter().filter(|(_, (plain, _))| *plain > 1).collect();
    let strangers: Vec<&String> = given
        .keys()
        .filter(|t| t.starts_with(&tag.to_string()) && !texts.contains(t))
        .collect();
    eprintln!(
        "{BURST} sent; first run given {first_run}, second run {second_run} \
         ({redeliveries} marked redelivered); lost {}, given twice unmarked {}",
        lost.len(),
        twice.len()
    );
    assert!(strangers.is_empty(), "not sent by the test: {strangers:?}");
    assert!(lost.is_empty(), "lost {} of {BURST}: {lost:?}", lost.len());
    assert!(
        twice.is_empty(),
        "given twice without the redelivered mark: {} of {BURST}: {twice:?}",
        twice.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whether_an_answer_left_is_found_in_the_archive() {
    use chatty_core::session::Session as _;
    let account = common::account();
    let peer = common::account();
    let bot_jid = Jid::new(&account.jid).unwrap();
    let mut person = PlainClient::connect(&peer.jid, &peer.password).await;
    let mut bot = common::bot(common::config(&account)).await;
    let tag = SignalId::generate();
    person
        .send(chat(&bot_jid, &format!("{tag}-question"), Ids::Origin))
        .await;
    let question = bot.next_io().await;
    assert_eq!(question.meta.id.as_str(), format!("o-{tag}-question"));

    // An answer that left, as the journal would ask about it after a restart.
    let mut answer = question.reply(chatty_core::Message::text("an answer"));
    answer.meta.id = SignalId::from(format!("{tag}-answer"));
    bot.send(answer.clone()).await;
    let heard = person.next_body().await;
    assert_eq!(
        heard.bodies.values().next().map(String::as_str),
        Some("an answer")
    );
    assert_eq!(bot.session.sent(&answer).await, Some(true));

    // One that never left: not there, back to the question it answers.
    let mut never = question.reply(chatty_core::Message::text("never sent"));
    never.meta.id = SignalId::from(format!("{tag}-never"));
    assert_eq!(bot.session.sent(&never).await, Some(false));

    // An answer for a room that is not there: no archive to ask, so it cannot be told.
    let room: chatty_core::Address = "xmpp:somewhere@rooms.localhost;kind=channel"
        .parse()
        .unwrap();
    let mut in_room = never.clone();
    in_room.meta.addressees = vec![room];
    assert_eq!(bot.session.sent(&in_room).await, None);
    bot.finish().await;
    person.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whether_an_answer_in_a_room_left_is_found_in_the_rooms_archive() {
    use chatty_core::session::Session as _;
    let account = common::account();
    let peer = common::account();
    let tag: String = SignalId::generate()
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let room = format!("sent-{tag}@rooms.{}", common::server().domain);
    let mut person = PlainClient::connect(&peer.jid, &peer.password).await;
    person.join_room(&room, "carol").await;
    let config =
        common::config(&account).with_room(chatty_xmpp::RoomConfig::new(&room).with_nick("chatty"));
    let mut bot = common::bot(config).await;
    person.presence_of(&format!("{room}/chatty")).await;
    person.say_in_room(&room, &format!("{tag}-question")).await;
    let question = loop {
        let signal = bot.next_io().await;
        if matches!(&signal.body, chatty_core::Body::Message(m) if m.text.ends_with("-question")) {
            break signal;
        }
    };

    // An answer that left, in the room.
    let mut answer = question.reply(chatty_core::Message::text("an answer in the room"));
    answer.meta.id = SignalId::from(format!("{tag}-answer"));
    assert!(
        answer
            .meta
            .addressees
            .iter()
            .all(|to| to.kind() == chatty_core::AddressKind::Channel),
        "{answer:?}"
    );
    bot.send(answer.clone()).await;
    person
        .next_message(|m| m.bodies.values().any(|b| b == "an answer in the room"))
        .await;
    assert_eq!(bot.session.sent(&answer).await, Some(true));

    // One that never left: not in the room's archive back to the question.
    let mut never = question.reply(chatty_core::Message::text("never sent"));
    never.meta.id = SignalId::from(format!("{tag}-never"));
    assert_eq!(bot.session.sent(&never).await, Some(false));
    bot.finish().await;
    person.close().await;
}
