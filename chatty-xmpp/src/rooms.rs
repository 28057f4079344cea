//! What the session knows while it runs: the multi-user rooms (XEP-0045) it is in or wants to
//! be in with their occupants and the ids they gave messages, and the presence of contacts.

use std::collections::{BTreeMap, HashMap};

use chatty_core::driver::Recent;
use chatty_core::{Availability, Presence as Status, Revealed, SignalId};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::muc::Muc;
use tokio_xmpp::parsers::muc::muc::History;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

/// How many room-assigned message ids are remembered, for retractions in rooms.
const ROOM_ID_MEMORY: usize = 10_000;

/// An occupant of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occupant {
    /// Its role (`moderator`, `participant`, `visitor`).
    pub(crate) role: Option<String>,
}

/// A room the session is in, or is joining.
#[derive(Debug, Clone)]
pub(crate) struct Room {
    /// The bot's nickname in it.
    pub(crate) nick: String,
    /// The room's password, if it has one (`Debug` hides it).
    pub(crate) password: Option<Revealed>,
    /// Whether the server confirmed the join (self-presence, status 110).
    pub(crate) joined: bool,
    /// Who is in it, by nickname (the bot included once joined).
    pub(crate) occupants: BTreeMap<String, Occupant>,
}

/// An occupant's presence in a room, parsed from a MUC presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OccupantPresence {
    /// Present (joined) or not (left).
    pub(crate) present: bool,
    /// The role, where the room says.
    pub(crate) role: Option<String>,
    /// Whether it is the bot's own presence (status code 110).
    pub(crate) own: bool,
}

/// The session's run-time state, shared by `send`, `query` and the connection task.
#[derive(Debug)]
pub(crate) struct State {
    rooms: HashMap<BareJid, Room>,
    presences: HashMap<BareJid, Status>,
    /// Room messages' ids as the room assigned them (XEP-0359 `stanza-id`), to the signal ids
    /// bots know them by, and back: a retraction in a room names the room's id (XEP-0424).
    room_ids: Recent<String, SignalId>,
    signal_room_ids: Recent<SignalId, String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            rooms: HashMap::new(),
            presences: HashMap::new(),
            room_ids: Recent::new(ROOM_ID_MEMORY),
            signal_room_ids: Recent::new(ROOM_ID_MEMORY),
        }
    }
}

impl State {
    /// Wants to be in `room` as `nick`; `true` if that is new.
    pub(crate) fn want_room(
        &mut self,
        room: BareJid,
        nick: String,
        password: Option<Revealed>,
    ) -> bool {
        let new = !self.rooms.contains_key(&room);
        self.rooms.entry(room).or_insert(Room {
            nick,
            password,
            joined: false,
            occupants: BTreeMap::new(),
        });
        new
    }

    /// Leaves `room`: the nickname it had, if it was there.
    pub(crate) fn leave_room(&mut self, room: &BareJid) -> Option<String> {
        self.rooms.remove(room).map(|r| r.nick)
    }

    /// The room, if the session is in it or joining it.
    pub(crate) fn room(&self, room: &BareJid) -> Option<&Room> {
        self.rooms.get(room)
    }

    /// The join presences for every room (on a new stream: the server forgot them), with the
    /// occupants forgotten until the rooms send them again.
    pub(crate) fn rejoin_all(&mut self) -> Vec<Presence> {
        self.rooms
            .iter_mut()
            .map(|(jid, room)| {
                room.joined = false;
                room.occupants.clear();
                join_presence(
                    jid,
                    &room.nick,
                    room.password.as_ref().map(Revealed::expose),
                    None,
                )
            })
            .collect()
    }

    /// Records an occupant's presence; returns whether it changed anything a bot would see.
    pub(crate) fn occupant(
        &mut self,
        room: &BareJid,
        nick: &str,
        presence: &OccupantPresence,
    ) -> bool {
        let Some(state) = self.rooms.get_mut(room) else {
            return false;
        };
        if presence.own {
            state.joined = presence.present;
        }
        if presence.present {
            let occupant = Occupant {
                role: presence.role.clone(),
            };
            state.occupants.insert(nick.to_owned(), occupant.clone()) != Some(occupant)
        } else {
            state.occupants.remove(nick).is_some() || presence.own
        }
    }

    /// Records a contact's presence.
    pub(crate) fn contact_presence(&mut self, jid: BareJid, status: Status) {
        self.presences.insert(jid, status);
    }

    /// A contact's last known presence (offline when none was seen).
    pub(crate) fn presence_of(&self, jid: &BareJid) -> Status {
        self.presences
            .get(jid)
            .cloned()
            .unwrap_or(Status::new(Availability::Offline))
    }

    /// Records that a room gave the message known as `signal` the id `room_id`.
    pub(crate) fn room_message_id(&mut self, room_id: String, signal: SignalId) {
        if self.room_ids.contains(&room_id) {
            return;
        }
        // Both maps forget their oldest entries in the same order.
        self.signal_room_ids.insert(signal.clone(), room_id.clone());
        self.room_ids.insert(room_id, signal);
    }

    /// The id a room gave the message known as `signal`, if the session saw it.
    pub(crate) fn room_id_of(&self, signal: &SignalId) -> Option<&str> {
        self.signal_room_ids.get(signal).map(String::as_str)
    }

    /// The signal id of the room message the room knows as `room_id`, if the session saw it.
    pub(crate) fn signal_of_room_id(&self, room_id: &str) -> Option<&SignalId> {
        self.room_ids.get(room_id)
    }
}

/// The presence that joins `room` as `nick`, asking for no history (a bot must not answer what
/// was said before it came).
pub(crate) fn join_presence(
    room: &BareJid,
    nick: &str,
    password: Option<&str>,
    id: Option<String>,
) -> Presence {
    let to: tokio_xmpp::jid::Jid = room
        .with_resource_str(nick)
        .map(Into::into)
        .unwrap_or_else(|_| room.clone().into());
    let mut muc = Muc::new();
    muc.password = password.map(str::to_owned);
    let mut history = History::new();
    history.maxstanzas = Some(0);
    muc.history = Some(history);
    let mut presence = Presence::available()
        .with_to(to)
        .with_payloads(vec![muc.into()]);
    presence.id = id;
    presence
}

/// The presence that leaves `room` (nickname `nick`).
pub(crate) fn leave_presence(room: &BareJid, nick: &str, id: Option<String>) -> Presence {
    let to: tokio_xmpp::jid::Jid = room
        .with_resource_str(nick)
        .map(Into::into)
        .unwrap_or_else(|_| room.clone().into());
    let mut presence = Presence::unavailable().with_to(to);
    presence.id = id;
    presence
}

/// The MUC part of a presence (`<x xmlns='http://jabber.org/protocol/muc#user'>`), if any.
pub(crate) fn occupant_presence(presence: &Presence) -> Option<OccupantPresence> {
    let x: &Element = presence.payloads.iter().find(|p| p.is("x", ns::MUC_USER))?;
    let item = x.children().find(|c| c.is("item", ns::MUC_USER));
    let role = item
        .and_then(|i| i.attr("role"))
        .filter(|r| !r.is_empty() && *r != "none")
        .map(str::to_owned);
    let own = x
        .children()
        .filter(|c| c.is("status", ns::MUC_USER))
        .any(|c| c.attr("code") == Some("110"));
    let present = presence.type_ == tokio_xmpp::parsers::presence::Type::None;
    Some(OccupantPresence { present, role, own })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> BareJid {
        BareJid::new(s).unwrap()
    }

    #[test]
    fn occupants_come_and_go_and_rejoining_forgets_them() {
        let mut state = State::default();
        let room = jid("room@rooms.example.org");
        assert!(state.want_room(room.clone(), "bot".into(), None));
        assert!(!state.want_room(room.clone(), "other".into(), None));
        let here = OccupantPresence {
            present: true,
            role: Some("participant".into()),
            own: false,
        };
        assert!(state.occupant(&room, "alice", &here));
        assert!(!state.occupant(&room, "alice", &here), "no change");
        let own = OccupantPresence {
            own: true,
            ..here.clone()
        };
        state.occupant(&room, "bot", &own);
        assert!(state.room(&room).unwrap().joined);
        assert_eq!(state.room(&room).unwrap().occupants.len(), 2);
        let gone = OccupantPresence {
            present: false,
            role: None,
            own: false,
        };
        assert!(state.occupant(&room, "alice", &gone));
        let joins = state.rejoin_all();
        assert_eq!(joins.len(), 1);
        assert!(!state.room(&room).unwrap().joined);
        assert!(state.room(&room).unwrap().occupants.is_empty());
        assert_eq!(state.leave_room(&room).as_deref(), Some("bot"));
    }

    #[test]
    fn join_presence_asks_for_no_history() {
        let presence = join_presence(&jid("room@rooms.example.org"), "bot", Some("pw"), None);
        let xml = String::from(&Element::from(presence));
        assert!(xml.contains("maxstanzas='0'"), "{xml}");
        assert!(xml.contains("room@rooms.example.org/bot"), "{xml}");
        assert!(xml.contains("<password>pw</password>"), "{xml}");
    }

    #[test]
    fn a_room_password_is_sent_on_rejoin_and_never_shown() {
        let mut state = State::default();
        let room = jid("room@rooms.example.org");
        let password = chatty_core::Secret::inline("s3cret-room").reveal().unwrap();
        state.want_room(room.clone(), "bot".into(), Some(password));
        let debug = format!("{:?}", state.rooms);
        assert!(!debug.contains("s3cret-room"), "{debug}");
        let joins = state.rejoin_all();
        let xml = String::from(&Element::from(joins.into_iter().next().unwrap()));
        assert!(xml.contains("<password>s3cret-room</password>"), "{xml}");
    }
}
