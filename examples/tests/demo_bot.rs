//! The demo bot's program (`demo-bot`), compiled once and run unchanged with the example config
//! files: its sessions come from the file alone (the test server's account from `CHATTY_…`
//! variables over it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatty_core::{Address, Body};
use chatty_test::servers::{xmpp_account, xmpp_server};
use people::{
    ask, email_env, email_person, irc_env, irc_person, matrix_env, matrix_person, xmpp_person,
};
use tokio::process::{Child, Command};

mod people;

fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

/// Runs `demo-bot run CONFIG` with the XMPP session on a pool account; returns the bot's
/// address.
fn run_on_xmpp(config: &Path, db_dir: &Path) -> (Child, Address) {
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let child = Command::new(env!("CARGO_BIN_EXE_demo-bot"))
        .arg("run")
        .arg(config)
        .env("CHATTY_SESSIONS__CHAT__XMPP__JID", &jid)
        .env("CHATTY_SESSIONS__CHAT__XMPP__SERVER", &server.host)
        .env("CHATTY_SESSIONS__CHAT__XMPP__PORT", server.port.to_string())
        .env(
            "CHATTY_BOTS__DEMO__LOGGER__PATH",
            db_dir.join("demo.db").display().to_string(),
        )
        .env("BOT_PASSWORD", &password)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    (child, format!("xmpp:{jid}").parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_program_answers_on_xmpp_from_the_example_config() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bot, address) = run_on_xmpp(&config("xmpp.toml"), dir.path());
    let (alice, handle) = xmpp_person().await;
    assert_eq!(
        ask(&alice, &handle, &address, "hello").await,
        "echo: hello (backwards: olleh)"
    );
    // `/send` is off in the example config: the bot does not hand out its files.
    handle.say(&address, "/send /etc/hostname").await.unwrap();
    let refused = loop {
        let signal = alice.next().await.expect("an answer");
        if let Body::Message(m) = signal.body {
            break m.text;
        }
    };
    assert_eq!(refused, "Sending files is turned off for this bot.");
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_program_answers_on_email_from_the_example_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo-bot"));
    command
        .arg("run")
        .arg(config("email.toml"))
        .env(
            "CHATTY_BOTS__DEMO__LOGGER__PATH",
            dir.path().join("demo.db").display().to_string(),
        )
        .kill_on_drop(true);
    let address = email_env(&mut command, dir.path(), "BOT_PASSWORD").await;
    let mut bot = command.spawn().unwrap();
    let (alice, handle) = email_person().await;
    assert_eq!(
        ask(&alice, &handle, &address, "hello").await,
        "echo: hello (backwards: olleh)"
    );
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_program_answers_on_all_five_platforms_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let slack = chatty_local_slack::LocalSlack::start().await.unwrap();
    let app = slack.add_app("demo");
    let carol = slack.add_user("carol");
    let dm = slack.open_conversation(&[&carol, &app.bot_user_id]);

    let xmpp = xmpp_server();
    let (jid, password) = xmpp_account();
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo-bot"));
    command
        .arg("run")
        .arg(config("all.toml"))
        .env("CHATTY_SESSIONS__CHAT__XMPP__JID", &jid)
        .env("CHATTY_SESSIONS__CHAT__XMPP__SERVER", &xmpp.host)
        .env("CHATTY_SESSIONS__CHAT__XMPP__PORT", xmpp.port.to_string())
        .env("BOT_PASSWORD", &password)
        .env("CHATTY_SESSIONS__WORK__SLACK__API_URL", slack.api_url())
        .env("SLACK_BOT_TOKEN", &app.bot_token)
        .env("SLACK_APP_TOKEN", &app.app_token)
        .env(
            "CHATTY_BOTS__DEMO__LOGGER__PATH",
            dir.path().join("demo.db").display().to_string(),
        )
        .kill_on_drop(true);
    let mail_address = email_env(&mut command, dir.path(), "MAIL_PASSWORD").await;
    let irc_address = irc_env(&mut command, "irc", "IRC_PASSWORD");
    let matrix_address = matrix_env(&mut command, "home", "MATRIX_PASSWORD");
    let xmpp_address: Address = format!("xmpp:{jid}").parse().unwrap();
    let mut bot = command.spawn().unwrap();

    // People on XMPP, email, IRC and Matrix talk to the same bot at the same time.
    let ((alice, alice_handle), (bob, bob_handle), (dave, dave_handle), (erin, erin_handle)) =
        tokio::join!(xmpp_person(), email_person(), irc_person(), matrix_person());
    let (on_xmpp, on_email, on_irc, on_matrix) = tokio::join!(
        ask(&alice, &alice_handle, &xmpp_address, "from xmpp"),
        ask(&bob, &bob_handle, &mail_address, "from email"),
        ask(&dave, &dave_handle, &irc_address, "from irc"),
        ask(&erin, &erin_handle, &matrix_address, "from matrix"),
    );
    assert_eq!(on_xmpp, "echo: from xmpp (backwards: ppmx morf)");
    assert_eq!(on_email, "echo: from email (backwards: liame morf)");
    assert_eq!(on_irc, "echo: from irc (backwards: cri morf)");
    assert_eq!(on_matrix, "echo: from matrix (backwards: xirtam morf)");

    // And carol on Slack.
    slack
        .wait_until(Duration::from_secs(30), |s| {
            s.socket_count(&app.app_id) == 1
        })
        .await;
    slack.post(&carol, &dm, "from slack");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answered = slack
            .messages(&dm)
            .iter()
            .filter_map(|m| m.get("text").and_then(|t| t.as_str()).map(str::to_owned))
            .any(|t| t == "echo: from slack (backwards: kcals morf)");
        if answered {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer on Slack: {:?}",
            slack.messages(&dm)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bot.start_kill().unwrap();
    let _ = bot.wait().await;
}

/// Runs `demo-bot run CONFIG` with `vars` set, its state directory in `state`.
fn run_with(config: &Path, state: &Path, vars: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo-bot"));
    command
        .arg("run")
        .arg(config)
        .env("CHATTY_STATE_DIR", state)
        .kill_on_drop(true);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_program_answers_on_workers_behind_a_gateway_from_the_example_configs() {
    let dir = tempfile::tempdir().unwrap();
    let nats = chatty_test::servers::var("CHATTY_TEST_NATS_URL");
    let hub = format!("demo{}", std::process::id());
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let mut gateway = run_with(
        &config("scale-out-gateway.toml"),
        &dir.path().join("gateway"),
        &[
            ("CHATTY_SESSIONS__CHAT__XMPP__JID", jid.clone()),
            ("CHATTY_SESSIONS__CHAT__XMPP__SERVER", server.host.clone()),
            ("CHATTY_SESSIONS__CHAT__XMPP__PORT", server.port.to_string()),
            ("CHATTY_BOTS__GATEWAY__NATS__URL", nats.clone()),
            ("CHATTY_BOTS__GATEWAY__NATS__HUB", hub.clone()),
            ("BOT_PASSWORD", password),
        ],
    );
    let worker_vars = [
        ("CHATTY_SESSIONS__HUB__NATS__URL", nats),
        ("CHATTY_SESSIONS__HUB__NATS__HUB", hub),
    ];
    let mut workers = [1, 2].map(|n| {
        run_with(
            &config("scale-out-worker.toml"),
            &dir.path().join(format!("worker-{n}")),
            &worker_vars,
        )
    });
    let address: Address = format!("xmpp:{jid}").parse().unwrap();
    let (alice, handle) = xmpp_person().await;
    assert_eq!(
        ask(&alice, &handle, &address, "hello").await,
        "echo: hello (backwards: olleh)"
    );
    for child in workers.iter_mut().chain([&mut gateway]) {
        child.start_kill().unwrap();
        let _ = child.wait().await;
    }
}
