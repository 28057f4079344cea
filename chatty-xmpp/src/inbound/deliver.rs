//! Giving messages to the bot: live ones (with their receipts) and archived ones (from the
//! account's archive or a room's), fed to the router's journal (written together with others,
//! group commit; the bot gets each once it is durable). After each, the archive id it carried
//! becomes where the next catch-up starts (the journal's mark, the account's or the room's), set
//! after the message, so never durable before it.
//!
//! While a signal waits for room (in the journal's pipe, or the bot's queue), what the bot sends
//! is carried on, and the stream is read on while someone waits on the server (a send for its
//! acknowledgement, a query for its answer: they come behind what the server sent before): a bot
//! waiting in a send would otherwise wait for ever.

use chatty_core::Signal;
use chatty_core::driver::{Deliveries, Link};
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::session::Closed;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::xml_ncname;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Message, MessageType};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::stanzastream::Event;

use crate::archive::{self, ArchivedMessage};
use crate::mapper::timestamp;
use crate::ns::NS_RECEIPTS;
use crate::outbound;
use crate::reaction_marks;
use crate::state::{Connection, Shared};

/// Gives the bot a live message: its signal handed on, then its receipt sent and its archive
/// id noted. `false` once the bot stopped listening (the driver then stops the session).
pub(crate) async fn live(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    message: Message,
) -> bool {
    let archived = archive::stanza_id(&message, shared.jid.as_str());
    let room_archived = room_archive_id(shared, &message);
    let receipt = receipt_for(&message);
    let mapped = shared
        .mapper
        .inbound_signals_noting_deliveries(message, deliveries);
    for signal in mapped {
        if push(connection, link, signal).await.is_err() {
            return false;
        }
    }
    let changed = shared.mapper.reactions().take_seen_changes();
    if reaction_marks::keep(link, changed).await.is_err() {
        return false;
    }
    if let Some(receipt) = receipt {
        connection.send(receipt).await;
    }
    if let Some(id) = archived {
        connection.live.archived(&id);
    }
    if let Some((room, id)) = room_archived {
        connection.live.archived_in_room(&room, &id);
    }
    true
}

/// The room a live groupchat message came from (one the session is in), with the id the
/// room's archive gave it (`<stanza-id by='room@service'/>`), if it has one.
fn room_archive_id(shared: &Shared, message: &Message) -> Option<(BareJid, String)> {
    if message.type_ != MessageType::Groupchat {
        return None;
    }
    let room = message.from.as_ref()?.to_bare();
    shared.mapper.state().room(&room)?;
    let id = archive::stanza_id(message, room.as_str())?;
    Some((room, id))
}

/// Gives the bot a message from `room`'s archive, as it came live (its id and sender the same,
/// so that the journal knows it again); what the bot itself said in the room (by its nickname
/// there, or by its JID where the room shows it) and what is not from the room are skipped.
/// `false` once the bot stopped listening.
pub(crate) async fn room_archived(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    room: &BareJid,
    item: ArchivedMessage,
) -> bool {
    let ArchivedMessage {
        archive_id,
        message,
        delay,
    } = item;
    let from_room = message.from.as_ref().is_some_and(|f| f.to_bare() == *room);
    if from_room && !said_by(&message, &shared.jid) {
        // The archived copy lacks the id the room gave it, which the live copy carries, and
        // which names a message without an id of its sender's.
        let archived = ArchivedMessage {
            archive_id: archive_id.clone(),
            message,
            delay,
        };
        if !hand_on_archived(
            shared,
            deliveries,
            connection,
            link,
            archived,
            room.as_str(),
        )
        .await
        {
            return false;
        }
    } else if !from_room {
        tracing::debug!(%room, "skipping an archived message not from the room");
    }
    connection.live.archived_in_room(room, &archive_id);
    true
}

/// Whether the room says `message` was sent by `account` (`<x xmlns='…muc#user'><item jid=…/>`,
/// in rooms that show their occupants' JIDs).
fn said_by(message: &Message, account: &BareJid) -> bool {
    message
        .payloads
        .iter()
        .filter(|p| p.is("x", ns::MUC_USER))
        .flat_map(|x| x.children().filter(|c| c.is("item", ns::MUC_USER)))
        .filter_map(|item| item.attr("jid"))
        .filter_map(|jid| tokio_xmpp::jid::Jid::new(jid).ok())
        .any(|jid| jid.to_bare() == *account)
}

/// Hands on an archived message as it came live: with the id the archive `by` gave it (which
/// the live copy carries, and which names a message without an id of its sender's) and the
/// time it was sent. `false` once the bot stopped listening.
async fn hand_on_archived(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    item: ArchivedMessage,
    by: &str,
) -> bool {
    let ArchivedMessage {
        archive_id,
        mut message,
        delay,
    } = item;
    if archive::stanza_id(&message, by).is_none() {
        message.payloads.push(
            Element::builder("stanza-id", ns::SID)
                .attr(xml_ncname!("id").into(), archive_id.as_str())
                .attr(xml_ncname!("by").into(), by)
                .build(),
        );
    }
    let mapped = shared
        .mapper
        .inbound_signals_noting_deliveries(message, deliveries);
    for mut signal in mapped {
        if let Some(sent) = delay.as_ref().and_then(|d| timestamp(&d.stamp)) {
            signal.meta.sent = Some(sent);
        }
        if push(connection, link, signal).await.is_err() {
            return false;
        }
    }
    let changed = shared.mapper.reactions().take_seen_changes();
    reaction_marks::keep(link, changed).await.is_ok()
}

/// Gives the bot a message from the archive, as it would have come live (its id and sender the
/// same, so that the journal knows it again); what the bot itself sent is skipped. `false` once
/// the bot stopped listening.
pub(crate) async fn archived(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    item: ArchivedMessage,
) -> bool {
    let ArchivedMessage {
        archive_id,
        message,
        delay,
    } = item;
    let from_bot = message
        .from
        .as_ref()
        .is_some_and(|from| from.to_bare() == shared.jid);
    if !from_bot {
        // The archived copy does not carry the id the archive gave it, which names a message
        // without an id of its sender's when it comes live.
        let archived = ArchivedMessage {
            archive_id: archive_id.clone(),
            message,
            delay,
        };
        let by = shared.jid.as_str();
        if !hand_on_archived(shared, deliveries, connection, link, archived, by).await {
            return false;
        }
    }
    connection.live.archived(&archive_id);
    true
}

/// Hands `signal` on to the bot (fed: see the module docs); meanwhile carries what the bot
/// sends, and reads the stream on (for [`serve`](super::serve) to handle next) while someone
/// waits on the server.
pub(crate) async fn push(
    connection: &mut Connection,
    link: &Link,
    signal: Signal,
) -> Result<(), Closed> {
    // Never cancelled: a push given up half-way may be in the journal and not with the bot.
    let push = link.feed(signal);
    tokio::pin!(push);
    loop {
        let read_on = connection.reading_ahead();
        tokio::select! {
            biased;
            pushed = &mut push => return pushed,
            Some(command) = connection.live.commands.recv() => {
                outbound::carry(connection, command).await;
            }
            event = connection.stream.next(), if read_on => read_ahead(connection, event),
        }
    }
}

/// An event read while a push waits. An answer someone waits for (an IQ request's, or an
/// archive query's whose results go to a waiter: a query of the bot's, a lookup of whether an
/// answer left) is given at once: the push may wait on the very one who waits for it (the bot
/// blocked in a query, or behind an answer whose lookup this is), and neither gives the bot a
/// signal. Everything else is kept, in order, for [`serve`](super::serve).
fn read_ahead(connection: &mut Connection, event: Option<Event>) {
    match event {
        Some(Event::Stanza(Stanza::Iq(iq @ (Iq::Result { .. } | Iq::Error { .. }))))
            if connection.iqs.waits_for(&iq) || connection.archive.ends_reply(&iq) =>
        {
            if let Some(iq) = connection.iqs.answer(iq) {
                // Not a request's: the end of a waiter's archive query, which gives no page.
                let page = connection.archive.finish(iq);
                debug_assert!(page.is_none(), "a catch-up's page read ahead");
            }
        }
        Some(Event::Stanza(Stanza::Message(message)))
            if connection.archive.is_result_for_reply(&message) =>
        {
            connection.archive.collect(&message);
        }
        other => connection.ahead.push_back(other),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_is_known_by_its_jid_where_the_room_shows_it() {
        let said = |jid: &str| {
            let xml = format!(
                "<message xmlns='jabber:client' from='r@rooms.example.org/other' type='groupchat'>\
                 <body>hi</body><x xmlns='http://jabber.org/protocol/muc#user'>\
                 <item affiliation='none' role='participant' jid='{jid}'/></x></message>"
            );
            Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
        };
        let bot = BareJid::new("bot@example.org").unwrap();
        assert!(said_by(&said("bot@example.org/res"), &bot));
        assert!(!said_by(&said("carol@example.org/res"), &bot));
        assert!(
            !said_by(&said("not a jid@@"), &bot),
            "malformed: not the bot"
        );
        let plain =
            "<message xmlns='jabber:client' from='r@rooms.example.org/x' type='groupchat'/>";
        let plain = Message::try_from(plain.parse::<Element>().unwrap()).unwrap();
        assert!(!said_by(&plain, &bot));
    }
}
