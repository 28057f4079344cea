//! [`Kept`]: a bounded memory of the session's that survives a restart of the process, kept as
//! journal marks.
//!
//! What a session remembers of the platform's state (a sender's reactions to a message, the
//! bot's own) must outlive the process where the journal does: after a restart, a set compared
//! with an empty memory would give again, as new, what the bot was given before. The memory is
//! split into [`BUCKETS`] buckets by a stable hash of the key; each bucket is a [`Recent`] map
//! and one journal mark (`KIND:N`, its entries as JSON, oldest first), written again whenever
//! the bucket changes. A change thus writes one small mark, not the whole memory, and a
//! restart reads [`BUCKETS`] marks. A mark holds at most [`MARK_BYTES`] (the youngest entries
//! that fit), so that what a sender can make the session write per stanza stays small however
//! long the keys and ids they send.
//!
//! No crate keeps a bounded map in a key-value store this way; the part written here is the
//! bucket choice (FNV-1a, 64 bits, fixed across versions and processes) and the JSON of a
//! bucket.

use std::collections::BTreeSet;
use std::hash::Hash;

use chatty_core::driver::Recent;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many buckets, and so marks, a memory is split into.
pub(crate) const BUCKETS: usize = 256;

/// The most a bucket's mark holds, in bytes of JSON: its youngest entries that fit. An entry
/// of usual size (a sender, a message id, a few keys with their signals' ids) is about 150
/// bytes, so a full bucket fits; a larger entry, which only someone sending very long ids or
/// keys makes, may be kept in memory only.
pub(crate) const MARK_BYTES: usize = 16 * 1024;

/// A bounded memory in [`BUCKETS`] buckets, each kept as a journal mark.
#[derive(Debug)]
pub(crate) struct Kept<K: Hash + Eq, V> {
    /// The marks' names begin with this and a colon.
    kind: &'static str,
    buckets: Vec<Recent<K, V>>,
    /// The buckets changed since [`take_changed`](Kept::take_changed) last gave them.
    changed: BTreeSet<usize>,
}

impl<K, V> Kept<K, V>
where
    K: Hash + Eq + Clone + Serialize + DeserializeOwned,
    V: Clone + Serialize + DeserializeOwned,
{
    /// An empty memory of about `capacity` entries (each bucket keeps its share), kept as the
    /// marks `kind:0` to `kind:255`.
    pub(crate) fn new(kind: &'static str, capacity: usize) -> Self {
        let share = capacity.div_ceil(BUCKETS).max(1);
        Kept {
            kind,
            buckets: (0..BUCKETS).map(|_| Recent::new(share)).collect(),
            changed: BTreeSet::new(),
        }
    }

    /// The value under `key`.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.buckets[bucket(key)].get(key)
    }

    /// Writes `value` under `key` (the youngest entry of its bucket now).
    pub(crate) fn insert(&mut self, key: K, value: V) {
        let at = bucket(&key);
        self.buckets[at].insert(key, value);
        self.changed.insert(at);
    }

    /// Forgets `key`; returns its value.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let at = bucket(key);
        let value = self.buckets[at].remove(key)?;
        self.changed.insert(at);
        Some(value)
    }

    /// Every entry, bucket by bucket, each bucket's oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.iter().flat_map(oldest_first)
    }

    /// The name of each bucket's mark.
    pub(crate) fn mark_names(&self) -> impl Iterator<Item = String> + '_ {
        (0..BUCKETS).map(|at| self.mark_name(at))
    }

    /// The name of bucket `at`'s mark: `KIND:AT`.
    fn mark_name(&self, at: usize) -> String {
        format!("{}:{at}", self.kind)
    }

    /// The marks of the buckets changed since the last call (name, JSON), to write in the
    /// journal; they count as written from now on.
    pub(crate) fn take_changed(&mut self) -> Vec<(String, String)> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .into_iter()
            .map(|at| (self.mark_name(at), mark(&self.buckets[at])))
            .collect()
    }

    /// Fills a bucket from its mark, `name` and `json` (as [`take_changed`](Kept::take_changed)
    /// wrote it); the bucket does not count as changed. `None` if `name` is not one of this
    /// memory's marks. An entry kept in another bucket than its key's (a mark edited by hand)
    /// is dropped.
    pub(crate) fn restore(
        &mut self,
        name: &str,
        json: &str,
    ) -> Option<Result<(), serde_json::Error>> {
        let at: usize = name
            .strip_prefix(self.kind)?
            .strip_prefix(':')?
            .parse()
            .ok()?;
        let recent = self.buckets.get_mut(at)?;
        let entries: Vec<(K, V)> = match serde_json::from_str(json) {
            Ok(entries) => entries,
            Err(e) => return Some(Err(e)),
        };
        for (key, value) in entries {
            if bucket(&key) == at {
                recent.insert(key, value);
            }
        }
        Some(Ok(()))
    }
}

/// A bucket's mark: a JSON array of its youngest entries that fit in [`MARK_BYTES`], oldest
/// first (the order to write them in again).
fn mark<K: Hash + Eq + Serialize, V: Serialize>(recent: &Recent<K, V>) -> String {
    let mut kept: Vec<String> = Vec::new();
    // The brackets, and a comma between two entries.
    let mut size = 2;
    for entry in recent.iter() {
        // Keys and values are strings and lists of them: they always serialize.
        let Ok(json) = serde_json::to_string(&entry) else {
            continue;
        };
        let grown = size + json.len() + usize::from(!kept.is_empty());
        if grown > MARK_BYTES {
            // Older entries are left out too: what is kept is the youngest, in order.
            break;
        }
        size = grown;
        kept.push(json);
    }
    kept.reverse();
    format!("[{}]", kept.join(","))
}

/// A bucket's entries, oldest first (the order to write them in again).
fn oldest_first<K: Hash + Eq, V>(recent: &Recent<K, V>) -> impl Iterator<Item = (&K, &V)> {
    let youngest_first: Vec<(&K, &V)> = recent.iter().collect();
    youngest_first.into_iter().rev()
}

/// The bucket of `key`: FNV-1a (64 bits) of its JSON, the same in every process and version.
fn bucket<K: Serialize>(key: &K) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let json = serde_json::to_vec(key).unwrap_or_default();
    let hash = json.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    });
    // The remainder is below BUCKETS, which fits any usize.
    (hash % BUCKETS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    type Memory = Kept<(String, String), Vec<String>>;

    fn key(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn a_memory_written_as_marks_is_the_same_once_restored() {
        let mut memory = Memory::new("test", 1_000);
        for n in 0..200 {
            memory.insert(key("alice", &format!("m-{n}")), vec![n.to_string()]);
        }
        memory.remove(&key("alice", "m-7"));
        let marks = memory.take_changed();
        assert!(marks.len() > 100, "200 keys spread over the buckets");
        assert!(marks.iter().all(|(name, _)| name.starts_with("test:")));
        assert!(memory.take_changed().is_empty(), "nothing changed since");

        let mut restored = Memory::new("test", 1_000);
        let names: Vec<String> = restored.mark_names().collect();
        assert_eq!(names.len(), BUCKETS);
        for (name, json) in &marks {
            assert!(names.contains(name));
            restored.restore(name, json).unwrap().unwrap();
        }
        assert!(restored.take_changed().is_empty(), "restoring is no change");
        for n in 0..200 {
            let wanted = (n != 7).then(|| vec![n.to_string()]);
            assert_eq!(
                restored.get(&key("alice", &format!("m-{n}"))),
                wanted.as_ref()
            );
        }
        assert_eq!(restored.entries().count(), 199);
    }

    #[test]
    fn a_bucket_forgets_its_oldest_and_keeps_them_in_order() {
        // One entry per bucket: the second key of a bucket pushes the first out.
        let mut memory = Memory::new("test", BUCKETS);
        let first = key("bob", "a");
        let at = bucket(&first);
        let second = (0..)
            .map(|n| key("bob", &n.to_string()))
            .find(|k| bucket(k) == at && *k != first)
            .unwrap();
        memory.insert(first.clone(), vec!["1".into()]);
        memory.insert(second.clone(), vec!["2".into()]);
        assert_eq!(memory.get(&first), None);
        let marks = memory.take_changed();
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].0, format!("test:{at}"));
        assert!(
            !marks[0].1.contains("\"a\""),
            "the forgotten entry is not kept"
        );
    }

    #[test]
    fn a_mark_holds_the_youngest_entries_that_fit() {
        let mut memory = Memory::new("test", BUCKETS * 100);
        let first = key("dave", "m-0");
        let at = bucket(&first);
        let same_bucket: Vec<(String, String)> = (0..)
            .map(|n| key("dave", &format!("m-{n}")))
            .filter(|k| bucket(k) == at)
            .take(20)
            .collect();
        // Twenty entries of a little over 2 000 bytes each: the youngest eight fit in 16 KB.
        let long = vec!["k".repeat(2_000)];
        for k in &same_bucket {
            memory.insert(k.clone(), long.clone());
        }
        let marks = memory.take_changed();
        assert_eq!(marks.len(), 1);
        let json = &marks[0].1;
        assert!(json.len() <= MARK_BYTES, "{} bytes", json.len());
        let mut restored = Memory::new("test", BUCKETS * 100);
        restored
            .restore(&format!("test:{at}"), json)
            .unwrap()
            .unwrap();
        let kept: Vec<&(String, String)> = same_bucket
            .iter()
            .filter(|k| restored.get(k).is_some())
            .collect();
        assert_eq!(kept.len(), 8);
        assert_eq!(
            kept,
            same_bucket[12..].iter().collect::<Vec<_>>(),
            "the youngest"
        );
        // An entry larger than a mark is kept in memory only.
        memory.insert(first.clone(), vec!["k".repeat(MARK_BYTES)]);
        let marks = memory.take_changed();
        assert_eq!(marks[0].1, "[]");
        assert!(memory.get(&first).is_some());
    }

    #[test]
    fn the_bucket_of_a_key_never_changes() {
        // Fixed by FNV-1a of the key's JSON (Python: 64-bit FNV-1a of
        // `["xmpp:alice@example.org","m-1"]`, modulo 256): a restart, or a new version, finds
        // each entry where it was kept.
        assert_eq!(bucket(&key("xmpp:alice@example.org", "m-1")), 215);
    }

    #[test]
    fn a_malformed_mark_is_an_error_and_an_entry_in_the_wrong_bucket_is_dropped() {
        let mut memory = Memory::new("test", 100);
        assert!(memory.restore("test:0", "not json").unwrap().is_err());
        assert!(memory.restore("test:0", "{\"a\": 1}").unwrap().is_err());
        for other in [
            "mam",
            "other:0",
            "test:",
            "test:x",
            &format!("test:{BUCKETS}"),
        ] {
            assert!(memory.restore(other, "[]").is_none(), "{other}");
        }
        let stray = key("carol", "m-1");
        let wrong = (bucket(&stray) + 1) % BUCKETS;
        let json = serde_json::to_string(&[(&stray, vec!["x"])]).unwrap();
        memory
            .restore(&format!("test:{wrong}"), &json)
            .unwrap()
            .unwrap();
        assert_eq!(memory.get(&stray), None);
        let right = format!("test:{}", bucket(&stray));
        memory.restore(&right, &json).unwrap().unwrap();
        assert_eq!(memory.get(&stray), Some(&vec!["x".to_owned()]));
    }
}
