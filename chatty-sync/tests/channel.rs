//! `channel()`: the blocking queue and handle used from plain threads.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use chatty_core::{Body, Bot, Message, QueryError, Router, SendError, Signal};
use chatty_sync::channel;
use futures::executor::block_on;
use support::*;

/// Runs `f` on a thread of its own; returns a receiver for its result.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

#[test]
fn with_a_router_and_no_session_the_queue_ends_at_once() {
    let (bot, queue, handle) = channel(16);
    let runner = on_thread(move || block_on(Router::new().run(bot)));

    // No session: the inbound stream ends at once, so does the queue.
    let reader = on_thread(move || (queue.receive().map(|s| s.meta.id), queue.count()));
    assert_eq!(reader.recv_timeout(GUARD).unwrap(), (None, 0));

    // The router's own answers come back through the handle.
    let alice = addr("xmpp:alice@example.org");
    assert_eq!(handle.say(&alice, "hello"), Err(SendError::Closed));
    assert_eq!(
        handle.members(&alice),
        Err(QueryError::NoRoute { address: alice })
    );

    // The run ends once the program drops its handle.
    drop(handle);
    runner.recv_timeout(GUARD).unwrap().unwrap();
}

#[test]
fn plain_threads_echo_through_a_queue_bot_and_its_run_waits_for_the_handles() {
    let outlet = RecordingOutlet::new();
    let (bot, queue, handle) = channel(4);
    let (tx, inbound) = source(Some(2));
    let runner = {
        let handle = outlet.handle();
        on_thread(move || block_on(bot.run(inbound, handle)))
    };

    // Two reader threads share the queue and echo; another thread only says things.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (queue, handle) = (queue.clone(), handle.clone());
            on_thread(move || {
                let mut echoed = 0;
                for signal in &queue {
                    if let Body::Message(m) = &signal.body {
                        handle
                            .send(signal.reply(Message::text(m.text.clone())))
                            .unwrap();
                        echoed += 1;
                    }
                }
                echoed
            })
        })
        .collect();
    drop(queue);
    let talker = {
        let handle = handle.clone();
        on_thread(move || {
            let bob = addr("xmpp:bob@example.org");
            (0..100).all(|i| handle.say(&bob, format!("say {i}")).is_ok())
        })
    };

    // Plain blocking pushes into the bounded source.
    let inputs: Vec<Signal> = (0..200)
        .map(|i| message_from_alice(format!("m{i}")))
        .collect();
    for signal in &inputs {
        tx.send_blocking(signal.clone()).unwrap();
    }
    drop(tx);

    let echoed: usize = readers
        .into_iter()
        .map(|r| r.recv_timeout(GUARD).unwrap())
        .sum();
    assert_eq!(echoed, 200);
    assert!(talker.recv_timeout(GUARD).unwrap());

    // The stream has ended, but a handle is still held: the run goes on, and the handle works.
    assert!(runner.recv_timeout(Duration::from_millis(200)).is_err());
    handle
        .say(&addr("xmpp:carol@example.org"), "last word")
        .unwrap();
    drop(handle);
    runner.recv_timeout(GUARD).unwrap().unwrap();

    let sent = outlet.sent();
    assert_eq!(sent.len(), 200 + 100 + 1);
    let mut answered: Vec<_> = sent
        .iter()
        .filter_map(|s| s.meta.response_to.clone())
        .collect();
    answered.sort();
    let mut asked: Vec<_> = inputs.iter().map(|s| s.id().clone()).collect();
    asked.sort();
    assert_eq!(answered, asked, "every message answered once");
    let says: Vec<_> = sent
        .iter()
        .map(text)
        .filter(|t| t.starts_with("say "))
        .map(str::to_owned)
        .collect();
    let expected: Vec<_> = (0..100).map(|i| format!("say {i}")).collect();
    assert_eq!(says, expected, "one thread's sends arrive in its order");
}

#[test]
fn with_every_queue_dropped_inbound_is_drained_while_the_handle_still_works() {
    let outlet = RecordingOutlet::new();
    let (bot, queue, handle) = channel(2);
    let (tx, inbound) = source(Some(2));
    let runner = {
        let handle = outlet.handle();
        on_thread(move || block_on(bot.run(inbound, handle)))
    };
    drop(queue);
    // Nobody reads, yet the sources are not held up: all fifty go through a source of two.
    let pusher = {
        let tx = tx.clone();
        on_thread(move || {
            (0..50).all(|i| tx.send_blocking(Signal::message(format!("{i}"))).is_ok())
        })
    };
    assert!(pusher.recv_timeout(GUARD).unwrap());
    handle
        .say(&addr("xmpp:bob@example.org"), "still here")
        .unwrap();
    assert_eq!(outlet.sent().len(), 1);
    // With the handle gone too, the run ends although the stream is still open.
    drop(handle);
    runner.recv_timeout(GUARD).unwrap().unwrap();
}

#[test]
fn with_queue_and_handle_dropped_the_run_ends_on_an_idle_open_stream() {
    let (bot, queue, handle) = channel(2);
    let (tx, inbound) = source(None);
    let runner = on_thread(move || block_on(bot.run(inbound, RecordingOutlet::new().handle())));
    assert!(runner.recv_timeout(Duration::from_millis(100)).is_err());
    drop((queue, handle));
    runner.recv_timeout(GUARD).unwrap().unwrap();
    drop(tx);
}

#[test]
fn the_parts_print_something_useful() {
    let (bot, queue, handle) = channel(3);
    assert!(format!("{bot:?}").starts_with("QueueBot"));
    assert!(format!("{queue:?}").contains("capacity: 3"));
    assert_eq!(format!("{handle:?}"), "BlockingHandle { closed: false }");
    drop(bot);
    assert!(handle.is_closed());
    assert_eq!(handle.send(Signal::message("x")), Err(SendError::Closed));
    assert!(queue.receive().is_none(), "the queue ends with its bot");
}
