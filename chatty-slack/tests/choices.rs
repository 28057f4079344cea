//! Choices and slash commands against the local Slack: a question posted as Block Kit buttons
//! with its numbered fallback text, a person's click arriving as the answer (once, however
//! often it is sent, and naming the question after a restart too) and the bot's reply landing
//! where the question was (in its thread, if it is in one), a slash command as a
//! command message, a malformed interaction between messages that arrive, and a question too
//! large for Slack refused at send.

mod common;

use chatty_core::reexports::serde_json::json;
use chatty_core::{Body, Choice, Chosen, Handle, Message, Signal, SignalId};
use chatty_local_slack::{AppCredentials, LocalSlack};
use common::{
    Bot, WAIT, address, assert_all_acknowledged, assert_sent, bot_posts, next_message,
    system_errors, text, workspace_with_dm, workspace_with_general,
};

fn priority() -> Choice {
    Choice::new("priority")
        .option("low", "Low")
        .option("normal", "Normal")
        .option("high", "High: on fire")
}

fn question() -> Message {
    Message::text("How urgent is it?").with_choice(priority())
}

/// The message of a signal.
fn message(signal: &Signal) -> &Message {
    match &signal.body {
        Body::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

/// Sends [`question`] to alice through `handle` and waits until it is posted in `dm`, the bot's
/// first message there; returns the question's id and its `ts`.
async fn ask_alice(
    handle: &Handle,
    slack: &LocalSlack,
    app: &AppCredentials,
    alice: &str,
    dm: &str,
) -> (SignalId, String) {
    let id = handle
        .send(Signal::new(question()).to(address(slack, alice)))
        .await
        .unwrap();
    let posted = bot_posts(slack, dm, app, 1).await;
    (id, posted[0]["ts"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_posted_as_buttons_with_the_numbered_fallback_text() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    let id = handle
        .send(Signal::new(question()).to(address(&slack, &alice)))
        .await
        .unwrap();
    let posted = bot_posts(&slack, &dm, &app, 1).await;
    let stored = &posted[0];
    assert_eq!(
        stored["text"],
        "How urgent is it?\n1. Low\n2. Normal\n3. High: on fire\n(Answer with a number.)"
    );
    let blocks = stored["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 2, "{stored}");
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
    assert_eq!(blocks[0]["text"]["text"], "How urgent is it?");
    assert_eq!(blocks[1]["type"], "actions");
    assert_eq!(blocks[1]["block_id"], "chatty_choice/0/priority");
    let buttons: Vec<(String, String, String)> = blocks[1]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["type"], "button");
            assert_eq!(b["text"]["type"], "plain_text");
            (
                b["action_id"].as_str().unwrap().to_owned(),
                b["value"].as_str().unwrap().to_owned(),
                b["text"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        buttons,
        [
            ("chatty_choice/0".into(), "low".into(), "Low".into()),
            ("chatty_choice/1".into(), "normal".into(), "Normal".into()),
            (
                "chatty_choice/2".into(),
                "high".into(),
                "High: on fire".into()
            ),
        ]
    );
    assert_sent(&handle, &id).await;
    // conversations.history gives the blocks back.
    let history = slack.call(
        &app.bot_token,
        "conversations.history",
        json!({"channel": dm}),
    );
    assert_eq!(
        history["messages"][0]["blocks"], stored["blocks"],
        "{history}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_answers_the_question_and_the_reply_lands_in_the_channel() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;

    slack.post(
        &alice,
        &general,
        &format!("<@{}> the printer is on fire", app.bot_user_id),
    );
    let report = next_message(&bot).await;
    let asked = report.reply(question());
    let question_id = asked.meta.id.clone();
    handle.send(asked).await.unwrap();
    let posted = bot_posts(&slack, &general, &app, 1).await;
    let question_ts = posted[0]["ts"].as_str().unwrap().to_owned();

    let payload = slack
        .click(&alice, &general, &question_ts, "chatty_choice/2")
        .expect("the button is there");
    assert_eq!(payload["type"], "block_actions");
    let answer = next_message(&bot).await;
    let chosen = message(&answer);
    assert_eq!(chosen.text, "High: on fire");
    assert_eq!(chosen.chosen, Some(Chosen::new("priority", "high")));
    assert!(!chosen.command);
    assert_eq!(answer.meta.response_to.as_ref(), Some(&question_id));
    assert_eq!(answer.meta.origin.as_ref(), Some(&address(&slack, &alice)));
    assert_eq!(answer.meta.visible_to, vec![address(&slack, &general)]);
    // Acknowledged.
    assert_all_acknowledged(&slack, &app).await;
    assert!(slack.failed_interactions(&app.app_id).is_empty());

    handle
        .send(answer.reply(Message::text("On it: high priority.")))
        .await
        .unwrap();
    let posted = bot_posts(&slack, &general, &app, 2).await;
    assert_eq!(posted[1]["text"], "On it: high priority.");
    assert!(posted[1].get("thread_ts").is_none(), "{}", posted[1]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_a_question_in_a_thread_is_answered_in_the_thread() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;

    let root = slack.post(
        &alice,
        &general,
        &format!("<@{}> new ticket", app.bot_user_id),
    );
    let report = next_message(&bot).await;
    let asked = report
        .reply(question())
        .in_response_to(chatty_slack::thread_of(report.id()));
    handle.send(asked).await.unwrap();
    let posted = bot_posts(&slack, &general, &app, 1).await;
    assert_eq!(posted[0]["thread_ts"], root.as_str());
    let ts = posted[0]["ts"].as_str().unwrap().to_owned();

    slack
        .click(&alice, &general, &ts, "chatty_choice/0")
        .unwrap();
    let answer = next_message(&bot).await;
    assert_eq!(message(&answer).text, "Low");
    handle
        .send(answer.reply(Message::text("Low, noted.")))
        .await
        .unwrap();
    let posted = bot_posts(&slack, &general, &app, 2).await;
    assert_eq!(posted[1]["text"], "Low, noted.");
    assert_eq!(
        posted[1]["thread_ts"],
        root.as_str(),
        "in the question's thread"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_after_a_restart_still_names_the_question() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut first = Bot::start(&slack, app.clone()).await;
    let handle = first.remote.handle().await;
    let (question_id, ts) = ask_alice(&handle, &slack, &app, &alice, &dm).await;
    first.stop().await;

    // A fresh session remembers nothing: the question's block id names it.
    let second = Bot::start(&slack, app.clone()).await;
    slack.click(&alice, &dm, &ts, "chatty_choice/1").unwrap();
    let answer = next_message(&second).await;
    assert_eq!(answer.meta.response_to.as_ref(), Some(&question_id));
    assert_eq!(
        message(&answer).chosen,
        Some(Chosen::new("priority", "normal"))
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_in_a_dm_is_answered_in_the_dm() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    let (question_id, ts) = ask_alice(&handle, &slack, &app, &alice, &dm).await;
    slack.click(&alice, &dm, &ts, "chatty_choice/0").unwrap();
    let answer = next_message(&bot).await;
    assert_eq!(
        message(&answer).chosen,
        Some(Chosen::new("priority", "low"))
    );
    assert_eq!(answer.meta.response_to.as_ref(), Some(&question_id));
    assert_eq!(answer.meta.addressees, vec![bot.address.clone()]);
    assert!(answer.meta.visible_to.is_empty());
    let opened = slack.call_count("conversations.open");
    handle
        .send(answer.reply(Message::text("Low it is.")))
        .await
        .unwrap();
    let posted = bot_posts(&slack, &dm, &app, 2).await;
    assert_eq!(posted[1]["text"], "Low it is.");
    // The DM is known from the click: no conversations.open for the reply.
    assert_eq!(slack.call_count("conversations.open"), opened);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_sent_again_is_handled_once() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    let (_, ts) = ask_alice(&handle, &slack, &app, &alice, &dm).await;
    let payload = slack.click(&alice, &dm, &ts, "chatty_choice/1").unwrap();
    let first = next_message(&bot).await;
    assert_eq!(message(&first).text, "Normal");
    assert!(
        slack
            .wait_until(WAIT, |s| !s.acks_received(&app.app_id).is_empty())
            .await
    );
    let envelope_id = slack.acks_received(&app.app_id).last().unwrap().clone();

    // The same envelope again, and the same payload in a new envelope.
    let again = |id: &str| {
        json!({"envelope_id": id, "payload": payload, "type": "interactive",
               "accepts_response_payload": false})
        .to_string()
    };
    slack.send_raw(&app.app_id, &again(&envelope_id));
    slack.send_raw(&app.app_id, &again("another-envelope"));
    assert!(
        slack
            .wait_until(WAIT, |s| {
                let acks = s.acks_received(&app.app_id);
                acks.iter().filter(|a| **a == envelope_id).count() == 2
                    && acks.contains(&"another-envelope".to_owned())
            })
            .await,
        "every envelope is acknowledged: {:?}",
        slack.acks_received(&app.app_id)
    );
    slack.post(&alice, &dm, "next");
    let next = next_message(&bot).await;
    assert_eq!(text(&next), "next", "the click came once: {next:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_arrives_as_a_command_and_is_answered_in_its_channel() {
    let (slack, alice, app, general) = workspace_with_general().await;
    assert!(slack.add_slash_command(&app.app_id, "/ticket"));
    let mut bot = Bot::start_in(&slack, app.clone(), &general).await;
    let handle = bot.remote.handle().await;

    slack
        .slash_command(&alice, &general, "/ticket", "open printer on fire")
        .unwrap();
    let command = next_message(&bot).await;
    let m = message(&command);
    assert!(m.command);
    assert_eq!(m.text, "/ticket open printer on fire");
    assert_eq!(m.chosen, None);
    assert_eq!(command.meta.origin.as_ref(), Some(&address(&slack, &alice)));
    assert_eq!(command.meta.visible_to, vec![address(&slack, &general)]);
    handle
        .send(command.reply(Message::text("Ticket 1 opened.")))
        .await
        .unwrap();
    let posted = bot_posts(&slack, &general, &app, 1).await;
    assert_eq!(posted[0]["text"], "Ticket 1 opened.");

    slack
        .slash_command(&alice, &general, "/ticket", "")
        .unwrap();
    let bare = next_message(&bot).await;
    assert_eq!(message(&bare).text, "/ticket");
    assert!(message(&bare).command);
    assert_all_acknowledged(&slack, &app).await;
    assert!(slack.failed_interactions(&app.app_id).is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_interaction_is_an_error_and_the_next_message_arrives() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start(&slack, app.clone()).await;

    // One of Chatty's buttons, but nobody clicked it; another app's button; a modal.
    let no_user = json!({"envelope_id": "bad-click", "type": "interactive",
        "payload": {"type": "block_actions", "actions": [{"action_id": "chatty_choice/0",
        "block_id": "chatty_choice/0/q", "value": "v", "type": "button"}]}});
    let foreign = json!({"envelope_id": "foreign", "type": "interactive",
        "payload": {"type": "block_actions", "user": {"id": alice}, "actions": [
            {"action_id": "approve", "block_id": "x", "value": "1", "type": "button"}]}});
    let modal = json!({"envelope_id": "modal", "type": "interactive",
        "payload": {"type": "view_submission", "view": {"id": "V1"}}});
    slack.send_raw(&app.app_id, &no_user.to_string());
    slack.send_raw(&app.app_id, &foreign.to_string());
    slack.send_raw(&app.app_id, &modal.to_string());
    slack.send_raw(
        &app.app_id,
        r#"{"envelope_id":"cut","type":"interactive","payload":{"type":"block_ac"#,
    );
    // Acknowledged, each of them: they will never read better.
    assert!(
        slack
            .wait_until(WAIT, |s| {
                let acks = s.acks_received(&app.app_id);
                ["bad-click", "foreign", "modal", "cut"]
                    .iter()
                    .all(|id| acks.iter().any(|a| a == id))
            })
            .await,
        "every envelope is acknowledged: {:?}",
        slack.acks_received(&app.app_id)
    );
    slack.post(&alice, &dm, "still here");

    let mut seen = Vec::new();
    loop {
        let signal = bot.next_io().await.expect("signals keep coming");
        let done = matches!(&signal.body, Body::Message(m) if m.text == "still here");
        seen.push(signal);
        if done {
            break;
        }
    }
    let errors = system_errors(&seen);
    assert_eq!(errors.len(), 2, "{seen:?}");
    assert!(errors[0].contains("click"), "{}", errors[0]);
    assert!(errors[1].contains("not JSON"), "{}", errors[1]);
    assert_eq!(seen.len(), 3, "nothing else: {seen:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_too_large_for_slack_is_refused_naming_the_limit() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    let long = Message::text("Which one?").with_choice(
        Choice::new("long")
            .option("a", "A")
            .option("b", "B".repeat(76)),
    );
    let id = handle
        .send(Signal::new(long).to(address(&slack, &alice)))
        .await
        .unwrap();
    let f = bot.rejection_of(&id).await;
    assert!(f.message.contains("at most 75"), "{}", f.message);
    assert_eq!(
        slack.call_count("chat.postMessage"),
        0,
        "nothing was posted"
    );

    // 60 options: three actions blocks, posted.
    let mut many = Choice::new("many");
    for i in 0..60 {
        many = many.option(format!("v{i}"), format!("Option {i}"));
    }
    let sent = handle
        .send(Signal::new(Message::text("Pick one").with_choice(many)).to(address(&slack, &alice)))
        .await
        .unwrap();
    let posted = bot_posts(&slack, &dm, &app, 1).await;
    assert_eq!(posted[0]["blocks"].as_array().unwrap().len(), 4);
    assert_sent(&handle, &sent).await;
    bot.stop().await;
}
