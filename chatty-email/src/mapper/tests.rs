//! Round trips through both directions of the mapping.

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{
    Address, Automatic, Body, Content, FailureKind, File, Media, Message as ChattyMessage, Signal,
    SignalId, UserDefined,
};

use super::{Inbound, Mapper, Threads};
use crate::config::PLATFORM;
use crate::ids::wire_id;
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
        .with_media(
            Media::new(File::bytes("p.png", Some("image/png"), &b"\x89PNG\r\n"[..])).with_id("pic"),
        )
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
fn a_question_goes_as_numbered_lines_and_an_ordered_list() {
    let choice = chatty_core::Choice::new("priority")
        .option("low", "Low")
        .option("high", "High & hot");
    let question = ChattyMessage::text("How urgent is it?").with_choice(choice.clone());
    let numbered = "How urgent is it?\n1. Low\n2. High & hot\n(Answer with a number.)";
    // Text only: the numbered lines are the text (CRLF on the wire).
    let signal = Signal::new(question.clone()).to(addr("bob@example.org"));
    let out = mapper("alice@example.org")
        .outbound(&signal, &Threads::default())
        .unwrap();
    let wire = String::from_utf8_lossy(&out.bytes);
    assert!(
        wire.contains("1. Low\r\n2. High & hot\r\n(Answer with a number.)"),
        "{wire}"
    );
    let Body::Message(m) = round_trip(&signal).body else {
        panic!()
    };
    assert_eq!(m.text.replace("\r\n", "\n").trim_end(), numbered);
    assert_eq!(
        m.choice, None,
        "mail carries no choice: the person answers by text"
    );
    assert_eq!(choice.answer_in("2"), choice.chosen("high"));
    // With HTML: the options as an ordered list in it too.
    let rich = question.with_html("<p>How <i>urgent</i> is it?</p>");
    let Body::Message(m) = round_trip(&Signal::new(rich).to(addr("bob@example.org"))).body else {
        panic!()
    };
    assert_eq!(m.text.replace("\r\n", "\n").trim_end(), numbered);
    assert!(
        m.html.as_deref().unwrap().contains(
            "<p>How <i>urgent</i> is it?</p><ol><li>Low</li><li>High &amp; hot</li></ol>\
             <p>(Answer with a number.)</p>"
        ),
        "{:?}",
        m.html
    );
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

/// The header lines of a mail as written (unfolded, in order).
fn header_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .split("\r\n")
        .map(str::to_owned)
        .collect()
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

#[test]
fn answers_are_marked_auto_replied_and_recognised_as_such() {
    let alice = mapper("alice@example.org");
    let bob = mapper("bob@example.org");
    let first = Signal::message("hello").to(addr("bob@example.org"));
    let out = alice.outbound(&first, &Threads::default()).unwrap();
    let lines = header_lines(&out.bytes);
    assert_eq!(header(&lines, "Auto-Submitted"), None, "{lines:?}");
    assert_eq!(header(&lines, "X-Auto-Response-Suppress"), None);
    let (Inbound::Signal(got), _) = bob.inbound(&out.bytes) else {
        panic!()
    };
    assert_eq!(got.meta.automatic, None, "a first mail is a person's");

    let answer = got.reply(ChattyMessage::text("hi"));
    let out = bob.outbound(&answer, &Threads::default()).unwrap();
    let lines = header_lines(&out.bytes);
    assert_eq!(header(&lines, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(
        header(&lines, "X-Auto-Response-Suppress"),
        Some("OOF, AutoReply")
    );
    assert_eq!(header(&lines, "Precedence"), None);
    let (Inbound::Signal(back), _) = alice.inbound(&out.bytes) else {
        panic!()
    };
    assert_eq!(back.meta.automatic, Some(Automatic::Replied));

    let mut news = Signal::message("news").to(addr("alice@example.org"));
    news.meta.automatic = Some(Automatic::Bulk);
    let lines = header_lines(&bob.outbound(&news, &Threads::default()).unwrap().bytes);
    assert_eq!(header(&lines, "Auto-Submitted"), Some("auto-generated"));
    assert_eq!(header(&lines, "Precedence"), Some("bulk"));
    news.meta.automatic = Some(Automatic::Generated);
    let out = bob.outbound(&news, &Threads::default()).unwrap();
    assert_eq!(
        header(&header_lines(&out.bytes), "Auto-Submitted"),
        Some("auto-generated")
    );
    let (Inbound::Signal(back), _) = alice.inbound(&out.bytes) else {
        panic!()
    };
    assert_eq!(back.meta.automatic, Some(Automatic::Generated));
}

#[test]
fn inbound_marks_reach_the_signal_and_reports() {
    let bob = mapper("bob@example.org");
    let list = "From: alice@example.org\r\nTo: tea@lists.example.org\r\n\
                List-Id: Tea <tea.lists.example.org>\r\nMessage-ID: <l1@example.org>\r\n\r\ntea?\r\n";
    let (Inbound::Signal(got), _) = bob.inbound(list.as_bytes()) else {
        panic!()
    };
    assert_eq!(got.meta.automatic, Some(Automatic::Bulk));
    let dsn = crate::inbound::dsn::tests::POSTFIX_DSN;
    let (Inbound::Report(_, meta), _) = bob.inbound(dsn.as_bytes()) else {
        panic!()
    };
    assert_eq!(meta.automatic, Some(Automatic::Report));
    // A DSN that is not a failure or success still arrives, marked.
    let delayed = dsn.replace("Action: failed", "Action: delayed");
    let (Inbound::Signal(got), _) = bob.inbound(delayed.as_bytes()) else {
        panic!()
    };
    assert_eq!(got.meta.automatic, Some(Automatic::Report));
}

#[test]
fn reply_all_reaches_everyone_once_and_never_the_bot() {
    let bot = mapper("bot@example.org");
    let mut mail = Signal::message("lunch?")
        .to(addr("bot@example.org"))
        .to(addr("dave@example.org"))
        .visible_to(addr("carol@example.org"))
        .visible_to(addr("Bot@Example.org"))
        .visible_to(addr("dave@example.org"));
    mail.meta.origin = Some(addr("alice@example.org"));
    let answer = mail.reply_all(ChattyMessage::text("yes"));
    let out = bot.outbound(&answer, &Threads::default()).unwrap();
    assert_eq!(
        out.to,
        ["alice@example.org", "dave@example.org", "carol@example.org"],
        "the envelope: each once, not the bot"
    );
    let lines = header_lines(&out.bytes);
    assert_eq!(header(&lines, "To"), Some("<alice@example.org>"));
    assert_eq!(
        header(&lines, "Cc"),
        Some("<dave@example.org>, <carol@example.org>")
    );
    // A plain reply goes to the sender only.
    let out = bot
        .outbound(&mail.reply(ChattyMessage::text("yes")), &Threads::default())
        .unwrap();
    assert_eq!(out.to, ["alice@example.org"]);
    assert_eq!(header(&header_lines(&out.bytes), "Cc"), None);
    // An address in To is not repeated in Cc, nor twice in To.
    let twice = Signal::message("x")
        .to(addr("alice@example.org"))
        .to(addr("ALICE@example.org"))
        .visible_to(addr("alice@example.org"));
    let out = bot.outbound(&twice, &Threads::default()).unwrap();
    assert_eq!(out.to, ["alice@example.org"]);
    assert_eq!(header(&header_lines(&out.bytes), "Cc"), None);
    // Answering the bot's own mail: the copies become the addressees.
    let mut own = Signal::message("minutes")
        .to(addr("bot@example.org"))
        .visible_to(addr("carol@example.org"));
    own.meta.origin = Some(addr("bot@example.org"));
    let out = bot
        .outbound(
            &own.reply_all(ChattyMessage::text("ok")),
            &Threads::default(),
        )
        .unwrap();
    assert_eq!(out.to, ["carol@example.org"]);
    // Only the bot itself: refused, not sent to itself.
    let alone = Signal::message("me").to(addr("bot@example.org"));
    assert_eq!(
        bot.outbound(&alone, &Threads::default()).unwrap_err().kind,
        FailureKind::UnknownAddressee
    );
}

#[test]
fn a_reply_keeps_a_subject_in_any_script() {
    let alice = mapper("alice@example.org");
    let bob = mapper("bob@example.org");
    for (subject, expected) in [
        ("日本語の件名", "Re: 日本語の件名"),
        ("éé", "Re: éé"),
        ("RE: done", "RE: done"),
        ("re:", "re:"),
        ("R", "Re: R"),
    ] {
        let question =
            Signal::new(ChattyMessage::text("q").with_subject(subject)).to(addr("bob@example.org"));
        let out = alice.outbound(&question, &Threads::default()).unwrap();
        let (Inbound::Signal(got), Some((id, thread))) = bob.inbound(&out.bytes) else {
            panic!()
        };
        let mut threads = Threads::default();
        threads.remember(id, thread);
        let out = bob
            .outbound(&got.reply(ChattyMessage::text("a")), &threads)
            .unwrap();
        let (Inbound::Signal(back), _) = alice.inbound(&out.bytes) else {
            panic!()
        };
        let Body::Message(m) = back.body else {
            panic!()
        };
        assert_eq!(m.subject.as_deref(), Some(expected), "{subject}");
    }
}

/// A mail as a mail client writes it: text and HTML with an inline image (by Content-ID), a
/// list footer, an image shown inline without a Content-ID (Apple Mail), a PDF, a Latin-1 text
/// file, an 8-bit text file and a forwarded mail.
pub(crate) const CLIENT_MAIL: &[u8] = b"From: Alice <alice@example.org>\r
To: bot@example.org\r
Subject: the files\r
Message-ID: <client-1@example.org>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"outer\"\r
\r
--outer\r
Content-Type: multipart/related; boundary=\"rel\"\r
\r
--rel\r
Content-Type: multipart/alternative; boundary=\"alt\"\r
\r
--alt\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: quoted-printable\r
\r
Here are the files, caf=C3=A9 included.\r
--alt\r
Content-Type: text/html; charset=utf-8\r
\r
<p>Here are the files.<img src=\"cid:logo@example.org\"></p>\r
--alt--\r
--rel\r
Content-Type: image/png; name=\"logo.png\"\r
Content-ID: <logo@example.org>\r
Content-Disposition: inline; filename=\"logo.png\"\r
Content-Transfer-Encoding: base64\r
\r
iVBORw0KGgoAAAAN\r
--rel--\r
--outer\r
Content-Type: image/jpeg; name=\"photo.jpg\"\r
Content-Disposition: inline; filename=\"photo.jpg\"\r
Content-Transfer-Encoding: base64\r
\r
/9j/4AAQSkZJRg==\r
--outer\r
Content-Type: text/plain; charset=us-ascii\r
\r
-- the list footer\r
--outer\r
Content-Type: application/pdf; name=\"report.pdf\"\r
Content-Disposition: attachment; filename=\"report.pdf\"\r
Content-Transfer-Encoding: base64\r
\r
JVBERi0xLjQKJcfsj6IK\r
--outer\r
Content-Type: text/plain; charset=iso-8859-1\r
Content-Disposition: attachment; filename=\"latin1.txt\"\r
Content-Transfer-Encoding: quoted-printable\r
\r
caf=E9=0Ana=EFve=0A\r
--outer\r
Content-Type: text/plain\r
Content-Disposition: attachment; filename=\"raw.txt\"\r
Content-Transfer-Encoding: 8bit\r
\r
\xff\xfe bytes\r
--outer\r
Content-Type: message/rfc822\r
Content-Disposition: attachment; filename=\"forwarded.eml\"\r
\r
From: carol@example.org\r
Subject: forwarded\r
\r
the forwarded text\r
--outer--\r
";

#[test]
fn a_client_s_attachments_and_inline_parts_arrive_with_their_bytes() {
    let (Inbound::Signal(got), _) = mapper("bot@example.org").inbound(CLIENT_MAIL) else {
        panic!()
    };
    let Body::Message(m) = got.body else { panic!() };
    assert_eq!(
        m.text,
        "Here are the files, café included.\r\n-- the list footer"
    );
    assert!(m.html.unwrap().contains("cid:logo@example.org"));
    let media: Vec<_> = m
        .media
        .iter()
        .map(|x| {
            (
                x.id.as_deref(),
                x.file.name.as_str(),
                x.file.media_type.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        media,
        [
            (Some("logo@example.org"), "logo.png", Some("image/png")),
            (None, "photo.jpg", Some("image/jpeg")),
        ]
    );
    assert_eq!(
        m.media[1].file.content,
        Content::Bytes {
            data: Bytes::from_static(b"\xff\xd8\xff\xe0\x00\x10JFIF")
        }
    );
    let files: Vec<_> = m
        .attachments
        .iter()
        .map(|f| {
            let Content::Bytes { data } = &f.content else {
                panic!()
            };
            (f.name.as_str(), f.media_type.as_deref(), data.to_vec())
        })
        .collect();
    assert_eq!(
        files[0],
        (
            "report.pdf",
            Some("application/pdf"),
            b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n".to_vec()
        )
    );
    assert_eq!(
        files[1],
        (
            "latin1.txt",
            Some("text/plain; charset=iso-8859-1"),
            b"caf\xe9\nna\xefve\n".to_vec()
        ),
        "the bytes as sent, not converted to UTF-8"
    );
    assert_eq!(
        files[2],
        ("raw.txt", Some("text/plain"), b"\xff\xfe bytes".to_vec())
    );
    assert_eq!(files[3].0, "forwarded.eml");
    assert_eq!(files[3].1, Some("message/rfc822"));
    assert!(String::from_utf8_lossy(&files[3].2).contains("the forwarded text"));
    assert_eq!(files.len(), 4);
}

#[test]
fn a_whole_message_echoed_goes_out_with_its_attachments_and_media() {
    let bot = mapper("bot@example.org");
    let alice = mapper("alice@example.org");
    let (Inbound::Signal(got), _) = bot.inbound(CLIENT_MAIL) else {
        panic!()
    };
    let Body::Message(sent) = &got.body else {
        panic!()
    };
    // What the echo bot does: the same message, as a reply.
    let echo = got.reply(got.body.clone());
    let out = bot.outbound(&echo, &Threads::default()).unwrap();
    let (Inbound::Signal(back), _) = alice.inbound(&out.bytes) else {
        panic!("{}", String::from_utf8_lossy(&out.bytes))
    };
    let Body::Message(m) = back.body else {
        panic!()
    };
    assert_eq!(m.text, sent.text);
    assert_eq!(m.subject, sent.subject);
    assert_eq!(m.html, sent.html);
    assert_eq!(m.media, sent.media);
    assert_eq!(m.attachments, sent.attachments);
    // One Content-Disposition per file part (2 media, 4 attachments), and the forwarded mail
    // unencoded (RFC 2046 5.2.1 allows no base64 for message/rfc822).
    let text = String::from_utf8_lossy(&out.bytes);
    assert_eq!(text.matches("Content-Disposition:").count(), 6, "{text}");
    let forwarded = text.split("Content-Type: message/rfc822").nth(1).unwrap();
    assert!(
        forwarded.contains("Content-Transfer-Encoding: 7bit"),
        "{forwarded}"
    );
}
