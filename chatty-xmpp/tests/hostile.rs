//! Hostile input over the wire, against the test Prosody: stanzas that tokio-xmpp's XML parser
//! would refuse as an error of the whole stream (an attribute value or a name over 8 192 bytes,
//! which the server passes on) reach the bot shortened, and the connection stays up. See the
//! crate README to run them.

mod common;

use std::time::Duration;

use chatty_core::{Body, Signal};
use chatty_test::xmpp::PlainClient;
use common::{WAIT, bot};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Lang, Message as XmppMessage};

/// The longest attribute value or name the session lets through (its guard's limit).
const MAX_TOKEN: usize = 4096;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_attributes_and_names_neither_break_the_stream_nor_lose_messages() {
    let chatty = bot(common::config(&common::account())).await;
    let account = common::account();
    let mut client = PlainClient::connect(&account.jid, &account.password).await;
    let to = Jid::new(chatty.address.id()).expect("a JID");
    let chat =
        |body: &str| XmppMessage::chat(Some(to.clone())).with_body(Lang::new(), body.to_owned());

    let mut long_id = chat("a long id");
    long_id.id = Some(Id("i".repeat(9000)));
    client.send(long_id).await;
    let mut long_value = chat("a long attribute");
    long_value.payloads.push(
        Element::builder("x", "urn:example:x")
            .attr(
                tokio_xmpp::minidom::rxml::xml_ncname!("data").into(),
                "é".repeat(6000),
            )
            .build(),
    );
    client.send(long_value).await;
    let mut long_name = chat("a long name");
    let name = "n".repeat(9000);
    long_name.payloads.push(
        Element::builder(name.as_str(), "urn:example:x")
            .append(Element::builder(name.as_str(), "urn:example:x").build())
            .build(),
    );
    client.send(long_name).await;
    client.send(chat("after them")).await;

    let mut heard: Vec<Signal> = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while heard
        .iter()
        .filter(|s| matches!(s.body, Body::Message(_)))
        .count()
        < 4
    {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match chatty.remote.next_within(left).await {
            Some(signal) => {
                assert!(
                    !matches!(signal.body, Body::ConnectionError(_)),
                    "the stream broke: {signal:?}"
                );
                heard.push(signal);
            }
            None => panic!("not every message within {WAIT:?}: {heard:?}"),
        }
    }
    let messages: Vec<(&str, &str)> = heard
        .iter()
        .filter_map(|s| match &s.body {
            Body::Message(m) => Some((s.meta.id.as_str(), m.text.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(messages[0].1, "a long id");
    assert_eq!(messages[0].0, "i".repeat(MAX_TOKEN), "the id, shortened");
    let texts: Vec<&str> = messages.iter().map(|(_, text)| *text).collect();
    assert_eq!(
        texts,
        ["a long id", "a long attribute", "a long name", "after them"]
    );
    // And the stream is still up: nothing else comes, no connection error.
    for signal in chatty.remote.drain_for(Duration::from_millis(500)).await {
        assert!(
            !matches!(signal.body, Body::ConnectionError(_)),
            "the stream broke: {signal:?}"
        );
    }
    chatty.finish().await;
    client.close().await;
}
