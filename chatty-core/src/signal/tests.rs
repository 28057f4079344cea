//! Unit tests of signals: JSON round trips, replies, kinds.

use super::*;
use std::time::Duration;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn every_body() -> Vec<Body> {
    let file = File::bytes("a.txt", Some("text/plain"), &b"hello"[..]);
    let end = SessionEnd {
        reason: Some("bye".into()),
    };
    vec![
        Message::text("hi")
            .with_subject("s")
            .with_html("<b>hi</b>")
            .with_media(Media {
                id: Some("img1".into()),
                file: File::url("p.png", Some("image/png"), "https://example.org/p.png"),
            })
            .with_attachment(file.clone())
            .correcting("earlier".into())
            .into(),
        file.clone().into(),
        SendFailure {
            failed: "x".into(),
            kind: FailureKind::Bounced,
            code: Some("550".into()),
            message: "no such user".into(),
        }
        .into(),
        StatusChange::new(Status::Presence {
            availability: Availability::Busy,
        })
        .into(),
        StatusChange::new(Status::InRoom {
            room: addr("xmpp:r@muc.example.org;kind=channel"),
            present: true,
            role: Some("moderator".into()),
        })
        .into(),
        StatusChange::new(Status::Typing {
            conversation: addr("xmpp:alice@example.org"),
            state: TypingState::Composing,
        })
        .into(),
        UserDefined::new("n", &serde_json::json!({"a": [1, 2]}))
            .unwrap()
            .into(),
        ConnectionError {
            kind: ConnectionErrorKind::Authentication,
            cause: "bad password".into(),
            retry_in: Some(Duration::from_secs(2)),
        }
        .into(),
        SessionStarted {
            session: "work".into(),
            platform: "xmpp".into(),
        }
        .into(),
        Body::InitiateSessionEnd(end.clone()),
        Body::SessionAboutToEnd(end.clone()),
        Body::SessionEnded(end),
        DownloadFile {
            file: File::url("f", None, "https://example.org/f"),
        }
        .into(),
        SystemError {
            component: "imap".into(),
            message: "bad MIME".into(),
        }
        .into(),
        Unsupported {
            refused: SignalId::from("x"),
            reason: "no typing".into(),
        }
        .into(),
    ]
}

#[test]
fn every_body_round_trips_through_json() {
    let bodies = every_body();
    let kinds: std::collections::BTreeSet<_> = bodies.iter().map(Body::kind).collect();
    assert_eq!(kinds.len(), 13, "every kind is covered");
    for body in bodies {
        let signal = Signal::new(body);
        let json = serde_json::to_string(&signal).unwrap();
        let back: Signal = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signal, "{json}");
    }
}

#[test]
fn bytes_are_base64_in_json() {
    let json = serde_json::to_value(File::bytes("a", None, &b"hello"[..])).unwrap();
    assert_eq!(json["content"]["data"], "aGVsbG8=");
    assert_eq!(json["content"]["kind"], "bytes");
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    for bad in [
        r#"{"meta":{"id":"x"},"body":{"type":"nope"}}"#,
        r#"{"meta":{"id":"x"},"body":{"type":"file","name":"a","content":{"kind":"bytes","data":"!!"}}}"#,
        r#"{"meta":{"id":"x","origin":"not an address"},"body":{"type":"message","text":"a"}}"#,
        r#"{"meta":{"id":"x","sent":"yesterday"},"body":{"type":"message","text":"a"}}"#,
    ] {
        assert!(serde_json::from_str::<Signal>(bad).is_err(), "{bad}");
    }
}

#[test]
fn internal_kinds_are_told_apart() {
    let internal: Vec<_> = every_body()
        .iter()
        .map(Body::kind)
        .filter(|k| k.is_internal())
        .collect();
    assert_eq!(internal.len(), 8);
}

#[test]
fn reply_goes_to_origin_in_one_to_one() {
    let mut q = Signal::message("ping");
    q.meta.origin = Some(addr("mailto:bob@example.org"));
    q.meta.visible_to = vec![addr("mailto:carol@example.org;kind=individual")];
    let r = q.reply(Message::text("pong"));
    assert_eq!(r.meta.addressees, vec![addr("mailto:bob@example.org")]);
    assert_eq!(r.meta.response_to, Some(q.meta.id.clone()));
    assert_ne!(r.meta.id, q.meta.id);
}

#[test]
fn route_addresses_include_status_targets() {
    let room = addr("xmpp:r@muc.example.org");
    let join = Signal::new(StatusChange::new(Status::InRoom {
        room: room.clone(),
        present: true,
        role: None,
    }));
    assert_eq!(join.route_addresses(), vec![&room]);
    let presence = Signal::new(StatusChange::new(Status::Presence {
        availability: Availability::Away,
    }));
    assert!(presence.route_addresses().is_empty());
}
