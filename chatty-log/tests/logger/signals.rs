//! Every kind of signal is recorded in and out, with its metadata, exactly as it passed.

use std::time::Duration;

use chatty_core::{
    Body, ConnectionError, ConnectionErrorKind, DownloadFile, FailureKind, File, Media, Message,
    Page, SendFailure, SessionEnd, SessionStarted, Signal, SignalKind, Status, StatusChange,
    SystemError, TypingState, Unsupported, UserDefined,
};
use chatty_log::{Direction, LogStore, LoggerLayer};
use time::macros::datetime;

use crate::support::{RecordingOutlet, addr, start};

/// One body of each of the 13 kinds, with bytes in attachments and files.
fn every_body() -> Vec<Body> {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let file = File::bytes("photo.bin", Some("application/octet-stream"), bytes);
    let end = SessionEnd::because("bye");
    vec![
        Message::text("hi")
            .with_subject("s")
            .with_html("<b>hi</b>")
            .with_media(
                Media::new(File::bytes("p.png", Some("image/png"), &b"\x89PNG\r\n"[..]))
                    .with_id("img1"),
            )
            .with_attachment(file.clone())
            .into(),
        file.into(),
        SendFailure::new("x".into(), FailureKind::Bounced, "no such user")
            .with_code("550")
            .into(),
        StatusChange::new(Status::Typing {
            conversation: addr("xmpp:alice@example.org"),
            state: TypingState::Composing,
        })
        .with_message("typing")
        .into(),
        UserDefined::new(
            "order",
            &serde_json::json!({"item": "tea", "count": [1, 2]}),
        )
        .unwrap()
        .into(),
        ConnectionError::new(ConnectionErrorKind::Tls, "bad certificate")
            .with_retry_in(Duration::from_millis(2500))
            .into(),
        SessionStarted::new("work", "xmpp").into(),
        Body::InitiateSessionEnd(end.clone()),
        Body::SessionAboutToEnd(end.clone()),
        Body::SessionEnded(end),
        DownloadFile::new(File::url("f.pdf", None, "https://example.org/f.pdf")).into(),
        SystemError::new("imap", "bad MIME").into(),
        Unsupported::new("presence-1".into(), "email has no presence").into(),
    ]
}

/// A signal with every metadata field filled.
fn full_signal(body: Body, origin: &str, addressee: &str) -> Signal {
    let mut signal = Signal::new(body)
        .to(addr(addressee))
        .to(addr("xmpp:carol@example.org;kind=individual"))
        .visible_to(addr("xmpp+work:room@muc.example.org;kind=channel"))
        .in_response_to("earlier-id".into());
    signal.meta.origin = Some(addr(origin));
    signal.meta.sent = Some(datetime!(2026-11-25 10:00:00.123456789 +02:00));
    signal.meta.received = Some(chatty_core::now());
    signal
}

each_backend! {
    async fn every_kind_is_recorded_in_and_out_exactly(place) {
        let store = place.store().await;
        let mut h = start(LoggerLayer::new(store.clone()), RecordingOutlet::new()).await;

        let bodies = every_body();
        let kinds: std::collections::BTreeSet<SignalKind> = bodies.iter().map(Body::kind).collect();
        assert_eq!(kinds.len(), 13, "every kind is covered");

        // In: the bot sees each signal unchanged, and the log holds it unchanged.
        let mut received = Vec::new();
        for body in bodies.clone() {
            let signal = full_signal(
                body,
                "xmpp+work:alice@example.org/phone",
                "xmpp:bot@example.org",
            );
            let seen = h.deliver(signal.clone()).await;
            assert_eq!(seen, signal);
            received.push(signal);
        }

        // Out: half with `sent` unset (the logger sets it), half with it set (kept as it is).
        let mut sent_ids = Vec::new();
        for (i, body) in bodies.into_iter().enumerate() {
            let mut signal = full_signal(body, "xmpp:bot@example.org", "xmpp+work:bob@example.org");
            if i % 2 == 0 {
                signal.meta.sent = None;
            }
            let id = h.handle.send(signal.clone()).await.unwrap();
            assert_eq!(&id, signal.id());
            sent_ids.push((signal, i % 2 == 0));
        }
        let out = h.outlet.sent();
        assert_eq!(out.len(), 13);
        for (gone, (signal, filled)) in out.iter().zip(&sent_ids) {
            assert!(gone.meta.sent.is_some(), "the logger sets `sent`");
            if !filled {
                assert_eq!(gone, signal, "a signal with `sent` goes out unchanged");
            } else {
                assert_eq!(gone.body, signal.body);
                assert_eq!(gone.meta.id, signal.meta.id);
            }
        }

        let page = Page::first(100);
        let mut history = store
            .history(Direction::In, &addr("xmpp:alice@example.org/phone"), &page)
            .await
            .unwrap();
        history.signals.reverse();
        assert_eq!(
            history.signals, received,
            "received signals read back equal"
        );
        assert_eq!(history.next, None);

        let mut history = store
            .history(Direction::Out, &addr("xmpp:bob@example.org"), &page)
            .await
            .unwrap();
        history.signals.reverse();
        assert_eq!(
            history.signals, out,
            "sent signals read back equal to what went out"
        );

        // The same through the bot's handle.
        let asked = h
            .handle
            .received_from(&addr("xmpp+work:alice@example.org/phone"), page.clone())
            .await
            .unwrap();
        assert_eq!(asked.signals.len(), 13);
        assert_eq!(asked.signals.last(), received.first());

        let leftover = h.finish().await;
        assert!(leftover.is_empty(), "no system error: {leftover:?}");
    }
}

each_backend! {
    async fn a_signal_is_recorded_before_the_bot_sees_it(place) {
        use chatty_core::{Bot, Handle, from_fn};
        use chatty_log::Logger;
        use futures::StreamExt;

        let bot = from_fn(|signal: Signal, handle: Handle| async move {
            let origin = signal.meta.origin.clone().ok_or("no origin")?;
            let history = handle.received_from(&origin, Page::first(1)).await?;
            if history.signals.first() != Some(&signal) {
                return Err("the bot saw a signal the log does not hold yet".into());
            }
            Ok(())
        });
        let logger = Logger::new(bot, place.store().await);
        let signals: Vec<Signal> = (0..5)
            .map(|i| crate::support::from("xmpp:alice@example.org", &format!("m {i}")))
            .collect();
        logger
            .run(
                futures::stream::iter(signals).boxed(),
                Handle::new(RecordingOutlet::new()),
            )
            .await
            .unwrap();
    }
}
