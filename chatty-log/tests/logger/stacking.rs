//! Loggers compose: two stacked loggers both record everything, and queries pass through.

use chatty_core::{Page, Query, Signal};

use crate::backends::Place;
use chatty_log::{Direction, LogStore, LoggerLayer};

use crate::support::{RecordingOutlet, addr, from, start};

each_backend! {
    async fn two_stacked_loggers_both_record_everything(place) {
        // Two databases: each logger's records in its own.
        let other = Place::new(place.backend).await;
        let inner = place.store().await;
        let outer = other.store().await;
        let layers = chatty_core::Stack(
            LoggerLayer::new(inner.clone()),
            LoggerLayer::new(outer.clone()),
        );
        let mut h = start(layers, RecordingOutlet::new()).await;

        let incoming = from("xmpp:alice@example.org", "hello");
        assert_eq!(h.deliver(incoming.clone()).await, incoming);
        h.handle
            .send(Signal::message("hi").to(addr("xmpp:bob@example.org")))
            .await
            .unwrap();
        let gone = h.outlet.sent();

        let page = Page::first(10);
        for store in [&inner, &outer] {
            let got = store
                .history(Direction::In, &addr("xmpp:alice@example.org"), &page)
                .await
                .unwrap();
            assert_eq!(got.signals, std::slice::from_ref(&incoming));
            let got = store
                .history(Direction::Out, &addr("xmpp:bob@example.org"), &page)
                .await
                .unwrap();
            assert_eq!(got.signals, gone, "both record what went out");
        }

        // A query neither logger answers passes through both to the inner handle.
        let room = addr("xmpp:room@muc.example.org");
        assert_eq!(
            h.handle.members(&room).await.unwrap(),
            std::slice::from_ref(&room)
        );
        assert!(
            h.outlet
                .queries()
                .contains(&Query::Members { address: room })
        );
        h.finish().await;
    }
}

each_backend! {
    async fn wrap_stacks_loggers_too(place) {
        use chatty_core::{LayerExt, from_fn};
        let store = place.store().await;
        let bot = from_fn(|_signal, _handle| async { Ok(()) })
            .wrap(LoggerLayer::new(store.clone()))
            .wrap(LoggerLayer::new(store.clone()));
        // Both layers record into the same store here: each inbound signal is recorded twice.
        let (tx, rx) = chatty_core::reexports::async_channel::unbounded();
        tx.send(from("xmpp:alice@example.org", "x")).await.unwrap();
        tx.close();
        chatty_core::Bot::run(
            bot,
            futures::StreamExt::boxed(rx),
            chatty_core::Handle::new(RecordingOutlet::new()),
        )
        .await
        .unwrap();
        let got = store
            .history(
                Direction::In,
                &addr("xmpp:alice@example.org"),
                &Page::first(10),
            )
            .await
            .unwrap();
        assert_eq!(got.signals.len(), 2);
    }
}
