//! What each contact's clients can receive: learnt from their presence (XEP-0115) and
//! disco#info (XEP-0030), and used for the capabilities per address and receipt requests.

use chatty_core::driver::lock;
use chatty_core::{Address, AddressKind, Capabilities, Features, QueryError};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::caps::Caps;
use tokio_xmpp::parsers::disco::DiscoInfoQuery;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

use crate::address_id;
use crate::caps::{self, PeerCaps};
use crate::caps::{CAPABILITIES, ROOM_CAPABILITIES};
use crate::iq::DISCO_TIMEOUT;
use crate::ns::NS_RECEIPTS;
use crate::state::{Shared, disco_info};

impl Shared {
    /// The peers' capabilities, locked.
    pub(crate) fn peers(&self) -> std::sync::MutexGuard<'_, PeerCaps> {
        self.mapper.peers()
    }

    /// Keeps track of a contact's online resources and learns what a new client version can
    /// receive (in the background: the answer may take a while, or never come).
    pub(crate) fn track_presence(&self, presence: &Presence) {
        let Some(Ok(from)) = presence.from.clone().map(Jid::try_into_full) else {
            return;
        };
        // The bot's own resources, and occupants of its rooms, are not contacts. An occupant
        // who leaves is forgotten: its nickname may come back as someone else.
        if from.to_bare() == self.jid || self.mapper.state().room(&from.to_bare()).is_some() {
            if presence.type_ == PresenceType::Unavailable {
                self.peers().forget_sender(&from);
            }
            return;
        }
        let discover = match presence.type_ {
            PresenceType::None => {
                let caps = presence
                    .payloads
                    .iter()
                    .find(|p| p.is("c", ns::CAPS))
                    .and_then(|c| Caps::try_from(c.clone()).ok());
                self.peers().available(from, caps)
            }
            PresenceType::Unavailable => {
                self.peers().unavailable(&from);
                None
            }
            _ => None,
        };
        if let Some(discover) = discover {
            let (commands, peers) = (self.commands.clone(), self.mapper.shared_peers());
            tokio::spawn(async move {
                let to = Jid::from(discover.to.clone());
                match disco_info(&commands, to, discover.query, DISCO_TIMEOUT).await {
                    Ok(info) => {
                        lock(&peers).learned(&discover.to, discover.ver.as_deref(), info.as_ref())
                    }
                    // No answer yet: a query asks again when it needs to know.
                    Err(e) => tracing::debug!("{e}"),
                }
            });
        }
    }

    /// Asks the sender of a message what it is (disco#info, XEP-0030), once and in the
    /// background, when no presence of its tells: an answer with the identity `client/bot` marks
    /// what it sends from then on as a bot's ([`chatty_core::Automatic::Bot`]). Its first
    /// message goes on unmarked, since the answer comes after it.
    pub(crate) fn learn_sender(&self, message: &Message) {
        if message.type_ == MessageType::Error {
            return;
        }
        let Some(Ok(from)) = message.from.clone().map(Jid::try_into_full) else {
            return;
        };
        let bare = from.to_bare();
        let own_nick = self
            .mapper
            .state()
            .room(&bare)
            .is_some_and(|room| room.nick == from.resource().as_str());
        if bare == self.jid || bare.node().is_none() || own_nick {
            return;
        }
        if !self.mapper.bots_by_identity() || !self.peers().ask_sender(&from) {
            return;
        }
        let (commands, peers) = (self.commands.clone(), self.mapper.shared_peers());
        tokio::spawn(async move {
            let query = DiscoInfoQuery { node: None };
            let info = disco_info(&commands, from.clone().into(), query, DISCO_TIMEOUT).await;
            let info = info.unwrap_or_else(|e| {
                tracing::debug!("{e}");
                None
            });
            lock(&peers).learned_sender(&from, info.as_ref());
        });
    }

    /// What `address` can receive: a room's fixed set; for a person, what their online
    /// clients announce (asking those not known yet), or the static table when none is online.
    pub(crate) async fn peer_capabilities(
        &self,
        address: &Address,
    ) -> Result<Capabilities, QueryError> {
        if address.kind() == AddressKind::Channel {
            return Ok(ROOM_CAPABILITIES);
        }
        let jid = address_id::jid(address.id()).map_err(|e| QueryError::Failed {
            message: format!("{address} is not a JID: {e}"),
        })?;
        let bare = jid.to_bare();
        if self.mapper.state().room(&bare).is_some() {
            // Someone in a room the bot is in: a private message through the room.
            return Ok(CAPABILITIES);
        }
        let ask = match jid.clone().try_into_full() {
            Ok(full) if !self.peers().is_online(&full) => {
                // Not online as far as presence says (no subscription, say): ask it directly.
                let info = disco_info(
                    &self.commands,
                    jid,
                    DiscoInfoQuery { node: None },
                    DISCO_TIMEOUT,
                )
                .await
                .map_err(|message| QueryError::Failed { message })?;
                return Ok(info.map_or(CAPABILITIES, |i| caps::from_features(&i.features)));
            }
            Ok(full) => vec![full],
            Err(_) => self.peers().unknown(&bare),
        };
        let answers = futures::future::join_all(ask.into_iter().map(|full| async move {
            let query = DiscoInfoQuery { node: None };
            let info = disco_info(&self.commands, full.clone().into(), query, DISCO_TIMEOUT).await;
            (full, info)
        }))
        .await;
        {
            let mut peers = self.peers();
            for (full, info) in answers {
                // No answer (or a malformed one): the base of XMPP, until its presence changes.
                let info = info.unwrap_or_else(|e| {
                    tracing::debug!("{e}");
                    None
                });
                peers.learned(&full, None, info.as_ref());
            }
        }
        Ok(self.known_capabilities(address))
    }

    /// No receipt request to someone whose clients are known not to give receipts (XEP-0184
    /// §5.1); the delivery status of such a message stays `sent`. No data form (a question's,
    /// XEP-0004) to someone whose clients are known not to show forms: the numbered lines in the
    /// body are the question for them.
    pub(crate) fn drop_what_clients_ignore(&self, stanzas: &mut [Stanza]) {
        for stanza in stanzas {
            let Stanza::Message(message) = stanza else {
                continue;
            };
            let Some(to) = message.to.as_ref() else {
                continue;
            };
            let bare = to.to_bare();
            let known = self
                .peers()
                .capabilities(bare.as_str(), to.resource().map(|r| r.as_str()));
            let Some(known) = known else {
                continue;
            };
            if !known.features.contains(Features::DELIVERY_REPORTS) {
                message.payloads.retain(|p| !p.is("request", NS_RECEIPTS));
            }
            if !known.features.contains(Features::CHOICES) {
                message.payloads.retain(|p| !p.is("x", ns::DATA_FORMS));
            }
        }
    }

    /// What the session carries to `address` as far as it knows now, or to anyone (`None`).
    pub(crate) fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        match address {
            Some(address) => self.known_capabilities(address),
            None => CAPABILITIES,
        }
    }

    /// What is known of `address` now: learnt capabilities, or the static tables.
    pub(crate) fn known_capabilities(&self, address: &Address) -> Capabilities {
        if address.kind() == AddressKind::Channel {
            return ROOM_CAPABILITIES;
        }
        let Ok(jid) = address_id::jid(address.id()) else {
            return CAPABILITIES;
        };
        self.peers()
            .capabilities(jid.to_bare().as_str(), jid.resource().map(|r| r.as_str()))
            .unwrap_or(CAPABILITIES)
    }
}
