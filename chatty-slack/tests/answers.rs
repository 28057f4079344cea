//! Answers to what the session delivered: to the ids it produced inbound (edits, joins, thread
//! replies), to everyone who saw a message (`reply_all`), other bots marked automatic, and
//! downloads only from Slack.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chatty_core::{
    Automatic, Body, DownloadFile, EditKind, File, Message, Signal, SignalKind, Status,
};
use common::{
    Bot, address, bot_post_where, bot_posts, next_message, posted_by, text, workspace,
    workspace_with_general,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_to_inbound_ids_go_where_the_original_is() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;

    // The bot's own join: an InRoom status with an id of its own; an answer to it goes to
    // the channel, not refused.
    let joined = bot.next_io().await.expect("the join");
    assert!(
        matches!(&joined.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { .. }))
    );
    handle
        .send(joined.reply(Message::text("hello channel")))
        .await
        .unwrap();
    bot_posts(&slack, &general, &app, 1).await;

    // A thread reply, edited: the edit's id (CHANNEL/EDIT_TS) names no message, yet an answer
    // to it goes into the thread of the message it edits.
    let root = slack.post(&alice, &general, "a question");
    let _ = next_message(&bot).await;
    let reply = slack.post_in_thread(&alice, &general, Some(&root), "deatils");
    let _ = next_message(&bot).await;
    slack.edit(&alice, &general, &reply, "details").unwrap();
    let edit = next_message(&bot).await;
    assert!(matches!(&edit.body, Body::Message(m)
        if m.edit.as_ref().is_some_and(|e| e.kind == EditKind::Correction)));
    let answer = handle
        .send(edit.reply(Message::text("noted")))
        .await
        .unwrap();
    let noted = &bot_posts(&slack, &general, &app, 2).await[1];
    assert_eq!(noted["text"], "noted");
    assert_eq!(noted["thread_ts"], root.as_str(), "{noted}");

    // The bot corrects its answer: chat.update of the message it posted.
    handle
        .send(
            Signal::new(Message::text("noted, thanks").correcting(answer.clone()))
                .to(address(&slack, &general)),
        )
        .await
        .unwrap();
    bot_post_where(&slack, &general, &app, |m| m["text"] == "noted, thanks").await;
    bot.assert_no_send_failure_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_bots_and_slackbot_arrive_marked_automatic() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let other = slack.add_app("other");
    slack.join(&other.bot_user_id, &general);
    let bot = Bot::start_in(&slack, app.clone(), &general).await;

    slack.post_as_app(&app.app_id, &general, "my own").unwrap();
    slack
        .post_as_app(&other.app_id, &general, "build passed")
        .unwrap();
    let got = next_message(&bot).await;
    assert_eq!(
        text(&got),
        "build passed",
        "the bot's own message never arrives"
    );
    assert_eq!(got.meta.automatic, Some(Automatic::Bot));
    assert!(got.is_automatic());

    slack.post(
        chatty_local_slack::SLACKBOT,
        &general,
        "Reminder: stand-up.",
    );
    let reminder = next_message(&bot).await;
    assert_eq!(text(&reminder), "Reminder: stand-up.");
    assert_eq!(reminder.meta.automatic, Some(Automatic::Generated));

    slack.post(&alice, &general, "a person");
    let person = next_message(&bot).await;
    assert_eq!(person.meta.automatic, None);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_refused_for_urls_that_are_not_slack_files() {
    let (slack, alice, app) = workspace().await;
    let carol = slack.add_user("carol");
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    // A server that would receive the bot token: it must see no request at all.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    for url in [
        format!("http://127.0.0.1:{port}/files-pri/T1-F1/notes.txt"),
        "https://example.org/files-pri/T1-F1/notes.txt".to_owned(),
    ] {
        let file = File::url("notes.txt", Some("text/plain"), url.clone());
        let id = handle
            .send(Signal::new(DownloadFile::new(file)).to(bot.address.clone()))
            .await
            .unwrap();
        let f = bot.rejection_of(&id).await;
        assert!(f.message.contains("not a Slack file URL"), "{}", f.message);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the token never left");

    // A Slack file the bot may not see: Slack's sign-in page (HTML), not the file.
    let dm = slack.open_conversation(&[&alice, &carol]);
    let shared = slack.share_file(&alice, &dm, "secret.txt", &b"secret"[..], None);
    let url = format!(
        "http://{}/files-pri/{}-{}/secret.txt",
        slack.addr(),
        slack.team_id(),
        shared.file_id
    );
    let file = File::url("secret.txt", Some("text/plain"), url);
    handle
        .send(Signal::new(DownloadFile::new(file)).to(bot.address.clone()))
        .await
        .unwrap();
    let f = bot.next_send_failure().await;
    assert!(f.message.contains("sign-in page"), "{}", f.message);
    assert!(
        bot.remote
            .drain_for(Duration::from_millis(300))
            .await
            .iter()
            .all(|s| s.kind() != SignalKind::File),
        "no file from an HTML page"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_all_posts_once_where_the_message_was() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let carol = slack.add_user("carol");
    slack.join(&carol, &general);
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;

    // A mention of the bot and carol: the answer to all is visible to the bot and carol.
    slack.post(
        &alice,
        &general,
        &format!("<@{}> and <@{carol}>: lunch?", app.bot_user_id),
    );
    let asked = next_message(&bot).await;
    let answer = asked.reply_all(Message::text("yes"));
    assert!(answer.meta.visible_to.contains(&bot.address), "{answer:?}");
    handle.send(answer).await.unwrap();

    // In a DM: the answer to all names the bot in visible_to too.
    slack.post(&alice, &dm, "and you?");
    let direct = next_message(&bot).await;
    let answer = direct.reply_all(Message::text("me too"));
    assert_eq!(answer.meta.visible_to, vec![bot.address.clone()]);
    handle.send(answer).await.unwrap();

    bot_posts(&slack, &dm, &app, 1).await;
    let in_channel: Vec<_> = posted_by(&slack, &general, &app.bot_user_id)
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(in_channel, ["yes"], "once, in the channel");
    assert_eq!(
        slack.call_count("conversations.open"),
        0,
        "no DM with anyone, the bot itself included"
    );
    bot.assert_no_send_failure_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_to_a_thread_reply_the_session_never_saw_goes_into_its_thread() {
    // As after a restart, when the journal gives the bot a thread reply again: a fresh session
    // has not seen it, and its id (CHANNEL/TS) does not say it is in a thread.
    let (slack, alice, app, general) = workspace_with_general().await;
    let root = slack.post(&alice, &general, "a question");
    let reply = slack.post_in_thread(&alice, &general, Some(&root), "details");
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;
    let answered = chatty_core::SignalId::from(format!("{general}/{reply}"));
    handle
        .send(
            Signal::message("answered after a restart")
                .to(address(&slack, &general))
                .in_response_to(answered),
        )
        .await
        .unwrap();
    let posted = &bot_posts(&slack, &general, &app, 1).await[0];
    assert_eq!(posted["text"], "answered after a restart");
    assert_eq!(posted["thread_ts"], root.as_str(), "{posted}");
    bot.stop().await;
}
