//! Reactions in process: reactions.add / reactions.remove / reactions.get with Slack's errors
//! and scopes, reactions kept on the message as conversations.history shows them, and a
//! person's reactions (`react`, `unreact`). Their events over Socket Mode are checked through
//! Slack's SDK (`tests/sdk.rs`) and by chatty-slack's tests.

mod common;

use chatty_local_slack::LocalSlack;
use common::{alice_and_bot_in_a_dm, default_scopes_without};
use serde_json::{Value, json};

#[tokio::test]
async fn reactions_are_added_shown_and_removed_as_slack_documents() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
    let ts = slack.post(&alice, &dm, "react to me");
    let bot = |method: &str, args: Value| slack.call(&app.bot_token, method, args);
    let item = |name: &str| json!({"channel": dm, "timestamp": ts, "name": name});

    assert_eq!(bot("reactions.add", item("thumbsup")), json!({"ok": true}));
    slack
        .react(&alice, &dm, &ts, "thumbsup")
        .expect("alice reacts");
    slack
        .react(&alice, &dm, &ts, "+1")
        .expect("alice reacts again");
    let error = |v: Value| v["error"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        error(bot("reactions.add", item("thumbsup"))),
        "already_reacted"
    );
    assert_eq!(error(bot("reactions.add", item(":tada:"))), "invalid_name");
    assert_eq!(
        error(bot(
            "reactions.add",
            json!({"channel": dm, "timestamp": ts})
        )),
        "invalid_name"
    );
    assert_eq!(
        error(bot("reactions.add", json!({"name": "tada"}))),
        "no_item_specified"
    );
    let elsewhere = json!({"channel": dm, "timestamp": "1.000001", "name": "tada"});
    assert_eq!(error(bot("reactions.add", elsewhere)), "message_not_found");
    let nowhere = json!({"channel": "C0NOWHERE", "timestamp": ts, "name": "tada"});
    assert_eq!(error(bot("reactions.add", nowhere)), "channel_not_found");
    assert_eq!(error(bot("reactions.remove", item("tada"))), "no_reaction");
    assert_eq!(
        slack.react(&alice, &dm, &ts, "+1").unwrap_err(),
        "already_reacted"
    );

    let shown = json!([
        {"name": "thumbsup", "users": [app.bot_user_id, alice], "count": 2},
        {"name": "+1", "users": [alice], "count": 1},
    ]);
    let got = bot("reactions.get", json!({"channel": dm, "timestamp": ts}));
    assert_eq!(got["ok"], true);
    assert_eq!(got["type"], "message");
    assert_eq!(got["channel"], dm.as_str());
    assert_eq!(got["message"]["ts"], ts.as_str());
    assert_eq!(got["message"]["reactions"], shown);
    let history = bot("conversations.history", json!({"channel": dm}));
    assert_eq!(history["messages"][0]["reactions"], shown);
    assert_eq!(slack.messages(&dm)[0]["reactions"], shown);

    assert_eq!(
        bot("reactions.remove", item("thumbsup")),
        json!({"ok": true})
    );
    slack
        .unreact(&alice, &dm, &ts, "+1")
        .expect("alice takes hers back");
    assert_eq!(
        slack.unreact(&alice, &dm, &ts, "+1").unwrap_err(),
        "no_reaction"
    );
    let left = json!([{"name": "thumbsup", "users": [alice], "count": 1}]);
    assert_eq!(slack.messages(&dm)[0]["reactions"], left);
    slack
        .unreact(&alice, &dm, &ts, "thumbsup")
        .expect("the last one");
    assert!(slack.messages(&dm)[0].get("reactions").is_none());
}

#[tokio::test]
async fn reactions_need_their_scopes() {
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    let alice = slack.add_user("alice");
    let scopes = default_scopes_without(|s| s.starts_with("reactions:"));
    let app = slack.add_app_with_scopes("bot", &scopes);
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let ts = slack.post(&alice, &dm, "hi");
    let args = json!({"channel": dm, "timestamp": ts, "name": "eyes"});
    let add = slack.call(&app.bot_token, "reactions.add", args.clone());
    assert_eq!(
        (add["error"].clone(), add["needed"].clone()),
        (json!("missing_scope"), json!("reactions:write"))
    );
    let get = slack.call(&app.bot_token, "reactions.get", args);
    assert_eq!(get["needed"], "reactions:read");
}
