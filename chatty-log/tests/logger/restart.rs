//! Records survive a restart: a store reopened holds what was written, and new records
//! continue after the old ones.

use chatty_core::{DeliveryStatus, Page, Signal};
use chatty_log::{LoggerLayer, StateStore};

use crate::support::{RecordingOutlet, addr, from, start, text};

each_backend! {
async fn records_survive_a_restart_and_continue_after_the_old_ones(place) {
    let bob = addr("xmpp:bob@example.org");
    let alice = addr("xmpp:alice@example.org");

    // First run, through the config-file path.
    let first_sent = {
        let layer = LoggerLayer::open(&place.logger_config()).await.unwrap();
        let mut h = start(layer, RecordingOutlet::new()).await;
        for i in 0..3 {
            h.deliver(from("xmpp:alice@example.org", &format!("old in {i}")))
                .await;
            h.handle
                .send(Signal::message(format!("old out {i}")).to(bob.clone()))
                .await
                .unwrap();
        }
        let sent = h.outlet.sent();
        assert!(h.finish().await.is_empty());
        sent
    };
    // Everything from the first run is dropped here; the database stays.
    let store = StateStore::open_with(&place.logger_config()).await.unwrap();
    let mut h = start(LoggerLayer::new(store.clone()), RecordingOutlet::new()).await;
    let got = h.handle.sent_to(&bob, Page::first(10)).await.unwrap();
    let mut old = got.signals.clone();
    old.reverse();
    assert_eq!(old, first_sent, "the old records read back equal");
    assert_eq!(
        h.handle.delivery_status(first_sent[0].id()).await.unwrap(),
        DeliveryStatus::Sent,
        "delivery statuses survive too"
    );

    for i in 0..2 {
        h.deliver(from("xmpp:alice@example.org", &format!("new in {i}")))
            .await;
        h.handle
            .send(Signal::message(format!("new out {i}")).to(bob.clone()))
            .await
            .unwrap();
    }
    let texts = |signals: &[Signal]| {
        signals
            .iter()
            .map(|s| text(s).to_owned())
            .collect::<Vec<_>>()
    };
    let got = h
        .handle
        .received_from(&alice, Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        texts(&got.signals),
        ["new in 1", "new in 0", "old in 2", "old in 1", "old in 0"]
    );
    let got = h.handle.sent_to(&bob, Page::first(3)).await.unwrap();
    assert_eq!(texts(&got.signals), ["new out 1", "new out 0", "old out 2"]);
    let got = h.handle.sent_to(&bob, got.next.unwrap()).await.unwrap();
    assert_eq!(texts(&got.signals), ["old out 1", "old out 0"]);
    assert_eq!(got.next, None);
    h.finish().await;
    store.close().await;
}
}
