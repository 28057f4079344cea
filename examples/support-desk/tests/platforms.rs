//! The support desk's program, compiled once and run unchanged from `config/all.toml` on XMPP
//! (the test Prosody), email (the test mail servers) and Slack (the local Slack) at once: a
//! person on each opens a ticket and answers the priority question as their platform lets them
//! (a Slack slash command and a button; a number typed on XMPP and by mail).

use std::path::Path;
use std::time::Duration;

use chatty_core::Address;
use chatty_core::reexports::serde_json::Value;
use chatty_test::servers::{xmpp_account, xmpp_server};
use people::{ask_until, email_env, email_person, next_text, xmpp_person};
use tokio::process::Command;

#[path = "../../tests/people/mod.rs"]
mod people;

const WAIT: Duration = Duration::from_secs(30);

/// The texts of the messages in `channel` the bot `user` posted.
fn posted(slack: &chatty_local_slack::LocalSlack, channel: &str, user: &str) -> Vec<Value> {
    slack
        .messages(channel)
        .into_iter()
        .filter(|m| m["user"] == user)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_program_serves_tickets_on_xmpp_email_and_slack_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let slack = chatty_local_slack::LocalSlack::start().await.unwrap();
    let app = slack.add_app("desk");
    assert!(slack.add_slash_command(&app.app_id, "/ticket"));
    let carol = slack.add_user("carol");
    let dm = slack.open_conversation(&[&carol, &app.bot_user_id]);

    let xmpp = xmpp_server();
    let (jid, password) = xmpp_account();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/all.toml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatty-support-desk"));
    command
        .arg("run")
        .arg(config)
        .env("CHATTY_STATE_DIR", dir.path().join("state"))
        .env("CHATTY_SESSIONS__CHAT__XMPP__JID", &jid)
        .env("CHATTY_SESSIONS__CHAT__XMPP__SERVER", &xmpp.host)
        .env("CHATTY_SESSIONS__CHAT__XMPP__PORT", xmpp.port.to_string())
        .env("BOT_PASSWORD", &password)
        .env("CHATTY_SESSIONS__WORK__SLACK__API_URL", slack.api_url())
        .env("SLACK_BOT_TOKEN", &app.bot_token)
        .env("SLACK_APP_TOKEN", &app.app_token)
        .kill_on_drop(true);
    let mail_address = email_env(&mut command, dir.path(), "MAIL_PASSWORD").await;
    let xmpp_address: Address = format!("xmpp:{jid}").parse().unwrap();
    let mut desk = command.spawn().unwrap();

    // On XMPP and by mail: `!help` until the desk is up, then a ticket and a typed answer.
    let ((alice, alice_handle), (bob, bob_handle)) = tokio::join!(xmpp_person(), email_person());
    let up = |text: &str| text.contains("Commands:");
    tokio::join!(
        ask_until(&alice, &alice_handle, &xmpp_address, "!help", up),
        ask_until(&bob, &bob_handle, &mail_address, "!help", up),
    );
    alice_handle
        .say(&xmpp_address, "!ticket open printer on fire")
        .await
        .unwrap();
    let question = next_text(&alice, WAIT).await;
    assert!(
        question.starts_with("Opened #1. How urgent is it?"),
        "{question}"
    );
    alice_handle.say(&xmpp_address, "3").await.unwrap();
    assert_eq!(next_text(&alice, WAIT).await, "#1 is Urgent.");

    bob_handle
        .say(&mail_address, "!ticket open no paper")
        .await
        .unwrap();
    // Mail's line ends are CRLF.
    let question = next_text(&bob, WAIT).await.replace("\r\n", "\n");
    assert!(question.contains("How urgent is it?"), "{question:?}");
    assert!(
        question.contains("1. Low\n2. Normal\n3. Urgent"),
        "{question:?}"
    );
    bob_handle.say(&mail_address, "1").await.unwrap();
    assert!(next_text(&bob, WAIT).await.starts_with("#1 is Low."));

    // On Slack: the slash command, then a click on a button.
    assert!(
        slack
            .wait_until(WAIT, |s| s.socket_count(&app.app_id) == 1)
            .await
    );
    slack
        .slash_command(&carol, &dm, "/ticket", "open coffee machine")
        .unwrap();
    assert!(
        slack
            .wait_until(WAIT, |s| !posted(s, &dm, &app.bot_user_id).is_empty())
            .await,
        "no question on Slack: {:?}",
        slack.messages(&dm)
    );
    let asked = posted(&slack, &dm, &app.bot_user_id).remove(0);
    assert_eq!(asked["blocks"][1]["type"], "actions", "{asked}");
    let ts = asked["ts"].as_str().unwrap().to_owned();
    slack.click(&carol, &dm, &ts, "chatty_choice/1").unwrap();
    let answered = slack
        .wait_until(WAIT, |s| {
            posted(s, &dm, &app.bot_user_id)
                .iter()
                .any(|m| m["text"] == "#1 is Normal.")
        })
        .await;
    assert!(
        answered,
        "no answer to the click: {:?}",
        slack.messages(&dm)
    );
    desk.start_kill().unwrap();
    let _ = desk.wait().await;
}
