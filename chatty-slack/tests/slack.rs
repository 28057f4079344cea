//! End to end against the local Slack: a bot on a `SlackSession`, people acting through the
//! local Slack's test API, and faults injected on the way.

mod common;

use std::time::Duration;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json::{Value, json};
use chatty_core::{
    AddressKind, Answer, Availability, Body, Content, DeliveryStatus, DownloadFile, EditKind,
    FailureKind, File, Message, Page, Query, SendError, Signal, SignalKind, Status, StatusChange,
    TypingState, UserDefined,
};
use common::{
    Bot, WAIT, address, assert_all_acknowledged, assert_reconnected, assert_sent, assert_sockets,
    bot_post_where, bot_posts, first_connection_error, local_slack, next_message, run_unstarted,
    text, workspace, workspace_with_dm, workspace_with_general,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_both_ways_threads_only_where_the_original_is() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;

    let ts = slack.post(&alice, &dm, "hello &lt;bot&gt;");
    let got = next_message(&bot).await;
    assert_eq!(text(&got), "hello <bot>");
    assert_eq!(got.meta.id.as_str(), format!("{dm}/{ts}"));
    assert_eq!(got.meta.origin, Some(address(&slack, &alice)));
    assert_eq!(got.meta.addressees, vec![bot.address.clone()]);
    assert!(got.meta.visible_to.is_empty());
    assert_eq!(got.meta.automatic, None, "a person's message");
    assert_eq!(
        got.meta.sent.map(|t| t.unix_timestamp()),
        ts.split('.').next().and_then(|s| s.parse().ok())
    );

    // An answer to a top-level message goes to the top level of the DM, as people answer.
    let handle = bot.remote.handle().await;
    handle
        .send(got.reply(Message::text("hi alice")))
        .await
        .unwrap();
    let answer = &bot_posts(&slack, &dm, &app, 1).await[0];
    assert_eq!(answer["text"], "hi alice");
    assert!(
        answer.get("thread_ts").is_none(),
        "not in a thread: {answer}"
    );
    assert_eq!(answer["bot_id"], app.bot_id.as_str());

    // A person answering in a thread: response_to names the thread's root, and the bot's
    // answer to that goes into the thread.
    slack.post_in_thread(&alice, &dm, Some(&ts), "and in the thread");
    let threaded = next_message(&bot).await;
    assert_eq!(threaded.meta.response_to, Some(got.meta.id.clone()));
    handle
        .send(threaded.reply(Message::text("in the thread too")))
        .await
        .unwrap();
    assert_eq!(
        bot_posts(&slack, &dm, &app, 2).await[1]["thread_ts"],
        ts.as_str()
    );

    // The bot asks for a thread under a top-level message itself.
    let second = slack.post(&alice, &dm, "a long story");
    let story = next_message(&bot).await;
    handle
        .send(
            story
                .reply(Message::text("let's keep it in a thread"))
                .in_response_to(chatty_slack::thread_of(story.id())),
        )
        .await
        .unwrap();
    assert_eq!(
        bot_posts(&slack, &dm, &app, 3).await[2]["thread_ts"],
        second.as_str()
    );

    // The bot's own messages never come back to it.
    bot.assert_no_message_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_messages_mentions_joins_and_leaves() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let carol = slack.add_user("carol");
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let room = address(&slack, &general);

    // The bot's own join (conversations.join at start) comes as its presence in the room.
    let joined = bot.next_io().await.expect("the join");
    assert!(matches!(&joined.body, Body::StatusChange(c)
        if matches!(&c.status, Status::InRoom { room: r, present: true, .. } if *r == room)));
    assert_eq!(joined.meta.origin, Some(bot.address.clone()));

    // A mention arrives once (Slack sends `message` and `app_mention`), addressed to the bot.
    let ts = slack.post(
        &alice,
        &general,
        &format!("hey <@{}> look", app.bot_user_id),
    );
    let got = next_message(&bot).await;
    assert_eq!(got.meta.addressees, vec![bot.address.clone()]);
    assert_eq!(got.meta.visible_to, vec![room.clone()]);
    assert_eq!(got.meta.visible_to[0].kind(), AddressKind::Channel);
    assert_eq!(got.meta.origin, Some(address(&slack, &alice)));

    let handle = bot.remote.handle().await;
    handle.send(got.reply(Message::text("seen"))).await.unwrap();
    let answer = &bot_posts(&slack, &general, &app, 1).await[0];
    assert!(
        answer.get("thread_ts").is_none(),
        "an answer to a top-level message {ts} is at the top level: {answer}"
    );

    // A plain channel message without a mention: no addressees, visible to the channel.
    slack.post(&alice, &general, "just chatting");
    let plain = next_message(&bot).await;
    assert_eq!(text(&plain), "just chatting");
    assert!(plain.meta.addressees.is_empty());

    // Joins and leaves of people are InRoom status changes.
    slack.join(&carol, &general);
    let join = bot.next_io().await.expect("carol's join");
    assert_eq!(join.meta.origin, Some(address(&slack, &carol)));
    assert!(matches!(&join.body, Body::StatusChange(c)
        if matches!(&c.status, Status::InRoom { present: true, .. })));
    slack.leave(&carol, &general);
    let leave = bot.next_io().await.expect("carol's leave");
    assert!(matches!(&leave.body, Body::StatusChange(c)
        if matches!(&c.status, Status::InRoom { present: false, .. })));

    // Edits and deletions name the message they change.
    let original = slack.post(&alice, &general, "typo");
    let typo = next_message(&bot).await;
    slack.edit(&alice, &general, &original, "fixed").unwrap();
    let fixed = next_message(&bot).await;
    match &fixed.body {
        Body::Message(m) => {
            assert_eq!(m.text, "fixed");
            let edit = m.edit.as_ref().expect("an edit");
            assert_eq!((edit.kind, &edit.of), (EditKind::Correction, &typo.meta.id));
        }
        other => panic!("{other:?}"),
    }
    slack.delete(&alice, &general, &original).unwrap();
    let gone = next_message(&bot).await;
    assert!(matches!(&gone.body, Body::Message(m)
        if m.edit.as_ref().is_some_and(|e| e.kind == EditKind::Retraction && e.of == typo.meta.id)));

    // The bot leaves the channel: its own InRoom signal out, conversations.leave, the event in.
    handle
        .send(Signal::new(StatusChange::new(Status::InRoom {
            room: room.clone(),
            present: false,
            role: None,
        })))
        .await
        .unwrap();
    assert!(
        slack
            .wait_until(WAIT, |s| !s.members(&general).contains(&app.bot_user_id))
            .await
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_both_ways_and_downloads_with_the_token() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    slack.share_file(&alice, &dm, "notes.txt", &b"file content"[..], None);
    let got = next_message(&bot).await;
    let Body::File(file) = &got.body else {
        panic!("a file: {:?}", got.body)
    };
    assert_eq!(file.name, "notes.txt");
    assert_eq!(file.media_type.as_deref(), Some("text/plain"));
    let Content::Url { url, .. } = &file.content else {
        panic!("a URL")
    };
    assert!(url.contains("/files-pri/"), "{url}");

    let request = handle
        .send(Signal::new(DownloadFile::new(file.clone())))
        .await
        .unwrap();
    let fetched = bot.next_of(SignalKind::File).await;
    assert_eq!(fetched.meta.response_to, Some(request));
    assert!(matches!(&fetched.body, Body::File(f)
        if matches!(&f.content, Content::Bytes { data } if data.as_ref() == b"file content")));

    // A message with a comment and a file.
    slack.share_file(&alice, &dm, "p.png", &b"\x89PNG"[..], Some("a picture"));
    let with_comment = next_message(&bot).await;
    assert!(matches!(&with_comment.body, Body::Message(m)
        if m.text == "a picture" && m.attachments.len() == 1 && m.attachments[0].name == "p.png"));

    // The bot sends a file: files v2, shared into the DM.
    let out = File::bytes(
        "report.csv",
        Some("text/csv"),
        Bytes::from_static(b"a,b\n1,2\n"),
    );
    handle
        .send(Signal::new(out).to(address(&slack, &alice)))
        .await
        .unwrap();
    let share = bot_post_where(&slack, &dm, &app, |m| m["subtype"] == "file_share").await;
    let file_id = share["files"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(share["files"][0]["name"], "report.csv");
    assert_eq!(slack.file_bytes(&file_id).unwrap().as_ref(), b"a,b\n1,2\n");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_false_is_a_send_failure_with_slacks_code() {
    let (slack, alice, app) = workspace().await;
    let elsewhere = slack.create_channel("elsewhere", &alice, false);
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    let id = handle
        .send(Signal::message("hello?").to(address(&slack, &elsewhere)))
        .await
        .unwrap();
    let f = bot.rejection_of(&id).await;
    assert_eq!(f.code.as_deref(), Some("not_in_channel"));
    assert_eq!(
        handle.delivery_status(&id).await.unwrap(),
        DeliveryStatus::Failed {
            kind: FailureKind::Rejected,
            message: "Slack's chat.postMessage answered not_in_channel".into()
        }
    );

    slack.fail_next("chat.postMessage", "restricted_action");
    let dm = address(&slack, &alice);
    let id = handle
        .send(Signal::message("x").to(dm.clone()))
        .await
        .unwrap();
    let f = bot.next_send_failure().await;
    assert!(f.failed == id && f.code.as_deref() == Some("restricted_action"));

    // The next message goes out.
    let ok = handle.send(Signal::message("fine").to(dm)).await.unwrap();
    assert_sent(&handle, &ok).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_delivers_every_message_once_in_order() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    // Every other call refused for a while, each with Retry-After: 1.
    slack.rate_limit("chat.postMessage", 4, 1);
    for i in 0..8 {
        handle
            .send(Signal::message(format!("m{i}")).to(address(&slack, &alice)))
            .await
            .unwrap();
    }
    let texts: Vec<String> = bot_posts(&slack, &dm, &app, 8)
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, (0..8).map(|i| format!("m{i}")).collect::<Vec<_>>());
    bot.assert_no_send_failure_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_envelope_is_not_delivered_twice() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start(&slack, app.clone()).await;
    slack.set_ack_timeout(Duration::from_millis(300));
    slack.ignore_acks(&app.app_id, 2);

    slack.post(&alice, &dm, "once");
    assert_eq!(text(&next_message(&bot).await), "once");
    assert!(
        slack
            .wait_until(WAIT, |s| s
                .deliveries(&app.app_id)
                .iter()
                .any(|(_, retry)| *retry >= 2))
            .await,
        "the envelope was sent again: {:?}",
        slack.deliveries(&app.app_id)
    );
    assert_all_acknowledged(&slack, &app).await;
    bot.assert_no_message_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_and_a_killed_socket_lose_nothing() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start(&slack, app.clone()).await;

    slack.post(&alice, &dm, "m0");
    assert_eq!(text(&next_message(&bot).await), "m0");
    let opened = slack.connections_opened(&app.app_id);

    slack.disconnect(&app.app_id, "refresh_requested");
    slack.post(&alice, &dm, "m1");
    slack.post(&alice, &dm, "m2");
    assert_eq!(text(&next_message(&bot).await), "m1");
    assert_eq!(text(&next_message(&bot).await), "m2");
    // (The messages may have gone out on the old socket before it processed the fault.)
    assert_reconnected(&slack, &app, opened).await;

    let opened = slack.connections_opened(&app.app_id);
    assert_sockets(&slack, &app, 1).await;
    slack.kill_sockets(&app.app_id);
    slack.post(&alice, &dm, "m3");
    slack.post(&alice, &dm, "m4");
    assert_eq!(text(&next_message(&bot).await), "m3");
    assert_eq!(text(&next_message(&bot).await), "m4");
    // (The messages may have gone out on the old socket before it processed the fault.)
    assert_reconnected(&slack, &app, opened).await;
    bot.assert_no_message_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_and_typing_come_back_unsupported() {
    let (slack, alice, app) = workspace().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;
    let to = address(&slack, &alice);

    // The router knows at once: the send itself is refused, and nothing is sent.
    let refused = handle
        .send(Signal::new(Message::text("body").with_subject("subject")).to(to.clone()))
        .await;
    assert!(
        matches!(&refused, Err(SendError::Unsupported { reason }) if reason.contains("subject")),
        "{refused:?}"
    );

    let refused = handle
        .send(Signal::new(StatusChange::new(Status::Typing {
            conversation: to,
            state: TypingState::Composing,
        })))
        .await;
    assert!(
        matches!(&refused, Err(SendError::Unsupported { .. })),
        "{refused:?}"
    );
    assert!(slack.messages_from(&app.bot_user_id).is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_are_answered_from_the_web_api() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let bob = slack.add_user("bob");
    let other = slack.create_channel("other", &alice, false);
    slack.join(&bob, &general);
    let group = slack.open_conversation(&[&alice, &bob, &app.bot_user_id]);
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;
    let room = address(&slack, &general);

    let kind = |id: &str| Query::AddressKind {
        address: address(&slack, id),
    };
    for (id, expected) in [
        (&general, AddressKind::Channel),
        (&group, AddressKind::Group),
        (&alice, AddressKind::Individual),
    ] {
        assert_eq!(
            handle.query(kind(id)).await.unwrap(),
            Answer::AddressKind { kind: expected }
        );
    }

    let Answer::Members { members } = handle
        .query(Query::Members {
            address: room.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("members")
    };
    for who in [&alice, &bob, &app.bot_user_id] {
        assert!(
            members.contains(&address(&slack, who)),
            "{who} in {members:?}"
        );
    }
    assert_eq!(
        handle
            .query(Query::MemberStatus {
                member: address(&slack, &bob),
                channel: address(&slack, &other)
            })
            .await
            .unwrap(),
        Answer::MemberStatus(chatty_core::MemberStatus::new(false))
    );
    assert_eq!(
        handle
            .query(Query::OwnStatus {
                channel: room.clone()
            })
            .await
            .unwrap(),
        Answer::MemberStatus(chatty_core::MemberStatus::new(true))
    );
    assert_eq!(
        handle
            .query(Query::OwnStatus {
                channel: address(&slack, &other)
            })
            .await
            .unwrap(),
        Answer::MemberStatus(chatty_core::MemberStatus::new(false))
    );
    assert!(matches!(
        handle.query(Query::Status { address: address(&slack, &alice) }).await.unwrap(),
        Answer::Status(p) if p.availability == Availability::Available
    ));

    // The bot's own presence: users.setPresence, seen with users.getPresence.
    handle
        .send(Signal::new(StatusChange::new(Status::Presence {
            availability: Availability::Away,
        })))
        .await
        .unwrap();
    assert!(matches!(
        handle.query(Query::Status { address: bot.address.clone() }).await.unwrap(),
        Answer::Status(p) if p.availability == Availability::Away
    ));

    // History from conversations.history, newest first.
    slack.post(&alice, &general, "first");
    slack.post(&bob, &general, "second");
    let sent = handle
        .send(Signal::message("from the bot").to(room.clone()))
        .await
        .unwrap();
    bot_posts(&slack, &general, &app, 1).await;
    let Answer::History(history) = handle
        .query(Query::ReceivedFrom {
            address: room.clone(),
            page: Page::first(10),
        })
        .await
        .unwrap()
    else {
        panic!("history")
    };
    let texts: Vec<&str> = history.signals.iter().map(text).collect();
    assert_eq!(texts, ["second", "first"]);
    let Answer::History(mine) = handle
        .query(Query::SentTo {
            address: room.clone(),
            page: Page::first(10),
        })
        .await
        .unwrap()
    else {
        panic!("history")
    };
    assert_eq!(mine.signals.len(), 1);
    assert_eq!(
        mine.signals[0].meta.id, sent,
        "the signal id is kept in the metadata"
    );
    assert_sent(&handle, &sent).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_defined_signals_ride_in_message_metadata() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;
    let signal =
        Signal::new(UserDefined::new("order", &json!({"item": "tea", "count": 2})).unwrap())
            .to(address(&slack, &alice));
    handle.send(signal).await.unwrap();
    let posted = &bot_posts(&slack, &dm, &app, 1).await[0];
    assert_eq!(posted["metadata"]["event_type"], "order");
    let payload: Value = chatty_core::reexports::serde_json::from_str(
        posted["metadata"]["event_payload"]["chatty_payload"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload, json!({"item": "tea", "count": 2}));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_an_authentication_error() {
    let slack = local_slack().await;
    let app = slack.add_app("bot");
    let config = common::config(&slack, &app);
    let config = chatty_slack::SlackConfig {
        bot_token: chatty_slack::Secret::inline("xoxb-wrong"),
        ..config
    };
    let (remote, task) = run_unstarted(config);
    let e = first_connection_error(&remote).await;
    assert_eq!(e.kind, chatty_core::ConnectionErrorKind::Authentication);
    assert!(e.cause.contains("invalid_auth"), "{}", e.cause);
    assert!(!e.cause.contains("xoxb-wrong"), "no token in the cause");
    assert_eq!(e.retry_in, None);
    let _ = tokio::time::timeout(WAIT, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_token_is_a_connection_error_naming_it() {
    let slack = local_slack().await;
    let app = slack.add_app("bot");
    let config = chatty_slack::SlackConfig {
        app_token: chatty_slack::Secret::env("CHATTY_SLACK_TEST_NO_SUCH_TOKEN_VAR"),
        ..common::config(&slack, &app)
    };
    let (remote, task) = run_unstarted(config);
    let e = first_connection_error(&remote).await;
    assert_eq!(
        e.cause,
        "app token: the environment variable CHATTY_SLACK_TEST_NO_SUCH_TOKEN_VAR is not set"
    );
    assert!(!e.cause.contains(&app.bot_token), "no token in the cause");
    assert_eq!(e.retry_in, None);
    let _ = tokio::time::timeout(WAIT, task).await;
}
