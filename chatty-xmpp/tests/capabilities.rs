//! What each address can receive, from its clients' disco#info (XEP-0030), learnt through Entity
//! Capabilities (XEP-0115) and cached, against the test Prosody: a plain client that announces
//! little gets little, two bots learn each other in full, and a client that never answers is
//! taken at the base of XMPP.

mod common;

use std::time::Duration;

use chatty_core::{
    Features, SendError, Signal, SignalKind, Signals, Status, StatusChange, TypingState,
};
use chatty_test::xmpp::PlainClient;
use common::bot;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::caps::{self, Caps};
use tokio_xmpp::parsers::disco::{DiscoInfoResult, Identity};
use tokio_xmpp::parsers::hashes::Algo;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

/// A client's disco#info with `features`.
fn client_info(features: &[&str]) -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", "Plain")],
        features: features.iter().map(|f| (*f).to_owned()).collect(),
        extensions: Vec::new(),
    }
}

/// Its entity capabilities (XEP-0115).
fn caps_of(info: &DiscoInfoResult) -> Caps {
    let hash = caps::hash_caps(&caps::compute_disco(info), Algo::Sha_1).unwrap();
    Caps::new("https://example.org/plain", hash)
}

/// An address for the plain client's account (its bare JID).
fn address_of(client: &PlainClient) -> chatty_core::Address {
    format!("xmpp:{};kind=individual", client.jid().to_bare())
        .parse()
        .unwrap()
}

/// Waits until the bot has seen a presence from `address`.
async fn presence_from(bot: &common::Bot, address: &chatty_core::Address) {
    loop {
        let signal = bot
            .remote
            .next_of(SignalKind::StatusChange)
            .await
            .expect("a presence in time");
        if signal.meta.origin.as_ref() == Some(address) {
            return;
        }
    }
}

#[tokio::test]
async fn a_client_announcing_little_gets_little_learnt_from_its_caps_once() {
    let mut chatty = bot(common::config(&common::account())).await;
    let person = common::account();
    let mut client = PlainClient::connect(&person.jid, &person.password).await;
    let bot_jid = Jid::new(chatty.address.id()).unwrap();

    // Its presence carries caps: the bot asks for that node#ver, once.
    let info = client_info(&[ns::DISCO_INFO, "jabber:x:oob"]);
    let caps = caps_of(&info);
    let presence = Presence::available()
        .with_to(bot_jid.clone())
        .with_payloads(vec![caps.clone().into()]);
    client.send(presence).await;
    let node = client.answer_disco(info.clone()).await;
    assert_eq!(
        node,
        caps::query_caps(caps).node,
        "asked with the caps node#ver"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Answered from what the bot learnt: the client is not asked again (it is not listening
    // now; had it been asked, it would have taken 5 s and given the base of XMPP, where
    // attachments are only degraded to a link).
    let person_address = address_of(&client);
    let handle = chatty.remote.handle().await;
    let signals = handle.supported_signals(&person_address).await.unwrap();
    assert!(signals.contains(Signals::MESSAGE | Signals::FILE | Signals::PRESENCE));
    assert!(
        !signals.contains(Signals::TYPING),
        "no chat states announced"
    );
    assert!(!signals.contains(Signals::USER_DEFINED));
    let (features, degraded) = handle.supported_features(&person_address).await.unwrap();
    assert!(features.contains(Features::ATTACHMENTS | Features::SUBJECT));
    assert!(!features.contains(Features::REPLIES | Features::DELIVERY_REPORTS));
    assert_eq!(
        degraded,
        Features::EDITS | Features::CHOICES,
        "no XEP-0308/0424: a correction shows as a new message, a retraction as its fallback; \
         no data forms (XEP-0004): a question's options as numbered lines"
    );

    // What it cannot take is refused by the send (nothing goes); a message still goes.
    let typing = Signal::new(StatusChange::new(Status::Typing {
        conversation: person_address.clone(),
        state: TypingState::Composing,
    }))
    .to(person_address.clone());
    match handle.send(typing).await {
        Err(SendError::Unsupported { reason }) => assert!(reason.contains("typing"), "{reason}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let custom =
        Signal::new(chatty_core::UserDefined::new("ping", &serde_json::json!({})).unwrap())
            .to(person_address.clone());
    match handle.send(custom).await {
        Err(SendError::Unsupported { reason }) => {
            assert!(reason.contains("user-defined"), "{reason}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    chatty
        .send(Signal::message("still here").to(person_address))
        .await;
    let got = client.next_body().await;
    assert!(
        !got.payloads
            .iter()
            .any(|p| p.is("request", "urn:xmpp:receipts")),
        "no receipt request to a client that does not announce receipts (XEP-0184 5.1)"
    );
    assert_eq!(
        got.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some("still here")
    );
    client.close().await;
    chatty.finish().await;
}

#[tokio::test]
async fn a_client_without_caps_is_asked_when_the_bot_asks_and_silence_is_the_base() {
    let mut chatty = bot(common::config(&common::account())).await;
    let bot_jid = Jid::new(chatty.address.id()).unwrap();
    let handle = chatty.remote.handle().await;

    // No caps in its presence: nothing is asked until the bot wants to know.
    let person = common::account();
    let mut client = PlainClient::connect(&person.jid, &person.password).await;
    client
        .send(Presence::available().with_to(bot_jid.clone()))
        .await;
    let person_address = address_of(&client);
    presence_from(&chatty, &person_address).await;
    let info = client_info(&[ns::DISCO_INFO, ns::CHATSTATES, "urn:xmpp:receipts"]);
    let (signals, node) = tokio::join!(
        handle.supported_signals(&person_address),
        client.answer_disco(info)
    );
    assert_eq!(node, None, "a plain disco#info, no caps node");
    let signals = signals.unwrap();
    assert!(signals.contains(Signals::TYPING));
    assert!(!signals.contains(Signals::USER_DEFINED));
    let (features, degraded) = handle.supported_features(&person_address).await.unwrap();
    assert!(features.contains(Features::DELIVERY_REPORTS));
    assert!(
        degraded.contains(Features::ATTACHMENTS),
        "no out-of-band data: a link in the body"
    );

    // A client that never answers: after a few seconds, the base of XMPP.
    let silent = common::account();
    let mut quiet = PlainClient::connect(&silent.jid, &silent.password).await;
    quiet.send(Presence::available().with_to(bot_jid)).await;
    let quiet_address = address_of(&quiet);
    presence_from(&chatty, &quiet_address).await;
    let signals = handle.supported_signals(&quiet_address).await.unwrap();
    assert_eq!(
        signals,
        Signals::MESSAGE | Signals::FILE | Signals::DOWNLOAD_FILE | Signals::PRESENCE
    );
    quiet.close().await;
    client.close().await;
    chatty.finish().await;
}

#[tokio::test]
async fn two_bots_learn_each_other_in_full() {
    let mut alice = bot(common::config(&common::account())).await;
    let mut bob = bot(common::config(&common::account())).await;
    // Alice tells Bob she is here (a directed presence, with her caps).
    let here = StatusChange::new(Status::Presence {
        availability: chatty_core::Availability::Available,
    });
    alice.send(Signal::new(here).to(bob.address.clone())).await;
    presence_from(&bob, &alice.address).await;
    let handle = bob.remote.handle().await;
    let signals = handle.supported_signals(&alice.address).await.unwrap();
    assert!(
        signals.contains(
            Signals::MESSAGE | Signals::TYPING | Signals::USER_DEFINED | Signals::PRESENCE
        )
    );
    let (features, degraded) = handle.supported_features(&alice.address).await.unwrap();
    assert!(
        features.contains(Features::ATTACHMENTS | Features::REPLIES | Features::DELIVERY_REPORTS)
    );
    assert!(
        features.contains(Features::CHOICES),
        "Chatty bots announce data forms (XEP-0004)"
    );
    assert!(degraded.is_empty());
    alice.finish().await;
    bob.finish().await;
}
