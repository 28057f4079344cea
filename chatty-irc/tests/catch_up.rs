//! Catching up on a channel after the bot was away, against the test InspIRCd, whose channels
//! replay their history on join (`chanhistory`, mode `+H`) in a `chathistory` batch: with the
//! router's journal, a second "process" (a new session and router on the same journal) is
//! given what was said while it was away, once, and nothing of what the first was given or of
//! what was said before the bot ever joined.

mod common;

use std::time::Duration;

use chatty_core::journal::MemoryJournal;
use chatty_core::{Body, Handle, Router, Signal, Status};
use chatty_irc::{ChannelConfig, IrcConfig, IrcSession, TlsMode};
use chatty_test::servers::irc_server;
use common::{Raw, WAIT, next_where, spy, text, unique};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

type Signals = mpsc::UnboundedReceiver<(Signal, Handle)>;

/// One run of the bot: a session as `nick` in `channel` under a router with `journal`.
fn run(
    nick: &str,
    channel: &str,
    journal: &MemoryJournal,
) -> (JoinHandle<Result<(), chatty_core::BotError>>, Signals) {
    let server = irc_server();
    let config = IrcConfig::new(&server.host, nick)
        .with_tls(TlsMode::Plaintext)
        .with_port(server.port)
        .with_pacing(50, Duration::ZERO)
        .with_channel(ChannelConfig::new(channel));
    let (bot, rx) = spy();
    let session = IrcSession::new(config).expect("a valid config");
    let router = Router::new().session(session).journal(journal.clone());
    (tokio::spawn(router.run(bot)), rx)
}

/// Waits for the bot's own join: its handle.
async fn joined(rx: &mut Signals) -> Handle {
    let (started, handle) = next_where(rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    next_where(rx, |s| {
        matches!(&s.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: true, .. }))
            && s.meta.origin == started.meta.origin
    })
    .await;
    handle
}

/// The texts of the messages the bot is given until `last` (included).
async fn texts_until(rx: &mut Signals, last: &str) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.last().map(String::as_str) != Some(last) {
        let (signal, _) = next_where(rx, |s| text(s).is_some()).await;
        texts.push(text(&signal).unwrap_or_default().to_owned());
    }
    texts
}

/// What the bot is given within a short while (nothing more must come).
async fn nothing_more(rx: &mut Signals) {
    let more = timeout(Duration::from_millis(700), async {
        loop {
            let (signal, _) = rx.recv().await?;
            if let Some(text) = text(&signal) {
                return Some(text.to_owned());
            }
        }
    })
    .await;
    assert!(matches!(more, Err(_) | Ok(None)), "given again: {more:?}");
}

async fn end(handle: &Handle, running: JoinHandle<Result<(), chatty_core::BotError>>) {
    handle.end_sessions("test over").await.unwrap();
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn what_was_said_while_the_bot_was_away_is_given_once_after_a_restart() {
    let server = irc_server();
    let channel = format!("#{}", unique("cu"));
    let nick = unique("cb");
    let journal = MemoryJournal::new();
    let mut alice = Raw::connect(&server.host, server.port, &unique("ca"), &[]).await;
    alice.join(&channel).await;
    alice
        .say(&format!("PRIVMSG {channel} :before the bot ever came"))
        .await;

    // The first run: the channel's past is not given; what is said live is.
    let (running, mut rx) = run(&nick, &channel, &journal);
    let handle = joined(&mut rx).await;
    alice.say(&format!("PRIVMSG {channel} :one")).await;
    alice.say(&format!("PRIVMSG {channel} :two")).await;
    assert_eq!(texts_until(&mut rx, "two").await, ["one", "two"]);
    end(&handle, running).await;

    // While the bot is away.
    for said in ["three", "four", "five"] {
        alice.say(&format!("PRIVMSG {channel} :{said}")).await;
    }
    // InspIRCd's history times are whole seconds: the catch-up must not lean on time alone.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The second run, on the same journal: what was missed, once, in order; then live again.
    let (running, mut rx) = run(&nick, &channel, &journal);
    let handle = joined(&mut rx).await;
    let caught_up = texts_until(&mut rx, "five").await;
    assert_eq!(caught_up, ["three", "four", "five"]);
    alice.say(&format!("PRIVMSG {channel} :six")).await;
    assert_eq!(texts_until(&mut rx, "six").await, ["six"]);
    nothing_more(&mut rx).await;
    end(&handle, running).await;

    // A third run with nothing said meanwhile: nothing is given again.
    let (running, mut rx) = run(&nick, &channel, &journal);
    let handle = joined(&mut rx).await;
    nothing_more(&mut rx).await;
    alice.say(&format!("PRIVMSG {channel} :seven")).await;
    assert_eq!(texts_until(&mut rx, "seven").await, ["seven"]);
    end(&handle, running).await;
}
