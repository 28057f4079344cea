//! A restart of the server in the middle of a conversation, against the restartable test
//! InspIRCd (`chatty_test::servers::irc_restart_server`; restarting the shared one would break
//! the tests beside this one): the session reports the lost connection as a `ConnectionError`,
//! connects again by itself, joins its channel again, and messages flow both ways again. What the
//! bot sends while the server is down waits in the session's queue (shared by its connections)
//! and goes out once after the reconnection, behind the channel's `JOIN`, confirmed `Sent`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chatty_core::{
    Answer, Body, ConnectionErrorKind, DeliveryStatus, Handle, Message, Query, Router, Signal,
    SignalId, Status,
};
use chatty_irc::{ChannelConfig, IrcConfig, IrcSession, TlsMode};
use chatty_test::servers::irc_restart_server;
use common::{Raw, WAIT, next_where, spy, text, unique};
use tokio::sync::mpsc;
use tokio::time::timeout;

type Signals = mpsc::UnboundedReceiver<(Signal, Handle)>;

/// Runs the restartable server's control script with `command` (`stop`, `start`).
async fn ctl(ctl: &Path, command: &'static str) {
    let ctl = ctl.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&ctl)
            .arg(command)
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", ctl.display()))
    })
    .await
    .unwrap();
    assert!(status.success(), "ctl {command}: {status}");
}

/// Waits until the bot itself is in a channel (its own `JOIN`, after each registration).
async fn joined(rx: &mut Signals, own: &str) {
    next_where(rx, |s| {
        matches!(&s.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: true, .. }))
            && s.meta.origin.as_ref().is_some_and(|o| o.id() == own)
    })
    .await;
}

/// The delivery status of `id`.
async fn status(handle: &Handle, id: &SignalId) -> Option<DeliveryStatus> {
    match handle.query(Query::DeliveryStatus { id: id.clone() }).await {
        Ok(Answer::DeliveryStatus(status)) => Some(status),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_reconnects_after_a_server_restart_and_sends_what_waited() {
    let began = Instant::now();
    let (server, ctl_script) = irc_restart_server();
    let nick = unique("b");
    let person = unique("p");
    let channel = format!("#{}", unique("r"));
    let config = IrcConfig::new(&server.host, &nick)
        .with_tls(TlsMode::Plaintext)
        .with_port(server.port)
        .with_pacing(50, Duration::ZERO)
        .with_connect_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(100), Duration::from_millis(500))
        .with_channel(ChannelConfig::new(&channel));
    let (bot, mut rx) = spy();
    let running = tokio::spawn(
        Router::new()
            .session(IrcSession::new(config).unwrap())
            .run(bot),
    );

    // Both register at once (InspIRCd registers clients in its once-a-second loop).
    let (mut alice, (_, handle)) = tokio::join!(
        Raw::connect(&server.host, server.port, &person, &[]),
        next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_)))
    );
    joined(&mut rx, &nick).await;
    alice.join(&channel).await;
    alice.say(&format!("PRIVMSG {channel} :before")).await;
    let (before, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&before), Some("before"));
    handle
        .send(before.reply_all(Message::text("answer before")))
        .await
        .unwrap();
    let line = alice.until(|l| l.command == "PRIVMSG").await;
    assert_eq!(line.params, [channel.as_str(), "answer before"]);

    // The server goes away: the session says so, and keeps trying.
    ctl(&ctl_script, "stop").await;
    let stopped = Instant::now();
    drop(alice);
    let (lost, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(error) = &lost.body else {
        unreachable!()
    };
    assert_eq!(error.kind, ConnectionErrorKind::Unreachable, "{error:?}");
    assert!(error.retry_in.is_some(), "it tries again: {error:?}");

    // What the bot sends meanwhile is queued, not refused.
    let waited = handle
        .send(before.reply_all(Message::text("sent while down")))
        .await
        .expect("queued while the server is down");
    // A failed attempt or two while the server is down (the backoff is 100-500 ms).
    let (again, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(again) = &again.body else {
        unreachable!()
    };
    assert!(again.retry_in.is_some(), "{again:?}");
    assert_eq!(
        status(&handle, &waited).await,
        Some(DeliveryStatus::Pending),
        "not sent while the server is down"
    );

    ctl(&ctl_script, "start").await;
    eprintln!("the server was down for {:?}", stopped.elapsed());
    let reconnecting = Instant::now();
    // The session registers and joins again by itself; the person connects again too.
    let (mut alice, ()) = tokio::join!(
        async {
            let mut alice = Raw::connect(&server.host, server.port, &person, &[]).await;
            alice.join(&channel).await;
            alice
        },
        joined(&mut rx, &nick)
    );
    eprintln!("joined again {:?} after the start", reconnecting.elapsed());

    // What waited went out once, after the JOIN: live, or in the channel's history replayed to
    // the person if they joined after it.
    let line = alice
        .until(|l| l.command == "PRIVMSG" && l.nick() == Some(nick.as_str()))
        .await;
    assert_eq!(line.params, [channel.as_str(), "sent while down"]);
    timeout(WAIT, async {
        while status(&handle, &waited).await != Some(DeliveryStatus::Sent) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("confirmed Sent once the server echoed it");

    // Messages both ways again.
    alice.say(&format!("PRIVMSG {channel} :after")).await;
    let (after, _) = next_where(&mut rx, |s| text(s) == Some("after")).await;
    assert_eq!(after.meta.origin.as_ref().unwrap().id(), person);
    handle
        .send(after.reply_all(Message::text("answer after")))
        .await
        .unwrap();
    let line = alice
        .until(|l| l.command == "PRIVMSG" && l.nick() == Some(nick.as_str()))
        .await;
    assert_eq!(line.params, [channel.as_str(), "answer after"]);

    // Nothing was sent twice: the next line from the bot is the one after this.
    handle
        .send(after.reply_all(Message::text("last")))
        .await
        .unwrap();
    let line = alice
        .until(|l| l.command == "PRIVMSG" && l.nick() == Some(nick.as_str()))
        .await;
    assert_eq!(line.params, [channel.as_str(), "last"]);

    handle.end_sessions("test over").await.unwrap();
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
    eprintln!("the whole test: {:?}", began.elapsed());
}
