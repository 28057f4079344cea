//! The Synchronizer and `channel` under a router with a journal: the queue reads ahead of the
//! blocking bot, yet a signal is acknowledged only when the bot's thread asks for the next one,
//! so what the bot had not finished when it stopped (and what waited in the queue) is still
//! pending in the journal, and what it finished is not.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use chatty_core::journal::{Acks, Journal, MemoryJournal};
use chatty_core::testing::{TestPlatform, messages};
use chatty_core::{Body, Bot, LayerExt, Message, Router, Signal};
use chatty_sync::{SignalQueue, SyncBot, SynchronizerLayer, sync_fn};

/// A platform that gives `count` messages, `m0`, `m1`, …, and records what it is sent.
fn burst(count: usize) -> TestPlatform {
    TestPlatform::new("test").giving(messages(count))
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        _ => "",
    }
}

async fn pending(journal: &MemoryJournal) -> Vec<String> {
    journal
        .pending("test")
        .await
        .unwrap()
        .iter()
        .map(|p| text(&p.signal).to_owned())
        .collect()
}

#[test]
fn the_synchronizer_and_the_queue_bot_acknowledge_explicitly() {
    let echo = sync_fn(|_, _| Ok(()));
    assert_eq!(echo.synchronized().acks(), Acks::Explicit);
    let (bot, _, _) = chatty_sync::channel(4);
    assert_eq!(bot.acks(), Acks::Explicit);
}

/// Waits until the session has pushed (and the journal kept) `count` signals.
fn kept(journal: &MemoryJournal, count: usize) {
    while journal.len() < count {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Takes the next message from `queue`, passing over internal signals.
fn take_message(queue: &SignalQueue) -> Option<String> {
    loop {
        let signal = queue.receive()?;
        if matches!(signal.body, Body::Message(_)) {
            return Some(text(&signal).to_owned());
        }
    }
}

/// Wraps a sync bot in a Synchronizer with a queue of `capacity`.
fn synchronized<S: SyncBot>(bot: S, capacity: usize) -> chatty_sync::Synchronizer<S> {
    bot.wrap(SynchronizerLayer::new().with_capacity(capacity))
}

#[tokio::test]
async fn a_blocking_bot_that_stops_mid_stream_leaves_what_it_did_not_finish_pending() {
    let journal = MemoryJournal::new();
    let session = burst(20);
    let sent = session.outbound();
    // It answers m0..m4 and dies while it handles m5; the queue (capacity 4) had read ahead.
    let kept_all = journal.clone();
    let bot = sync_fn(move |signal, handle| {
        if let Body::Message(m) = &signal.body {
            if m.text == "m5" {
                kept(&kept_all, 20);
                return Err("the process dies".into());
            }
            handle.send(signal.reply(Message::text(format!("re {}", m.text))))?;
        }
        Ok(())
    });
    let _ = Router::new()
        .session(session)
        .journal(journal.clone())
        .run(synchronized(bot, 4))
        .await;
    assert_eq!(sent.len(), 5);
    let expected: Vec<String> = (5..20).map(|i| format!("m{i}")).collect();
    assert_eq!(pending(&journal).await, expected);
}

#[tokio::test]
async fn a_signal_is_acknowledged_when_the_bot_asks_for_the_next_one_not_when_queued() {
    let journal = MemoryJournal::new();
    let (at_m2, reached) = mpsc::channel::<()>();
    let (go, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let kept_all = journal.clone();
    // The bot blocks in m2 until the test has looked at the journal, then ends the sessions.
    let bot = sync_fn(move |signal, handle| {
        if let Body::Message(m) = &signal.body
            && m.text == "m2"
        {
            kept(&kept_all, 10);
            at_m2.send(()).unwrap();
            wait.lock().unwrap().recv().unwrap();
            handle.end_sessions("seen")?;
        }
        Ok(())
    });
    let run = tokio::spawn(
        Router::new()
            .session(burst(10))
            .journal(journal.clone())
            .run(synchronized(bot, 16)),
    );
    tokio::task::spawn_blocking(move || reached.recv().unwrap())
        .await
        .unwrap();
    // m0 and m1 are finished; m2 is in the bot's hands and m3..m9 were read ahead into the
    // queue: all pending.
    let expected: Vec<String> = (2..10).map(|i| format!("m{i}")).collect();
    assert_eq!(pending(&journal).await, expected);
    go.send(()).unwrap();
    run.await.unwrap().unwrap();
    // The bot went on to the end: everything finished.
    assert!(pending(&journal).await.is_empty());
}

#[tokio::test]
async fn each_thread_of_a_program_finishes_its_own_signal() {
    let journal = MemoryJournal::new();
    let (bot, queue, handle) = chatty_sync::channel(16);
    let run = tokio::spawn(
        Router::new()
            .session(burst(4))
            .journal(journal.clone())
            .run(bot),
    );
    // Two workers take m0 and m1 (which takes which is the scheduler's choice) and hold them;
    // a third thread takes m2 and never asks again.
    let (took, taken) = mpsc::channel::<String>();
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (queue, took, released) = (queue.clone(), took.clone(), released.clone());
            thread::spawn(move || {
                took.send(take_message(&queue).unwrap()).unwrap();
                released.lock().unwrap().recv().unwrap();
                // Asking for the next finishes the one it held.
                take_message(&queue)
            })
        })
        .collect();
    let third = {
        let (queue, journal) = (queue.clone(), journal.clone());
        thread::spawn(move || {
            let mut first = vec![taken.recv().unwrap(), taken.recv().unwrap()];
            first.sort();
            assert_eq!(first, ["m0", "m1"]);
            let third = take_message(&queue);
            kept(&journal, 4);
            third
        })
    };
    let third = tokio::task::spawn_blocking(move || third.join().unwrap())
        .await
        .unwrap();
    assert_eq!(third.as_deref(), Some("m2"));
    assert_eq!(pending(&journal).await, ["m0", "m1", "m2", "m3"]);

    // The workers ask for their next: one gets m3, the other the end once the sessions end.
    release.send(()).unwrap();
    release.send(()).unwrap();
    let next = tokio::task::spawn_blocking(move || {
        handle.end_sessions("done").unwrap();
        let next: Vec<Option<String>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        drop((queue, handle));
        next
    })
    .await
    .unwrap();
    assert!(next.contains(&Some("m3".to_owned())), "{next:?}");
    run.await.unwrap().unwrap();
    // m0 and m1 were finished by their threads; m2's thread never came back, and m3's worker
    // stopped holding it.
    assert_eq!(pending(&journal).await, ["m2", "m3"]);
}
