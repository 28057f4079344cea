//! `Protocol::sent` of the Slack session: after a restart, an answer that may have left just
//! before the process stopped is looked up on Slack by its id. A fresh session (a restarted
//! process: it has seen none of the messages) is asked about answers a first session posted,
//! at the top level of a DM, in a thread, as a file and in a channel, and about answers never
//! posted; then what it cannot tell.

mod common;

use chatty_core::driver::Protocol;
use chatty_core::reexports::bytes::Bytes;
use chatty_core::{Edit, File, Message, Signal, SignalId};
use chatty_slack::SlackSession;
use common::{Bot, WAIT, bot_post_where, config, next_message, posted_by, workspace_with_dm};

/// Sends `signals` through `bot` and waits until the bot's messages in `channels` number
/// `total`.
async fn post_all(
    slack: &chatty_local_slack::LocalSlack,
    bot: &mut Bot,
    signals: &[&Signal],
    channels: &[&str],
    total: usize,
) {
    let handle = bot.remote.handle().await;
    for signal in signals {
        handle.send((*signal).clone()).await.unwrap();
    }
    let user = bot.app.bot_user_id.clone();
    let count = |s: &chatty_local_slack::LocalSlack| {
        channels
            .iter()
            .map(|c| posted_by(s, c, &user).len())
            .sum::<usize>()
    };
    assert!(
        slack.wait_until(WAIT, |s| count(s) >= total).await,
        "{} of {total} posted",
        count(slack)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_left_are_found_after_a_restart_and_others_are_not() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let general = slack.create_channel("general", &alice, false);
    slack.join(&app.bot_user_id, &general);
    let mut first = Bot::start(&slack, app.clone()).await;

    let ts = slack.post(&alice, &dm, "question");
    let question = next_message(&first).await;
    slack.post_in_thread(&alice, &dm, Some(&ts), "in the thread");
    let threaded = next_message(&first).await;
    slack.post(&alice, &general, "in the channel");
    let in_channel = next_message(&first).await;

    let top = question.reply(Message::text("answer"));
    let in_thread = threaded.reply(Message::text("answer in the thread"));
    let file = question.reply(File::bytes(
        "a.txt",
        Some("text/plain"),
        Bytes::from_static(b"abc"),
    ));
    let to_channel = in_channel.reply(Message::text("answer in the channel"));
    let left = [&top, &in_thread, &file, &to_channel];
    post_all(&slack, &mut first, &left, &[&dm, &general], 4).await;
    let posted = posted_by(&slack, &dm, &app.bot_user_id);
    assert_eq!(posted[1]["thread_ts"], ts.as_str(), "{posted:?}");
    first.stop().await;

    // A conversation that went on: 250 messages after the answers (two pages of history).
    for i in 0..250 {
        slack.post(&alice, &dm, &format!("later {i}"));
    }
    let mut second = Bot::start(&slack, app.clone()).await;
    let session = second.session.clone();
    let session = &*session;
    let history_before = slack.call_count("conversations.history");
    for answer in left {
        assert_eq!(
            Protocol::sent(session, answer).await,
            Some(true),
            "{answer:?}"
        );
    }
    // At most PAGES calls of history for each of the three answers at the top level.
    let calls = slack.call_count("conversations.history") - history_before;
    assert!(calls <= 3 * 5, "{calls} conversations.history calls");
    assert!(slack.call_count("conversations.replies") >= 1);

    // Answers never posted: the window (from the answered message to now) holds no message
    // of the bot's with their ids.
    let never = [
        question.reply(Message::text("never posted")),
        threaded.reply(Message::text("never posted in the thread")),
        question.reply(File::bytes("b.txt", None, Bytes::from_static(b"b"))),
        in_channel.reply(Message::text("never posted in the channel")),
    ];
    for answer in &never {
        assert_eq!(
            Protocol::sent(session, answer).await,
            Some(false),
            "{answer:?}"
        );
    }
    // The same id posted by someone else is not the bot's answer.
    let forged = question.reply(Message::text("forged"));
    let token = slack.user_token(&alice).unwrap();
    let args = chatty_core::reexports::serde_json::json!({
        "channel": dm, "text": "forged",
        "metadata": {"event_type": "chatty_message",
                     "event_payload": {"chatty_id": forged.meta.id.as_str()}},
    });
    assert_eq!(slack.call(&token, "chat.postMessage", args)["ok"], true);
    assert_eq!(Protocol::sent(session, &forged).await, Some(false));

    // The thread learnt while looking: an answer to the thread reply sent again goes there.
    let handle = second.remote.handle().await;
    let again = threaded.reply(Message::text("sent again"));
    handle.send(again).await.unwrap();
    let resent = bot_post_where(&slack, &dm, &app, |m| m["text"] == "sent again").await;
    assert_eq!(resent["thread_ts"], ts.as_str(), "{resent}");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cannot_tell_on_a_failure_past_its_window_or_without_a_place() {
    let (slack, alice, app, dm) = workspace_with_dm().await;

    // Not connected: nothing to ask.
    let idle = SlackSession::new(config(&slack, &app)).unwrap();
    let mut lone = Signal::message("q");
    lone.meta.id = SignalId::from(format!("{dm}/1.000001"));
    assert_eq!(
        Protocol::sent(&idle, &lone.reply(Message::text("a"))).await,
        None
    );

    let mut bot = Bot::start(&slack, app.clone()).await;
    let session = bot.session.clone();
    let session = &*session;
    slack.post(&alice, &dm, "question");
    let question = next_message(&bot).await;
    let answer = question.reply(Message::text("answer"));
    // An answer to a message whose place the session cannot know (an id another Chatty
    // session gave it): found among the last minutes' messages, or it cannot tell.
    let mut foreign = question.clone();
    foreign.meta.id = SignalId::from("someone-elses-id");
    let foreign_answer = foreign.reply(Message::text("answer to a foreign id"));
    let never_foreign = foreign.reply(Message::text("never posted"));
    post_all(&slack, &mut bot, &[&answer, &foreign_answer], &[&dm], 2).await;
    assert_eq!(Protocol::sent(session, &foreign_answer).await, Some(true));
    assert_eq!(Protocol::sent(session, &never_foreign).await, None);

    // A Web API failure: the session cannot tell; once Slack answers again, it can.
    slack.fail_next("conversations.history", "internal_error");
    assert_eq!(Protocol::sent(session, &answer).await, None);
    assert_eq!(Protocol::sent(session, &answer).await, Some(true));
    slack.fail_next("conversations.replies", "internal_error");
    let mut unknown_place = question.clone();
    unknown_place.meta.id = SignalId::from(format!("{dm}/1.000002"));
    assert_eq!(
        Protocol::sent(session, &unknown_place.reply(Message::text("x"))).await,
        None,
        "the thread of the answered message could not be asked"
    );

    // An edit changes a message in place: the session cannot tell.
    let correction = Message::text("corrected").with_edit(Edit::correction(answer.meta.id.clone()));
    let edit = question.reply(correction);
    assert_eq!(Protocol::sent(session, &edit).await, None);

    // More than 1 000 messages since the answered one: the search stops, found or not.
    for i in 0..1_001 {
        slack.post(&alice, &dm, &format!("later {i}"));
    }
    let calls = slack.call_count("conversations.history");
    assert_eq!(Protocol::sent(session, &answer).await, None);
    assert_eq!(slack.call_count("conversations.history") - calls, 5);
    let never = question.reply(Message::text("never posted"));
    assert_eq!(Protocol::sent(session, &never).await, None);
    bot.stop().await;
}
