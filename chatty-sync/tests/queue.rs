//! The blocking inbound queue: receiving, timeouts, the end of the stream, backpressure.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatty_core::{Bot, BotError, Signal};
use chatty_sync::{
    BlockingHandle, QueueBot, ReceiveError, SignalQueue, SyncBot, TryReceiveError, channel,
};
use support::*;
use tokio::time::{sleep, timeout};

/// Starts a `QueueBot` over a fresh source and a recording outlet on the current runtime.
fn start(
    bot: QueueBot,
) -> (
    chatty_core::reexports::async_channel::Sender<Signal>,
    tokio::task::JoinHandle<Result<(), BotError>>,
) {
    let (tx, inbound) = source(None);
    let run = tokio::spawn(bot.run(inbound, RecordingOutlet::new().handle()));
    (tx, run)
}

#[tokio::test(flavor = "multi_thread")]
async fn receive_timeout_times_out_on_an_empty_queue_and_returns_an_early_signal() {
    let (bot, queue, handle) = channel(8);
    let (tx, run) = start(bot);

    // Empty: a timeout, after (about) the time asked.
    let (result, elapsed) = tokio::task::spawn_blocking({
        let queue = queue.clone();
        move || {
            let start = Instant::now();
            (
                queue.receive_timeout(Duration::from_millis(150)),
                start.elapsed(),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(result.map(|s| s.meta.id), Err(ReceiveError::Timeout));
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // A signal that arrives before the deadline is returned when it arrives.
    let waiter = tokio::task::spawn_blocking({
        let queue = queue.clone();
        move || {
            let start = Instant::now();
            (
                queue.receive_timeout(Duration::from_secs(10)),
                start.elapsed(),
            )
        }
    });
    sleep(Duration::from_millis(100)).await;
    let hello = message_from_alice("hello");
    tx.send(hello.clone()).await.unwrap();
    let (result, elapsed) = timeout(GUARD, waiter).await.unwrap().unwrap();
    assert_eq!(result.map(|s| s.meta.id), Ok(hello.meta.id));
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    drop((tx, queue, handle));
    timeout(GUARD, run).await.unwrap().unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn try_receive_tells_empty_from_ended_and_the_queue_drains_before_it_ends() {
    let (bot, queue, handle) = channel(8);
    assert_eq!(queue.capacity(), 8);
    let (tx, run) = start(bot);
    assert_eq!(
        queue.try_receive().map(|s| s.meta.id),
        Err(TryReceiveError::Empty)
    );
    assert!(queue.is_empty() && !queue.is_ended());

    let inputs: Vec<Signal> = (0..5).map(|i| message_from_alice(format!("{i}"))).collect();
    for signal in &inputs {
        tx.send(signal.clone()).await.unwrap();
    }
    drop(tx); // the stream ends after the five

    let received = tokio::task::spawn_blocking(move || {
        let mut received = Vec::new();
        // The first by receive, the second by receive_timeout, the rest by the iterator.
        received.push(queue.receive().unwrap());
        received.push(queue.receive_timeout(Duration::from_secs(5)).unwrap());
        received.extend(&queue);
        // The iterator ended: so does everything else, at once.
        assert!(queue.receive().is_none());
        assert_eq!(
            queue.try_receive().map(|s| s.meta.id),
            Err(TryReceiveError::Ended)
        );
        assert_eq!(
            queue
                .receive_timeout(Duration::from_secs(5))
                .map(|s| s.meta.id),
            Err(ReceiveError::Ended)
        );
        assert!(queue.is_ended());
        received
    });
    let received = timeout(GUARD, received).await.unwrap().unwrap();
    let ids: Vec<_> = received.iter().map(|s| s.id()).collect();
    let expected: Vec<_> = inputs.iter().map(|s| s.id()).collect();
    assert_eq!(ids, expected);

    drop(handle);
    timeout(GUARD, run).await.unwrap().unwrap().unwrap();
}

/// Waits for `go`, then reads everything.
struct ReadsLater {
    go: std::sync::mpsc::Receiver<()>,
    queued_before_reading: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Signal>>>,
}

impl SyncBot for ReadsLater {
    fn run(self, inbound: SignalQueue, _handle: BlockingHandle) -> Result<(), BotError> {
        self.go.recv()?;
        self.queued_before_reading
            .store(inbound.len(), Ordering::SeqCst);
        self.received.lock().unwrap().extend(inbound);
        Ok(())
    }
}

// A single-threaded runtime: if the synchronizer blocked its thread while waiting for room in
// the queue, nothing else would run on it (the watchdog then ends the test).
#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_makes_the_async_side_wait_without_blocking_or_losing() {
    let _watchdog = Watchdog::new("the backpressure test", GUARD);
    let (go_tx, go) = std::sync::mpsc::channel();
    let queued_before_reading = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(Mutex::new(Vec::new()));
    let bot = ReadsLater {
        go,
        queued_before_reading: queued_before_reading.clone(),
        received: received.clone(),
    }
    .synchronized()
    .with_capacity(4);

    let (tx, inbound) = source(None);
    let inputs: Vec<Signal> = (0..20)
        .map(|i| message_from_alice(format!("{i}")))
        .collect();
    for signal in &inputs {
        tx.send(signal.clone()).await.unwrap();
    }
    let run = tokio::spawn(bot.run(inbound, RecordingOutlet::new().handle()));

    // Another task on the same (only) thread keeps running meanwhile.
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::SeqCst);
                sleep(Duration::from_millis(10)).await;
            }
        }
    });
    sleep(Duration::from_millis(300)).await;
    assert!(
        ticks.load(Ordering::SeqCst) >= 5,
        "the runtime thread was blocked"
    );
    // Four signals wait in the queue, one waits in the synchronizer for room; the source still
    // holds the rest.
    assert_eq!(tx.len(), 20 - 4 - 1);
    assert!(!run.is_finished());

    go_tx.send(()).unwrap();
    drop(tx);
    timeout(GUARD, run).await.unwrap().unwrap().unwrap();
    ticker.abort();
    assert_eq!(queued_before_reading.load(Ordering::SeqCst), 4);
    let ids: Vec<_> = received
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id().clone())
        .collect();
    let expected: Vec<_> = inputs.iter().map(|s| s.id().clone()).collect();
    assert_eq!(ids, expected, "every signal arrives once, in order");
}

#[test]
fn a_capacity_of_zero_is_one() {
    let (_bot, queue, _handle) = channel(0);
    assert_eq!(queue.capacity(), 1);
    assert!(format!("{queue:?}").contains("capacity: 1"));
}
