//! [`Recent`]: a map that remembers the last N entries (ids seen, threads, deliveries).

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::num::NonZeroUsize;

use foldhash::fast::RandomState;
use lru::LruCache;

/// A map that keeps at most `capacity` entries, forgetting the oldest-written first: what a
/// session remembers of what it saw lately (ids for deduplication, thread roots, delivery
/// statuses), bounded so that a long-running session never grows without end.
///
/// Reading does not make an entry younger; writing it again does.
///
/// ```
/// use chatty_core::driver::Recent;
///
/// let mut seen = Recent::new(2);
/// assert!(seen.first_time("a"));
/// assert!(!seen.first_time("a"));
/// seen.insert("b", ());
/// seen.insert("c", ());
/// assert!(!seen.contains("a"), "the oldest went first");
/// assert_eq!(seen.len(), 2);
/// ```
pub struct Recent<K: Hash + Eq, V> {
    entries: LruCache<K, V, RandomState>,
}

impl<K: Hash + Eq, V> Recent<K, V> {
    /// An empty map keeping at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        // foldhash: a fast hasher, randomly seeded per process (SipHash cost a third of the
        // direct connection's throughput). Grown as filled, never allocated for all at once:
        // many small sessions remember little.
        let mut entries = LruCache::unbounded_with_hasher(RandomState::default());
        entries.resize(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN));
        Recent { entries }
    }

    /// Writes `value` under `key`, the youngest entry now; returns the value it replaced. The
    /// oldest entry goes when the map is full.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.entries.put(key, value)
    }

    /// The value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.peek(key)
    }

    /// The value under `key`, to change in place (it does not become younger).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.peek_mut(key)
    }

    /// Whether `key` is remembered.
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.contains(key)
    }

    /// Forgets `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.pop(key)
    }

    /// How many entries are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, youngest first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<K: Hash + Eq> Recent<K, ()> {
    /// Remembers `key`; whether it is new (for dropping repeats by id).
    pub fn first_time(&mut self, key: K) -> bool {
        if self.entries.contains(&key) {
            return false;
        }
        self.entries.put(key, ());
        true
    }
}

impl<K: Hash + Eq, V> fmt::Debug for Recent<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recent")
            .field("len", &self.entries.len())
            .field("capacity", &self.entries.cap())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_written_goes_first_and_reading_does_not_rejuvenate() {
        let mut recent = Recent::new(3);
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
            recent.insert(k, v);
        }
        assert_eq!(recent.get("a"), Some(&1));
        recent.insert("d", 4);
        assert!(!recent.contains("a"), "read but still the oldest");
        recent.insert("b", 20);
        recent.insert("e", 5);
        assert!(recent.contains("b"), "written again: young");
        assert!(!recent.contains("c"));
        *recent.get_mut("d").unwrap() += 1;
        assert_eq!(recent.get("d"), Some(&5));
        assert_eq!(recent.remove("d"), Some(5));
        assert_eq!(recent.len(), 2);
    }

    #[test]
    fn a_zero_capacity_keeps_one() {
        let mut recent = Recent::new(0);
        assert!(recent.first_time(1));
        assert!(recent.first_time(2));
        assert_eq!(recent.len(), 1);
        assert!(!recent.first_time(2));
    }
}
