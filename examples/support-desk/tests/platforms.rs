//! The support desk's program, compiled once and run unchanged from `config/all.toml` on XMPP
//! (the test Prosody), email (the test mail servers) and Slack (the local Slack) at once: a
//! person on each opens a ticket and answers the priority question as their platform lets them
//! (a Slack slash command and a button; a number typed on XMPP and by mail). And from
//! `config/irc.toml` and `config/matrix.toml`, on the test InspIRCd and Synapse.

use std::path::Path;
use std::time::Duration;

use chatty_core::Address;
use chatty_core::reexports::serde_json::Value;
use chatty_test::servers::{xmpp_account, xmpp_server};
use people::{
    ask_until, email_env, email_person, irc_env, irc_person, matrix_env, matrix_person, next_text,
    xmpp_person,
};
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

/// The program run with `config/NAME.toml`, its state in `state` (the test points its session at
/// a test server).
fn desk_program(name: &str, state: &Path) -> Command {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("config/{name}.toml"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatty-support-desk"));
    command
        .arg("run")
        .arg(config)
        .env("CHATTY_STATE_DIR", state)
        .kill_on_drop(true);
    command
}

/// The next answer `person` gets: its first message within `WAIT` and those that follow it
/// within a second and a half, joined by line breaks (IRC carries each line as a message).
async fn answer(person: &chatty_test::ProbeRemote) -> String {
    let mut lines = vec![next_text(person, WAIT).await];
    while let Some(signal) = person.next_within(Duration::from_millis(1500)).await {
        if let chatty_core::Body::Message(m) = signal.body {
            lines.push(m.text);
        }
    }
    lines.join("\n")
}

/// A person opens a ticket at `desk`, answers the question by its number and lists the ticket.
async fn open_answer_and_list(
    person: &chatty_test::ProbeRemote,
    handle: &chatty_core::Handle,
    desk: &Address,
) {
    // Until the desk is up (it may answer more than one of these: they are drained).
    ask_until(person, handle, desk, "!ticket list", |t| {
        t.starts_with("No open tickets")
    })
    .await;
    while person.next_within(Duration::from_secs(3)).await.is_some() {}
    handle
        .say(desk, "!ticket open printer on fire")
        .await
        .unwrap();
    let question = answer(person).await;
    assert!(
        question.starts_with("Opened #1. How urgent is it?"),
        "{desk}: {question}"
    );
    assert!(question.contains("3. Urgent"), "{desk}: {question}");
    handle.say(desk, "3").await.unwrap();
    assert_eq!(answer(person).await, "#1 is Urgent.", "{desk}");
    handle.say(desk, "!ticket list").await.unwrap();
    assert_eq!(answer(person).await, "#1 printer on fire", "{desk}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_program_serves_tickets_on_irc_and_on_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let mut on_irc = desk_program("irc", &dir.path().join("irc"));
    let irc_address = irc_env(&mut on_irc, "irc", "IRC_PASSWORD");
    let mut on_matrix = desk_program("matrix", &dir.path().join("matrix"));
    let matrix_address = matrix_env(&mut on_matrix, "home", "MATRIX_PASSWORD");
    let mut irc_desk = on_irc.spawn().unwrap();
    let mut matrix_desk = on_matrix.spawn().unwrap();

    let ((dave, dave_handle), (erin, erin_handle)) = tokio::join!(irc_person(), matrix_person());
    tokio::join!(
        open_answer_and_list(&dave, &dave_handle, &irc_address),
        open_answer_and_list(&erin, &erin_handle, &matrix_address),
    );
    for desk in [&mut irc_desk, &mut matrix_desk] {
        desk.start_kill().unwrap();
        let _ = desk.wait().await;
    }
}
