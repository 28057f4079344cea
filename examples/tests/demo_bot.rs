//! The demo bot's program (`demo-bot`), compiled once and run unchanged with the example config
//! files: its sessions come from the file alone (the test server's account from `CHATTY_…`
//! variables over it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatty_core::{Address, Body, Handle, Router};
use chatty_test::servers::{xmpp_account, xmpp_server};
use chatty_test::{Probe, ProbeRemote};
use chatty_xmpp::{Secret, TlsMode, XmppConfig, XmppSession};
use tokio::process::{Child, Command};

fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

/// A person on XMPP: a probe on a pool account, with its handle.
async fn xmpp_person() -> (ProbeRemote, Handle) {
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let config = XmppConfig::new(&jid, Secret::inline(password))
        .with_server(server.host, server.port)
        .with_tls(TlsMode::Starttls)
        .with_connect_timeout(Duration::from_secs(5));
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(XmppSession::new(config).unwrap());
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

/// Says `text` to `to` until a message comes back (the bot may still be logging in).
async fn ask(probe: &ProbeRemote, handle: &Handle, to: &Address, text: &str) -> String {
    for _ in 0..6 {
        handle.say(to, text).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Some(signal) = probe
            .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if let Body::Message(m) = signal.body {
                return m.text;
            }
        }
    }
    panic!("no answer from {to} within 30 s");
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
