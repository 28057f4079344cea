//! The msgids a reaction can name (see [`react`](crate::react)): the messages given to the bot
//! (their signal id is their msgid) and the bot's own messages, by the bot's signal id, from
//! their echoes.

use std::collections::{HashMap, VecDeque};

use chatty_core::SignalId;

/// How many ids [`MsgIds`] remembers: the oldest are forgotten first.
const REMEMBERED: usize = 10_000;

/// The msgids a reaction can name: a signal id (a message given to the bot, whose id is its
/// msgid; or a message of the bot, echoed) to its msgid; and the bot's messages whose echo is
/// still to come.
#[derive(Debug, Default)]
pub(crate) struct MsgIds {
    known: HashMap<String, String>,
    order: VecDeque<String>,
    pending: HashMap<String, ()>,
}

impl MsgIds {
    /// Notes that the message `id` has the msgid `msgid` (the oldest forgotten past the limit).
    fn remember(&mut self, id: &str, msgid: &str) {
        if self.known.insert(id.to_owned(), msgid.to_owned()).is_none() {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
    }

    /// A message with this `msgid` was given to the bot.
    pub(crate) fn seen(&mut self, msgid: &str) {
        self.remember(msgid, msgid);
    }

    /// A message of the bot (`id`) was queued whose echo will bring its msgid.
    pub(crate) fn queued(&mut self, id: &SignalId) {
        if self.pending.len() >= REMEMBERED {
            self.pending.clear();
        }
        self.pending.insert(id.as_str().to_owned(), ());
    }

    /// The echo of the bot's message `id` came, with its `msgid` (none: the server gives none).
    pub(crate) fn echoed(&mut self, id: &SignalId, msgid: Option<&str>) {
        self.pending.remove(id.as_str());
        if let Some(msgid) = msgid.filter(|m| !m.is_empty()) {
            self.remember(id.as_str(), msgid);
        }
    }

    /// The echo of the bot's message `id` will not come (the connection was lost).
    pub(crate) fn unechoed(&mut self, id: &SignalId) {
        self.pending.remove(id.as_str());
    }

    /// The msgid of the message `id`, if known.
    pub(crate) fn msgid(&self, id: &str) -> Option<&str> {
        self.known.get(id).map(String::as_str)
    }

    /// Whether the echo of the bot's message `id` is still to come.
    pub(crate) fn is_pending(&self, id: &str) -> bool {
        self.pending.contains_key(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgids_known_from_messages_given_and_echoes_are_remembered_boundedly() {
        let mut ids = MsgIds::default();
        ids.seen("m1");
        assert_eq!(ids.msgid("m1"), Some("m1"));
        let own = SignalId::from("sig");
        ids.queued(&own);
        assert!(ids.is_pending("sig") && ids.msgid("sig").is_none());
        ids.echoed(&own, Some("m2"));
        assert!(!ids.is_pending("sig"));
        assert_eq!(ids.msgid("sig"), Some("m2"));
        let lost = SignalId::from("lost");
        ids.queued(&lost);
        ids.unechoed(&lost);
        assert!(!ids.is_pending("lost"));
        for n in 0..REMEMBERED {
            ids.seen(&format!("x{n}"));
        }
        assert_eq!(ids.msgid("m1"), None, "the oldest is forgotten");
        assert_eq!(ids.known.len(), REMEMBERED);
    }
}
