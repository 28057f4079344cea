//! The driver against a scripted platform.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::Body;
use crate::query::DeliveryStatus;
use crate::session::Session;
use crate::signal::{ConnectionErrorKind, SignalKind};
use crate::testing::TestPlatform;

/// A platform whose first connection attempts fail with `failures`, and whose connections each
/// push a message naming them ("1.0", "2.0", …) and serve until told to stop or to drop. It
/// learns the bot's own address when connected, as Slack learns the bot's id from
/// `auth.test`, and refuses what it is sent once stopped.
fn scripted(failures: Vec<Failure>) -> TestPlatform {
    TestPlatform::new("test")
        .backoff(Backoff::new(
            Duration::from_millis(2),
            Duration::from_millis(8),
        ))
        .failing_to_connect(failures)
        .learning_own(Address::new("test", "bot").unwrap())
        .giving_each_connection(|n| vec![Signal::message(format!("{n}.0"))])
        .refusing_once_ended()
}

fn lost() -> Failure {
    Failure::new(ConnectionErrorKind::Unreachable, "refused")
}

/// Runs `session` on a plain sink; returns the run and the bot's side.
fn start(
    session: &Arc<TestPlatform>,
) -> (
    tokio::task::JoinHandle<Result<(), SessionError>>,
    async_channel::Receiver<Signal>,
) {
    let (tx, rx) = async_channel::unbounded();
    let sink = InboundSink::new("test", tx);
    let run = tokio::spawn(Session::run(session.clone(), sink));
    (run, rx)
}

/// The next signal from a router's channel.
async fn next_routed(rx: &async_channel::Receiver<crate::session::Queued>) -> Signal {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a signal in time")
        .expect("the sink is open")
        .signal
}

async fn next(rx: &async_channel::Receiver<Signal>) -> Signal {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a signal in time")
        .expect("the sink is open")
}

use crate::session::{InboundSink, SessionError};

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn failed_attempts_back_off_then_the_session_starts_once_and_reconnects() {
    let session = Arc::new(scripted(vec![lost(), lost()]));
    let (run, rx) = start(&session);
    for _ in 0..2 {
        let signal = next(&rx).await;
        let Body::ConnectionError(e) = &signal.body else {
            panic!("{signal:?}")
        };
        let wait = e.retry_in.expect("it tries again");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(8),
            "{wait:?}"
        );
        assert_eq!(e.kind, ConnectionErrorKind::Unreachable);
    }
    let started = next(&rx).await;
    assert_eq!(started.kind(), SignalKind::SessionStarted);
    assert_eq!(
        started.meta.origin,
        Address::new("test", "bot").ok(),
        "the own address the session learnt when it connected"
    );
    assert_eq!(text(&next(&rx).await), "1.0");

    // A short-lived connection is lost: reported, then connected again after a wait.
    assert!(session.drop_connection(), "a connection serves");
    let signal = next(&rx).await;
    assert!(matches!(&signal.body, Body::ConnectionError(e) if e.retry_in.is_some()));
    let signal = next(&rx).await;
    assert_eq!(text(&signal), "2.0", "no second SessionStarted");

    Session::send(
        &*session,
        Signal::new(Body::InitiateSessionEnd(SessionEnd::default())),
    )
    .await
    .unwrap();
    assert_eq!(next(&rx).await.kind(), SignalKind::SessionAboutToEnd);
    assert_eq!(next(&rx).await.kind(), SignalKind::SessionEnded);
    run.await.unwrap().unwrap();
    assert!(session.has_stopped());
}

#[tokio::test]
async fn the_bot_can_still_send_while_it_handles_session_about_to_end() {
    let session = Arc::new(scripted(vec![]));
    let (tx, rx) = async_channel::unbounded();
    // A router's sink: `SessionAboutToEnd` waits until the bot has handled it.
    let handled = Arc::new(crate::session::Handled::default());
    let sink = InboundSink::routed("test", tx, handled.clone(), Arc::new(|_: &Signal| {}), None);
    let run = tokio::spawn(Session::run(session.clone(), sink));
    assert_eq!(next_routed(&rx).await.kind(), SignalKind::SessionStarted);
    assert_eq!(next_routed(&rx).await.kind(), SignalKind::Message);
    session.driver().request_end(SessionEnd {
        reason: Some("done".into()),
    });
    let about = next_routed(&rx).await;
    assert_eq!(about.kind(), SignalKind::SessionAboutToEnd);
    // The bot answers while handling it: the connection still serves.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        Session::send(&*session, Signal::message("last words")).await,
        Ok(())
    );
    assert!(!session.has_stopped());
    // The bot comes back for its next signal: now the connection closes.
    handled.take(&about.meta.id).unwrap().send(()).unwrap();
    let ended = next_routed(&rx).await;
    let Body::SessionEnded(end) = &ended.body else {
        panic!("{ended:?}")
    };
    assert_eq!(end.reason.as_deref(), Some("done"));
    run.await.unwrap().unwrap();
    assert!(session.has_stopped());
    assert!(session.refused().is_empty(), "refused while still serving");
}

#[tokio::test]
async fn a_permanent_failure_ends_the_session_with_its_cause() {
    let refused = Failure::new(ConnectionErrorKind::Authentication, "not authorized").permanent();
    let session = Arc::new(scripted(vec![refused]));
    let (run, rx) = start(&session);
    let signal = next(&rx).await;
    let Body::ConnectionError(e) = &signal.body else {
        panic!("{signal:?}")
    };
    assert_eq!(e.retry_in, None);
    assert_eq!(e.kind, ConnectionErrorKind::Authentication);
    let error = run.await.unwrap().unwrap_err();
    assert!(error.to_string().contains("not authorized"), "{error}");
}

#[tokio::test]
async fn a_session_runs_once() {
    let session = Arc::new(scripted(vec![]));
    let (run, rx) = start(&session);
    assert_eq!(next(&rx).await.kind(), SignalKind::SessionStarted);
    let (tx, _rx2) = async_channel::unbounded();
    let again = Session::run(session.clone(), InboundSink::new("test", tx)).await;
    assert!(again.unwrap_err().to_string().contains("running already"));
    drop(rx);
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn when_the_bot_stops_listening_the_connection_closes_and_nothing_more_is_pushed() {
    let session = Arc::new(scripted(vec![]));
    let (run, rx) = start(&session);
    assert_eq!(next(&rx).await.kind(), SignalKind::SessionStarted);
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    assert!(session.has_stopped());
}

#[tokio::test]
async fn an_end_while_waiting_to_reconnect_ends_at_once() {
    let session = Arc::new(scripted((0..1000).map(|_| lost()).collect()));
    let (run, rx) = start(&session);
    assert_eq!(next(&rx).await.kind(), SignalKind::ConnectionError);
    session.driver().request_end(SessionEnd::default());
    let mut kinds = Vec::new();
    while let Ok(Ok(signal)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        if signal.kind() != SignalKind::ConnectionError {
            kinds.push(signal.kind());
        }
    }
    assert_eq!(
        kinds,
        [SignalKind::SessionAboutToEnd, SignalKind::SessionEnded]
    );
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn delivery_statuses_are_answered_from_the_table() {
    let session = Arc::new(scripted(vec![]));
    let id = crate::SignalId::from("m");
    session
        .driver()
        .deliveries()
        .advance(&id, DeliveryStatus::Read);
    let answer = Session::query(&*session, Query::DeliveryStatus { id }).await;
    assert_eq!(answer, Ok(Answer::DeliveryStatus(DeliveryStatus::Read)));
    let refused = Session::download(&*session, File::bytes("a", None, Vec::new())).await;
    assert_eq!(refused.unwrap_err().kind, FailureKind::Rejected);
}

#[tokio::test]
async fn the_servers_retry_after_is_waited_out_however_short_the_backoff() {
    let limited = lost().retry_after(Duration::from_millis(300));
    let session = Arc::new(scripted(vec![limited]));
    let (run, rx) = start(&session);
    let signal = next(&rx).await;
    let Body::ConnectionError(e) = &signal.body else {
        panic!("{signal:?}")
    };
    assert_eq!(e.retry_in, Some(Duration::from_millis(300)));
    let asked = std::time::Instant::now();
    assert_eq!(next(&rx).await.kind(), SignalKind::SessionStarted);
    assert!(
        asked.elapsed() >= Duration::from_millis(250),
        "{:?}",
        asked.elapsed()
    );
    drop(rx);
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_session_reads_reaches_the_bot_after_session_about_to_end() {
    let session = Arc::new(scripted(vec![]).chattering());
    let (tx, rx) = async_channel::unbounded();
    // A router's sink: the connection serves on while the bot handles `SessionAboutToEnd`.
    let handled = Arc::new(crate::session::Handled::default());
    let sink = InboundSink::routed("test", tx, handled.clone(), Arc::new(|_: &Signal| {}), None);
    let run = tokio::spawn(Session::run(session.clone(), sink));
    assert_eq!(next_routed(&rx).await.kind(), SignalKind::SessionStarted);
    for _ in 0..50 {
        assert_eq!(next_routed(&rx).await.kind(), SignalKind::Message);
    }
    session.driver().request_end(SessionEnd::default());
    let about = loop {
        let signal = next_routed(&rx).await;
        if signal.kind() == SignalKind::SessionAboutToEnd {
            break signal;
        }
    };
    // The bot takes its time over the end; the platform goes on talking meanwhile.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let behind: Vec<SignalKind> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|q| q.signal.kind())
        .collect();
    assert!(
        behind.is_empty(),
        "after SessionAboutToEnd: {} signals",
        behind.len()
    );
    handled.take(&about.meta.id).unwrap().send(()).unwrap();
    assert_eq!(next_routed(&rx).await.kind(), SignalKind::SessionEnded);
    run.await.unwrap().unwrap();
}
