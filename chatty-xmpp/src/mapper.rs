//! The mapper between stanzas and signals: what it knows (the session's own address and name,
//! its run-time state, the ids it has seen) and what both directions share. The mapping itself
//! is in `inbound`, `presence`, `failure` and `outbound`. Pure functions: no network here.
//!
//! Inbound, anything malformed (a bad JID, an unparsable delay stamp, user-defined JSON that is
//! not JSON) becomes a [`Body::SystemError`](chatty_core::Body::SystemError) of component `xmpp`
//! for that one stanza; the signals around it are unaffected.

use std::sync::{Arc, Mutex, MutexGuard};

use chatty_core::driver::{Recent, lock};
use chatty_core::reexports::time::OffsetDateTime;
use chatty_core::{Address, AddressKind, Signal, SignalId, SystemError};
use tokio_xmpp::jid::BareJid;

use crate::address_id;
use crate::caps::PeerCaps;
use crate::choice::Questions;
use crate::config::ClientType;
use crate::config::PLATFORM;
use crate::reactions::Reactions;
use crate::rooms::State;

/// The component named in system errors.
const COMPONENT: &str = "xmpp";

/// A system error signal about one stanza.
pub(crate) fn system_error(message: impl Into<String>) -> Signal {
    Signal::new(SystemError::new(COMPONENT, message))
}

/// Converts an XEP-0082 time to a timestamp.
pub(crate) fn timestamp(stamp: &tokio_xmpp::parsers::date::DateTime) -> Option<OffsetDateTime> {
    let nanos = stamp.0.timestamp_nanos_opt()?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()
}

/// Knows the session's own address and name, and maps with them.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    /// The session name (`xmpp` unless several accounts serve a bot).
    name: String,
    /// The bot's own address: `xmpp:bare-jid;kind=individual`.
    own: Address,
    /// The account's bare JID (whose archive ids, `<stanza-id by=…>`, name messages that carry
    /// no id of their sender's).
    account: String,
    /// Rooms, contacts' presence, delivery statuses.
    state: Arc<Mutex<State>>,
    /// The nickname in rooms when none is configured: the account's local part.
    default_nick: String,
    /// What the contacts' clients can receive, and which of them are bots (XEP-0030, XEP-0115).
    peers: Arc<Mutex<PeerCaps>>,
    /// What the session's client says it is (its presence carries the matching caps).
    client_type: ClientType,
    /// Whether senders whose disco#info identity is `client/bot` are marked automatic.
    bots_by_identity: bool,
    /// The ids of recent inbound messages: one sent again after a lost stream is dropped.
    seen: Arc<Mutex<Recent<(Address, SignalId), ()>>>,
    /// The questions with options the bot asked lately, for the labels of their answers.
    questions: Arc<Mutex<Questions>>,
    /// The reactions (XEP-0444) the bot sent and saw lately.
    reactions: Arc<Mutex<Reactions>>,
}

/// How many recent inbound messages (by sender and id) are remembered to drop repeats.
const SEEN_MEMORY: usize = 10_000;

impl Mapper {
    pub(crate) fn new(name: &str, jid: &BareJid) -> Result<Self, String> {
        let mut mapper = Mapper {
            name: name.to_owned(),
            own: Address::new(PLATFORM, "placeholder").map_err(|e| e.to_string())?,
            account: jid.as_str().to_owned(),
            state: Arc::default(),
            seen: Arc::new(Mutex::new(Recent::new(SEEN_MEMORY))),
            questions: Arc::default(),
            reactions: Arc::default(),
            peers: Arc::default(),
            client_type: ClientType::default(),
            bots_by_identity: true,
            default_nick: jid
                .node()
                .map_or_else(|| "bot".to_owned(), |n| n.as_str().to_owned()),
        };
        mapper.own = mapper
            .address(jid.as_str(), AddressKind::Individual)
            .map_err(|e| e.to_string())?;
        Ok(mapper)
    }

    /// With the client type `client_type`.
    pub(crate) fn with_client_type(mut self, client_type: ClientType) -> Self {
        self.client_type = client_type;
        self
    }

    /// Whether senders whose disco#info identity is `client/bot` are marked automatic (the
    /// mapper alone marks them; the session turns it off unless its config turns it on).
    pub(crate) fn with_bots_by_identity(mut self, on: bool) -> Self {
        self.bots_by_identity = on;
        self
    }

    /// Whether senders whose disco#info identity is `client/bot` are marked automatic.
    pub(crate) fn bots_by_identity(&self) -> bool {
        self.bots_by_identity
    }

    /// What the session's client says it is.
    pub(crate) fn client_type(&self) -> ClientType {
        self.client_type
    }

    /// The bot's own address.
    pub(crate) fn own(&self) -> &Address {
        &self.own
    }

    /// The account's bare JID.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// The session's run-time state.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// What the peers' clients can receive and whether they are bots, locked.
    pub(crate) fn peers(&self) -> MutexGuard<'_, PeerCaps> {
        lock(&self.peers)
    }

    /// The same, to lock later (from a task of its own).
    pub(crate) fn shared_peers(&self) -> Arc<Mutex<PeerCaps>> {
        self.peers.clone()
    }

    /// Whether `from` is known to be a bot's client (its disco#info identity is `client/bot`).
    pub(crate) fn is_bot(&self, from: &tokio_xmpp::jid::Jid) -> bool {
        self.bots_by_identity
            && from.resource().is_some_and(|resource| {
                self.peers()
                    .is_bot(from.to_bare().as_str(), resource.as_str())
            })
    }

    /// The questions with options the bot asked lately, locked.
    pub(crate) fn questions(&self) -> MutexGuard<'_, Questions> {
        lock(&self.questions)
    }

    /// The reactions (XEP-0444) the bot sent and saw lately, locked.
    pub(crate) fn reactions(&self) -> MutexGuard<'_, Reactions> {
        lock(&self.reactions)
    }

    /// The nickname in rooms when none is given.
    pub(crate) fn default_nick(&self) -> &str {
        &self.default_nick
    }

    /// Whether a message from `key.0` with the id `key.1` was passed on already (a repeat).
    pub(crate) fn seen(&self, key: &(Address, SignalId)) -> bool {
        lock(&self.seen).contains(key)
    }

    /// Records that a message from `key.0` with the id `key.1` was passed on.
    pub(crate) fn remember(&self, key: (Address, SignalId)) {
        lock(&self.seen).insert(key, ());
    }

    /// An address on this session for the JID `jid` (what an address id cannot hold
    /// percent-encoded: see [`address_id`]).
    pub(crate) fn address(&self, jid: &str, kind: AddressKind) -> Result<Address, String> {
        let id = address_id::encode(jid);
        let address = if self.name == PLATFORM {
            Address::new(PLATFORM, &id)
        } else {
            Address::with_session(PLATFORM, &self.name, &id)
        };
        address
            .map(|a| a.with_kind(kind))
            .map_err(|e| format!("the JID {jid} is not an address: {e}"))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! What the mapping tests share.

    use tokio_xmpp::jid::BareJid;
    use tokio_xmpp::minidom::Element;
    use tokio_xmpp::parsers::message::Message;
    use tokio_xmpp::parsers::presence::Presence;

    use super::Mapper;
    use crate::rooms::OccupantPresence;

    /// The mapper of `bot@example.org`'s session.
    pub(crate) fn mapper() -> Mapper {
        Mapper::new("xmpp", &BareJid::new("bot@example.org").unwrap()).unwrap()
    }

    /// A message stanza from its XML.
    pub(crate) fn message(xml: &str) -> Message {
        Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    /// A presence stanza from its XML.
    pub(crate) fn presence(xml: &str) -> Presence {
        Presence::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    /// The mapper of `bot@example.org`'s session, in the room `r@rooms.example.org` as `bot`
    /// (the room has reflected its join).
    pub(crate) fn mapper_in_room() -> Mapper {
        let mapper = mapper();
        let room = BareJid::new("r@rooms.example.org").unwrap();
        mapper.state().want_room(room.clone(), "bot".into(), None);
        let own = OccupantPresence {
            present: true,
            role: None,
            own: true,
        };
        mapper.state().occupant(&room, "bot", &own);
        mapper
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::test_support::{mapper_in_room, message, presence};
    use chatty_core::{Body, Status, StatusChange};
    use tokio_xmpp::Stanza;

    /// Where the stanzas carrying `signal` go, and as what.
    fn sent_to(mapper: &Mapper, signal: &Signal) -> Vec<String> {
        mapper
            .outbound(signal)
            .unwrap()
            .iter()
            .map(|stanza| match stanza {
                Stanza::Message(m) => format!("{:?} {}", m.type_, m.to.as_ref().unwrap()),
                Stanza::Presence(p) => format!("presence {}", p.to.as_ref().unwrap()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn an_occupant_whose_nickname_has_a_space_is_an_address_both_ways() {
        let mapper = mapper_in_room();
        let room: Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
        let joined = mapper
            .inbound_presence(
                presence(
                    "<presence xmlns='jabber:client' from='r@rooms.example.org/John Smith'>\
                     <x xmlns='http://jabber.org/protocol/muc#user'>\
                     <item affiliation='none' role='participant'/></x></presence>",
                ),
                None,
            )
            .unwrap();
        assert!(
            matches!(
                &joined.body,
                Body::StatusChange(StatusChange {
                    status: Status::InRoom { present: true, .. },
                    ..
                })
            ),
            "{joined:?}"
        );
        assert_eq!(
            joined.meta.origin.unwrap().to_string(),
            "xmpp:r@rooms.example.org/John%20Smith;kind=individual"
        );
        let said = mapper
            .inbound_message(message(
                "<message xmlns='jabber:client' from='r@rooms.example.org/John Smith' \
                 type='groupchat' id='j-1'><body>hello</body></message>",
            ))
            .unwrap();
        assert!(
            matches!(&said.body, Body::Message(m) if m.text == "hello"),
            "{said:?}"
        );
        let john = said.meta.origin.clone().unwrap();
        assert_eq!(john.id(), "r@rooms.example.org/John%20Smith");
        // The reply goes to the room; a private message, typing and presence to John himself.
        let reply = said.reply(chatty_core::Message::text("hi"));
        assert_eq!(reply.meta.addressees, vec![room]);
        assert_eq!(sent_to(&mapper, &reply), ["Groupchat r@rooms.example.org"]);
        let private = Signal::message("psst").to(john.clone());
        assert_eq!(
            sent_to(&mapper, &private),
            ["Chat r@rooms.example.org/John Smith"]
        );
        let typing = Signal::new(StatusChange::new(Status::Typing {
            conversation: john.clone(),
            state: chatty_core::TypingState::Composing,
        }));
        assert_eq!(
            sent_to(&mapper, &typing),
            ["Chat r@rooms.example.org/John Smith"]
        );
        let away = Signal::new(StatusChange::new(Status::Presence {
            availability: chatty_core::Availability::Away,
        }))
        .to(john);
        assert_eq!(
            sent_to(&mapper, &away),
            ["presence r@rooms.example.org/John Smith"]
        );
    }

    #[test]
    fn a_resource_with_a_space_and_a_percent_sign_go_out_decoded() {
        let mapper = mapper_in_room();
        let laptop: Address = "xmpp:alice@example.org/Gajim%20laptop%2525"
            .parse()
            .unwrap();
        assert_eq!(
            sent_to(&mapper, &Signal::message("hi").to(laptop)),
            ["Chat alice@example.org/Gajim laptop%25"]
        );
        // An ordinary JID is as it always was.
        let alice: Address = "xmpp:alice@example.org/phone".parse().unwrap();
        assert_eq!(
            sent_to(&mapper, &Signal::message("hi").to(alice)),
            ["Chat alice@example.org/phone"]
        );
    }

    #[test]
    fn named_sessions_qualify_addresses() {
        let mapper = Mapper::new("work", &BareJid::new("bot@example.org").unwrap()).unwrap();
        assert_eq!(
            mapper.own().to_string(),
            "xmpp+work:bot@example.org;kind=individual"
        );
    }
}
