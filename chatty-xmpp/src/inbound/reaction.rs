//! Inbound reactions (XEP-0444): a `<reactions>` element (the sender's whole set for one
//! message) to a reaction signal per key newly in the set and a retraction of the earlier
//! reaction signal per key gone from it, compared with the set the session saw last from that
//! sender for that message.

use chatty_core::{Message as ChattyMessage, Metadata, Signal, SignalId};
use tokio_xmpp::parsers::reactions::Reactions;

use crate::mapper::Mapper;
use crate::reactions::{self, Changes};

impl Mapper {
    /// The signals of a `<reactions>` element in a message whose other metadata is `meta` (the
    /// stanza's id, origin, addressees). `in_room`: the message came from a room, whose ids
    /// (`stanza-id`) the element names messages by, which bots know by the ids they came with.
    /// `live`: compared with (and remembered as) the sender's set seen last; else (a history
    /// query's answer, read out of order) every key is a reaction and nothing is remembered.
    pub(crate) fn reaction_signals(
        &self,
        meta: &Metadata,
        in_room: bool,
        element: &Reactions,
        live: bool,
    ) -> Result<Vec<Signal>, String> {
        let origin = meta
            .origin
            .as_ref()
            .ok_or("reactions (XEP-0444) without a sender")?;
        if element.id.is_empty() {
            return Err(format!(
                "reactions (XEP-0444) from {origin} do not say which message they react to"
            ));
        }
        let named = element.id.as_str();
        let of = match in_room {
            true => self
                .state()
                .signal_of_room_id(named)
                .cloned()
                .unwrap_or_else(|| SignalId::from(named)),
            false => SignalId::from(named),
        };
        let keys = reactions::keys(element);
        let Changes { withdrawn, added } = match live {
            true => self.reactions().received(origin, named, &keys, &meta.id),
            false => reactions::all_new(&keys, &meta.id),
        };
        let signal = |id: SignalId, message: ChattyMessage| {
            let mut meta = meta.clone();
            meta.id = id;
            Signal {
                meta,
                body: message.into(),
            }
        };
        let withdrawals = withdrawn
            .into_iter()
            .map(|(id, reaction)| signal(id, ChattyMessage::retraction(reaction)));
        let reactions = added
            .into_iter()
            .map(|(key, id)| signal(id, ChattyMessage::reaction(of.clone(), key)));
        Ok(withdrawals.chain(reactions).collect())
    }
}
