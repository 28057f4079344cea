//! What the session learns and keeps in memory: the login, the sync position, the rooms (their
//! members, which are direct chats, who types), the event IDs seen lately.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chatty_core::driver::{Recent, lock};
use chatty_core::{Address, AddressKind, Availability, SignalId};
use ruma::presence::PresenceState;

use crate::config::{MatrixConfig, PLATFORM};
use crate::http::Http;

/// How many event IDs the session remembers for dropping repeats.
const SEEN: usize = 4096;

/// The config, the HTTP client and what the session learnt.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: MatrixConfig,
    pub(crate) http: Http,
    /// A value of this process's own in its sync filter (see `connect::sync`).
    pub(crate) nonce: String,
    /// Asks the sync loop to drop its long poll and sync again at once (the bot's presence
    /// changed: a sync in flight would keep the account online).
    pub(crate) resync: tokio::sync::Notify,
    /// Held while a direct chat is opened, so that messages sent at the same moment to a person
    /// without one open one, not one each.
    pub(crate) opening: tokio::sync::Mutex<()>,
    live: Mutex<Live>,
}

/// The state of the account as the syncs told it.
pub(crate) struct Live {
    /// The access token, once logged in (kept in memory only).
    pub(crate) token: Option<String>,
    /// The bot's full user ID, once logged in.
    pub(crate) user_id: Option<String>,
    /// The `next_batch` of the last sync handled.
    pub(crate) since: Option<String>,
    /// Whether a sync loop is serving.
    pub(crate) connected: bool,
    /// The rooms the bot is in: their joined members.
    pub(crate) rooms: HashMap<String, BTreeSet<String>>,
    /// Direct chats: room → the other person (from `m.direct` or an `is_direct` invitation).
    pub(crate) direct: HashMap<String, String>,
    /// The direct chat each person wrote in last: person → room (a person may have several
    /// direct chats with the bot; an answer goes where they spoke).
    pub(crate) last_direct: HashMap<String, String>,
    /// Who types in each room, as the last `m.typing` said.
    pub(crate) typing: HashMap<String, BTreeSet<String>>,
    /// Event IDs given to the bot (or skipped as the past) lately.
    pub(crate) seen: Recent<String, ()>,
    /// The last event seen in each room's timeline, where a gap's back-fill stops.
    pub(crate) last_event: HashMap<String, String>,
    /// Events lately seen in a thread: event ID → the thread's root.
    pub(crate) threads: Recent<String, String>,
    /// Messages the bot sent lately: signal id → the rooms and event IDs it became (what an
    /// edit of it changes).
    pub(crate) sent: Recent<String, Vec<(String, String)>>,
    /// The bot's messages nobody has read yet, per room in the order sent: (event ID, signal
    /// id). A read receipt of another member on one of them marks it and those before it read.
    pub(crate) unread: HashMap<String, VecDeque<(String, SignalId)>>,
    /// The presence each person last had, as far as the syncs told (to give changes only).
    pub(crate) presence: HashMap<String, (Availability, Option<String>)>,
    /// The presence the bot set for itself, if it did: each sync keeps it (`set_presence`).
    pub(crate) own_presence: Option<PresenceState>,
}

impl std::fmt::Debug for Live {
    /// Never shows the access token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("logged_in", &self.token.is_some())
            .field("user_id", &self.user_id)
            .field("since", &self.since)
            .field("rooms", &self.rooms.len())
            .field("direct", &self.direct.len())
            .finish_non_exhaustive()
    }
}

/// How many of the bot's unread messages the session keeps per room (the oldest are dropped).
const UNREAD: usize = 1024;

impl Live {
    /// Notes that the bot's message `signal` became the event `event` of `room`.
    pub(crate) fn sent_unread(&mut self, room: &str, event: String, signal: SignalId) {
        let unread = self.unread.entry(room.to_owned()).or_default();
        if unread.len() == UNREAD {
            unread.pop_front();
        }
        unread.push_back((event, signal));
    }

    /// A read receipt of another member of `room` on `event`: the bot's messages it marks read
    /// (`event`, if the bot's, and the bot's messages sent before it there), no longer unread.
    /// A receipt on another event says nothing here.
    pub(crate) fn read_up_to(&mut self, room: &str, event: &str) -> Vec<SignalId> {
        let Some(unread) = self.unread.get_mut(room) else {
            return Vec::new();
        };
        match unread.iter().position(|(e, _)| e == event) {
            Some(at) => unread.drain(..=at).map(|(_, signal)| signal).collect(),
            None => Vec::new(),
        }
    }

    /// The room of the direct chat with `user`, if the bot has one: the one they wrote in
    /// last, else any.
    pub(crate) fn direct_room(&self, user: &str) -> Option<&str> {
        if let Some(room) = self.last_direct.get(user)
            && self.rooms.contains_key(room)
            && self.direct.get(room).map(String::as_str) == Some(user)
        {
            return Some(room);
        }
        self.direct
            .iter()
            .filter(|(room, _)| self.rooms.contains_key(room.as_str()))
            .find(|(_, other)| other.as_str() == user)
            .map(|(room, _)| room.as_str())
    }
}

impl Shared {
    /// The state of a session for `config`, not logged in.
    pub(crate) fn new(config: MatrixConfig, http: Http) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let nonce = format!("{:x}{:x}", now, std::process::id());
        Shared {
            config,
            http,
            nonce,
            resync: tokio::sync::Notify::new(),
            opening: tokio::sync::Mutex::new(()),
            live: Mutex::new(Live {
                token: None,
                user_id: None,
                since: None,
                connected: false,
                rooms: HashMap::new(),
                direct: HashMap::new(),
                last_direct: HashMap::new(),
                typing: HashMap::new(),
                seen: Recent::new(SEEN),
                last_event: HashMap::new(),
                threads: Recent::new(SEEN),
                sent: Recent::new(SEEN),
                unread: HashMap::new(),
                presence: HashMap::new(),
                own_presence: None,
            }),
        }
    }

    /// The live state, locked.
    pub(crate) fn live(&self) -> MutexGuard<'_, Live> {
        lock(&self.live)
    }

    /// The bot's own address, once logged in.
    pub(crate) fn own(&self) -> Option<Address> {
        let user = self.live().user_id.clone()?;
        self.person(&user)
    }

    /// The address of the user `user_id` (`matrix:@alice:example.org;kind=individual`).
    pub(crate) fn person(&self, user_id: &str) -> Option<Address> {
        self.address(user_id, AddressKind::Individual)
    }

    /// The address of the room `room_id` (`matrix:!abc;kind=channel`).
    pub(crate) fn room(&self, room_id: &str) -> Option<Address> {
        self.address(room_id, AddressKind::Channel)
    }

    fn address(&self, id: &str, kind: AddressKind) -> Option<Address> {
        let address = if self.config.name == PLATFORM {
            Address::new(PLATFORM, id)
        } else {
            Address::with_session(PLATFORM, &self.config.name, id)
        };
        address.ok().map(|a| a.with_kind(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Http;

    #[test]
    fn a_receipt_on_a_bots_message_marks_it_and_those_before_it_read_once() {
        let config = MatrixConfig::new("http://127.0.0.1:1", "bot", "pw");
        let shared = Shared::new(config.clone(), Http::new(&config).unwrap());
        let mut live = shared.live();
        for n in 1..=3 {
            live.sent_unread("!r", format!("$e{n}"), SignalId::from(format!("s{n}")));
        }
        live.sent_unread("!other", "$x".into(), SignalId::from("x"));
        assert!(live.read_up_to("!r", "$someone-elses").is_empty());
        assert!(
            live.read_up_to("!other", "$e2").is_empty(),
            "another room's event"
        );
        let read: Vec<String> = live
            .read_up_to("!r", "$e2")
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(read, ["s1", "s2"]);
        assert!(live.read_up_to("!r", "$e2").is_empty(), "read once");
        assert_eq!(live.read_up_to("!r", "$e3").len(), 1);
    }
}
