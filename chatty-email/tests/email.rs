//! End-to-end checks against the test mail servers beyond the conformance suite: a rich mail
//! read over IMAP and POP3, replies, rejections and bounces, connection errors, TLS modes,
//! malformed mail, restarts of the session and of Dovecot. See the crate README to run them.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::futures::TryStreamExt as _;
use chatty_core::reexports::serde_json::json;
use chatty_core::{
    Address, Body, ConnectionErrorKind, DeliveryStatus, FailureKind, File, Media, Message, Signal,
    SignalId, SignalKind, UserDefined,
};
use chatty_email::{
    EmailConfig, EmailSession, Handled, ImapConfig, InboundConfig, Pop3Config, SmtpConfig, TlsMode,
};
use chatty_test::bare::Bare;
use common::WAIT;

fn mailto(address: &str) -> Address {
    Address::new("mailto", address).expect("a mail address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rich_mail_is_read_over_imap_and_pop3_and_replies_thread() {
    let (a, b, c) = (
        common::account().await,
        common::account().await,
        common::account().await,
    );
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let mut bob = common::bot(common::config(&b, common::imap_inbound())).await;
    let carol = common::bot(common::config(&c, common::pop3_inbound())).await;

    let message = Message::text("Lunch at noon? The menu is attached.")
        .with_subject("Lunch")
        .with_html("<p>Lunch at <b>noon</b>?</p><img src=\"cid:logo\">")
        .with_media(
            Media::new(File::bytes(
                "logo.png",
                Some("image/png"),
                &b"\x89PNG\r\n\x1a\nlogo"[..],
            ))
            .with_id("logo"),
        )
        .with_attachment(File::bytes(
            "menu.txt",
            Some("text/plain"),
            &b"soup\nbread\n"[..],
        ))
        .with_attachment(File::bytes(
            "prices.bin",
            Some("application/octet-stream"),
            Bytes::from((0u8..=255).collect::<Vec<_>>()),
        ));
    let asked = alice
        .send(
            Signal::new(message.clone())
                .to(bob.address.clone())
                .visible_to(carol.address.clone()),
        )
        .await;

    for (reader, over) in [(&bob, "IMAP"), (&carol, "POP3")] {
        let got = reader.next_io().await;
        assert_eq!(got.meta.id, asked, "{over}: the same id");
        assert_eq!(got.meta.origin.as_ref(), Some(&alice.address), "{over}");
        assert_eq!(got.meta.addressees, vec![bob.address.clone()], "{over}");
        assert_eq!(got.meta.visible_to, vec![carol.address.clone()], "{over}");
        assert!(got.meta.sent.is_some(), "{over}");
        let Body::Message(m) = &got.body else {
            panic!("{over}: {:?}", got.body)
        };
        assert_eq!(m.text.trim_end(), message.text, "{over}");
        assert_eq!(m.subject.as_deref(), Some("Lunch"), "{over}");
        assert!(
            m.html
                .as_deref()
                .unwrap_or_default()
                .contains("<b>noon</b>"),
            "{over}"
        );
        assert_eq!(m.media.len(), 1, "{over}");
        assert_eq!(m.media[0].id.as_deref(), Some("logo"), "{over}");
        assert_eq!(
            m.media[0].file.content, message.media[0].file.content,
            "{over}"
        );
        assert_eq!(m.attachments.len(), 2, "{over}");
        for (got, sent) in m.attachments.iter().zip(&message.attachments) {
            assert_eq!(got.name, sent.name, "{over}");
            assert_eq!(got.content, sent.content, "{over}: {} bytes", got.name);
        }
    }

    // Bob answers; it goes back to Alice, threaded.
    let question = bob.remote.next_within(Duration::from_millis(10)).await;
    assert!(question.is_none(), "nothing more for Bob: {question:?}");
    let mut incoming = Signal::new(message.clone()).to(bob.address.clone());
    incoming.meta.id = asked.clone();
    incoming.meta.origin = Some(alice.address.clone());
    let answered = bob.send(incoming.reply(Message::text("Yes!"))).await;
    let answer = alice.next_io().await;
    assert_eq!(answer.meta.id, answered);
    assert_eq!(answer.meta.response_to, Some(asked.clone()));
    assert_eq!(answer.meta.origin.as_ref(), Some(&bob.address));
    assert_eq!(answer.meta.addressees, vec![alice.address.clone()]);
    let Body::Message(m) = &answer.body else {
        panic!("{:?}", answer.body)
    };
    assert_eq!(m.text.trim_end(), "Yes!");
    assert_eq!(
        m.subject.as_deref(),
        Some("Re: Lunch"),
        "the reply keeps the thread's subject"
    );
    let raw = common::raw_mails(&a).await.join("\n");
    let wire = chatty_email::wire_id(&asked);
    assert!(raw.contains(&format!("In-Reply-To: <{wire}>")), "{raw}");
    assert!(raw.contains(&format!("References: <{wire}>")), "{raw}");

    // A user-defined signal and a file, to the IMAP and the POP3 reader.
    let order = UserDefined::new("order", &json!({"item": "tea", "count": 2})).expect("JSON");
    let file = File::bytes("note.txt", Some("text/plain"), &b"a note"[..]);
    for reader in [&bob, &carol] {
        let id = alice
            .send(Signal::new(order.clone()).to(reader.address.clone()))
            .await;
        let got = reader.next_io().await;
        assert_eq!(got.meta.id, id);
        assert_eq!(got.body, Body::UserDefined(order.clone()));
        let id = alice
            .send(Signal::new(file.clone()).to(reader.address.clone()))
            .await;
        let got = reader.next_io().await;
        assert_eq!(got.meta.id, id);
        assert_eq!(got.body, Body::File(file.clone()));
    }
    let raw = common::raw_mails(&b).await.join("\n");
    assert!(raw.contains("X-Chatty-Signal: order"), "{raw}");
    assert!(raw.contains("application/json"), "{raw}");

    for bot in [alice, bob, carol] {
        bot.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_rejection_is_a_send_failure_with_the_code() {
    let a = common::account().await;
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let nobody = mailto(&format!("nobody@{}", common::server().domain));
    let id = alice.send(Signal::message("anyone?").to(nobody)).await;
    let failure = alice
        .remote
        .next_of(SignalKind::SendFailure)
        .await
        .expect("a send failure");
    let Body::SendFailure(f) = &failure.body else {
        unreachable!()
    };
    assert_eq!(f.failed, id);
    assert_eq!(f.kind, FailureKind::UnknownAddressee);
    assert_eq!(f.code.as_deref(), Some("550"));
    assert!(f.message.contains("nobody@"), "{}", f.message);
    let status = alice
        .remote
        .handle()
        .await
        .delivery_status(&id)
        .await
        .expect("answered");
    assert!(
        matches!(status, DeliveryStatus::Failed { .. }),
        "{status:?}"
    );
    alice.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_is_a_send_failure_for_the_original_and_its_delivery_status() {
    let a = common::account().await;
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let server = common::server();
    let gone = mailto(&format!("gone@{}", server.bounce_domain));
    let id = alice
        .send(Signal::new(Message::text("hello?").with_subject("bounce me")).to(gone))
        .await;
    let failure = alice
        .remote
        .next_of(SignalKind::SendFailure)
        .await
        .expect("the bounce comes back as a send failure");
    let Body::SendFailure(f) = &failure.body else {
        unreachable!()
    };
    assert_eq!(f.failed, id, "it names the original mail");
    assert_eq!(f.kind, FailureKind::Bounced);
    assert_eq!(f.code.as_deref(), Some("5.1.1"));
    assert!(f.message.contains("gone@"), "{}", f.message);
    assert_eq!(failure.meta.response_to, Some(id.clone()));
    let status = alice
        .remote
        .handle()
        .await
        .delivery_status(&id)
        .await
        .expect("answered");
    assert!(
        matches!(
            status,
            DeliveryStatus::Failed {
                kind: FailureKind::Bounced,
                ..
            }
        ),
        "{status:?}"
    );
    alice.finish().await;
}

fn bad_password(mut config: EmailConfig) -> EmailConfig {
    config.password = "not-the-password".into();
    config.with_connect_timeout(Duration::from_secs(3))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_an_authentication_error_within_seconds() {
    let a = common::account().await;
    for inbound in [common::imap_inbound(), common::pop3_inbound()] {
        let config = bad_password(common::config(&a, inbound));
        let bare = Bare::run(
            EmailSession::new(config).expect("a valid config"),
            "mailto",
            WAIT,
        );
        let authentication = ConnectionErrorKind::Authentication;
        bare.expect_connection_error(authentication, "not-the-password", Duration::from_secs(5))
            .await;
        // It keeps trying (with backoff), reporting each failure, until asked to end.
        assert_eq!(bare.next().await.kind(), SignalKind::ConnectionError);
        bare.end().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unreachable_and_refused_tls_is_a_tls_error() {
    let a = common::account().await;
    let server = common::server();
    let mut closed = common::imap();
    closed.port = Some(9);
    let mut plain_port_as_tls = common::imap();
    plain_port_as_tls.tls = TlsMode::Implicit;
    let mut pop3_plain_port_as_tls = common::pop3();
    pop3_plain_port_as_tls.tls = TlsMode::Implicit;
    let cases = [
        (
            InboundConfig::Imap(closed),
            ConnectionErrorKind::Unreachable,
        ),
        (
            InboundConfig::Imap(plain_port_as_tls),
            ConnectionErrorKind::Tls,
        ),
        (
            InboundConfig::Pop3(pop3_plain_port_as_tls),
            ConnectionErrorKind::Tls,
        ),
    ];
    for (inbound, kind) in cases {
        let config = common::config(&a, inbound).with_connect_timeout(Duration::from_secs(3));
        let bare = Bare::run(
            EmailSession::new(config).expect("a valid config"),
            "mailto",
            WAIT,
        );
        match bare.next().await.body {
            Body::ConnectionError(e) => {
                assert_eq!(e.kind, kind, "{e:?} on {}", server.host);
                assert!(e.retry_in.is_some());
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
        bare.end().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_everywhere_and_pop3_delete_after_read() {
    let server = common::server();
    let (a, b) = (common::account().await, common::account().await);
    let imaps = ImapConfig {
        port: Some(server.imaps_port),
        tls: TlsMode::Implicit,
        handled: Handled::Delete,
        ..common::imap()
    };
    let smtps = SmtpConfig {
        port: Some(server.submissions_port),
        tls: TlsMode::Implicit,
        ..common::smtp()
    };
    let mut alice_config = common::config(&a, InboundConfig::Imap(imaps));
    alice_config.smtp = smtps;
    let mut alice = common::bot(alice_config).await;
    let pop3s = Pop3Config {
        port: Some(server.pop3s_port),
        tls: TlsMode::Implicit,
        delete: true,
        ..common::pop3()
    };
    let mut bob = common::bot(common::config(&b, InboundConfig::Pop3(pop3s))).await;
    let id = alice
        .send(Signal::message("over TLS").to(bob.address.clone()))
        .await;
    let got = bob.next_io().await;
    assert_eq!(got.meta.id, id);
    let back = bob.send(got.reply(Message::text("back over TLS"))).await;
    let answer = alice.next_io().await;
    assert_eq!(answer.meta.id, back);
    // Both read mails are deleted from the server (POP3 at QUIT, IMAP by expunge); the copy
    // of Bob's answer in his mailbox stays until it is swept (an hour by default).
    let deadline = Instant::now() + WAIT;
    let not_copies = |mails: Vec<String>| {
        mails
            .iter()
            .filter(|m| !m.contains(chatty_email::HEADER_COPY))
            .count()
    };
    loop {
        let left = (
            not_copies(common::raw_mails(&a).await),
            not_copies(common::raw_mails(&b).await),
        );
        if left == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mails left on the server: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    alice.finish().await;
    bob.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_mail_is_a_system_error_and_its_neighbours_arrive() {
    let b = common::account().await;
    for inbound in [common::imap_inbound(), common::pop3_inbound()] {
        let bob = common::bot(common::config(&b, inbound)).await;
        let good = |n: u32| {
            format!(
                "From: a@example.org\r\nTo: {}\r\nMessage-ID: <good-{n}-{}@example.org>\r\nSubject: {n}\r\n\r\ngood {n}\r\n",
                b.address,
                std::process::id()
            )
        };
        common::append(&b, good(1).as_bytes()).await;
        common::append(&b, b"this is not a mail at all\r\n").await;
        common::append(
            &b,
            b"From: a@example.org\r\nX-Chatty-Signal: order\r\nContent-Type: application/json\r\n\r\n{broken\r\n",
        )
        .await;
        // Hostile but readable: a line far longer than RFC 5322 allows (and than a POP3
        // status line), and a cut-off multipart with bad base64 and a bad date.
        let long = format!(
            "From: a@example.org\r\nTo: {}\r\nSubject: long\r\n\r\n{}\r\n",
            b.address,
            "x".repeat(200_000)
        );
        common::append(&b, long.as_bytes()).await;
        common::append(
            &b,
            b"From: a@example.org\r\nDate: not a date\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!not base64",
        )
        .await;
        common::append(&b, good(2).as_bytes()).await;
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(bob.next_io().await);
        }
        let kinds: Vec<SignalKind> = got
            .iter()
            .map(|s| {
                if let Body::SystemError(e) = &s.body {
                    assert_eq!(e.component, "email");
                    assert!(!e.message.is_empty());
                }
                s.kind()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                SignalKind::Message,
                SignalKind::SystemError,
                SignalKind::SystemError,
                SignalKind::Message,
                SignalKind::Message,
                SignalKind::Message
            ]
        );
        let Body::Message(m) = &got[3].body else {
            unreachable!()
        };
        assert_eq!(m.text.len(), 200_000, "the long line whole");
        bob.finish().await;
        common::empty_inbox(&b).await;
    }
}

/// The ids of the messages among `signals`, counted.
fn count_ids(signals: &[Signal]) -> HashMap<SignalId, usize> {
    let mut counts = HashMap::new();
    for signal in signals {
        if signal.kind() == SignalKind::Message {
            *counts.entry(signal.meta.id.clone()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_session_neither_loses_nor_repeats_mail() {
    let (a, b) = (common::account().await, common::account().await);
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    for (name, inbound) in [
        (
            "imap",
            InboundConfig::Imap(ImapConfig {
                // Kept, not flagged: only the persisted UID keeps them from coming again.
                handled: Handled::Keep,
                ..common::imap()
            }),
        ),
        ("pop3", common::pop3_inbound()),
    ] {
        common::empty_inbox(&b).await;
        let state = dir.path().join(format!("{name}.json"));
        let config = || common::config(&b, inbound.clone()).with_state_path(&state);
        let bob = common::bot(config()).await;
        let mut sent = Vec::new();
        for i in 0..3 {
            sent.push(
                alice
                    .send(Signal::message(format!("{name} before {i}")).to(bob.address.clone()))
                    .await,
            );
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(bob.next_io().await);
        }
        bob.finish().await;
        assert!(state.exists(), "{name}: the state is saved");
        // Sent while the bot is down.
        for i in 0..3 {
            sent.push(
                alice
                    .send(Signal::message(format!("{name} while down {i}")).to(mailto(&b.address)))
                    .await,
            );
        }
        let bob = common::bot(config()).await;
        for _ in 0..3 {
            got.push(bob.next_io().await);
        }
        got.extend(bob.remote.drain_for(Duration::from_millis(1500)).await);
        let counts = count_ids(&got);
        for id in &sent {
            assert_eq!(
                counts.get(id),
                Some(&1),
                "{name}: {id} exactly once: {counts:?}"
            );
        }
        assert_eq!(counts.len(), sent.len(), "{name}: nothing else");
        bob.finish().await;
    }
    alice.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_dovecot_mid_stream_loses_and_duplicates_nothing() {
    const MAILS: usize = 40;
    let server = common::server();
    let (a, b) = (common::account().await, common::account().await);
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    // Bob reads from the second Dovecot, the one this test restarts.
    let restart_port: u16 = std::env::var("CHATTY_TEST_MAIL_RESTART_IMAP_PORT")
        .expect("CHATTY_TEST_MAIL_RESTART_IMAP_PORT (see the crate README)")
        .parse()
        .expect("a port");
    let imap = ImapConfig {
        port: Some(restart_port),
        ..common::imap()
    };
    let bob = common::bot(common::config(&b, InboundConfig::Imap(imap))).await;
    let mut sent = Vec::new();
    let mut restart = None;
    for i in 0..MAILS {
        sent.push(
            alice
                .send(Signal::message(format!("stream {i}")).to(bob.address.clone()))
                .await,
        );
        if i == MAILS / 4 {
            let ctl = server.dovecot_ctl.clone();
            restart = Some(tokio::task::spawn_blocking(move || {
                std::process::Command::new(ctl)
                    .arg("restart")
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("the control script runs")
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = restart
        .expect("restarted")
        .await
        .expect("the restart task ends");
    assert!(status.success(), "the restart worked: {status}");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_ids(&got).len() < MAILS && Instant::now() < deadline {
        if let Some(signal) = bob.remote.next_within(Duration::from_secs(1)).await {
            got.push(signal);
        }
    }
    got.extend(bob.remote.drain_for(Duration::from_millis(1500)).await);
    let errors = got
        .iter()
        .filter(|s| s.kind() == SignalKind::ConnectionError)
        .count();
    assert!(
        errors >= 1,
        "the restart was noticed: {:?}",
        got.iter().map(Signal::kind).collect::<Vec<_>>()
    );
    let counts = count_ids(&got);
    let lost: Vec<_> = sent.iter().filter(|id| !counts.contains_key(*id)).collect();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(lost.is_empty(), "lost {} of {MAILS}: {lost:?}", lost.len());
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    assert_eq!(counts.len(), MAILS, "nothing else arrived");
    alice.finish().await;
    bob.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_come_back_unsupported_and_queries_say_what_email_can() {
    let a = common::account().await;
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let bob = mailto("bob@example.org");
    let typing = Signal::new(chatty_core::StatusChange::new(
        chatty_core::Status::Typing {
            conversation: bob.clone(),
            state: chatty_core::TypingState::Composing,
        },
    ));
    let handle = alice.remote.handle().await;
    // The router refuses it at once, from the session's capabilities: nothing is sent.
    match handle.send(typing).await {
        Err(chatty_core::SendError::Unsupported { .. }) => {}
        other => panic!("a typing status is refused as unsupported, got {other:?}"),
    }
    assert_eq!(
        handle.address_kind(&bob).await.expect("answered"),
        chatty_core::AddressKind::Individual
    );
    assert!(handle.members(&bob).await.unwrap_err().is_not_supported());
    assert!(handle.status(&bob).await.unwrap_err().is_not_supported());
    let unknown = handle
        .delivery_status(&SignalId::from("never-sent"))
        .await
        .expect("answered");
    assert_eq!(unknown, DeliveryStatus::Unknown);
    alice.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_by_explicit_opt_in_works() {
    let server = common::server();
    let (a, b) = (common::account().await, common::account().await);
    // SMTP without TLS and without AUTH (the test Postfix's plain port), IMAP and POP3 without
    // TLS: only because the config says so.
    let plain_smtp = SmtpConfig {
        port: Some(server.smtp_plain_port),
        tls: TlsMode::Plaintext,
        auth: false,
        ..common::smtp()
    };
    let mut alice_config = common::config(
        &a,
        InboundConfig::Imap(ImapConfig {
            tls: TlsMode::Plaintext,
            ..common::imap()
        }),
    );
    alice_config.smtp = plain_smtp;
    let mut alice = common::bot(alice_config).await;
    let bob = common::bot(common::config(
        &b,
        InboundConfig::Pop3(Pop3Config {
            tls: TlsMode::Plaintext,
            ..common::pop3()
        }),
    ))
    .await;
    let id = alice
        .send(Signal::message("in the clear").to(bob.address.clone()))
        .await;
    let got = bob.next_io().await;
    assert_eq!(got.meta.id, id);
    alice.finish().await;
    bob.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_without_idle_and_moving_handled_mail() {
    let (a, b) = (common::account().await, common::account().await);
    {
        let mut session = common::bare_imap(&b).await;
        // Left from an earlier run, or new.
        let _ = session.create("Done").await;
        let _ = session.logout().await;
    }
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let polling = ImapConfig {
        idle: false,
        poll_interval_ms: 300,
        handled: Handled::MoveTo("Done".into()),
        ..common::imap()
    };
    let bob = common::bot(common::config(&b, InboundConfig::Imap(polling))).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(
            alice
                .send(Signal::message(format!("poll {i}")).to(bob.address.clone()))
                .await,
        );
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(bob.next_io().await.meta.id);
    }
    assert_eq!(got, sent);
    let deadline = Instant::now() + WAIT;
    loop {
        let mut session = common::bare_imap(&b).await;
        let inbox = session.uid_search("ALL").await.expect("search").len();
        session.select("Done").await.expect("Done");
        let done = session.uid_search("ALL").await.expect("search").len();
        if inbox == 0 && done >= 3 {
            // Empty Done for the next run of this test on this account.
            let _: Vec<_> = session
                .uid_store("1:*", "+FLAGS.SILENT (\\Deleted)")
                .await
                .expect("store")
                .try_collect()
                .await
                .expect("store");
            let _: Vec<_> = session
                .expunge()
                .await
                .expect("expunge")
                .try_collect()
                .await
                .expect("expunge");
            let _ = session.logout().await;
            break;
        }
        let _ = session.logout().await;
        assert!(Instant::now() < deadline, "INBOX {inbox}, Done {done}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    alice.finish().await;
    bob.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_from_history_is_read_from_the_folder_where_configured() {
    let (a, b) = (common::account().await, common::account().await);
    let mut alice = common::bot(common::config(&a, common::imap_inbound())).await;
    let with_history = ImapConfig {
        history: true,
        ..common::imap()
    };
    let mut bob = common::bot(common::config(&b, InboundConfig::Imap(with_history))).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(
            alice
                .send(Signal::message(format!("history {i}")).to(bob.address.clone()))
                .await,
        );
        bob.next_io().await;
    }
    let handle = bob.remote.handle().await;
    let first = handle
        .received_from(&alice.address, chatty_core::Page::first(2))
        .await
        .expect("answered");
    let ids: Vec<_> = first.signals.iter().map(|s| s.meta.id.clone()).collect();
    assert_eq!(ids, [sent[2].clone(), sent[1].clone()], "newest first");
    let next = first.next.expect("an older page");
    let second = handle
        .received_from(&alice.address, next)
        .await
        .expect("answered");
    let ids: Vec<_> = second.signals.iter().map(|s| s.meta.id.clone()).collect();
    assert_eq!(ids, [sent[0].clone()]);
    assert!(second.next.is_none());
    // Without `history`, and for sent mail, the Logger is the answer.
    let alice_handle = alice.remote.handle().await;
    assert!(
        alice_handle
            .received_from(&bob.address, chatty_core::Page::first(5))
            .await
            .unwrap_err()
            .is_not_supported()
    );
    assert!(
        handle
            .sent_to(&alice.address, chatty_core::Page::first(5))
            .await
            .unwrap_err()
            .is_not_supported()
    );
    alice.finish().await;
    bob.finish().await;
}
