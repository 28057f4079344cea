//! Delivery status: from what the log saw, and from the inner handle when it knows further.

use chatty_core::{DeliveryStatus, FailureKind, SendFailure, Signal, SignalId, Unsupported};
use chatty_log::{LogStore, LoggerLayer};

use crate::backends::Place;
use crate::support::{Harness, RecordingOutlet, addr, start};

async fn harness(place: &Place) -> Harness {
    start(
        LoggerLayer::new(place.store().await),
        RecordingOutlet::new(),
    )
    .await
}

async fn send(h: &Harness) -> SignalId {
    h.handle
        .send(Signal::message("hi").to(addr("xmpp:bob@example.org")))
        .await
        .unwrap()
}

each_backend! {
    async fn a_sent_signal_is_sent(place) {
        let h = harness(&place).await;
        let id = send(&h).await;
        assert_eq!(
            h.handle.delivery_status(&id).await.unwrap(),
            DeliveryStatus::Sent
        );
        h.finish().await;
    }
}

each_backend! {
    async fn a_send_failure_naming_it_marks_it_failed(place) {
        let mut h = harness(&place).await;
        let id = send(&h).await;
        let failure = Signal::internal(
            None,
            SendFailure::new(id.clone(), FailureKind::UnknownAddressee, "no such user")
                .with_code("item-not-found"),
        )
        .in_response_to(id.clone());
        h.deliver(failure).await;
        assert_eq!(
            h.handle.delivery_status(&id).await.unwrap(),
            DeliveryStatus::Failed {
                kind: FailureKind::UnknownAddressee,
                message: "no such user".into()
            }
        );
        h.finish().await;
    }
}

each_backend! {
    async fn an_unsupported_signal_marks_it_failed(place) {
        let mut h = harness(&place).await;
        let id = send(&h).await;
        let back = Signal::internal(None, Unsupported::new(id.clone(), "no messages here"))
            .in_response_to(id.clone());
        h.deliver(back).await;
        let status = h.handle.delivery_status(&id).await.unwrap();
        assert!(
            matches!(&status, DeliveryStatus::Failed { message, .. } if message.contains("no messages here")),
            "{status:?}"
        );
        h.finish().await;
    }
}

each_backend! {
    async fn the_inner_handles_further_answer_wins_and_a_lesser_one_does_not(place) {
        let h = harness(&place).await;
        let id = send(&h).await;
        h.outlet.answer_delivery(Some(DeliveryStatus::Delivered));
        assert_eq!(
            h.handle.delivery_status(&id).await.unwrap(),
            DeliveryStatus::Delivered
        );
        // The inner handle was asked.
        assert!(
            h.outlet
                .queries()
                .iter()
                .any(|q| matches!(q, chatty_core::Query::DeliveryStatus { .. }))
        );

        // Behind the log's record, the log's record wins.
        let other = send(&h).await;
        h.outlet.answer_delivery(Some(DeliveryStatus::Pending));
        assert_eq!(
            h.handle.delivery_status(&other).await.unwrap(),
            DeliveryStatus::Sent
        );
        // What the inner handle told further is kept: it stands when the inner cannot say.
        h.outlet.answer_delivery(None);
        assert_eq!(
            h.handle.delivery_status(&id).await.unwrap(),
            DeliveryStatus::Delivered
        );
        h.finish().await;
    }
}

each_backend! {
    async fn a_signal_never_seen_is_unknown(place) {
        let h = harness(&place).await;
        assert_eq!(
            h.handle
                .delivery_status(&"never-sent".into())
                .await
                .unwrap(),
            DeliveryStatus::Unknown
        );
        // And the inner handle's own word stands when the log has nothing.
        h.outlet.answer_delivery(Some(DeliveryStatus::Read));
        assert_eq!(
            h.handle.delivery_status(&"elsewhere".into()).await.unwrap(),
            DeliveryStatus::Read
        );
        h.finish().await;
    }
}

each_backend! {
    async fn a_status_never_moves_back_in_the_store(place) {
        let store = place.store().await;
        let id: SignalId = "s".into();
        let failed = DeliveryStatus::Failed {
            kind: FailureKind::Bounced,
            message: "bounced".into(),
        };
        assert_eq!(store.delivery_status(&id).await.unwrap(), None);
        store
            .set_delivery_status(&id, &DeliveryStatus::Sent)
            .await
            .unwrap();
        store.set_delivery_status(&id, &failed).await.unwrap();
        store
            .set_delivery_status(&id, &DeliveryStatus::Delivered)
            .await
            .unwrap();
        store
            .set_delivery_status(&id, &DeliveryStatus::Sent)
            .await
            .unwrap();
        assert_eq!(store.delivery_status(&id).await.unwrap(), Some(failed));
    }
}
