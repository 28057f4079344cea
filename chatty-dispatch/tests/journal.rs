//! The dispatcher under a router with a journal: each signal is acknowledged when its handler
//! has finished, whatever the order across conversations, so a signal whose conversation is
//! held up stays pending (and would be given again after a crash) while the others finish.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::journal::{Acks, Journal, MemoryJournal};
use chatty_core::testing::{TestPlatform, message};
use chatty_core::{Address, Body, Bot, Message, Router, Signal};
use chatty_dispatch::prelude::*;
use tokio::sync::Semaphore;

fn from(person: &str, text: &str) -> Signal {
    let mut signal = message(text);
    signal.meta.origin = Some(format!("test:{person}").parse::<Address>().unwrap());
    signal
}

async fn pending(journal: &MemoryJournal) -> Vec<String> {
    let mut texts: Vec<String> = journal
        .pending("test")
        .await
        .unwrap()
        .iter()
        .filter_map(|p| match &p.signal.body {
            Body::Message(m) => Some(m.text.clone()),
            _ => None,
        })
        .collect();
    texts.sort();
    texts
}

/// Answers each message, but holds `a3` until the gate opens.
async fn gated(message: Message, gate: Settings<Arc<Semaphore>>) -> String {
    if message.text == "a3" {
        let _ = gate.0.acquire().await;
    }
    format!("re {}", message.text)
}

#[tokio::test]
async fn signals_are_acknowledged_when_handled_and_a_held_conversation_stays_pending() {
    assert_eq!(Dispatcher::new().acks(), Acks::Explicit);
    let journal = MemoryJournal::new();
    let mut signals = Vec::new();
    for i in 0..6 {
        signals.push(from("alice", &format!("a{i}")));
        signals.push(from("bob", &format!("b{i}")));
    }
    let session = TestPlatform::new("test").giving(signals);
    let sent = session.outbound();
    let gate = Arc::new(Semaphore::new(0));
    let bot = Dispatcher::new()
        .typing_after(None)
        .settings(gate.clone())
        .message(gated);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(
        Router::new()
            .session(session)
            .journal(journal.clone())
            .run_until(bot, async move {
                let _ = stopped.await;
            }),
    );
    // Alice's a0..a2 and all of Bob's are answered; a3 is held, a4 and a5 wait behind it.
    sent.wait_for(|s| s.len() == 9).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pending(&journal).await, ["a3", "a4", "a5"]);
    gate.add_permits(1);
    sent.wait_for(|s| s.len() == 12).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(pending(&journal).await.is_empty());
    let texts = sent.texts();
    let alice: Vec<&String> = texts.iter().filter(|t| t.starts_with("re a")).collect();
    assert_eq!(
        alice,
        ["re a0", "re a1", "re a2", "re a3", "re a4", "re a5"]
    );
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}
