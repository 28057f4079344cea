//! Inbound reactions: `reaction_added` and `reaction_removed` (api.slack.com/events/
//! reaction_added: `user`, `reaction`, `item_user`, `item` with `type`, `channel`, `ts`,
//! `event_ts`). A reaction is `Message::reaction(of, key)`: `of` the id the session gives the
//! message reacted to, `key` the emoji where the name is a common one ([`crate::emoji`]), else
//! the name. Its id is made from the event alone ([`reaction_id`]), so that the removal, a
//! retraction, names it without memory.

use chatty_core::reexports::serde_json::Value;
use chatty_core::{AddressKind, Message, Metadata, Signal};

use crate::emoji;
use crate::ids::{Ids, reaction_id, ts_time};
use crate::mapper::Mapper;

/// Why a reaction event is not a signal.
#[derive(Debug, PartialEq)]
pub(crate) enum NotMapped {
    /// Nothing for the bot, with the reason.
    Skip(&'static str),
    /// Malformed: a system error for the bot.
    Malformed(String),
}

/// A non-empty string field.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Mapper {
    /// `reaction_added` (`added`) or `reaction_removed` as a signal: a reaction, or the
    /// retraction of one, from the person who reacted, addressed as their message in that
    /// conversation would be (to the bot in a DM, visible to the channel elsewhere). The bot's
    /// own reactions and reactions to files are not mapped.
    pub(crate) fn reaction(
        &self,
        added: bool,
        event: &Value,
        ids: &Ids,
    ) -> Result<Signal, NotMapped> {
        let kind = if added {
            "reaction_added"
        } else {
            "reaction_removed"
        };
        let (Some(user), Some(name)) = (field(event, "user"), field(event, "reaction")) else {
            return Err(NotMapped::Malformed(format!(
                "{kind} without user or reaction"
            )));
        };
        if self.is_bot(Some(user), None) {
            return Err(NotMapped::Skip("the bot's own reaction"));
        }
        let item = event.get("item").unwrap_or(&Value::Null);
        if field(item, "type").is_some_and(|t| t != "message") {
            return Err(NotMapped::Skip("a reaction to a file"));
        }
        let (Some(channel), Some(ts)) = (field(item, "channel"), field(item, "ts")) else {
            return Err(NotMapped::Malformed(format!(
                "{kind} without the item's channel or ts"
            )));
        };
        let (Some(origin), Some(conversation)) = (
            self.address(user, AddressKind::Individual),
            self.conversation(channel, None),
        ) else {
            return Err(NotMapped::Malformed(format!("{kind} with invalid ids")));
        };
        if name.contains('/') {
            return Err(NotMapped::Malformed(format!(
                "{kind} with an invalid emoji name"
            )));
        }
        let id = reaction_id(channel, ts, user, name);
        let (signal_id, body) = if added {
            (
                id,
                Message::reaction(ids.id_at(channel, ts), emoji::key_of(name)),
            )
        } else {
            let event_ts = field(event, "event_ts").unwrap_or_default();
            let removal = format!("{id}/removed/{event_ts}");
            (removal.into(), Message::retraction(id))
        };
        let mut signal = Signal {
            meta: Metadata::with_id(signal_id),
            body: body.into(),
        };
        signal.meta.origin = Some(origin);
        signal.meta.sent = field(event, "event_ts").and_then(ts_time);
        if conversation.kind() == AddressKind::Individual {
            signal.meta.addressees = vec![self.own().clone()];
        } else {
            signal.meta.visible_to = vec![conversation];
        }
        Ok(signal)
    }
}

#[cfg(test)]
mod tests {
    use chatty_core::reexports::serde_json::json;
    use chatty_core::{Body, EditKind};

    use super::*;
    use crate::ids::Place;

    fn mapper() -> Mapper {
        Mapper::new("slack", "T1", "UBOT", "B1").unwrap()
    }

    fn event(kind: &str, user: &str, channel: &str, name: &str) -> Value {
        json!({"type": kind, "user": user, "reaction": name, "item_user": "UBOT",
               "item": {"type": "message", "channel": channel, "ts": "1360782400.498405"},
               "event_ts": "1360782804.083113"})
    }

    #[test]
    fn a_reaction_names_the_message_and_its_removal_names_the_reaction() {
        let mut ids = Ids::default();
        ids.remember(
            "sent-by-us".into(),
            Place::new("D1", "1360782400.498405", None),
        );
        let added = mapper()
            .reaction(true, &event("reaction_added", "U2", "D1", "+1"), &ids)
            .unwrap();
        let Body::Message(m) = &added.body else {
            panic!("{added:?}")
        };
        assert!(m.is_reaction());
        assert_eq!(m.text, "👍");
        assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "sent-by-us");
        assert_eq!(
            added.meta.id.as_str(),
            "reaction/D1/1360782400.498405/U2/+1"
        );
        assert_eq!(added.meta.origin.as_ref().unwrap().id(), "T1/U2");
        assert_eq!(added.meta.addressees[0].id(), "T1/UBOT");
        let removed = mapper()
            .reaction(false, &event("reaction_removed", "U2", "D1", "+1"), &ids)
            .unwrap();
        let Body::Message(m) = &removed.body else {
            panic!("{removed:?}")
        };
        assert_eq!(m.edit.as_ref().unwrap().kind, EditKind::Retraction);
        assert_eq!(m.edit.as_ref().unwrap().of, added.meta.id);
        assert_ne!(removed.meta.id, added.meta.id);
        // In a channel: visible to it; a name the table lacks is the key; the message's id
        // is CHANNEL/TS when unknown.
        let channel = mapper()
            .reaction(
                true,
                &event("reaction_added", "U2", "C1", "partyparrot"),
                &ids,
            )
            .unwrap();
        let Body::Message(m) = &channel.body else {
            panic!("{channel:?}")
        };
        assert_eq!(m.text, "partyparrot");
        assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "C1/1360782400.498405");
        assert!(channel.meta.addressees.is_empty());
        assert_eq!(channel.meta.visible_to[0].id(), "T1/C1");
    }

    #[test]
    fn own_reactions_files_and_nonsense_are_not_reactions() {
        let ids = Ids::default();
        let m = mapper();
        let own = event("reaction_added", "UBOT", "D1", "+1");
        assert!(matches!(
            m.reaction(true, &own, &ids),
            Err(NotMapped::Skip(_))
        ));
        let mut file = event("reaction_added", "U2", "D1", "+1");
        file["item"] = json!({"type": "file", "file": "F1"});
        assert!(matches!(
            m.reaction(true, &file, &ids),
            Err(NotMapped::Skip(_))
        ));
        for bad in [
            json!({"type": "reaction_added"}),
            json!({"type": "reaction_added", "user": "U2", "reaction": "x", "item": 5}),
            event("reaction_added", "U 2", "D1", "+1"),
            event("reaction_added", "U2", "D1", "a/b"),
        ] {
            assert!(
                matches!(m.reaction(true, &bad, &ids), Err(NotMapped::Malformed(_))),
                "{bad}"
            );
        }
    }
}
