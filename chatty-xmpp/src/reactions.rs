//! Message Reactions (XEP-0444): what the session remembers of them. A `<reactions id='…'>`
//! carries the sender's whole set of reactions to one message each time, while a Chatty
//! reaction is one key (`Message::reaction(of, key)`), withdrawn by a retraction of its id. So
//! the session keeps, per conversation and message, the bot's own current set (a reaction adds
//! to it, a withdrawal sends it without the key), and per sender and message the set it last
//! saw with the ids of the reaction signals it gave (a key gone is a retraction of that id).
//! Both are bounded: the oldest entries are forgotten first. Under a router with a journal,
//! both are kept as journal marks ([`Kept`]), so that after a restart a sender's set is still
//! compared with the one seen before (a key given before is not given again as new) and the
//! bot's own set still holds the reactions it sent before.

use chatty_core::driver::Recent;
use chatty_core::{Address, SignalId};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::reactions::{Reaction, Reactions as ReactionsElement};

use crate::kept::Kept;

/// How many (conversation or sender, message) sets each memory keeps.
const MEMORY: usize = 10_000;
/// How many keys of one sender's set for one message are taken (the rest are ignored).
pub(crate) const MAX_KEYS: usize = 64;
/// The longest key taken, in bytes: the longest emoji (a family of four with skin tones) is 41
/// bytes of UTF-8; longer keys are ignored, so that the memory stays small.
pub(crate) const MAX_KEY_BYTES: usize = 128;

/// Keys with the ids of the reaction signals that carried them, in the order they came.
type Set = Vec<(String, SignalId)>;

/// The reactions the session sent and saw lately.
#[derive(Debug)]
pub(crate) struct Reactions {
    /// The bot's own set, by conversation (the addressee's address) and message (the id the
    /// stanza names).
    sent: Kept<(String, String), Set>,
    /// The message each of the bot's reactions named, by conversation and reaction id (made
    /// from `sent` again after a restart).
    sent_ids: Recent<(String, SignalId), String>,
    /// Each sender's set as last seen, by sender and message (the id the stanza named).
    seen: Kept<(Address, String), Set>,
}

/// The marks of [`Reactions::sent`] begin with this.
const SENT_MARKS: &str = "reactions-sent";
/// The marks of [`Reactions::seen`] begin with this.
const SEEN_MARKS: &str = "reactions-seen";

impl Default for Reactions {
    fn default() -> Self {
        Reactions {
            sent: Kept::new(SENT_MARKS, MEMORY),
            sent_ids: Recent::new(MEMORY),
            seen: Kept::new(SEEN_MARKS, MEMORY),
        }
    }
}

/// What a sender's new set changed: the reaction signals it withdraws and the keys it adds, each with the id of the reaction signal that carries it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// For each key gone: the id of the retraction signal, and the id of the earlier reaction
    /// signal it withdraws.
    pub(crate) withdrawn: Vec<(SignalId, SignalId)>,
    /// The keys that are new, with the id of the signal for each.
    pub(crate) added: Vec<(String, SignalId)>,
}

/// The id of the `n`-th of `count` signals one stanza with the id `id` gives: the last has the
/// stanza's own id (a stanza adding one reaction, the usual case, gives a signal with its id),
/// the others `id#n`. The same each time the stanza is read with the same set before it.
fn nth_id(id: &SignalId, n: usize, count: usize) -> SignalId {
    if n + 1 == count {
        id.clone()
    } else {
        SignalId::from(format!("{id}#{}", n + 1))
    }
}

/// The keys of a `<reactions>` element: each once, empty ones and ones longer than
/// [`MAX_KEY_BYTES`] left out, at most [`MAX_KEYS`].
pub(crate) fn keys(element: &ReactionsElement) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for reaction in &element.reactions {
        let key = reaction.emoji.trim();
        let fits = !key.is_empty() && key.len() <= MAX_KEY_BYTES;
        if fits && !keys.iter().any(|k| k == key) && keys.len() < MAX_KEYS {
            keys.push(key.to_owned());
        }
    }
    keys
}

/// `<reactions id='TARGET' xmlns='urn:xmpp:reactions:0'>` with a `<reaction>` per key.
pub(crate) fn element(target: &str, keys: Vec<String>) -> Element {
    ReactionsElement {
        id: target.to_owned(),
        reactions: keys.into_iter().map(|emoji| Reaction { emoji }).collect(),
    }
    .into()
}

/// The changes from the set `old` to `keys` carried by the stanza `id`, and the set after.
fn diff(old: &[(String, SignalId)], keys: &[String], id: &SignalId) -> (Changes, Set) {
    let gone: Vec<&SignalId> = old
        .iter()
        .filter(|(key, _)| !keys.contains(key))
        .map(|(_, reaction)| reaction)
        .collect();
    let new: Vec<&String> = keys
        .iter()
        .filter(|key| !old.iter().any(|(k, _)| k == *key))
        .collect();
    let count = gone.len() + new.len();
    let withdrawn: Vec<(SignalId, SignalId)> = gone
        .into_iter()
        .enumerate()
        .map(|(n, reaction)| (nth_id(id, n, count), reaction.clone()))
        .collect();
    let offset = withdrawn.len();
    let added: Vec<(String, SignalId)> = new
        .into_iter()
        .enumerate()
        .map(|(n, key)| (key.clone(), nth_id(id, offset + n, count)))
        .collect();
    let after = keys
        .iter()
        .filter_map(|key| {
            old.iter()
                .chain(added.iter())
                .find(|(k, _)| k == key)
                .cloned()
        })
        .collect();
    (Changes { withdrawn, added }, after)
}

/// The distinct keys of a set, in order.
fn distinct_keys(set: &[(String, SignalId)]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (key, _) in set {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    keys
}

impl Reactions {
    /// The bot reacts with `key` (its signal `id`) to the message `target` in the conversation
    /// `to`: the bot's whole set for that message now, each key once.
    pub(crate) fn react(&mut self, to: &str, target: &str, key: &str, id: SignalId) -> Vec<String> {
        let slot = (to.to_owned(), target.to_owned());
        let mut set = self.sent.remove(&slot).unwrap_or_default();
        set.push((key.to_owned(), id.clone()));
        // A set grown past the limit loses its oldest keys (no client shows that many).
        while distinct_keys(&set).len() > MAX_KEYS {
            set.remove(0);
        }
        let keys = distinct_keys(&set);
        self.sent.insert(slot, set);
        self.sent_ids.insert((to.to_owned(), id), target.to_owned());
        keys
    }

    /// The bot withdraws its reaction `reaction` in the conversation `to`: the message it
    /// named and the set left (a key the bot sent twice stays until both are withdrawn);
    /// `None` if it is no reaction the bot sent there lately.
    pub(crate) fn withdraw(
        &mut self,
        to: &str,
        reaction: &SignalId,
    ) -> Option<(String, Vec<String>)> {
        let target = self.sent_ids.remove(&(to.to_owned(), reaction.clone()))?;
        let slot = (to.to_owned(), target.clone());
        let mut set = self.sent.remove(&slot).unwrap_or_default();
        set.retain(|(_, id)| id != reaction);
        let keys = distinct_keys(&set);
        if !set.is_empty() {
            self.sent.insert(slot, set);
        }
        Some((target, keys))
    }

    /// `from`'s set for the message `target` is now `keys` (the stanza `id` said so): what
    /// changed since the set last seen (none seen: all of it is new).
    pub(crate) fn received(
        &mut self,
        from: &Address,
        target: &str,
        keys: &[String],
        id: &SignalId,
    ) -> Changes {
        let slot = (from.clone(), target.to_owned());
        let old = self.seen.remove(&slot).unwrap_or_default();
        let (changes, after) = diff(&old, keys, id);
        if !after.is_empty() {
            self.seen.insert(slot, after);
        }
        changes
    }
}

/// Keeping the memory in the journal's marks.
impl Reactions {
    /// The names of the marks the memory is kept in.
    pub(crate) fn mark_names(&self) -> Vec<String> {
        self.sent
            .mark_names()
            .chain(self.seen.mark_names())
            .collect()
    }

    /// Fills the memory from its `marks` (name and value, as read from the journal after a
    /// restart). A mark that will not parse is left out, with why.
    pub(crate) fn restore(&mut self, marks: &[(String, String)]) -> Vec<String> {
        let mut errors = Vec::new();
        for (name, json) in marks {
            let restored = match self.sent.restore(name, json) {
                None => self.seen.restore(name, json),
                restored => restored,
            };
            if let Some(Err(e)) = restored {
                errors.push(format!(
                    "the journal mark {name} is not a reaction memory: {e}"
                ));
            }
        }
        for ((to, target), set) in self.sent.entries() {
            for (_, id) in set {
                self.sent_ids
                    .insert((to.clone(), id.clone()), target.clone());
            }
        }
        errors
    }

    /// The marks of what changed in the senders' sets since the last call, to keep once the
    /// signals of the change are handed on (never durable before them).
    pub(crate) fn take_seen_changes(&mut self) -> Vec<(String, String)> {
        self.seen.take_changed()
    }

    /// The marks of what changed in the bot's own sets since the last call.
    pub(crate) fn take_sent_changes(&mut self) -> Vec<(String, String)> {
        self.sent.take_changed()
    }
}

/// The changes a set `keys` (the stanza `id`) makes when nothing before it is known: every
/// key is new. For stanzas read out of order (a history query's answer), which must not
/// change what the session remembers.
pub(crate) fn all_new(keys: &[String], id: &SignalId) -> Changes {
    diff(&[], keys, id).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SignalId {
        SignalId::from(s)
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn the_bots_set_grows_with_each_reaction_and_shrinks_with_each_withdrawal() {
        let mut memory = Reactions::default();
        let alice = "xmpp:alice@example.org";
        assert_eq!(memory.react(alice, "m-1", "👍", id("r-1")), ["👍"]);
        assert_eq!(memory.react(alice, "m-1", "🎉", id("r-2")), ["👍", "🎉"]);
        assert_eq!(
            memory.react(alice, "m-2", "👀", id("r-3")),
            ["👀"],
            "another message"
        );
        assert_eq!(
            memory.react("xmpp:bob@example.org", "m-1", "❤", id("r-4")),
            ["❤"],
            "another conversation"
        );
        assert_eq!(
            memory.withdraw(alice, &id("r-1")),
            Some(("m-1".to_owned(), keys(&["🎉"])))
        );
        assert_eq!(
            memory.withdraw(alice, &id("r-1")),
            None,
            "withdrawn already"
        );
        assert_eq!(memory.withdraw("xmpp:bob@example.org", &id("r-2")), None);
        assert_eq!(memory.withdraw(alice, &id("plain-message")), None);
        assert_eq!(
            memory.withdraw(alice, &id("r-2")),
            Some(("m-1".to_owned(), Vec::new())),
            "the last one: an empty set"
        );
        // The same key twice stays until both are withdrawn.
        memory.react(alice, "m-3", "👍", id("r-5"));
        assert_eq!(memory.react(alice, "m-3", "👍", id("r-6")), ["👍"]);
        assert_eq!(memory.withdraw(alice, &id("r-5")).unwrap().1, ["👍"]);
        assert_eq!(
            memory.withdraw(alice, &id("r-6")).unwrap().1,
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_senders_new_set_is_compared_with_the_last_one() {
        let mut memory = Reactions::default();
        let carol: Address = "xmpp:carol@example.org".parse().unwrap();
        let first = memory.received(&carol, "m-1", &keys(&["👍"]), &id("s-1"));
        assert_eq!(first.added, [("👍".to_owned(), id("s-1"))]);
        assert!(first.withdrawn.is_empty());
        let same = memory.received(&carol, "m-1", &keys(&["👍"]), &id("s-2"));
        assert_eq!(same, Changes::default(), "nothing new");
        let more = memory.received(&carol, "m-1", &keys(&["👍", "🎉", "👀"]), &id("s-3"));
        assert_eq!(
            more.added,
            [("🎉".to_owned(), id("s-3#1")), ("👀".to_owned(), id("s-3"))]
        );
        let swap = memory.received(&carol, "m-1", &keys(&["👀", "❤"]), &id("s-4"));
        assert_eq!(
            swap.withdrawn,
            [(id("s-4#1"), id("s-1")), (id("s-4#2"), id("s-3#1"))]
        );
        assert_eq!(swap.added, [("❤".to_owned(), id("s-4"))]);
        let none = memory.received(&carol, "m-1", &[], &id("s-5"));
        assert_eq!(
            none.withdrawn,
            [(id("s-5#1"), id("s-3")), (id("s-5"), id("s-4"))]
        );
        assert!(none.added.is_empty());
        // Another sender's set for the same message is their own.
        let dave: Address = "xmpp:dave@example.org".parse().unwrap();
        let theirs = memory.received(&dave, "m-1", &keys(&["👍"]), &id("d-1"));
        assert_eq!(theirs.added, [("👍".to_owned(), id("d-1"))]);
        assert_eq!(all_new(&keys(&["a", "b"]), &id("h")).added.len(), 2);
    }

    #[test]
    fn the_memory_comes_back_from_its_marks_after_a_restart() {
        let mut before = Reactions::default();
        let carol: Address = "xmpp:carol@example.org".parse().unwrap();
        before.received(&carol, "m-1", &keys(&["👍", "🎉"]), &id("s-1"));
        let alice = "xmpp:alice@example.org";
        before.react(alice, "m-2", "🚀", id("r-1"));
        before.react(alice, "m-2", "👀", id("r-2"));
        let mut marks = before.take_seen_changes();
        assert_eq!(marks.len(), 1, "one sender's set: one bucket");
        marks.extend(before.take_sent_changes());
        assert_eq!(marks.len(), 2);
        assert!(before.take_seen_changes().is_empty());
        assert!(
            before
                .mark_names()
                .iter()
                .all(|n| n.starts_with("reactions-"))
        );

        let mut after = Reactions::default();
        let mut with_a_bad_one = marks.clone();
        with_a_bad_one.push(("reactions-seen:3".to_owned(), "{".to_owned()));
        with_a_bad_one.push(("mam".to_owned(), "not ours".to_owned()));
        let errors = after.restore(&with_a_bad_one);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("reactions-seen:3"));
        // The sender's set is the one seen before the restart: only the new key is new.
        let changes = after.received(&carol, "m-1", &keys(&["👍", "🎉", "❤"]), &id("s-2"));
        assert_eq!(changes.added, [("❤".to_owned(), id("s-2"))]);
        assert!(changes.withdrawn.is_empty());
        // The bot's set still holds its reactions, and each can be withdrawn by its id.
        assert_eq!(
            after.react(alice, "m-2", "✅", id("r-3")),
            ["🚀", "👀", "✅"]
        );
        assert_eq!(
            after.withdraw(alice, &id("r-1")),
            Some(("m-2".to_owned(), keys(&["👀", "✅"])))
        );
    }

    #[test]
    fn keys_are_distinct_non_empty_and_bounded() {
        let many = ReactionsElement {
            id: "m".into(),
            reactions: ["👍", "", " ", "👍", &"x".repeat(MAX_KEY_BYTES + 1), "🎉"]
                .into_iter()
                .map(|k| Reaction { emoji: k.into() })
                .chain((0..200).map(|n| Reaction {
                    emoji: n.to_string(),
                }))
                .collect(),
        };
        let got = super::keys(&many);
        assert_eq!(&got[..2], ["👍", "🎉"]);
        assert_eq!(got.len(), MAX_KEYS);
        let built = element("m-1", keys(&["👍", "🎉"]));
        assert!(built.is("reactions", "urn:xmpp:reactions:0"));
        assert_eq!(built.attr("id"), Some("m-1"));
        let texts: Vec<String> = built.children().map(Element::text).collect();
        assert_eq!(texts, ["👍", "🎉"]);
    }
}
