//! What the Logger does with a send the handle refuses (an `Err`: nothing was sent), and with
//! downloads (calls, not signals).

use chatty_core::session::Refusal;
use chatty_core::{DeliveryStatus, FailureKind, File, Page, SendError, Signal, SignalId};
use chatty_log::{Direction, LogStore, LoggerLayer, StateStore};

use crate::backends::Place;
use crate::support::{Harness, RecordingOutlet, addr, start};

async fn harness(place: &Place) -> (Harness, StateStore) {
    let store = place.store().await;
    let h = start(LoggerLayer::new(store.clone()), RecordingOutlet::new()).await;
    (h, store)
}

/// The refusals the router knows at once, and the closed connection.
fn refusals() -> Vec<SendError> {
    vec![
        SendError::NoRoute {
            address: addr("slack:U123"),
        },
        SendError::Unsupported {
            reason: "no html here".into(),
        },
        SendError::Refused(
            Refusal::new(FailureKind::RateLimited, "too many answers").with_code("answer-limit"),
        ),
        SendError::Closed,
    ]
}

each_backend! {
    async fn a_refused_send_is_not_recorded_at_all(place) {
        let (h, store) = harness(&place).await;
        let bob = addr("xmpp:bob@example.org");
        for error in refusals() {
            h.outlet.refuse(Some(error.clone()));
            let signal = Signal::message("hi").to(bob.clone());
            let id: SignalId = signal.id().clone();
            // The bot gets the error itself, unchanged.
            assert_eq!(h.handle.send(signal).await.unwrap_err(), error);
            // Not in the sent history, no delivery status of its own.
            assert_eq!(store.delivery_status(&id).await.unwrap(), None, "{error}");
            assert_eq!(
                h.handle.delivery_status(&id).await.unwrap(),
                DeliveryStatus::Unknown,
                "{error}"
            );
        }
        let sent = store
            .history(Direction::Out, &bob, &Page::first(10))
            .await
            .unwrap();
        assert!(sent.signals.is_empty(), "{:?}", sent.signals);
        assert!(h.outlet.sent().is_empty());
        let leftover = h.finish().await;
        assert!(leftover.is_empty(), "no system error: {leftover:?}");
    }
}

each_backend! {
    async fn a_signal_sent_again_after_a_refusal_is_recorded_as_sent(place) {
        let (h, store) = harness(&place).await;
        let bob = addr("xmpp:bob@example.org");
        let signal = Signal::message("<b>hi</b>").to(bob.clone());
        h.outlet.refuse(Some(SendError::Unsupported {
            reason: "no html here".into(),
        }));
        h.handle.send(signal.clone()).await.unwrap_err();

        // The bot mends it and sends it again, with the same id: it goes out, and the log says so.
        h.outlet.refuse(None);
        let id = h.handle.send(signal.clone()).await.unwrap();
        assert_eq!(&id, signal.id());
        assert_eq!(
            h.handle.delivery_status(&id).await.unwrap(),
            DeliveryStatus::Sent
        );
        let sent = store
            .history(Direction::Out, &bob, &Page::first(10))
            .await
            .unwrap();
        assert_eq!(
            sent.signals,
            h.outlet.sent(),
            "recorded once, as it went out"
        );
        assert_eq!(sent.signals.len(), 1);
        h.finish().await;
    }
}

each_backend! {
    async fn downloads_pass_through_to_the_inner_handle_unrecorded(place) {
        let (h, store) = harness(&place).await;
        let file = File::url("f.pdf", None, "https://example.org/f.pdf");
        let fetched = h.handle.download(&file).await.unwrap();
        assert_eq!(fetched, File::bytes("f.pdf", None, &b"f.pdf"[..]));
        let via = addr("slack+work:U123");
        h.handle.download_via(&file, &via).await.unwrap();
        assert_eq!(
            h.outlet.downloads(),
            vec![(file.clone(), None), (file, Some(via.clone()))]
        );
        for direction in [Direction::In, Direction::Out] {
            let got = store
                .history(direction, &via, &Page::first(10))
                .await
                .unwrap();
            assert!(got.signals.is_empty());
        }
        assert!(h.outlet.sent().is_empty(), "a download is no signal");
        let leftover = h.finish().await;
        assert!(leftover.is_empty(), "{leftover:?}");
    }
}
