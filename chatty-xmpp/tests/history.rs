//! History from the server's archive (MAM, XEP-0313), against the test Prosody: what a contact
//! sent and what the bot sent it, newest first, paged.

mod common;

use std::time::Duration;

use chatty_core::{Body, Message, Page, Signal};
use common::bot;

fn texts(history: &chatty_core::History) -> Vec<String> {
    history
        .signals
        .iter()
        .map(|s| match &s.body {
            Body::Message(m) => m.text.clone(),
            other => panic!("expected messages, got {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn history_comes_from_the_archive_newest_first_and_paged() {
    let mut alice = bot(common::config(&common::account())).await;
    let mut bob = bot(common::config(&common::account())).await;
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
    assert_eq!(texts(&received), ["b2", "b1", "b0"]);
    assert!(
        received
            .signals
            .iter()
            .all(|s| s.meta.origin.as_ref() == Some(&bob.address))
    );
    assert!(received.signals.iter().all(|s| s.meta.sent.is_some()));

    let sent = handle.sent_to(&bob.address, Page::first(50)).await.unwrap();
    assert_eq!(texts(&sent), ["a4", "a3", "a2", "a1", "a0"]);
    assert!(
        sent.signals
            .iter()
            .all(|s| s.meta.addressees == [bob.address.clone()])
    );
    assert_eq!(sent.next, None, "everything fit on one page");

    // Pages of 4 archived stanzas of the conversation (both directions, receipts included):
    // walking them back gives the same, in the same order, over several pages.
    let mut page = Page::first(4);
    let mut walked = Vec::new();
    let mut pages = 0;
    loop {
        let history = handle.sent_to(&bob.address, page).await.unwrap();
        walked.extend(texts(&history));
        pages += 1;
        match history.next {
            Some(next) => page = next,
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    assert!(pages > 1, "4 stanzas per page cannot hold it all");
    assert_eq!(walked, ["a4", "a3", "a2", "a1", "a0"]);
    alice.finish().await;
    bob.finish().await;
}
