//! Clicks and slash commands over raw Socket Mode: the `interactive` envelope with Slack's
//! `block_actions` payload, the `slash_commands` envelope with the command's form fields, both
//! acknowledged like events and never sent again; blocks stored and checked against Block
//! Kit's limits.

mod common;

use std::time::Duration;

use chatty_local_slack::LocalSlack;
use common::{
    Socket, WAIT, ack, alice_and_bot_in_a_dm, alice_and_bot_with_a_channel, connect, next_json,
};
use serde_json::{Value, json};

/// The next envelope that is not an `events_api` one (those are acknowledged on the way).
async fn next_interaction(socket: &mut Socket) -> Value {
    loop {
        let envelope = next_json(socket).await;
        if envelope["type"] != "events_api" {
            return envelope;
        }
        ack(socket, &envelope).await;
    }
}

/// A question with two buttons, posted by the app in `channel`; its `ts`.
fn ask(slack: &LocalSlack, bot_token: &str, channel: &str) -> String {
    let posted = slack.call(
        bot_token,
        "chat.postMessage",
        json!({
            "channel": channel,
            "text": "Deploy?",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "Deploy?"}},
                {"type": "actions", "block_id": "deploy", "elements": [
                    {"type": "button", "action_id": "yes", "value": "y",
                     "text": {"type": "plain_text", "text": "Yes"}},
                    {"type": "button", "action_id": "no", "value": "n",
                     "text": {"type": "plain_text", "text": "No"}}]}],
        }),
    );
    assert_eq!(posted["ok"], true, "{posted}");
    posted["ts"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_click_is_a_block_actions_payload_in_an_interactive_envelope() {
    let (slack, alice, app, general) = alice_and_bot_with_a_channel().await;
    slack.set_ack_timeout(Duration::from_millis(300));
    slack.join(&app.bot_user_id, &general);
    let ts = ask(&slack, &app.bot_token, &general);
    let history = slack.call(
        &app.bot_token,
        "conversations.history",
        json!({"channel": general}),
    );
    assert_eq!(history["messages"][0]["blocks"][1]["block_id"], "deploy");

    let mut socket = connect(&slack, &app.app_token).await;
    let returned = slack.click(&alice, &general, &ts, "no").unwrap();
    let envelope = next_interaction(&mut socket).await;
    assert_eq!(envelope["type"], "interactive");
    assert_eq!(envelope["accepts_response_payload"], false);
    assert!(envelope.get("retry_attempt").is_none(), "{envelope}");
    let payload = &envelope["payload"];
    assert_eq!(payload, &returned);
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(
        payload["user"],
        json!({"id": alice, "username": "alice", "name": "alice", "team_id": slack.team_id()})
    );
    assert_eq!(payload["api_app_id"], app.app_id.as_str());
    assert!(payload["token"].is_string());
    assert_eq!(
        payload["container"],
        json!({"type": "message", "message_ts": ts, "channel_id": general, "is_ephemeral": false})
    );
    assert!(payload["trigger_id"].as_str().unwrap().contains('.'));
    assert_eq!(payload["team"]["id"], slack.team_id().as_str());
    assert_eq!(
        payload["channel"],
        json!({"id": general, "name": "general"})
    );
    assert_eq!(payload["message"]["ts"], ts.as_str());
    assert_eq!(payload["message"]["blocks"][1]["block_id"], "deploy");
    assert!(payload["response_url"].is_string());
    let action = &payload["actions"][0];
    assert_eq!(action["action_id"], "no");
    assert_eq!(action["block_id"], "deploy");
    assert_eq!(action["value"], "n");
    assert_eq!(action["type"], "button");
    assert_eq!(action["text"], json!({"type": "plain_text", "text": "No"}));
    assert!(action["action_ts"].as_str().unwrap().contains('.'));
    ack(&mut socket, &envelope).await;
    // Past the ack timeout: acknowledged in time, it did not fail.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(slack.failed_interactions(&app.app_id).is_empty());

    // What Slack's client would not let happen.
    assert_eq!(
        slack.click(&alice, &general, &ts, "maybe").unwrap_err(),
        "action_not_found"
    );
    assert_eq!(
        slack
            .click(&alice, &general, "1.000001", "yes")
            .unwrap_err(),
        "message_not_found"
    );
    let said = slack.post(&alice, &general, "hi");
    assert_eq!(
        slack.click(&alice, &general, &said, "yes").unwrap_err(),
        "not_an_app_message"
    );
}

#[tokio::test]
async fn an_interaction_not_acknowledged_in_time_fails_and_is_not_sent_again() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
    slack.set_ack_timeout(Duration::from_millis(300));
    let ts = ask(&slack, &app.bot_token, &dm);

    // No socket open: the click fails at once.
    let first = slack.click(&alice, &dm, &ts, "yes").unwrap();
    assert_eq!(
        slack.failed_interactions(&app.app_id),
        [first["trigger_id"].as_str().unwrap()]
    );
    assert_eq!(first["channel"]["name"], "directmessage");

    let mut socket = connect(&slack, &app.app_token).await;
    let second = slack.click(&alice, &dm, &ts, "yes").unwrap();
    let envelope = next_interaction(&mut socket).await;
    assert_eq!(envelope["payload"]["trigger_id"], second["trigger_id"]);
    // Not acknowledged: the person sees an error, and Slack does not send it again.
    assert!(
        slack
            .wait_until(WAIT, |s| s.failed_interactions(&app.app_id).len() == 2)
            .await
    );
    slack.post(&alice, &dm, "after");
    let next = loop {
        let next = next_json(&mut socket).await;
        assert_eq!(next["type"], "events_api", "not sent again: {next}");
        ack(&mut socket, &next).await;
        if next["payload"]["event"]["user"] == alice.as_str() {
            break next;
        }
    };
    assert_eq!(next["payload"]["event"]["text"], "after");
}

#[tokio::test]
async fn a_slash_command_is_its_form_fields_in_a_slash_commands_envelope() {
    let (slack, alice, app, general) = alice_and_bot_with_a_channel().await;
    let other = slack.add_app("other");
    assert!(slack.add_slash_command(&app.app_id, "/ticket"));
    assert!(
        !slack.add_slash_command(&other.app_id, "/ticket"),
        "one app per command"
    );
    let mut socket = connect(&slack, &app.app_token).await;

    slack
        .slash_command(&alice, &general, "/ticket", "open printer on fire")
        .unwrap();
    let envelope = next_interaction(&mut socket).await;
    assert_eq!(envelope["type"], "slash_commands");
    assert_eq!(envelope["accepts_response_payload"], true);
    let payload = &envelope["payload"];
    for field in [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ] {
        assert!(payload[field].is_string(), "{field} in {payload}");
    }
    assert_eq!(payload["command"], "/ticket");
    assert_eq!(payload["text"], "open printer on fire");
    assert_eq!(payload["channel_id"], general.as_str());
    assert_eq!(payload["channel_name"], "general");
    assert_eq!(payload["user_id"], alice.as_str());
    assert_eq!(payload["api_app_id"], app.app_id.as_str());
    assert_eq!(payload["is_enterprise_install"], "false");
    ack(&mut socket, &envelope).await;
    assert!(
        slack
            .wait_until(WAIT, |s| s
                .acks_received(&app.app_id)
                .contains(&envelope["envelope_id"].as_str().unwrap().to_owned()))
            .await
    );
    assert!(slack.failed_interactions(&app.app_id).is_empty());

    assert_eq!(
        slack
            .slash_command(&alice, &general, "/nothing", "")
            .unwrap_err(),
        "unknown_command"
    );
    let private = slack.create_channel("private", &app.bot_user_id, true);
    assert_eq!(
        slack
            .slash_command(&alice, &private, "/ticket", "")
            .unwrap_err(),
        "channel_not_found"
    );
}

#[tokio::test]
async fn blocks_beyond_block_kits_limits_are_refused() {
    let (slack, _, app, dm) = alice_and_bot_in_a_dm().await;
    let buttons: Vec<Value> = (0..26)
        .map(|i| {
            json!({"type": "button", "action_id": format!("b{i}"),
                   "text": {"type": "plain_text", "text": "x"}})
        })
        .collect();
    let refused = slack.call(
        &app.bot_token,
        "chat.postMessage",
        json!({"channel": dm, "text": "too many",
               "blocks": [{"type": "actions", "elements": buttons}]}),
    );
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["error"], "invalid_blocks");
    assert_eq!(
        refused["errors"],
        json!(["must be less than 26 items [json-pointer:/blocks/0/elements]"])
    );
    assert!(slack.messages(&dm).is_empty());
}
