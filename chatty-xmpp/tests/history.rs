//! History from the server's archive (MAM, XEP-0313), against the test Prosody: what a contact
//! sent and what the bot sent it, newest first, paged.

mod common;

use std::time::Duration;

use chatty_core::{Body, Message, Page, Signal};
use common::bot;

/// The texts of `signals` newer than the message `marker`, newest first, and whether the marker
/// was among them. The test accounts come from a pool: their archives hold earlier tests' messages
/// too, so each check stops at a marker this test sent first.
fn texts_since(signals: &[Signal], marker: &str) -> (Vec<String>, bool) {
    let mut texts = Vec::new();
    for signal in signals {
        match &signal.body {
            Body::Message(m) if m.text == marker => return (texts, true),
            Body::Message(m) => texts.push(m.text.clone()),
            other => panic!("expected messages, got {other:?}"),
        }
    }
    (texts, false)
}

#[tokio::test]
async fn history_comes_from_the_archive_newest_first_and_paged() {
    let mut alice = bot(common::config(&common::account())).await;
    let mut bob = bot(common::config(&common::account())).await;
    let marker = format!("start {}", chatty_core::SignalId::generate());
    alice
        .send(Signal::new(Message::text(&marker)).to(bob.address.clone()))
        .await;
    bob.next_io().await;
    bob.send(Signal::new(Message::text(&marker)).to(alice.address.clone()))
        .await;
    alice.next_io().await;
    for i in 0..5 {
        alice
            .send(Signal::new(Message::text(format!("a{i}"))).to(bob.address.clone()))
            .await;
        bob.next_io().await;
    }
    for i in 0..3 {
        bob.send(Signal::new(Message::text(format!("b{i}"))).to(alice.address.clone()))
            .await;
        alice.next_io().await;
    }
    // The archive is written as messages pass; give the server a moment after the last one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let handle = alice.remote.handle().await;

    let received = handle
        .received_from(&bob.address, Page::first(50))
        .await
        .unwrap();
    assert_eq!(
        texts_since(&received.signals, &marker),
        (vec!["b2".into(), "b1".into(), "b0".into()], true)
    );
    assert!(
        received
            .signals
            .iter()
            .all(|s| s.meta.origin.as_ref() == Some(&bob.address))
    );
    assert!(received.signals.iter().all(|s| s.meta.sent.is_some()));

    let sent = handle.sent_to(&bob.address, Page::first(50)).await.unwrap();
    let (texts, complete) = texts_since(&sent.signals, &marker);
    assert_eq!(texts, ["a4", "a3", "a2", "a1", "a0"]);
    assert!(complete, "the marker is on the first page of 50");
    assert!(
        sent.signals
            .iter()
            .all(|s| s.meta.addressees == [bob.address.clone()])
    );

    // Pages of 4 archived stanzas of the conversation (both directions, receipts included):
    // walking them back gives the same, in the same order, over several pages.
    let mut page = Page::first(4);
    let mut walked = Vec::new();
    let mut pages = 0;
    loop {
        let history = handle.sent_to(&bob.address, page).await.unwrap();
        let (texts, reached) = texts_since(&history.signals, &marker);
        walked.extend(texts);
        pages += 1;
        match history.next {
            Some(next) if !reached => page = next,
            _ => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    assert!(pages > 1, "4 stanzas per page cannot hold it all");
    assert_eq!(walked, ["a4", "a3", "a2", "a1", "a0"]);

    // The oldest page says there is nothing older.
    let mut page = Page::first(200);
    let mut pages = 0;
    while let Some(next) = handle.sent_to(&bob.address, page).await.unwrap().next {
        page = next;
        pages += 1;
        assert!(pages < 100, "paging does not end");
    }
    alice.finish().await;
    bob.finish().await;
}
