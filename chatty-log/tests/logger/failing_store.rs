//! A store that fails loses no signal: it still reaches the bot or goes out, and the bot hears
//! of the failure.

use chatty_core::{Address, DeliveryStatus, History, Page, QueryError, Signal, SignalId};
use chatty_log::{Direction, LogError, LogStore, LoggerLayer};
use futures::future::BoxFuture;

use crate::support::{RecordingOutlet, addr, from, is_logger_error, start, text};

/// A store whose every operation fails, like a full disk.
#[derive(Debug)]
struct FailingStore;

fn full() -> LogError {
    LogError::other("disk full")
}

impl LogStore for FailingStore {
    fn record<'a>(&'a self, _: Direction, _: &'a Signal) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async { Err(full()) })
    }

    fn set_delivery_status<'a>(
        &'a self,
        _: &'a SignalId,
        _: &'a DeliveryStatus,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async { Err(full()) })
    }

    fn history<'a>(
        &'a self,
        _: Direction,
        _: &'a Address,
        _: &'a Page,
    ) -> BoxFuture<'a, Result<History, LogError>> {
        Box::pin(async { Err(full()) })
    }

    fn delivery_status<'a>(
        &'a self,
        _: &'a SignalId,
    ) -> BoxFuture<'a, Result<Option<DeliveryStatus>, LogError>> {
        Box::pin(async { Err(full()) })
    }
}

#[tokio::test]
async fn a_failing_store_loses_no_signal_and_tells_the_bot() {
    let mut h = start(LoggerLayer::new(FailingStore), RecordingOutlet::new()).await;

    // In: the signal first, then the logger's error about it.
    let seen = h.deliver(from("xmpp:alice@example.org", "hello")).await;
    assert_eq!(text(&seen), "hello");
    let error = h.next_seen().await;
    assert!(is_logger_error(&error), "{error:?}");
    assert!(format!("{error:?}").contains("disk full"));

    // Out: the signal still goes out, and the send succeeds.
    let signal = Signal::message("out").to(addr("xmpp:bob@example.org"));
    h.handle.send(signal.clone()).await.unwrap();
    let gone = h.outlet.sent();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].body, signal.body);
    // Recording the signal and its status both failed.
    assert!(is_logger_error(&h.next_seen().await));
    assert!(is_logger_error(&h.next_seen().await));

    // A history query fails with a clear error, not a wrong answer.
    let error = h
        .handle
        .received_from(&addr("xmpp:alice@example.org"), Page::first(10))
        .await
        .unwrap_err();
    assert!(matches!(&error, QueryError::Failed { message } if message.contains("disk full")));

    // The stream still ends when the source ends (the handle, and with it the error channel,
    // is still alive until the bot stops).
    let rest = h.finish().await;
    assert!(rest.iter().all(is_logger_error), "{rest:?}");
}

#[tokio::test]
async fn errors_raised_by_the_last_signal_still_reach_the_bot() {
    let mut h = start(LoggerLayer::new(FailingStore), RecordingOutlet::new()).await;
    h.inbound
        .send(from("xmpp:alice@example.org", "last"))
        .await
        .unwrap();
    let seen = h.next_seen().await;
    assert_eq!(text(&seen), "last");
    let rest = h.finish().await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(is_logger_error(&rest[0]));
}
