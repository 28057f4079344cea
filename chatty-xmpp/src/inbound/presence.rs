//! Inbound presence: a contact's availability, an occupant coming into or leaving a room.

use chatty_core::{
    AddressKind, Automatic, Availability, Metadata, Presence as PresenceStatus, Signal, SignalId,
    Status, StatusChange, now,
};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::delay::Delay;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Show, Type as PresenceType};

use crate::automatic;
use crate::mapper::{Mapper, system_error, timestamp};
use crate::rooms::occupant_presence;

impl Mapper {
    /// The signal for an inbound presence, if it carries one. `own` is the session's full JID:
    /// the server's echo of the bot's own presence is not reported.
    pub(crate) fn inbound_presence(&self, presence: Presence, own: Option<&Jid>) -> Option<Signal> {
        let Some(from) = presence.from.clone() else {
            return Some(system_error("a presence without a sender (no `from`)"));
        };
        if own == Some(&from) {
            return None;
        }
        let bare = from.to_bare();
        let in_room = self.state().room(&bare).is_some();
        if presence.type_ == PresenceType::Error {
            return self.presence_error(&presence, &from, in_room);
        }
        if in_room && let Some(nick) = from.resource() {
            return self.occupant_signal(&presence, &bare, nick.as_str(), &from);
        }
        let availability = match presence.type_ {
            PresenceType::None => match presence.show {
                None => Availability::Available,
                Some(Show::Chat) => Availability::Chatty,
                Some(Show::Away) => Availability::Away,
                Some(Show::Xa) => Availability::ExtendedAway,
                Some(Show::Dnd) => Availability::Busy,
            },
            PresenceType::Unavailable => Availability::Offline,
            other => {
                // Subscription requests and presence errors come with rosters, later.
                tracing::debug!(from = %from, "ignoring a presence of type {other:?}");
                return None;
            }
        };
        let origin = match self.address(from.to_bare().as_str(), AddressKind::Individual) {
            Ok(origin) => origin,
            Err(e) => return Some(system_error(e)),
        };
        let mut sent = None;
        for payload in &presence.payloads {
            if payload.is("delay", ns::DELAY) {
                match Delay::try_from(payload.clone()) {
                    Ok(delay) => sent = timestamp(&delay.stamp),
                    Err(e) => {
                        return Some(system_error(format!(
                            "a presence from {from} has a malformed delay: {e}"
                        )));
                    }
                }
            }
        }
        let mut change = StatusChange::new(Status::Presence { availability });
        change.message = presence
            .statuses
            .get("")
            .or_else(|| presence.statuses.values().next())
            .filter(|s| !s.is_empty())
            .cloned();
        let mut known = PresenceStatus::new(availability);
        known.message = change.message.clone();
        self.state().contact_presence(bare, known);
        let mut signal = match presence.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Signal {
                meta: Metadata::with_id(SignalId::from(id)),
                body: change.into(),
            },
            None => Signal::new(change),
        };
        signal.meta.sent = Some(sent.unwrap_or_else(now));
        signal.meta.origin = Some(origin);
        signal.meta.addressees = vec![self.own().clone()];
        signal.meta.automatic = automatic::of_presence(false, &from)
            .or_else(|| self.is_bot(&from).then_some(Automatic::Bot));
        Some(signal)
    }

    /// An occupant joining, changing or leaving a room the session is in: a "present in room"
    /// status change from `room@service/nick`, visible to the room.
    fn occupant_signal(
        &self,
        presence: &Presence,
        room: &BareJid,
        nick: &str,
        from: &Jid,
    ) -> Option<Signal> {
        let occupant = occupant_presence(presence)?;
        if !self.state().occupant(room, nick, &occupant) {
            return None;
        }
        let (origin, room_address) = match (
            self.address(from.as_str(), AddressKind::Individual),
            self.address(room.as_str(), AddressKind::Channel),
        ) {
            (Ok(origin), Ok(room)) => (origin, room),
            (Err(e), _) | (_, Err(e)) => return Some(system_error(e)),
        };
        let change = StatusChange::new(Status::InRoom {
            room: room_address.clone(),
            present: occupant.present,
            role: occupant.role,
        });
        let mut signal = Signal::new(change);
        signal.meta.sent = Some(now());
        signal.meta.origin = Some(origin);
        signal.meta.addressees = vec![self.own().clone()];
        signal.meta.visible_to = vec![room_address];
        signal.meta.automatic = self.is_bot(from).then_some(Automatic::Bot);
        Some(signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::test_support::mapper;
    use chatty_core::Body;
    use tokio_xmpp::minidom::Element;

    #[test]
    fn presence_maps_show_status_and_unavailable() {
        let mapper = mapper();
        let p = |xml: &str| Presence::try_from(xml.parse::<Element>().unwrap()).unwrap();
        let away = mapper
            .inbound_presence(
                p("<presence xmlns='jabber:client' from='a@example.org/x'>\
                   <show>dnd</show><status>busy busy</status></presence>"),
                None,
            )
            .unwrap();
        match away.body {
            Body::StatusChange(c) => {
                assert_eq!(
                    c.status,
                    Status::Presence {
                        availability: Availability::Busy
                    }
                );
                assert_eq!(c.message.as_deref(), Some("busy busy"));
            }
            other => panic!("{other:?}"),
        }
        let gone = mapper
            .inbound_presence(
                p("<presence xmlns='jabber:client' from='a@example.org/x' type='unavailable'/>"),
                None,
            )
            .unwrap();
        assert!(matches!(gone.body, Body::StatusChange(c)
            if c.status == Status::Presence { availability: Availability::Offline }));
        let own = Jid::new("bot@example.org/me").unwrap();
        assert!(
            mapper
                .inbound_presence(
                    p("<presence xmlns='jabber:client' from='bot@example.org/me'/>"),
                    Some(&own)
                )
                .is_none(),
            "the server's echo of the own presence"
        );
    }
}
