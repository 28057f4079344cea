//! One stanza from the stream: answers to the session's IQ requests and archive queries,
//! requests to answer, messages (with their receipts) and presence mapped to signals for the
//! bot; a room's confirmation of the bot's join starts the catch-up from the room's archive.

use chatty_core::driver::{Deliveries, Link};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::presence::Presence;

use super::{catch_up, deliver, room_catch_up};
use crate::archive::CatchUpPage;
use crate::iq::answer_iq;
use crate::rooms::occupant_presence;
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
    if let Some(room) = connection.room_catch_ups.discovery(&iq) {
        return room_catch_up::discovered(shared, deliveries, connection, link, room, iq).await;
    }
    match connection.archive.finish(iq) {
        Some(CatchUpPage::Account(page)) => {
            catch_up::page(shared, deliveries, connection, link, page).await;
        }
        Some(CatchUpPage::Room(room, page)) => {
            room_catch_up::page(shared, deliveries, connection, link, room, page).await;
        }
        None => {}
    }
}

/// A live message: its sender learnt, then given to the bot, or held back while a catch-up
/// from the archive runs (the archived messages go first): a room's message by the catch-up
/// from the room's archive, when one runs.
async fn received_message(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    message: Message,
) {
    shared.learn_sender(&message);
    let room = match (&message.type_, &message.from) {
        (MessageType::Groupchat, Some(from)) => Some(from.to_bare()),
        _ => None,
    };
    let room_catch_up = room
        .as_ref()
        .and_then(|room| Some((room, connection.room_catch_ups.get_mut(room)?)));
    // What cannot wait any longer (see `CatchUp::hold`), or the message itself.
    let now = if let Some((room, room_catch_up)) = room_catch_up {
        room_catch_up.hold(message, room.as_str())
    } else if connection.catch_up.holds() {
        connection.catch_up.hold(message, shared.jid.as_str())
    } else {
        Some(message)
    };
    if let Some(message) = now {
        // `false`: the bot stopped listening, and the driver stops the session.
        let _ = deliver::live(shared, deliveries, connection, link, message).await;
    }
}

/// A presence: learnt (what the contact's client can receive), and pushed as a signal when it
/// is one (the server's echo of the bot's own is not); a room's confirmation of the bot's join
/// then starts the catch-up from the room's archive.
async fn received_presence(
    shared: &Shared,
    connection: &mut Connection,
    link: &Link,
    presence: Presence,
) {
    shared.track_presence(&presence);
    let joined = fresh_join(shared, &presence);
    let mapped = shared
        .mapper
        .inbound_presence(presence, connection.bound.as_ref());
    if let Some(signal) = mapped {
        let _ = deliver::push(connection, link, signal).await;
    }
    if let Some(room) = joined {
        room_catch_up::start(connection, room).await;
    }
}

/// The room `presence` confirms the bot's join of (its own presence there, status 110), if the
/// session wants to be in it and was not in it yet.
fn fresh_join(shared: &Shared, presence: &Presence) -> Option<BareJid> {
    let from = presence.from.as_ref()?;
    from.resource()?;
    let occupant = occupant_presence(presence)?;
    if !(occupant.own && occupant.present) {
        return None;
    }
    let room = from.to_bare();
    let joining = shared.mapper.state().room(&room).is_some_and(|r| !r.joined);
    joining.then_some(room)
}
