//! One stanza from the stream: answers to the session's IQ requests and archive queries,
//! requests to answer, messages (with their receipts) and presence mapped to signals for the
//! bot.

use chatty_core::driver::{Deliveries, Link};
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::presence::Presence;

use super::{catch_up, deliver};
use crate::iq::answer_iq;
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
    if connection.catch_up.is_discovery(&iq) {
        return catch_up::discovered(shared, deliveries, connection, link, iq).await;
    }
    if let Some(page) = connection.archive.finish(iq) {
        catch_up::page(shared, deliveries, connection, link, page).await;
    }
}

/// A live message: its sender learnt, then given to the bot, or held back while a catch-up
/// from the archive runs (the archived messages go first).
async fn received_message(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    message: Message,
) {
    shared.learn_sender(&message);
    if connection.catch_up.holds() {
        connection.catch_up.held.push_back(message);
    } else {
        // `false`: the bot stopped listening, and the driver stops the session.
        let _ = deliver::live(shared, deliveries, connection, link, message).await;
    }
}

/// A presence: learnt (what the contact's client can receive), and pushed as a signal when it
/// is one (the server's echo of the bot's own is not).
async fn received_presence(
    shared: &Shared,
    connection: &mut Connection,
    link: &Link,
    presence: Presence,
) {
    shared.track_presence(&presence);
    let mapped = shared
        .mapper
        .inbound_presence(presence, connection.bound.as_ref());
    if let Some(signal) = mapped {
        let _ = deliver::push(connection, link, signal).await;
    }
}
