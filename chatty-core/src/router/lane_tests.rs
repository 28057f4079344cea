//! A lane has several answers on their way at once, and each counts as gone only once the
//! session confirms it: its signal is acknowledged then, in order.

use std::time::Duration;

use tokio::sync::watch;

use crate::journal::{Journal, MemoryJournal};
use crate::testing::{TestPlatform, messages};
use crate::{Body, Message, Router, Signal, from_fn};

fn text(signal: &Signal) -> String {
    match &signal.body {
        Body::Message(m) => m.text.clone(),
        _ => String::new(),
    }
}

/// The texts of the signals not finished yet, in order.
async fn unfinished(journal: &MemoryJournal) -> Vec<String> {
    let pending = journal.pending("test").await.unwrap();
    pending.iter().map(|p| text(&p.signal)).collect()
}

/// Waits (5 s at most) until `what` holds.
async fn until(what: impl Fn() -> bool, failing: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !what() {
        assert!(tokio::time::Instant::now() < deadline, "{failing}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn answers_go_on_their_way_together_and_each_signal_is_finished_once_its_answer_is_confirmed()
{
    const COUNT: usize = 12;
    let journal = MemoryJournal::new();
    let (confirm, confirmed) = watch::channel(0);
    // Gives the messages, takes the answers handed on at once, and confirms them only as far
    // as the test says (`confirm`: how many, in order).
    let session = TestPlatform::new("test")
        .giving(messages(COUNT))
        .confirming(confirmed);
    let handed = session.outbound();
    let bot = from_fn(move |signal: Signal, handle| async move {
        if matches!(signal.body, Body::Message(_)) {
            let answer = signal.reply(Message::text(format!("{}.0", text(&signal))));
            handle.send(answer).await?;
        }
        Ok(())
    });
    let kept = journal.clone();
    let check = async move {
        let journal = kept;
        // Eight answers are on their way before any is confirmed; no more.
        until(|| handed.len() == 8, "eight answers handed on").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handed.len(), 8, "more than eight unconfirmed");
        assert_eq!(
            unfinished(&journal).await.len(),
            COUNT,
            "a signal finished before its answer was confirmed"
        );

        // Three confirmed: their signals are finished, three more go on their way.
        confirm.send(3).unwrap();
        until(|| handed.len() == 11, "three more handed on").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handed.len(), 11, "more than eight unconfirmed");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while unfinished(&journal).await.len() != COUNT - 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not finished in turn"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let left = unfinished(&journal).await;
        let expected: Vec<String> = (3..COUNT).map(|i| format!("m{i}")).collect();
        assert_eq!(left, expected, "finished out of order");

        // All confirmed: every signal finished, the answers handed on in order.
        confirm.send(COUNT).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !unfinished(&journal).await.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "not all finished");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let expected: Vec<String> = (0..COUNT).map(|i| format!("m{i}.0")).collect();
        assert_eq!(handed.texts(), expected);
    };
    Router::new()
        .session(session)
        .journal(journal.clone())
        .run_until(bot, check)
        .await
        .unwrap();
}
