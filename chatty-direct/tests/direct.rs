//! The direct connection end to end: every signal kind and metadata field, queries, channels,
//! offline delivery, downloads, capabilities, and several sessions serving one bot.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::session::{InboundSink, Session};
use chatty_core::{
    Address, AddressKind, Availability, Body, Capabilities, Content, DeliveryStatus, DownloadFile,
    FailureKind, Features, File, Media, Message, Page, QueryError, Router, SendError, SendFailure,
    Signal, SignalKind, Signals, Status, StatusChange, TypingState, UserDefined, from_fn,
};
use chatty_direct::{Harness, Network, Person};
use chatty_test::{Probe, ProbeRemote};

/// Runs a probe bot as endpoint `name` of `network`.
async fn probe_on(network: &Network, name: &str) -> ProbeRemote {
    let (probe, remote) = Probe::new();
    let router = Router::new().session(network.endpoint(name));
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    remote
}

/// Asserts that nothing but lifecycle signals reaches `bot` for a while.
async fn assert_nothing_but_lifecycle(bot: &ProbeRemote) {
    let extra: Vec<Signal> = bot
        .drain_for(Duration::from_millis(100))
        .await
        .into_iter()
        .filter(|s| !ProbeRemote::is_lifecycle(s))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
}

fn every_io_signal(to: &Address) -> Vec<Signal> {
    let bytes = File::bytes(
        "a.bin",
        Some("application/octet-stream"),
        &[0u8, 1, 2, 255][..],
    );
    vec![
        Signal::new(
            Message::text("all parts")
                .with_subject("subject")
                .with_html("<p>all <b>parts</b></p>")
                .with_media(
                    Media::new(File::bytes("i.png", Some("image/png"), &b"png"[..])).with_id("img"),
                )
                .with_attachment(bytes.clone())
                .with_attachment(File::url("u.txt", None, "https://example.org/u.txt")),
        ),
        Signal::new(Message::text("fixed").correcting("earlier-1".into())),
        Signal::new(Message::retraction("earlier-2".into())),
        Signal::new(bytes),
        Signal::new(File::url(
            "remote.pdf",
            Some("application/pdf"),
            "https://example.org/r.pdf",
        )),
        Signal::new(
            SendFailure::new(
                "elsewhere-1".into(),
                FailureKind::Bounced,
                "relayed failure",
            )
            .with_code("550"),
        ),
        Signal::new(StatusChange::new(Status::Typing {
            conversation: to.clone(),
            state: TypingState::Paused,
        })),
        Signal::new(
            UserDefined::new("order", &serde_json::json!({"item": "tea", "count": 2})).unwrap(),
        ),
    ]
}

#[tokio::test]
async fn every_signal_kind_and_metadata_field_arrives_intact() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let person = Person::join(&network, "person").await;
    let handle = bot.handle().await;
    let cc = network.address("observer");
    network.endpoint("observer");

    for mut signal in every_io_signal(person.address()) {
        signal.meta.response_to = Some("earlier-signal".into());
        if !matches!(signal.body, Body::StatusChange(_)) {
            signal = signal.to(person.address().clone());
        }
        signal.meta.visible_to.push(cc.clone());
        let sent = signal.clone();
        let id = handle.send(signal).await.unwrap();
        assert_eq!(&id, sent.id());

        let got = person.next().await.expect("delivered");
        assert_eq!(got.body, sent.body, "content intact");
        assert_eq!(got.meta.id, sent.meta.id, "id kept");
        assert_eq!(
            got.meta.response_to, sent.meta.response_to,
            "response_to kept"
        );
        assert!(got.meta.sent.is_some(), "sent time set by the router");
        assert!(got.meta.received >= got.meta.sent, "received after sent");
        assert_eq!(got.meta.origin.as_ref(), Some(&network.address("bot")));
        assert_eq!(
            got.meta.origin.as_ref().unwrap().kind(),
            AddressKind::Individual
        );
        assert_eq!(got.meta.visible_to, vec![cc.clone()], "visible_to kept");
        if !matches!(sent.body, Body::StatusChange(_)) {
            assert_eq!(got.meta.addressees, vec![person.address().clone()]);
        }
    }
    // The observer was only in visible_to (a Cc with no inbox here): it got nothing.
    assert_nothing_but_lifecycle(&bot).await;
}

#[tokio::test]
async fn presence_is_broadcast_and_queried() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let person = Person::join(&network, "person").await;
    let handle = bot.handle().await;
    let mut change = StatusChange::new(Status::Presence {
        availability: Availability::Busy,
    });
    change.message = Some("in a meeting".into());
    handle.send(Signal::new(change.clone())).await.unwrap();
    let got = person.next().await.unwrap();
    assert_eq!(got.body, Body::StatusChange(change));
    let presence = person
        .query(chatty_core::Query::Status {
            address: network.address("bot"),
        })
        .await
        .unwrap();
    assert_eq!(
        presence,
        chatty_core::Answer::Status(
            chatty_core::Presence::new(Availability::Busy).with_message("in a meeting")
        )
    );
    // The person's own presence, as the bot sees it: online since it joined.
    let theirs = handle.status(person.address()).await.unwrap();
    assert_eq!(theirs.availability, Availability::Available);
}

#[tokio::test]
async fn channels_carry_joins_messages_and_membership_queries() {
    let network = Network::new();
    let lobby = network.channel("lobby");
    let mut bot = probe_on(&network, "bot").await;
    let alice = Person::join(&network, "alice").await;
    let bob = Person::join(&network, "bob").await;
    network.join("lobby", "alice");
    network.join("lobby", "bob");
    let handle = bot.handle().await;

    // The bot joins: every member sees it, and the bot sees its own join reflected.
    handle
        .send(Signal::new(StatusChange::new(Status::InRoom {
            room: lobby.clone(),
            present: true,
            role: Some("moderator".into()),
        })))
        .await
        .unwrap();
    for person in [&alice, &bob] {
        let join = person.next().await.unwrap();
        assert!(
            matches!(&join.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: true, .. }))
        );
        assert_eq!(join.meta.visible_to, vec![lobby.clone()]);
    }
    let reflected = bot.next_of(SignalKind::StatusChange).await.unwrap();
    assert_eq!(
        reflected.meta.origin.as_ref(),
        Some(&network.address("bot"))
    );

    let own = handle.own_status(&lobby).await.unwrap();
    assert!(own.present);
    assert_eq!(own.role.as_deref(), Some("moderator"));
    assert!(
        handle
            .member_status(alice.address(), &lobby)
            .await
            .unwrap()
            .present
    );
    let mut members = handle.members(&lobby).await.unwrap();
    members.sort();
    assert_eq!(members.len(), 3);
    assert_eq!(
        handle.address_kind(&lobby).await.unwrap(),
        AddressKind::Channel
    );
    assert_eq!(
        handle.address_kind(alice.address()).await.unwrap(),
        AddressKind::Individual
    );

    // Alice speaks in the room: the bot and Bob hear it, Alice does not hear herself.
    alice.say(&lobby, "hello room").await;
    let heard = bot.next_of(SignalKind::Message).await.unwrap();
    assert_eq!(heard.meta.visible_to, vec![lobby.clone()]);
    assert_eq!(heard.meta.visible_to[0].kind(), AddressKind::Channel);
    assert!(bob.next().await.is_some());
    // A reply goes to the room, not to Alice alone.
    handle
        .send(heard.reply(Message::text("hello alice")))
        .await
        .unwrap();
    let (to_alice, _) = alice.expect_message().await;
    let (to_bob, _) = bob.expect_message().await;
    assert_eq!(to_alice.meta.id, to_bob.meta.id);
    assert_eq!(to_alice.meta.addressees, vec![lobby.clone()]);

    // Typing in the room reaches the others.
    handle
        .send(Signal::new(StatusChange::new(Status::Typing {
            conversation: lobby.clone(),
            state: TypingState::Composing,
        })))
        .await
        .unwrap();
    assert!(matches!(
        alice.next().await.unwrap().body,
        Body::StatusChange(_)
    ));

    // The bot leaves; a non-member cannot speak in the room.
    handle
        .send(Signal::new(StatusChange::new(Status::InRoom {
            room: lobby.clone(),
            present: false,
            role: None,
        })))
        .await
        .unwrap();
    assert!(!handle.own_status(&lobby).await.unwrap().present);
    let id = handle.say(&lobby, "still here?").await.unwrap();
    let failure = bot.next_of(SignalKind::SendFailure).await.unwrap();
    assert!(
        matches!(&failure.body, Body::SendFailure(f) if f.failed == id && f.kind == FailureKind::Rejected)
    );
}

#[tokio::test]
async fn signals_for_a_bot_that_is_not_running_wait_for_it() {
    let network = Network::new();
    let person = Person::join(&network, "person").await;
    network.endpoint("later");
    let later = network.address("later");
    let ids = [
        person.say(&later, "one").await,
        person.say(&later, "two").await,
    ];
    let status = person
        .query(chatty_core::Query::DeliveryStatus { id: ids[0].clone() })
        .await
        .unwrap();
    assert_eq!(
        status,
        chatty_core::Answer::DeliveryStatus(DeliveryStatus::Sent)
    );

    let bot = probe_on(&network, "later").await;
    for id in &ids {
        assert_eq!(&bot.next_of(SignalKind::Message).await.unwrap().meta.id, id);
    }
    let status = person
        .query(chatty_core::Query::DeliveryStatus { id: ids[1].clone() })
        .await
        .unwrap();
    assert_eq!(
        status,
        chatty_core::Answer::DeliveryStatus(DeliveryStatus::Delivered)
    );
}

#[tokio::test]
async fn a_person_who_leaves_is_offline_and_finds_what_waited_on_coming_back() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let handle = bot.handle().await;
    let person = Person::join(&network, "person").await;
    let to = person.address().clone();
    assert_eq!(
        handle.status(&to).await.unwrap().availability,
        Availability::Available
    );
    person.leave().await;
    assert_eq!(
        handle.status(&to).await.unwrap().availability,
        Availability::Offline
    );
    let id = handle.say(&to, "while you were away").await.unwrap();
    assert_eq!(
        handle.delivery_status(&id).await.unwrap(),
        DeliveryStatus::Sent
    );

    let back = Person::join(&network, "person").await;
    let (got, message) = back.expect_message().await;
    assert_eq!(got.meta.id, id);
    assert_eq!(message.text, "while you were away");
    assert_eq!(
        handle.delivery_status(&id).await.unwrap(),
        DeliveryStatus::Delivered
    );
}

#[tokio::test]
async fn a_session_runs_once() {
    let network = Network::new();
    let session = Arc::new(network.endpoint("once"));
    let (tx, rx) = chatty_core::reexports::async_channel::unbounded();
    let sink = InboundSink::new(session.name(), tx);
    let first = tokio::spawn(session.clone().run(sink.clone()));
    let started = rx.recv().await.unwrap();
    assert!(matches!(started.body, Body::SessionStarted(_)));
    let second = tokio::time::timeout(Duration::from_secs(5), session.clone().run(sink))
        .await
        .expect("refused at once");
    assert!(second.is_err(), "a second run is refused");
    first.abort();
}

#[tokio::test]
async fn download_file_fetches_published_bytes() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let handle = bot.handle().await;
    let url = network.publish_file(Bytes::from_static(b"file body"));
    let request = handle
        .send(Signal::new(DownloadFile::new(File::url(
            "f.txt",
            Some("text/plain"),
            url,
        ))))
        .await
        .unwrap();
    let file = bot.next_of(SignalKind::File).await.unwrap();
    assert_eq!(file.meta.response_to, Some(request));
    match file.body {
        Body::File(f) => {
            assert_eq!(f.name, "f.txt");
            assert_eq!(
                f.content,
                Content::Bytes {
                    data: Bytes::from_static(b"file body")
                }
            );
        }
        _ => unreachable!(),
    }
    let missing = handle
        .send(Signal::new(DownloadFile::new(File::url(
            "g",
            None,
            "direct-file:nothing",
        ))))
        .await
        .unwrap();
    let failure = bot.next_of(SignalKind::SendFailure).await.unwrap();
    assert!(
        matches!(&failure.body, Body::SendFailure(f) if f.failed == missing && f.code.as_deref() == Some("file_not_found"))
    );
}

#[tokio::test]
async fn download_is_a_call_on_the_handle_and_on_a_person() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let person = Person::join(&network, "person").await;
    let handle = bot.handle().await;
    let url = network.publish_file(Bytes::from_static(b"file body"));
    let published = File::url("f.txt", Some("text/plain"), url);
    let want = File::bytes(
        "f.txt",
        Some("text/plain"),
        Bytes::from_static(b"file body"),
    );

    assert_eq!(handle.download(&published).await.unwrap(), want);
    assert_eq!(
        handle
            .download_via(&published, &network.address("bot"))
            .await
            .unwrap(),
        want
    );
    assert_eq!(person.download(published).await.unwrap(), want);

    let missing = File::url("g", None, "direct-file:nothing");
    match handle.download(&missing).await {
        Err(SendError::Refused(refusal)) => {
            assert_eq!(refusal.code.as_deref(), Some("file_not_found"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let refusal = person.download(missing).await.unwrap_err();
    assert_eq!(refusal.code.as_deref(), Some("file_not_found"));
    assert!(person.download(want).await.is_err(), "nothing to download");
    // A download is an answer to the caller, never a signal.
    assert_nothing_but_lifecycle(&bot).await;
}

#[tokio::test]
async fn what_an_addressee_cannot_receive_is_refused_by_the_send() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    network.endpoint_with(
        "plain",
        Capabilities::new(Signals::MESSAGE, Features::empty()),
    );
    let plain = network.address("plain");
    let handle = bot.handle().await;
    let typing = Signal::new(StatusChange::new(Status::Typing {
        conversation: plain.clone(),
        state: TypingState::Composing,
    }));
    match handle.send(typing).await {
        Err(SendError::Unsupported { reason }) => assert!(reason.contains("typing"), "{reason}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let subject = Signal::new(Message::text("x").with_subject("s")).to(plain.clone());
    assert!(matches!(
        handle.send(subject).await,
        Err(SendError::Unsupported { .. })
    ));
    // Nothing was sent, and nothing comes back as a signal.
    assert_nothing_but_lifecycle(&bot).await;
    assert_eq!(
        handle.supported_signals(&plain).await.unwrap(),
        Signals::MESSAGE
    );
    // A person in a test is told the same as the bot's router tells it.
    let person = Person::join(&network, "person").await;
    assert_eq!(
        person
            .query(chatty_core::Query::SupportedSignals {
                address: plain.clone()
            })
            .await
            .unwrap(),
        chatty_core::Answer::SupportedSignals {
            signals: Signals::MESSAGE
        }
    );
}

#[tokio::test]
async fn an_unknown_platform_is_refused_and_an_unknown_addressee_is_a_send_failure() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let handle = bot.handle().await;
    let xmpp: Address = "xmpp:alice@example.org".parse().unwrap();
    match handle.say(&xmpp, "hi").await {
        Err(e @ SendError::NoRoute { .. }) => {
            assert!(matches!(&e, SendError::NoRoute { address } if *address == xmpp));
            assert!(
                e.to_string()
                    .contains("no session serves xmpp:alice@example.org"),
                "{e}"
            );
        }
        other => panic!("expected NoRoute, got {other:?}"),
    }
    let id = handle
        .say(&network.address("nobody"), "hi")
        .await
        .expect("the network, not the router, knows its endpoints");
    let failure = bot.next_of(SignalKind::SendFailure).await.unwrap();
    match failure.body {
        Body::SendFailure(f) => {
            assert_eq!(f.failed, id);
            assert_eq!(f.kind, FailureKind::UnknownAddressee);
            assert_eq!(f.code.as_deref(), Some("unknown_addressee"));
        }
        _ => unreachable!(),
    }
    let err = handle
        .members(&"xmpp:room@muc.example.org".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::NoRoute { .. }));
    let err = handle
        .received_from(&network.address("x"), Page::first(1))
        .await
        .unwrap_err();
    assert!(err.is_not_supported());
}

#[tokio::test]
async fn two_sessions_serve_one_bot_and_replies_go_back_the_way_they_came() {
    let red = Network::named("red");
    let blue = Network::named("blue");
    let echo = from_fn(|signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            handle
                .send(signal.reply(Message::text(format!("echo: {}", m.text))))
                .await?;
        }
        Ok(())
    });
    let router = Router::new()
        .session(red.endpoint("bot"))
        .session(blue.endpoint("bot"));
    tokio::spawn(router.run(echo));
    let on_red = Person::join(&red, "person").await;
    let on_blue = Person::join(&blue, "person").await;
    assert_eq!(
        on_red.address().to_string(),
        "direct+red:person;kind=individual"
    );
    assert_ne!(on_red.address(), on_blue.address());

    on_red.say(&red.address("bot"), "from red").await;
    on_blue.say(&blue.address("bot"), "from blue").await;
    let (red_reply, red_message) = on_red.expect_message().await;
    let (_, blue_message) = on_blue.expect_message().await;
    assert_eq!(red_message.text, "echo: from red");
    assert_eq!(blue_message.text, "echo: from blue");
    assert_eq!(red_reply.meta.origin.unwrap().session(), Some("red"));
    assert!(on_blue.try_next().is_none(), "nothing crossed over");
}

#[tokio::test]
async fn harness_drives_a_bot_in_a_few_lines() {
    let bot = from_fn(|signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            if m.text == "stop" {
                return Err("asked to stop".into());
            }
            handle
                .send(signal.reply(Message::text(m.text.to_uppercase())))
                .await?;
        }
        Ok(())
    });
    let harness = Harness::start(bot).await;
    let id = harness.say("hi").await;
    let (reply, message) = harness.expect_message().await;
    assert_eq!(message.text, "HI");
    assert_eq!(reply.meta.response_to, Some(id));
    assert_eq!(reply.meta.origin.as_ref(), Some(harness.bot()));

    let carol = harness.person("carol").await;
    carol.say(harness.bot(), "me too").await;
    assert_eq!(carol.expect_message().await.1.text, "ME TOO");
    assert!(
        harness.tester().try_next().is_none(),
        "the reply went to carol only"
    );

    harness.say("stop").await;
    let result = harness.stop().await;
    assert_eq!(result.unwrap_err().to_string(), "asked to stop");
}

#[tokio::test]
async fn ending_the_session_ends_the_bot_in_order() {
    let network = Network::new();
    let mut bot = probe_on(&network, "bot").await;
    let handle = bot.handle().await;
    handle
        .send(Signal::new(Body::InitiateSessionEnd(Default::default())))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while let Some(s) = bot.next().await {
        kinds.push(s.kind());
    }
    assert_eq!(
        kinds,
        [SignalKind::SessionAboutToEnd, SignalKind::SessionEnded]
    );
    // After the end, the handle says the connection is closed.
    let late = handle.say(&network.address("x"), "late").await;
    assert!(matches!(&late, Err(e) if e.is_closed()), "{late:?}");
}

#[tokio::test]
async fn a_bot_can_say_goodbye_when_its_session_is_about_to_end() {
    let network = Network::new();
    let person = Person::join(&network, "person").await;
    let to = person.address().clone();
    let bot = from_fn(move |signal, handle| {
        let to = to.clone();
        async move {
            if matches!(signal.body, Body::SessionAboutToEnd(_)) {
                handle.say(&to, "goodbye").await?;
            }
            Ok(())
        }
    });
    let harness = Harness::start_on(network, "bot", bot).await;
    harness
        .stop()
        .await
        .expect("the goodbye is sent, not refused as closed");
    let (_, goodbye) = person.expect_message().await;
    assert_eq!(goodbye.text, "goodbye");
}

#[test]
fn names_from_a_config_file_are_checked_without_panicking() {
    assert!(Network::try_named("has space").is_err());
    assert!(Network::try_named("lab").is_ok());
    let network = Network::new();
    assert!(network.try_endpoint_with("", Capabilities::all()).is_err());
    assert!(
        network
            .try_endpoint_with("two words", Capabilities::all())
            .is_err()
    );
    assert!(network.try_channel("lobby;kind=channel").is_err());
    assert_eq!(
        network.try_channel("lobby").unwrap().to_string(),
        "direct:lobby;kind=channel"
    );
}
