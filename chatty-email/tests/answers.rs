//! Answers and automatic mail against the test mail servers: mail a machine sent (an
//! out-of-office, a list, a bounce) arrives marked, the bot's answers carry `Auto-Submitted`,
//! a reply to all reaches the sender and the copies but not the bot (only its own copies of
//! its answers, in the envelope), and a client's mail with
//! attachments echoed whole comes back with all of them. See the crate README to run them.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chatty_core::{Automatic, Body, Message, Signal, SignalId};
use mail_parser::{Address as MailAddress, MessageParser};

fn mailto(address: &str) -> chatty_core::Address {
    chatty_core::Address::new("mailto", address).expect("a mail address")
}

/// The mail addresses of a parsed address header.
fn addresses(header: Option<&MailAddress<'_>>) -> Vec<String> {
    header
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(str::to_owned)
        .collect()
}

/// A mail from `from` to `to` with the extra header lines `extra`.
fn mail(from: &str, to: &str, id: &str, extra: &str, text: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {text}\r\nMessage-ID: <{id}>\r\n{extra}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_mail_arrives_marked_and_a_person_s_does_not() {
    let (a, b) = (common::account().await, common::account().await);
    let bot = common::bot(common::config(&b, common::imap_inbound())).await;
    let run = std::process::id();
    let cases = [
        ("person", Some(a.address.as_str()), String::new(), None),
        (
            "out-of-office",
            Some(a.address.as_str()),
            "Auto-Submitted: auto-replied\r\n".to_owned(),
            Some(Automatic::Replied),
        ),
        (
            "list",
            Some(a.address.as_str()),
            "List-Id: Tea lovers <tea.lists.example.org>\r\nPrecedence: list\r\n\
             List-Unsubscribe: <mailto:tea-leave@lists.example.org>\r\n"
                .to_owned(),
            Some(Automatic::Bulk),
        ),
        // Sent with MAIL FROM:<>: the delivering server writes `Return-Path: <>`.
        (
            "null-return-path",
            None,
            String::new(),
            Some(Automatic::Report),
        ),
    ];
    let mut expected = HashMap::new();
    for (name, envelope_from, extra, automatic) in &cases {
        let id = format!("{name}-{run}@example.org");
        let raw = mail(&a.address, &b.address, &id, extra, name);
        common::smtp_send(*envelope_from, &[&b.address], raw.as_bytes()).await;
        expected.insert(SignalId::from(id.as_str()), (*name, *automatic));
    }
    // Mail servers do not promise the order: the mails are told apart by their ids.
    for _ in 0..cases.len() {
        let got = bot.next_io().await;
        let (name, automatic) = expected
            .remove(&got.meta.id)
            .unwrap_or_else(|| panic!("an unexpected signal: {got:?}"));
        assert!(matches!(got.body, Body::Message(_)), "{name}: {got:?}");
        assert_eq!(got.meta.automatic, automatic, "{name}");
        assert_eq!(got.is_automatic(), automatic.is_some(), "{name}");
    }
    let raw = common::raw_mails(&b).await.join("\n");
    assert!(raw.contains("Return-Path: <>"), "Dovecot wrote it: {raw}");
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_carries_auto_submitted_and_arrives_marked() {
    let (a, b) = (common::account().await, common::account().await);
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let mut bob = common::bot(common::config(&b, common::imap_inbound())).await;
    let asked = alice
        .send(Signal::message("a question").to(bob.address.clone()))
        .await;
    let question = bob.next_io().await;
    assert_eq!(question.meta.id, asked);
    assert_eq!(question.meta.automatic, None, "a first mail is a person's");
    let answered = bob.send(question.reply(Message::text("an answer"))).await;
    let answer = alice.next_io().await;
    assert_eq!(answer.meta.id, answered);
    assert_eq!(answer.meta.automatic, Some(Automatic::Replied));

    // As written in the mailboxes, read over IMAP.
    // Bob's mailbox: the question, and maybe already the copy of Bob's answer (marked).
    let first = common::raw_mails(&b)
        .await
        .into_iter()
        .filter(|m| !m.contains(chatty_email::HEADER_COPY))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(first.contains("a question"), "{first}");
    assert!(!first.contains("Auto-Submitted"), "{first}");
    let mails = common::raw_mails(&a).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let parsed = MessageParser::default()
        .parse(mails[0].as_bytes())
        .expect("a mail");
    let header = |name: &str| {
        parsed
            .header_raw(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("Auto-Submitted"), "auto-replied");
    assert_eq!(header("X-Auto-Response-Suppress"), "OOF, AutoReply");
    alice.finish().await;
    bob.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_all_reaches_the_sender_and_the_copies_but_not_the_bot() {
    let (a, b, c) = (
        common::account().await,
        common::account().await,
        common::account().await,
    );
    let mut bot = common::bot(common::config(&b, common::imap_inbound())).await;
    let id = format!("lunch-{}@example.org", std::process::id());
    let raw = format!(
        "From: Alice <{}>\r\nTo: Bot <{}>\r\nCc: Carol <{}>\r\nSubject: lunch\r\n\
         Message-ID: <{id}>\r\n\r\nLunch at noon?\r\n",
        a.address, b.address, c.address
    );
    common::smtp_send(Some(&a.address), &[&b.address, &c.address], raw.as_bytes()).await;
    let got = bot.next_io().await;
    assert_eq!(got.meta.id.as_str(), id);
    assert_eq!(got.meta.visible_to, vec![mailto(&c.address)]);
    assert_eq!(common::wait_for_mails(&c, 1).await.len(), 1);

    bot.send(got.reply_all(Message::text("Yes, all of us.")))
        .await;
    let to_alice = common::wait_for_mails(&a, 1).await;
    let to_carol = common::wait_for_mails(&c, 2).await;
    assert_eq!(to_alice.len(), 1);
    let answer = MessageParser::default()
        .parse(to_alice[0].as_bytes())
        .expect("a mail");
    assert_eq!(addresses(answer.to()), [a.address.as_str()]);
    assert_eq!(addresses(answer.cc()), [c.address.as_str()]);
    assert_eq!(
        answer.message_id(),
        MessageParser::default()
            .parse(to_carol[1].as_bytes())
            .and_then(|m| m.message_id().map(str::to_owned))
            .as_deref()
    );

    // A plain reply goes to Alice only.
    bot.send(got.reply(Message::text("Only you."))).await;
    let to_alice = common::wait_for_mails(&a, 2).await;
    let reply = MessageParser::default()
        .parse(to_alice[1].as_bytes())
        .expect("a mail");
    assert_eq!(addresses(reply.to()), [a.address.as_str()]);
    assert!(addresses(reply.cc()).is_empty());
    // Both answers went out in one SMTP transaction each (the bot's own copy in the envelope
    // only), so once the bot has its two copies nothing more is coming: Carol has the original
    // and the reply to all, the bot the original and its copies, addressed to others.
    let to_bot = common::wait_for_mails(&b, 3).await;
    assert_eq!(common::raw_mails(&c).await.len(), 2);
    assert_eq!(to_bot.len(), 3, "only the copies to the bot: {to_bot:#?}");
    for copy in &to_bot[1..] {
        assert!(copy.contains(chatty_email::HEADER_COPY), "{copy}");
        let copy = MessageParser::default()
            .parse(copy.as_bytes())
            .expect("a mail");
        let named = [addresses(copy.to()), addresses(copy.cc())].concat();
        assert!(!named.contains(&b.address), "{named:?}");
    }
    assert!(
        bot.remote
            .next_within(Duration::from_millis(10))
            .await
            .is_none(),
        "the bot got nothing more"
    );
    bot.finish().await;
}

/// A mail as a mail client writes it (see the unit tests' `CLIENT_MAIL`): text and HTML with an
/// image by Content-ID, an image shown inline, a PDF, a Latin-1 text file, a forwarded mail.
fn client_mail(from: &str, to: &str, id: &str) -> String {
    format!(
        "From: Alice <{from}>\r\nTo: {to}\r\nSubject: the files\r\nMessage-ID: <{id}>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
--outer\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
--rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Here are the files, caf=C3=A9 included.\r\n\
--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Here are the files.<img src=\"cid:logo@example.org\"></p>\r\n--alt--\r\n\
--rel\r\nContent-Type: image/png; name=\"logo.png\"\r\nContent-ID: <logo@example.org>\r\n\
Content-Disposition: inline; filename=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgoAAAAN\r\n--rel--\r\n\
--outer\r\nContent-Type: image/jpeg; name=\"photo.jpg\"\r\n\
Content-Disposition: inline; filename=\"photo.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
/9j/4AAQSkZJRg==\r\n\
--outer\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQKJcfsj6IK\r\n\
--outer\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Disposition: attachment; filename=\"latin1.txt\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9=0Ana=EFve=0A\r\n\
--outer\r\nContent-Type: message/rfc822\r\n\
Content-Disposition: attachment; filename=\"forwarded.eml\"\r\n\r\n\
From: carol@example.org\r\nSubject: forwarded\r\n\r\nthe forwarded text\r\n--outer--\r\n"
    )
}

/// Checks that `got` carries `client_mail`'s parts.
fn assert_client_parts(over: &str, m: &Message) {
    assert!(m.text.starts_with("Here are the files, café"), "{over}");
    assert!(
        m.html
            .as_deref()
            .unwrap_or_default()
            .contains("cid:logo@example.org")
    );
    let media: Vec<_> = m
        .media
        .iter()
        .map(|x| (x.id.as_deref(), x.file.name.as_str()))
        .collect();
    assert_eq!(
        media,
        [(Some("logo@example.org"), "logo.png"), (None, "photo.jpg")],
        "{over}"
    );
    let names: Vec<_> = m.attachments.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["report.pdf", "latin1.txt", "forwarded.eml"],
        "{over}"
    );
    assert_eq!(
        m.attachments[1].content,
        chatty_core::Content::Bytes {
            data: chatty_core::reexports::bytes::Bytes::from_static(b"caf\xe9\nna\xefve\n")
        },
        "{over}: the Latin-1 bytes as sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_s_mail_echoed_whole_comes_back_with_its_attachments() {
    let (a, b) = (common::account().await, common::account().await);
    let alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let mut bot = common::bot(common::config(&b, common::pop3_inbound())).await;
    let id = format!("files-{}@example.org", std::process::id());
    let raw = client_mail(&a.address, &b.address, &id);
    common::smtp_send(Some(&a.address), &[&b.address], raw.as_bytes()).await;
    let got = bot.next_io().await;
    assert_eq!(got.meta.id.as_str(), id);
    let Body::Message(sent) = &got.body else {
        panic!("{:?}", got.body)
    };
    assert_client_parts("inbound over POP3", sent);
    // What the echo bot does: answers with the whole message.
    let echoed = bot.send(got.reply(got.body.clone())).await;
    let back = alice.next_io().await;
    assert_eq!(back.meta.id, echoed);
    assert_eq!(back.meta.response_to.as_ref(), Some(&got.meta.id));
    let Body::Message(m) = &back.body else {
        panic!("{:?}", back.body)
    };
    assert_client_parts("the echo over IMAP", m);
    assert_eq!(m.media, sent.media);
    assert_eq!(m.attachments, sent.attachments);
    assert_eq!(m.html, sent.html);
    alice.finish().await;
    bot.finish().await;
}
