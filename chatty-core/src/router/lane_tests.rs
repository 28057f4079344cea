//! A lane has several answers on their way at once, and each counts as gone only once the
//! session confirms it: its signal is acknowledged then, in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::driver::{Driver, Failure, Link, Protocol, lock};
use crate::journal::{Journal, MemoryJournal};
use crate::session::{Confirmation, Refusal};
use crate::{Address, Body, Capabilities, Message, Router, Signal, SignalId, from_fn};

/// A platform that gives `count` messages, takes the answers handed on to it at once, and
/// confirms them only as far as the test says (`confirmed`: how many, in order).
struct Confirming {
    driver: Driver,
    count: usize,
    handed: Arc<Mutex<Vec<String>>>,
    confirmed: watch::Receiver<usize>,
}

fn text(signal: &Signal) -> String {
    match &signal.body {
        Body::Message(m) => m.text.clone(),
        _ => String::new(),
    }
}

impl Protocol for Confirming {
    type Connection = ();

    fn driver(&self) -> &Driver {
        &self.driver
    }
    fn name(&self) -> &str {
        "test"
    }
    fn platform(&self) -> &str {
        "test"
    }
    fn own(&self) -> Option<Address> {
        None
    }
    fn capabilities(&self, _: Option<&Address>) -> Capabilities {
        Capabilities::all()
    }
    async fn connect(self: Arc<Self>, _link: Link) -> Result<(), Failure> {
        Ok(())
    }
    async fn serve(self: Arc<Self>, (): (), link: Link) -> Result<(), Failure> {
        for i in 0..self.count {
            let mut signal = Signal::message(format!("m{i}"));
            signal.meta.id = SignalId::from(format!("m{i}"));
            signal.meta.origin = Some("test:alice".parse().unwrap());
            if link.push(signal).await.is_err() {
                break;
            }
        }
        link.stopping().await;
        Ok(())
    }
    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        self.hand_on(signal).await?.await
    }
    async fn hand_on(&self, signal: Signal) -> Result<Confirmation, Refusal> {
        let number = {
            let mut handed = lock(&self.handed);
            handed.push(text(&signal));
            handed.len()
        };
        let mut confirmed = self.confirmed.clone();
        Ok(Box::pin(async move {
            let _ = confirmed.wait_for(|&up_to| up_to >= number).await;
            Ok(())
        }))
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
    let handed = Arc::new(Mutex::new(Vec::new()));
    let (confirm, confirmed) = watch::channel(0);
    let session = Confirming {
        driver: Driver::default(),
        count: COUNT,
        handed: handed.clone(),
        confirmed,
    };
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
        until(|| lock(&handed).len() == 8, "eight answers handed on").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(lock(&handed).len(), 8, "more than eight unconfirmed");
        assert_eq!(
            unfinished(&journal).await.len(),
            COUNT,
            "a signal finished before its answer was confirmed"
        );

        // Three confirmed: their signals are finished, three more go on their way.
        confirm.send(3).unwrap();
        until(|| lock(&handed).len() == 11, "three more handed on").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(lock(&handed).len(), 11, "more than eight unconfirmed");
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
        assert_eq!(*lock(&handed), expected);
    };
    Router::new()
        .session(session)
        .journal(journal.clone())
        .run_until(bot, check)
        .await
        .unwrap();
}
