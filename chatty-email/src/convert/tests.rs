//! Round trips through both directions of the mapping.

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{
    Address, Body, Content, FailureKind, File, Media, Message as ChattyMessage, Signal, SignalId,
    UserDefined,
};

use super::ids::wire_id;
use super::{Inbound, Mapper, Threads};
use crate::PLATFORM;
use chatty_core::reexports::serde_json::json;

fn mapper(own: &str) -> Mapper {
    Mapper::new(PLATFORM, own).unwrap()
}

fn addr(mail: &str) -> Address {
    Address::new(PLATFORM, mail).unwrap()
}

fn round_trip(signal: &Signal) -> Signal {
    let alice = mapper("alice@example.org");
    let bob = mapper("bob@example.org");
    let out = alice.outbound(signal, &Threads::default()).unwrap();
    match bob.inbound(&out.bytes).0 {
        Inbound::Signal(s) => *s,
        other => panic!("{other:?}\n{}", String::from_utf8_lossy(&out.bytes)),
    }
}

#[test]
fn a_rich_message_round_trips() {
    let message = ChattyMessage::text("hello there")
        .with_subject("greetings")
        .with_html("<p>hello <b>there</b><img src=\"cid:pic\"></p>")
        .with_media(Media {
            id: Some("pic".into()),
            file: File::bytes("p.png", Some("image/png"), &b"\x89PNG\r\n"[..]),
        })
        .with_attachment(File::bytes(
            "notes.txt",
            Some("text/plain"),
            &b"some notes"[..],
        ))
        .with_attachment(File::bytes(
            "data.bin",
            Some("application/octet-stream"),
            &[0u8, 1, 2, 255][..],
        ));
    let mut signal = Signal::new(message).to(addr("bob@example.org"));
    signal.meta.visible_to = vec![addr("carol@example.org")];
    signal.meta.sent =
        Some(chatty_core::reexports::time::macros::datetime!(2026-11-25 10:00:00 UTC));
    let got = round_trip(&signal);
    assert_eq!(got.meta.id, signal.meta.id);
    assert_eq!(got.meta.sent, signal.meta.sent);
    assert_eq!(got.meta.origin, Some(addr("alice@example.org")));
    assert_eq!(got.meta.addressees, vec![addr("bob@example.org")]);
    assert_eq!(got.meta.visible_to, vec![addr("carol@example.org")]);
    let Body::Message(m) = got.body else {
        panic!("{:?}", got.body)
    };
    assert_eq!(m.text.trim_end(), "hello there");
    assert_eq!(m.subject.as_deref(), Some("greetings"));
    assert!(m.html.unwrap().contains("<b>there</b>"));
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].id.as_deref(), Some("pic"));
    assert_eq!(
        m.media[0].file.content,
        Content::Bytes {
            data: Bytes::from_static(b"\x89PNG\r\n")
        }
    );
    let names: Vec<_> = m.attachments.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["notes.txt", "data.bin"]);
    assert_eq!(
        m.attachments[1].content,
        Content::Bytes {
            data: Bytes::from_static(&[0, 1, 2, 255])
        }
    );
    assert_eq!(
        m.attachments[1].media_type.as_deref(),
        Some("application/octet-stream")
    );
}

#[test]
fn external_ids_stay_as_they_are_and_html_only_mail_gets_text() {
    let id = SignalId::from("CAF=abc+1@mail.example.com");
    assert_eq!(wire_id(&id), "CAF=abc+1@mail.example.com");
    let raw = "From: a@example.org\r\nTo: bob@example.org\r\nMessage-ID: <CAF=abc+1@mail.example.com>\r\n\
               Content-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n";
    let (Inbound::Signal(got), _) = mapper("bob@example.org").inbound(raw.as_bytes()) else {
        panic!()
    };
    assert_eq!(got.meta.id, id);
    let Body::Message(m) = got.body else { panic!() };
    assert!(
        m.text.contains("Hello") && !m.text.contains("<b>"),
        "{}",
        m.text
    );
    assert!(m.html.is_some());
}

#[test]
fn a_plain_message_has_no_subject_or_html() {
    let got = round_trip(&Signal::message("plain").to(addr("bob@example.org")));
    let Body::Message(m) = got.body else { panic!() };
    assert_eq!(m.text.trim_end(), "plain");
    assert_eq!(m.subject, None);
    assert_eq!(m.html, None);
    assert!(m.attachments.is_empty() && m.media.is_empty());
}

#[test]
fn files_and_user_defined_signals_round_trip() {
    let file = File::bytes("hello.txt", Some("text/plain"), &b"hello file"[..]);
    let got = round_trip(&Signal::new(file.clone()).to(addr("bob@example.org")));
    assert_eq!(got.body, Body::File(file));
    let link = File::url(
        "doc.pdf",
        Some("application/pdf"),
        "https://example.org/doc.pdf",
    );
    let got = round_trip(&Signal::new(link.clone()).to(addr("bob@example.org")));
    assert_eq!(got.body, Body::File(link));
    let user = UserDefined::new("order", &json!({"item": "tea", "count": 2})).unwrap();
    let got = round_trip(&Signal::new(user.clone()).to(addr("bob@example.org")));
    assert_eq!(got.body, Body::UserDefined(user));
}

#[test]
fn replies_thread_with_subject_and_references() {
    let alice = mapper("alice@example.org");
    let bob = mapper("bob@example.org");
    let question =
        Signal::new(ChattyMessage::text("q").with_subject("Lunch?")).to(addr("bob@example.org"));
    let out = alice.outbound(&question, &Threads::default()).unwrap();
    let (Inbound::Signal(got), Some((id, thread))) = bob.inbound(&out.bytes) else {
        panic!()
    };
    let mut threads = Threads::default();
    threads.remember(id, thread);
    let answer = got.reply(ChattyMessage::text("yes"));
    let out = bob.outbound(&answer, &threads).unwrap();
    assert_eq!(out.to, ["alice@example.org"]);
    let text = String::from_utf8_lossy(&out.bytes).into_owned();
    let wire = wire_id(&question.meta.id);
    assert!(text.contains(&format!("In-Reply-To: <{wire}>")), "{text}");
    assert!(text.contains(&format!("References: <{wire}>")), "{text}");
    assert!(text.contains("Subject: Re: Lunch?"), "{text}");
    let (Inbound::Signal(back), _) = alice.inbound(&out.bytes) else {
        panic!()
    };
    assert_eq!(back.meta.response_to, Some(question.meta.id.clone()));
}

#[test]
fn what_email_cannot_carry_is_refused() {
    let alice = mapper("alice@example.org");
    let threads = Threads::default();
    let no_one = Signal::message("x");
    assert_eq!(
        alice.outbound(&no_one, &threads).unwrap_err().kind,
        FailureKind::UnknownAddressee
    );
    let xmpp = Signal::message("x").to("xmpp:a@b".parse().unwrap());
    assert!(alice.outbound(&xmpp, &threads).is_err());
    let edit =
        Signal::new(ChattyMessage::text("x").correcting("old".into())).to(addr("bob@example.org"));
    assert!(alice.outbound(&edit, &threads).is_err());
}

#[test]
fn malformed_mails_are_reported_not_panicked_on() {
    let bob = mapper("bob@example.org");
    for raw in [
        &b""[..],
        b"this is not a mail at all\r\n",
        b"From: nobody\r\nSubject: no address\r\n\r\nbody\r\n",
        b"From: a@example.org\r\nX-Chatty-Signal: order\r\nContent-Type: application/json\r\n\r\n{not json\r\n",
        b"From: a@example.org\r\nX-Chatty-Body: file\r\n\r\nno attachment\r\n",
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n",
    ] {
        match bob.inbound(raw).0 {
            Inbound::Malformed(_) => {}
            Inbound::Signal(s) if raw.starts_with(b"From: a@example.org\r\nContent-Type: multipart") => {
                assert!(matches!(s.body, Body::Message(_)));
            }
            other => panic!("{other:?} for {}", String::from_utf8_lossy(raw)),
        }
    }
}
