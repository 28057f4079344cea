//! A [`PlainClient`] in a multi-user chat room (XEP-0045) of the test server: joining, waiting
//! for someone to come in, and saying something whose archive id (XEP-0359, given by a room
//! whose archive is on) the tests then compare with the journal's room mark.

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Id, Lang, Message, MessageType};
use tokio_xmpp::parsers::muc::Muc;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

use crate::xmpp::{PlainClient, WAIT};

impl PlainClient {
    /// Joins `room` as `nick` (the room is made if it is the first to come in) and returns
    /// once the room has sent the client's own presence: it is in.
    ///
    /// # Panics
    /// If the room does not take it within 10 s.
    pub async fn join_room(&mut self, room: &str, nick: &str) {
        let own = format!("{room}/{nick}");
        let join = Presence::available()
            .with_to(Jid::new(&own).expect("a room JID and a nick"))
            .with_payloads(vec![Muc::new().into()]);
        self.send(join).await;
        self.presence_of(&own).await;
    }

    /// Waits until the room occupant `who` (`room@service/nick`) is seen available: someone
    /// (a bot, say) has come into the room.
    ///
    /// # Panics
    /// If no such presence comes within 10 s, or the stream ends.
    pub async fn presence_of(&mut self, who: &str) {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(stanza) = self.next().await {
                if let Stanza::Presence(p) = stanza
                    && p.type_ == PresenceType::None
                    && p.from.as_ref().is_some_and(|f| f.as_str() == who)
                {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(found == Ok(true), "no presence of {who} within {WAIT:?}");
    }

    /// Says `text` in `room` (the message's id: `id-<text>`) and returns the id the room's
    /// archive gave it, from the room's echo of it.
    ///
    /// # Panics
    /// If no echo comes within 10 s, or it carries no stanza id by the room (the room's
    /// archive is off).
    pub async fn say_in_room(&mut self, room: &str, text: &str) -> String {
        let mut message = Message::groupchat(Some(Jid::new(room).expect("a room JID")));
        message.id = Some(Id(format!("id-{text}")));
        message.bodies.insert(Lang::new(), text.to_owned());
        self.send(message).await;
        let echo = self
            .next_message(|m| {
                m.type_ == MessageType::Groupchat
                    && m.get_best_body(vec![]).is_some_and(|(_, b)| b == text)
            })
            .await;
        echo.payloads
            .iter()
            .find(|p| p.is("stanza-id", ns::SID) && p.attr("by") == Some(room))
            .and_then(|p| p.attr("id"))
            .expect("the room gives archive ids (its archive is on)")
            .to_owned()
    }
}
