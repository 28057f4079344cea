//! The runner against the test Prosody: the `chatty` binary running an echo bot and ending in
//! order on SIGTERM with nothing the logger recorded lost, a Python process bot answering over
//! XMPP (its account given by `CHATTY_…` variables over the example config), a proxy to a
//! remote echo bot over XMPP, and a stanza tokio-xmpp drops showing in the runner's log.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chatty::direct::{Network, Person};
use chatty::log::{Direction, LogStore, SqliteStore};
use chatty::prelude::*;
use chatty::{Page, Runner};
use chatty_test::ProbeRemote;
use chatty_test::servers::{xmpp_account, xmpp_server};
use tokio::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A session table for a pool account on the test server, and the account's address.
fn xmpp_session_toml(name: &str) -> (String, Address) {
    let (jid, password) = xmpp_account();
    (
        common::xmpp_session_toml(name, &jid, &password),
        format!("xmpp:{jid}").parse().unwrap(),
    )
}

/// The next message the probe gets within `wait`, skipping everything else.
async fn next_text(probe: &ProbeRemote, wait: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let signal = probe.next_within(left).await?;
        if let Body::Message(m) = signal.body {
            return Some(m.text);
        }
    }
}

/// Says `text` to `to` until an answer comes (the bot may still be logging in), and returns it.
async fn ask_until_answered(
    probe: &ProbeRemote,
    handle: &Handle,
    to: &Address,
    text: &str,
) -> String {
    for _ in 0..6 {
        handle.say(to, text).await.unwrap();
        if let Some(answer) = next_text(probe, Duration::from_secs(5)).await {
            return answer;
        }
    }
    panic!("no answer from {to} to {text:?} within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_conversation_loses_nothing_the_logger_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (session, bot) = xmpp_session_toml("chat");
    let path = dir.path().join("echo.toml");
    std::fs::write(
        &path,
        format!(
            "{session}\n[bots.echo]\nsessions = [\"chat\"]\necho = {{}}\nlogger = {{ path = \"echo.db\" }}\n"
        ),
    )
    .unwrap();
    let mut chatty = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(&path)
        .env("RUST_LOG", "info")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (alice, handle, alice_address) = common::xmpp_person().await;
    assert_eq!(
        ask_until_answered(&alice, &handle, &bot, "warm-up").await,
        "warm-up"
    );

    // Talk fast, interrupt the runner in the middle, and talk on until it has ended (however
    // long that takes on a busy machine) and a little after.
    let pid = chatty.id().unwrap();
    let ended = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn({
        let bot = bot.clone();
        let ended = ended.clone();
        async move {
            let mut after = 0;
            for i in 0..5_000 {
                if i == 60 {
                    let status = std::process::Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status()
                        .unwrap();
                    assert!(status.success());
                }
                handle.say(&bot, format!("m{i}")).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                if ended.load(Ordering::SeqCst) {
                    after += 1;
                    if after == 5 {
                        return i + 1;
                    }
                }
            }
            panic!("chatty did not end while 5 000 messages were sent");
        }
    });
    let status = tokio::time::timeout(Duration::from_secs(60), chatty.wait())
        .await
        .expect("chatty ends within a minute of SIGTERM")
        .unwrap();
    ended.store(true, Ordering::SeqCst);
    assert!(status.success(), "chatty run ended with {status}");
    let sent = sender.await.unwrap();

    let mut answered = BTreeSet::from(["warm-up".to_owned()]);
    while let Some(text) = next_text(&alice, Duration::from_secs(3)).await {
        answered.insert(text);
    }
    let store = SqliteStore::open(dir.path().join("echo.db")).await.unwrap();
    let history = store
        .history(Direction::In, &alice_address, &Page::first(1_000))
        .await
        .unwrap();
    let recorded: BTreeSet<String> = history
        .signals
        .iter()
        .filter_map(|s| match &s.body {
            Body::Message(m) => Some(m.text.clone()),
            _ => None,
        })
        .collect();
    assert!(recorded.contains("warm-up"));
    assert!(
        recorded.len() > 1 && recorded.len() <= sent,
        "the interrupt came mid-conversation: {} recorded of {} sent",
        recorded.len(),
        sent + 1
    );
    eprintln!(
        "{} messages recorded as received before the interrupt, {} answered",
        recorded.len(),
        answered.len()
    );
    let unanswered: Vec<&String> = recorded.difference(&answered).collect();
    assert!(
        unanswered.is_empty(),
        "recorded as received but never answered: {unanswered:?}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_process_bot_answers_over_xmpp_with_its_account_from_the_environment() {
    // The example config, unchanged; the account comes from CHATTY_ variables.
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let config = repo().join("examples/config/process-xmpp.toml");
    // Its journal in a directory of the test's own, not beside the example in the repository.
    let state = tempfile::tempdir().unwrap();
    let mut chatty = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(&config)
        .env("CHATTY_STATE_DIR", state.path())
        .env("CHATTY_SESSIONS__CHAT__XMPP__JID", &jid)
        .env("CHATTY_SESSIONS__CHAT__XMPP__SERVER", &server.host)
        .env("CHATTY_SESSIONS__CHAT__XMPP__PORT", server.port.to_string())
        .env("BOT_PASSWORD", &password)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (alice, handle, _) = common::xmpp_person().await;
    let bot: Address = format!("xmpp:{jid}").parse().unwrap();
    assert_eq!(
        ask_until_answered(&alice, &handle, &bot, "stressed").await,
        "desserts"
    );
    handle.say(&bot, "live on").await.unwrap();
    assert_eq!(
        next_text(&alice, Duration::from_secs(10)).await.as_deref(),
        Some("no evil")
    );
    chatty.start_kill().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_reaches_a_remote_echo_bot_over_xmpp() {
    let (echo_session, echo_address) = xmpp_session_toml("echo-xmpp");
    let (proxy_session, _) = xmpp_session_toml("proxy-xmpp");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.toml");
    std::fs::write(
        &path,
        format!(
            r#"{echo_session}
{proxy_session}
[sessions.proxy-near.direct]
network = "near"
endpoint = "proxy"

[bots.echo]
sessions = ["echo-xmpp"]
echo = {{}}

[bots.proxy]
sessions = ["proxy-near", "proxy-xmpp"]
proxy = {{ remote = "{echo_address}" }}
"#
        ),
    )
    .unwrap();
    let near = Network::named("near");
    let runner = Runner::new().network(near.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        runner
            .run_file(&path, async move {
                let _ = stopped.await;
            })
            .await
    });
    let mut alice = Person::join(&near, "alice").await;
    alice.set_wait(Duration::from_secs(10));
    let proxy = near.address("proxy");
    // Until both accounts are online, a message either cannot reach the proxy yet (its endpoint
    // is built first) or comes back as a send failure (the echo account is not online yet, and
    // the server keeps no offline messages): then alice says it again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for i in 0..5 {
        let text = format!("over xmpp {i}");
        let (asked, answer) = loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no answer through the proxy within 30 s"
            );
            let said = chatty::Signal::message(text.clone()).to(proxy.clone());
            let Ok(asked) = alice.send(said).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let answer = loop {
                match alice.next().await {
                    Some(signal) if matches!(signal.body, Body::Message(_)) => break Some(signal),
                    Some(signal) if matches!(signal.body, Body::SendFailure(_)) => break None,
                    Some(_) => continue,
                    // Nothing within the wait: say it again.
                    None => break None,
                }
            };
            match answer {
                Some(answer) => break (asked, answer),
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let Body::Message(message) = &answer.body else {
            unreachable!()
        };
        assert_eq!(message.text, text);
        assert_eq!(answer.meta.response_to, Some(asked));
    }
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

/// A stanza that xmpp-parsers refuses (a presence priority of 200) is dropped by tokio-xmpp
/// with a warning through the `log` crate, not `tracing`: the runner's log shows it (before,
/// the drop left no trace), and the bot answers on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stanza_the_xmpp_library_refuses_is_in_the_runner_s_log() {
    use tokio::io::{AsyncBufReadExt as _, BufReader};
    use tokio_xmpp::jid::Jid;
    use tokio_xmpp::minidom::Element;
    use tokio_xmpp::parsers::presence::Presence;

    let dir = tempfile::tempdir().unwrap();
    let (session, bot) = xmpp_session_toml("chat");
    let path = dir.path().join("echo.toml");
    let bots = "[bots.echo]\nsessions = [\"chat\"]\necho = {}\n";
    std::fs::write(&path, format!("{session}\n{bots}")).unwrap();
    let mut chatty = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(chatty.stderr.take().unwrap()).lines();
    let (alice, handle, _) = common::xmpp_person().await;
    assert_eq!(
        ask_until_answered(&alice, &handle, &bot, "warm-up").await,
        "warm-up"
    );

    let (jid, password) = xmpp_account();
    let mut bob = chatty_test::xmpp::PlainClient::connect(&jid, &password).await;
    // A priority is a number from -128 to 127 (RFC 6121); the server routes a directed
    // presence as it is.
    let mut presence = Presence::available().with_to(Jid::new(bot.id()).unwrap());
    presence.payloads.push(
        Element::builder("priority", "jabber:client")
            .append("200")
            .build(),
    );
    bob.send(presence).await;
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = log.next_line().await.unwrap() {
            if line.contains("invalid stanza") {
                return line;
            }
        }
        panic!("the runner's log ended");
    })
    .await
    .expect("the dropped stanza in the runner's log");
    assert!(found.contains("WARN"), "{found}");
    assert_eq!(
        ask_until_answered(&alice, &handle, &bot, "after").await,
        "after"
    );
    bob.close().await;
    chatty.start_kill().unwrap();
}
