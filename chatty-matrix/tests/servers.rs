//! The session against the test Synapse (`scripts/test` starts it; see
//! `chatty_test::servers::matrix_server`), with a person in the test speaking plain
//! client-server HTTP: messages both ways in a room and in a direct chat, typing both ways, a
//! gap of 250 messages filled, and a restart on a shared journal.

mod common;

use std::time::{Duration, Instant};

use chatty_core::journal::MemoryJournal;
use chatty_core::{
    Address, Answer, Body, DeliveryStatus, Message, Query, Signal, Status, StatusChange,
    TypingState,
};
use chatty_test::servers::matrix_account;
use common::bot::{config, end, joined, run, sent, started};
use common::{Person, WAIT, next_where, text};
use serde_json::json;
use tokio::time::timeout;

/// Messages both ways in a room (HTML, a reply, members) and in a direct chat, typing both
/// ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_both_ways_in_a_room_and_a_direct_chat_and_typing() {
    let bot_account = matrix_account();
    let alice = Person::login(&matrix_account()).await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, own) = started(&mut rx).await;
    assert_eq!(
        own.to_string(),
        format!("matrix:{};kind=individual", bot_account.user_id)
    );

    // A room: the invitation is accepted.
    let room = alice.create_room(&bot_account.user_id, false).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    let asked = alice
        .send(
            &room,
            json!({"msgtype": "m.text", "body": "hello *bot*",
                   "format": "org.matrix.custom.html", "formatted_body": "hello <em>bot</em>"}),
        )
        .await;
    let (hello, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&hello), Some("hello *bot*"));
    let Body::Message(m) = &hello.body else {
        unreachable!()
    };
    assert_eq!(m.html.as_deref(), Some("hello <em>bot</em>"));
    assert_eq!(hello.meta.id.as_str(), asked);
    assert_eq!(hello.meta.origin.as_ref().unwrap().id(), alice.user_id);
    assert_eq!(hello.meta.visible_to[0].id(), room);
    assert!(hello.meta.sent.is_some());

    let answer = hello.reply_all(Message::text("hi alice").with_html("hi <b>alice</b>"));
    let id = handle.send(answer).await.unwrap();
    sent(&handle, &id).await;
    let event = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "hi alice"
        })
        .await;
    assert_eq!(event["content"]["formatted_body"], "hi <b>alice</b>");
    assert_eq!(
        event["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        asked.as_str()
    );
    let emote = hello.reply(Message::text("/me waves"));
    handle.send(emote).await.unwrap();
    let event = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["msgtype"] == "m.emote"
        })
        .await;
    assert_eq!(event["content"]["body"], "waves");

    // The same signal sent again (as after a restart) is the same transaction: one event.
    let once = hello.reply(Message::text("once"));
    handle.send(once.clone()).await.unwrap();
    handle.send(once).await.unwrap();
    alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "once"
        })
        .await;
    let bodies = alice.bodies(&room, &bot_account.user_id).await;
    assert_eq!(
        bodies.iter().filter(|b| *b == "once").count(),
        1,
        "{bodies:?}"
    );

    // Edits: a correction replaces the event (m.replace), a retraction redacts it.
    let typo = handle
        .send(hello.reply(Message::text("tpyo")))
        .await
        .unwrap();
    sent(&handle, &typo).await;
    let original = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "tpyo"
        })
        .await;
    let fix = handle
        .send(hello.reply(Message::text("typo").correcting(typo.clone())))
        .await
        .unwrap();
    sent(&handle, &fix).await;
    let replacement = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["m.relates_to"]["rel_type"] == "m.replace"
        })
        .await;
    assert_eq!(
        replacement["content"]["m.relates_to"]["event_id"],
        original["event_id"]
    );
    assert_eq!(replacement["content"]["m.new_content"]["body"], "typo");
    let gone = handle
        .send(hello.reply(Message::retraction(typo)))
        .await
        .unwrap();
    sent(&handle, &gone).await;
    alice
        .until_event(&room, &bot_account.user_id, |e| {
            e["type"] == "m.room.redaction"
                && (e["redacts"] == original["event_id"]
                    || e["content"]["redacts"] == original["event_id"])
        })
        .await;

    let members = handle
        .query(Query::Members {
            address: hello.meta.visible_to[0].clone(),
        })
        .await
        .unwrap();
    let Answer::Members { members } = members else {
        panic!("{members:?}")
    };
    let mut ids: Vec<_> = members.iter().map(|m| m.id().to_owned()).collect();
    ids.sort();
    let mut want = vec![alice.user_id.clone(), bot_account.user_id.clone()];
    want.sort();
    assert_eq!(ids, want);

    // Typing both ways.
    alice.typing(&room, true).await;
    // In this room: the pool account's old rooms may still see typing time out.
    let (typing, _) = next_where(&mut rx, |s| {
        matches!(&s.body, Body::StatusChange(c)
            if matches!(&c.status, Status::Typing { conversation, .. } if conversation.id() == room))
    })
    .await;
    let Body::StatusChange(change) = &typing.body else {
        unreachable!()
    };
    assert!(
        matches!(&change.status, Status::Typing { state: TypingState::Composing, conversation } if conversation.id() == room),
        "{change:?}"
    );
    alice.typing(&room, false).await;
    let mut typing = Signal::new(StatusChange::new(Status::Typing {
        conversation: hello.meta.visible_to[0].clone(),
        state: TypingState::Composing,
    }));
    typing.meta.addressees = vec![hello.meta.visible_to[0].clone()];
    handle.send(typing).await.unwrap();
    alice.until_typing(&room, &bot_account.user_id).await;

    // A direct chat: addressed to the bot, answered to the person.
    let direct = alice.create_room(&bot_account.user_id, true).await;
    joined(&mut rx, &own, &direct).await;
    alice.wait_joined(&direct, &bot_account.user_id).await;
    alice.say(&direct, "psst").await;
    let (psst, _) = next_where(&mut rx, |s| text(s) == Some("psst")).await;
    assert_eq!(psst.meta.addressees, vec![own.clone()]);
    assert!(psst.meta.visible_to.is_empty());
    let answer = psst.reply(Message::text("psst yourself"));
    assert_eq!(answer.meta.addressees[0].id(), alice.user_id);
    let id = handle.send(answer).await.unwrap();
    sent(&handle, &id).await;
    alice
        .until_message(&direct, &bot_account.user_id, |e| {
            e["content"]["body"] == "psst yourself"
        })
        .await;

    // The bot leaves the room, with a reason: the person sees it go, the bot is told.
    let room_address = hello.meta.visible_to[0].clone();
    let mut leave = Signal::new(
        StatusChange::new(Status::InRoom {
            room: room_address.clone(),
            present: false,
            role: None,
        })
        .with_message("done here"),
    );
    leave.meta.addressees = vec![room_address];
    let id = handle.send(leave).await.unwrap();
    sent(&handle, &id).await;
    let left = alice
        .until_event(&room, &bot_account.user_id, |e| {
            e["type"] == "m.room.member" && e["content"]["membership"] == "leave"
        })
        .await;
    assert_eq!(left["content"]["reason"], "done here");
    next_where(&mut rx, |s| {
        matches!(&s.body, Body::StatusChange(c)
            if matches!(&c.status, Status::InRoom { present: false, room: r, .. } if r.id() == room))
            && s.meta.origin.as_ref() == Some(&own)
    })
    .await;

    end(&handle, running).await;
}

/// The bot away while 250 messages are said (more than a sync's limited timeline holds), then
/// back on the same journal: what was said while it was away is given once, in order, gap
/// filled; nothing from before; live messages again after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_journal_gives_what_was_said_while_away_once_gap_filled() {
    let bot_account = matrix_account();
    let alice = Person::login(&matrix_account()).await;
    let journal = MemoryJournal::new();
    let room = alice.create_room(&bot_account.user_id, false).await;
    alice.say(&room, "before the bot came").await;

    let (running, mut rx) = run(config(&bot_account), Some(&journal));
    let (handle, own) = started(&mut rx).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    alice.say(&room, "one").await;
    let (one, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&one), Some("one"), "the room's past is not given");
    // Not an answer (the router gives an answer an id of its own, from its journal entry): a
    // signal whose id the test keeps.
    let room_address = one.meta.visible_to[0].clone();
    let once = Signal::message("said once").to(room_address);
    let id = handle.send(once.clone()).await.unwrap();
    sent(&handle, &id).await;
    end(&handle, running).await;

    let began = Instant::now();
    for n in 0..250 {
        alice.say(&room, &format!("away {n:03}")).await;
    }
    eprintln!("250 messages sent in {:?}", began.elapsed());

    let (running, mut rx) = run(config(&bot_account), Some(&journal));
    let (handle, _) = started(&mut rx).await;
    let began = Instant::now();
    let mut given = Vec::new();
    while given.len() < 250 {
        let (signal, _) = next_where(&mut rx, |s| text(s).is_some()).await;
        given.push(text(&signal).unwrap().to_owned());
    }
    eprintln!("250 given after the restart in {:?}", began.elapsed());
    let want: Vec<String> = (0..250).map(|n| format!("away {n:03}")).collect();
    assert_eq!(given, want);
    // The same signal sent again by the next process (logged in again as the same device): the
    // same transaction, one event.
    let again = handle.send(once).await.unwrap();
    sent(&handle, &again).await;
    let bodies = alice.bodies(&room, &bot_account.user_id).await;
    assert_eq!(
        bodies.iter().filter(|b| *b == "said once").count(),
        1,
        "{bodies:?}"
    );
    alice.say(&room, "live again").await;
    let (live, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&live), Some("live again"), "nothing given twice");
    end(&handle, running).await;

    // A third run with nothing said meanwhile: nothing is given again.
    let (running, mut rx) = run(config(&bot_account), Some(&journal));
    let (handle, _) = started(&mut rx).await;
    let more = timeout(Duration::from_millis(1500), async {
        loop {
            let (signal, _) = rx.recv().await?;
            if let Some(text) = text(&signal) {
                return Some(text.to_owned());
            }
        }
    })
    .await;
    assert!(matches!(more, Err(_) | Ok(None)), "given again: {more:?}");
    alice.say(&room, "third run").await;
    let (third, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&third), Some("third run"));
    end(&handle, running).await;
}

/// A message to a person the bot has no direct chat with (a user registered for the test): the
/// session opens one (the person invited, `is_direct`); the person's answer there is the
/// direct chat's, answered in the same room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_person_opens_a_direct_chat() {
    let bot_account = matrix_account();
    let alice = Person::register("dm").await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, _) = started(&mut rx).await;
    let to_alice: Address = format!("matrix:{};kind=individual", alice.user_id)
        .parse()
        .unwrap();
    // Typing alone opens no direct chat.
    let typing = |state| {
        let mut signal = Signal::new(StatusChange::new(Status::Typing {
            conversation: to_alice.clone(),
            state,
        }));
        signal.meta.addressees = vec![to_alice.clone()];
        signal
    };
    let refused = handle.send(typing(TypingState::Composing)).await.unwrap();
    timeout(WAIT, async {
        loop {
            let status = handle
                .query(Query::DeliveryStatus {
                    id: refused.clone(),
                })
                .await;
            if let Ok(Answer::DeliveryStatus(DeliveryStatus::Failed { kind, .. })) = status {
                assert_eq!(kind, chatty_core::FailureKind::UnknownAddressee);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("refused in time");

    let hello = format!("hello alice {}", std::process::id());
    let id = handle
        .send(Signal::message(hello.as_str()).to(to_alice.clone()))
        .await
        .unwrap();
    sent(&handle, &id).await;
    let room = alice.until_invited(&bot_account.user_id).await;
    alice.join(&room).await;
    alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == hello.as_str()
        })
        .await;
    // Now typing to her goes to the direct chat.
    let id = handle.send(typing(TypingState::Composing)).await.unwrap();
    sent(&handle, &id).await;
    alice.until_typing(&room, &bot_account.user_id).await;
    alice.say(&room, "hi bot").await;
    // The first message given: nothing from the pool account's old rooms.
    let (hi, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&hi), Some("hi bot"), "{hi:?}");
    assert_eq!(hi.meta.origin.as_ref(), Some(&to_alice));
    assert!(
        hi.meta.visible_to.is_empty(),
        "a direct chat: {:?}",
        hi.meta
    );
    let id = handle.send(hi.reply(Message::text("again"))).await.unwrap();
    sent(&handle, &id).await;
    alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "again"
        })
        .await;
    end(&handle, running).await;
}

/// A process started again without a position (no journal) within Synapse's 2 minutes of
/// cached sync answers: its first sync is its own, and nothing said before it started is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_without_a_position_is_given_nothing_from_before() {
    let bot_account = matrix_account();
    let alice = Person::login(&matrix_account()).await;
    let room = alice.create_room(&bot_account.user_id, false).await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, own) = started(&mut rx).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    alice.say(&room, "first process").await;
    let (first, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&first), Some("first process"));
    end(&handle, running).await;
    alice.say(&room, "between").await;

    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, _) = started(&mut rx).await;
    alice.say(&room, "second process").await;
    let (second, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&second), Some("second process"), "{second:?}");
    end(&handle, running).await;
}

/// Messages sent at the same moment to a person the bot has no direct chat with yet: one
/// direct chat is opened, and every message is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_at_once_to_a_new_person_open_one_direct_chat() {
    let bot_account = matrix_account();
    let alice = Person::register("dm2").await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, _) = started(&mut rx).await;
    let to_alice: Address = format!("matrix:{};kind=individual", alice.user_id)
        .parse()
        .unwrap();
    let texts: Vec<String> = (0..4).map(|n| format!("at once {n}")).collect();
    let sends = texts
        .iter()
        .map(|t| handle.send(Signal::message(t.as_str()).to(to_alice.clone())));
    for id in chatty_core::reexports::futures::future::join_all(sends).await {
        sent(&handle, &id.unwrap()).await;
    }
    let room = alice.until_invited(&bot_account.user_id).await;
    alice.join(&room).await;
    for text in &texts {
        alice
            .until_message(&room, &bot_account.user_id, |e| {
                e["content"]["body"] == text.as_str()
            })
            .await;
    }
    let rooms = alice.rooms_with(&bot_account.user_id).await;
    assert_eq!(rooms, [room], "one direct chat");
    end(&handle, running).await;
}
