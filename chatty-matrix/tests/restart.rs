//! A restart of the homeserver in the middle of a conversation, against the restartable test
//! Synapse (`chatty_test::servers::matrix_restart_server`; restarting the shared one would
//! break the tests beside this one): the long-poll sync in flight is cut, the session reports a
//! `ConnectionError`, connects again by itself with the token it kept, goes on from its sync
//! position, and messages flow both ways again; what the bot sent while the server was down is
//! sent once it is back.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chatty_core::{Answer, Body, ConnectionErrorKind, DeliveryStatus, Message, Query, Status};
use chatty_matrix::MatrixConfig;
use chatty_test::servers::{matrix_restart_account, matrix_restart_server};
use common::bot::{end, run};
use common::{Person, WAIT, next_where, text};
use tokio::time::timeout;

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

/// Starts the server again if the test fails while it is stopped (the next test needs it).
struct StartOnDrop(Option<std::path::PathBuf>);

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        if let Some(ctl) = self.0.take() {
            let _ = std::process::Command::new(ctl).arg("start").status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_reconnects_after_a_homeserver_restart() {
    let server = matrix_restart_server();
    let ctl_script = std::path::PathBuf::from(server.ctl.clone().expect("a ctl script"));
    let bot_account = matrix_restart_account();
    let alice = Person::login_at(&server.url, &matrix_restart_account()).await;
    let config = MatrixConfig::new(
        &server.url,
        &bot_account.user,
        bot_account.password.as_str(),
    )
    .with_connect_timeout(Duration::from_secs(5))
    .with_reconnect_backoff(Duration::from_millis(100), Duration::from_millis(500));
    let (running, mut rx) = run(config, None);
    let (started, handle) =
        next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    let own = started.meta.origin.unwrap();
    let room = alice.create_room(&bot_account.user_id, false).await;
    next_where(&mut rx, |s| {
        matches!(&s.body, Body::StatusChange(c) if matches!(&c.status, Status::InRoom { present: true, room: r, .. } if r.id() == room))
            && s.meta.origin.as_ref() == Some(&own)
    })
    .await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    alice.say(&room, "before").await;
    let (before, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&before), Some("before"));

    // The server goes away: the session says so, and keeps trying.
    ctl(&ctl_script, "stop").await;
    let mut guard = StartOnDrop(Some(ctl_script.clone()));
    let stopped = Instant::now();
    let (lost, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(error) = &lost.body else {
        unreachable!()
    };
    assert_eq!(error.kind, ConnectionErrorKind::Unreachable, "{error:?}");
    assert!(error.retry_in.is_some(), "it tries again: {error:?}");
    // What the bot sends meanwhile waits for the server: pending while it is down…
    let waiting = {
        let handle = handle.clone();
        let answer = before.reply(Message::text("while down"));
        let id = answer.meta.id.clone();
        (id, tokio::spawn(async move { handle.send(answer).await }))
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.1.is_finished(), "the send waits for the server");
    let status = handle
        .query(Query::DeliveryStatus {
            id: waiting.0.clone(),
        })
        .await;
    assert!(
        matches!(status, Ok(Answer::DeliveryStatus(DeliveryStatus::Pending))),
        "pending while the server is down: {status:?}"
    );

    ctl(&ctl_script, "start").await;
    guard.0 = None;
    eprintln!("the server was down for {:?}", stopped.elapsed());
    let back = Instant::now();
    alice.say(&room, "after").await;
    let (after, _) = next_where(&mut rx, |s| text(s) == Some("after")).await;
    eprintln!(
        "a message after the start reached the bot in {:?}",
        back.elapsed()
    );
    handle
        .send(after.reply(Message::text("answer after")))
        .await
        .unwrap();
    alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "answer after"
        })
        .await;
    // … and sent once it is back, once.
    let (id, send) = waiting;
    timeout(WAIT, send)
        .await
        .expect("the send ends once the server is back")
        .unwrap()
        .expect("sent");
    let status = handle.query(Query::DeliveryStatus { id }).await;
    assert!(
        matches!(status, Ok(Answer::DeliveryStatus(DeliveryStatus::Sent))),
        "{status:?}"
    );
    let bodies = alice.bodies(&room, &bot_account.user_id).await;
    assert_eq!(
        bodies.iter().filter(|b| *b == "while down").count(),
        1,
        "{bodies:?}"
    );

    end(&handle, running).await;
}
