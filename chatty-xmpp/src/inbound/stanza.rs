//! One stanza from the stream: answers to the session's IQ requests and archive queries,
//! requests to answer, messages (with their receipts) and presence mapped to signals for the
//! bot.

use chatty_core::driver::{Deliveries, Link};
use tokio_xmpp::Stanza;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::xml_ncname;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Message, MessageType};
use tokio_xmpp::parsers::presence::Presence;

use super::catch_up;
use crate::archive;
use crate::iq::answer_iq;
use crate::ns::NS_RECEIPTS;
use crate::state::{Connection, Shared};

/// Handles one stanza.
pub(crate) async fn handle(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    stanza: Stanza,
) {
    match stanza {
        Stanza::Iq(iq @ (Iq::Result { .. } | Iq::Error { .. })) => {
            answered(shared, deliveries, connection, link, iq).await;
        }
        Stanza::Iq(request) => {
            if let Some(answer) = answer_iq(request, shared.config.client_type) {
                connection.send(answer).await;
            }
        }
        Stanza::Message(message) => {
            if !connection.archive.collect(&message) {
                received_message(shared, deliveries, connection, link, message).await;
            }
        }
        Stanza::Presence(presence) => received_presence(shared, connection, link, presence).await,
    }
}

/// An answer to an IQ the session sent: to the request waiting for it, or the end of an archive
/// query.
async fn answered(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    iq: Iq,
) {
    let Some(iq) = connection.iqs.answer(iq) else {
        return;
    };
    if let Some(page) = connection.archive.finish(iq) {
        catch_up::page(shared, deliveries, connection, link, page).await;
    }
}

/// A live message: remembered as where a catch-up starts, its sender learnt, its receipt sent,
/// and its signal pushed.
async fn received_message(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    message: Message,
) {
    if let Some(id) = archive::stanza_id(&message, shared.jid.as_str()) {
        connection.live.last_archived = Some(id);
    }
    shared.learn_sender(&message);
    if let Some(receipt) = receipt_for(&message) {
        connection.send(receipt).await;
    }
    let mapped = shared
        .mapper
        .inbound_message_noting_deliveries(message, deliveries);
    if let Some(signal) = mapped {
        // An error means the bot stopped listening: the driver stops the session.
        let _ = link.push(signal).await;
    }
}

/// A presence: learnt (what the contact's client can receive), and pushed as a signal when it
/// is one (the server's echo of the bot's own is not).
async fn received_presence(
    shared: &Shared,
    connection: &Connection,
    link: &Link,
    presence: Presence,
) {
    shared.track_presence(&presence);
    let mapped = shared
        .mapper
        .inbound_presence(presence, connection.bound.as_ref());
    if let Some(signal) = mapped {
        let _ = link.push(signal).await;
    }
}

/// The receipt (XEP-0184) for a one-to-one message that asks for one.
fn receipt_for(message: &Message) -> Option<Message> {
    if message.type_ == MessageType::Groupchat || message.type_ == MessageType::Error {
        return None;
    }
    if !message
        .payloads
        .iter()
        .any(|p| p.is("request", NS_RECEIPTS))
    {
        return None;
    }
    let id = message
        .id
        .as_ref()
        .map(|id| id.0.clone())
        .filter(|id| !id.is_empty())?;
    let mut receipt = Message::new(message.from.clone());
    receipt.type_ = message.type_.clone();
    receipt.id = Some(Id(format!("receipt-{id}")));
    receipt.payloads.push(
        Element::builder("received", NS_RECEIPTS)
            .attr(xml_ncname!("id").into(), id)
            .build(),
    );
    Some(receipt)
}
