//! End-to-end checks against the test Prosody beyond the conformance suite: connection errors,
//! the wire format against a plain tokio-xmpp client, typing, presence, error stanzas, the TLS
//! modes and malformed input. See the crate README to run them.

mod common;

use std::time::Duration;

use chatty_core::{
    Availability, Body, ConnectionErrorKind, Edit, EditKind, FailureKind, Message, Signal,
    SignalKind, Status, StatusChange, TypingState,
};
use chatty_test::bare::Bare;
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::{NS_REPLY, NS_SIGNAL, TlsMode, XmppSession};

/// Message Retraction (XEP-0424).
const NS_RETRACT: &str = "urn:xmpp:message-retract:1";
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Lang, Message as XmppMessage, MessageType};
use tokio_xmpp::parsers::ns;

use common::{WAIT, bot};

/// A plain tokio-xmpp client (no Chatty) for `account`, online.
async fn plain_client(account: &common::Account) -> PlainClient {
    PlainClient::connect(&account.jid, &account.password).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_password_is_an_authentication_error_within_seconds() {
    let account = common::account();
    let mut config = common::config(&account).with_connect_timeout(Duration::from_secs(3));
    config.password = "not-the-password".into();
    let bare = Bare::run(
        XmppSession::new(config).expect("a valid config"),
        "xmpp",
        WAIT,
    );
    let authentication = ConnectionErrorKind::Authentication;
    bare.expect_connection_error(authentication, "not-the-password", Duration::from_secs(5))
        .await;
    // It keeps trying (with backoff), reporting each failure, until asked to end.
    let second = bare.next().await;
    assert_eq!(second.kind(), SignalKind::ConnectionError);
    bare.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_an_unreachable_error() {
    let account = common::account();
    let server = common::server();
    // Port 9 (discard) has no listener on the test machine.
    let config = common::config(&account).with_server(server.host, 9);
    let bare = Bare::run(
        XmppSession::new(config).expect("a valid config"),
        "xmpp",
        WAIT,
    );
    match bare.next().await.body {
        Body::ConnectionError(e) => {
            assert_eq!(e.kind, ConnectionErrorKind::Unreachable, "{e:?}");
            assert!(e.retry_in.is_some());
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
    bare.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tls_mode_connects() {
    let server = common::server();
    let account = common::account();
    for (mode, port) in [
        (TlsMode::Starttls, server.port),
        (TlsMode::Direct, server.direct_tls_port),
        (TlsMode::Plaintext, server.port),
    ] {
        let config = common::config(&account)
            .with_server(server.host.clone(), port)
            .with_tls(mode);
        let bare = Bare::run(
            XmppSession::new(config).expect("a valid config"),
            "xmpp",
            WAIT,
        );
        let first = bare.next().await;
        match &first.body {
            Body::SessionStarted(s) => assert_eq!(s.platform, "xmpp"),
            other => panic!("{mode:?}: expected SessionStarted, got {other:?}"),
        }
        assert_eq!(
            first.meta.origin.as_ref().map(ToString::to_string),
            Some(format!("xmpp:{};kind=individual", account.jid)),
            "{mode:?}: the own address"
        );
        bare.end().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_client_and_bot_exchange_messages_both_ways() {
    let bot_account = common::account();
    let client_account = common::account();
    let mut bot = bot(common::config(&bot_account)).await;
    let mut client = plain_client(&client_account).await;

    // Plain client to bot: the stanza id becomes the signal id (no origin-id here).
    let to_bot = XmppMessage::chat(Some(Jid::new(&bot_account.jid).expect("a JID")))
        .with_body(Lang::from("en"), "hello bot".into());
    let mut to_bot = to_bot;
    to_bot.id = Some(Id("plain-1".into()));
    client.send(to_bot).await;
    let got = bot.next_io().await;
    assert_eq!(got.meta.id.as_str(), "plain-1");
    assert_eq!(
        got.meta.origin.as_ref().map(ToString::to_string),
        Some(format!("xmpp:{};kind=individual", client_account.jid))
    );
    match &got.body {
        Body::Message(m) => assert_eq!(m.text, "hello bot"),
        other => panic!("expected a message, got {other:?}"),
    }

    // Bot to plain client: a standard chat message with origin-id and a XEP-0461 reply.
    let answer = got.reply(Message::text("hello client").with_subject("re"));
    let answer_id = bot.send(answer).await;
    let received = client.next_body().await;
    assert_eq!(received.type_, MessageType::Chat);
    assert_eq!(
        received.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some("hello client")
    );
    assert_eq!(
        received.get_best_subject(vec![]).map(|(_, s)| s.as_str()),
        Some("re")
    );
    assert_eq!(
        received.id.as_ref().map(|id| id.0.as_str()),
        Some(answer_id.as_str())
    );
    let payload = |name: &str, namespace: &str| -> Option<&Element> {
        received.payloads.iter().find(|p| p.is(name, namespace))
    };
    assert_eq!(
        payload("origin-id", ns::SID).and_then(|p| p.attr("id")),
        Some(answer_id.as_str())
    );
    assert_eq!(
        payload("reply", NS_REPLY).and_then(|p| p.attr("id")),
        Some("plain-1")
    );
    bot.finish().await;
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_and_retractions_one_to_one_are_standard_stanzas() {
    let bot_account = common::account();
    let client_account = common::account();
    let mut bot = bot(common::config(&bot_account)).await;
    let mut client = plain_client(&client_account).await;
    let person: chatty_core::Address = format!("xmpp:{}", client_account.jid).parse().unwrap();
    let body_is = |text: &'static str| {
        move |m: &XmppMessage| m.get_best_body(vec![]).is_some_and(|(_, b)| b == text)
    };
    let attr_of = |m: &XmppMessage, name: &str, namespace: &str, attr: &str| -> Option<String> {
        m.payloads
            .iter()
            .find(|p| p.is(name, namespace))
            .and_then(|p| p.attr(attr))
            .map(str::to_owned)
    };

    // Bot to client: XEP-0308 and XEP-0424 (origin-id named, fallback body and marker).
    let first = bot
        .send(Signal::new(Message::text("teh answer")).to(person.clone()))
        .await;
    client.next_message(body_is("teh answer")).await;
    bot.send(Signal::new(Message::text("the answer").correcting(first.clone())).to(person.clone()))
        .await;
    let corrected = client.next_message(body_is("the answer")).await;
    assert_eq!(
        attr_of(&corrected, "replace", ns::MESSAGE_CORRECT, "id").as_deref(),
        Some(first.as_str())
    );
    bot.send(Signal::new(Message::retraction(first.clone())).to(person.clone()))
        .await;
    let retraction = client
        .next_message(|m| m.payloads.iter().any(|p| p.is("retract", NS_RETRACT)))
        .await;
    assert_eq!(
        attr_of(&retraction, "retract", NS_RETRACT, "id").as_deref(),
        Some(first.as_str())
    );
    assert_eq!(
        attr_of(&retraction, "fallback", "urn:xmpp:fallback:0", "for").as_deref(),
        Some(NS_RETRACT)
    );
    assert!(
        retraction.get_best_body(vec![]).is_some(),
        "a body for clients without XEP-0424"
    );

    // Client to bot: the same elements become edits of the message the bot heard.
    let to_bot = |text: &str| {
        XmppMessage::chat(Some(Jid::new(&bot_account.jid).expect("a JID")))
            .with_body(Lang::from("en"), text.into())
    };
    let mut said = to_bot("helo");
    said.id = Some(Id("plain-9".into()));
    client.send(said).await;
    assert_eq!(bot.next_io().await.meta.id.as_str(), "plain-9");
    let mut fix = to_bot("hello");
    fix.payloads.push(xml(
        "<replace xmlns='urn:xmpp:message-correct:0' id='plain-9'/>",
    ));
    client.send(fix).await;
    let fixed = bot.next_io().await;
    let Body::Message(m) = &fixed.body else {
        panic!("a message: {fixed:?}")
    };
    assert_eq!(m.text, "hello");
    assert_eq!(
        m.edit,
        Some(Edit::new("plain-9".into(), EditKind::Correction))
    );
    let mut withdraw = to_bot("I retracted a message");
    withdraw.payloads.push(xml(
        "<retract xmlns='urn:xmpp:message-retract:1' id='plain-9'/>",
    ));
    withdraw.payloads.push(xml(
        "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>",
    ));
    client.send(withdraw).await;
    let withdrawn = bot.next_io().await;
    let Body::Message(m) = &withdrawn.body else {
        panic!("a message: {withdrawn:?}")
    };
    assert_eq!(m.text, "");
    assert_eq!(
        m.edit,
        Some(Edit::new("plain-9".into(), EditKind::Retraction))
    );
    bot.finish().await;
    client.close().await;
}

fn xml(text: &str) -> Element {
    text.parse().expect("well-formed XML")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_and_presence_arrive() {
    let mut a = bot(common::config(&common::account())).await;
    let b = bot(common::config(&common::account())).await;

    a.send(Signal::new(StatusChange::new(Status::Typing {
        conversation: b.address.clone(),
        state: TypingState::Composing,
    })))
    .await;
    let typing = b.next_io().await;
    assert_eq!(typing.meta.origin.as_ref(), Some(&a.address));
    match &typing.body {
        Body::StatusChange(StatusChange {
            status:
                Status::Typing {
                    conversation,
                    state,
                },
            ..
        }) => {
            assert_eq!(*state, TypingState::Composing);
            assert_eq!(conversation, &a.address);
        }
        other => panic!("expected typing, got {other:?}"),
    }

    // Presence directed to B (no roster subscription needed).
    let mut away = StatusChange::new(Status::Presence {
        availability: Availability::Away,
    });
    away.message = Some("brb".into());
    a.send(Signal::new(away).to(b.address.clone())).await;
    let presence = loop {
        let signal = b.remote.next().await.expect("presence in time");
        if let Body::StatusChange(change) = &signal.body
            && matches!(change.status, Status::Presence { .. })
        {
            break signal;
        }
    };
    assert_eq!(presence.meta.origin.as_ref(), Some(&a.address));
    match &presence.body {
        Body::StatusChange(change) => {
            assert_eq!(
                change.status,
                Status::Presence {
                    availability: Availability::Away
                }
            );
            assert_eq!(change.message.as_deref(), Some("brb"));
        }
        _ => unreachable!(),
    }
    let a_address = a.address.clone();
    a.finish().await;
    // A's session ended: B sees it go offline (its unavailable presence).
    let offline = loop {
        let signal = b.remote.next().await.expect("offline presence in time");
        if let Body::StatusChange(change) = &signal.body
            && matches!(
                change.status,
                Status::Presence {
                    availability: Availability::Offline
                }
            )
        {
            break signal;
        }
    };
    assert_eq!(offline.meta.origin.as_ref(), Some(&a_address));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_stanza_is_a_send_failure_with_the_condition() {
    let mut a = bot(common::config(&common::account())).await;
    let nobody: chatty_core::Address = format!("xmpp:nobody@{}", common::server().domain)
        .parse()
        .expect("an address");
    let id = a.send(Signal::message("anyone?").to(nobody)).await;
    let failure = a
        .remote
        .next_of(SignalKind::SendFailure)
        .await
        .expect("a send failure");
    match &failure.body {
        Body::SendFailure(f) => {
            assert_eq!(f.failed, id);
            assert_eq!(f.kind, FailureKind::UnknownAddressee, "{f:?}");
            assert!(
                matches!(
                    f.code.as_deref(),
                    Some("service-unavailable" | "item-not-found")
                ),
                "{f:?}"
            );
        }
        _ => unreachable!(),
    }
    a.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_stanza_is_a_system_error_and_the_rest_goes_on() {
    let bot_account = common::account();
    let client_account = common::account();
    let bot = bot(common::config(&bot_account)).await;
    let mut client = plain_client(&client_account).await;
    let to = Jid::new(&bot_account.jid).expect("a JID");

    let mut bad = XmppMessage::chat(Some(to.clone()));
    bad.payloads.push(
        Element::builder("signal", NS_SIGNAL)
            .append("{not json")
            .build(),
    );
    client.send(bad).await;
    let good = XmppMessage::chat(Some(to)).with_body(Lang::new(), "still here".into());
    client.send(good).await;

    let error = bot.next_io().await;
    match &error.body {
        Body::SystemError(e) => assert_eq!(e.component, "xmpp", "{e:?}"),
        other => panic!("expected a system error, got {other:?}"),
    }
    let next = bot.next_io().await;
    match &next.body {
        Body::Message(m) => assert_eq!(m.text, "still here"),
        other => panic!("expected the next message, got {other:?}"),
    }
    bot.finish().await;
    client.close().await;
}

/// A TCP proxy to the test server whose connections the test can cut.
struct Proxy {
    port: u16,
    cut: tokio::sync::broadcast::Sender<()>,
}

async fn proxy() -> Proxy {
    let server = common::server();
    let target = format!("{}:{}", server.host, server.port);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    let (cut, _) = tokio::sync::broadcast::channel(4);
    let cuts = cut.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            let mut cut = cuts.subscribe();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.recv() => {}
                }
            });
        }
    });
    Proxy { port, cut }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_is_reported_and_nothing_is_lost() {
    let proxy = proxy().await;
    let server = common::server();
    let mut a = bot(common::config(&common::account()).with_server(server.host, proxy.port)).await;
    let mut b = bot(common::config(&common::account())).await;

    a.send(Signal::message("before").to(b.address.clone()))
        .await;
    assert!(matches!(b.next_io().await.body, Body::Message(m) if m.text == "before"));

    proxy.cut.send(()).expect("connections to cut");
    let lost = a
        .remote
        .next_of(SignalKind::ConnectionError)
        .await
        .expect("the loss is reported");
    match &lost.body {
        Body::ConnectionError(e) => {
            assert_eq!(e.kind, ConnectionErrorKind::Unreachable, "{e:?}");
            assert!(e.retry_in.is_some());
        }
        _ => unreachable!(),
    }
    // Both ways across the gap: A's message waits in its queue, B's on the server (the
    // stream is resumed with XEP-0198).
    let from_a = a
        .send(Signal::message("during").to(b.address.clone()))
        .await;
    let from_b = b
        .send(Signal::message("while you were away").to(a.address.clone()))
        .await;
    let at_b = b.next_io().await;
    assert_eq!(at_b.meta.id, from_a);
    let at_a = a.next_io().await;
    assert_eq!(at_a.meta.id, from_b);
    a.finish().await;
    b.finish().await;
}
