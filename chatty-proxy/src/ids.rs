//! The proxy's id table: which signal on the local side is which on the remote side.

use std::collections::{HashMap, VecDeque};

use chatty_core::{Address, SignalId};

/// One pair: a signal's id on the local side and on the remote side, and (for a forwarded
/// signal) the local party its answers go back to.
#[derive(Debug, Clone)]
struct Pair {
    local: SignalId,
    remote: SignalId,
    party: Option<Address>,
}

/// A bounded two-way table of id pairs; the oldest pairs are forgotten first.
#[derive(Debug)]
pub(crate) struct IdTable {
    capacity: usize,
    order: VecDeque<u64>,
    pairs: HashMap<u64, Pair>,
    by_local: HashMap<SignalId, u64>,
    by_remote: HashMap<SignalId, u64>,
    next: u64,
}

impl IdTable {
    /// A table keeping at most `capacity` pairs (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        IdTable {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            pairs: HashMap::new(),
            by_local: HashMap::new(),
            by_remote: HashMap::new(),
            next: 0,
        }
    }

    /// Remembers that `local` on the local side is `remote` on the remote side.
    pub(crate) fn pair(&mut self, local: SignalId, remote: SignalId, party: Option<Address>) {
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
            && let Some(old) = self.pairs.remove(&oldest)
        {
            if self.by_local.get(&old.local) == Some(&oldest) {
                self.by_local.remove(&old.local);
            }
            if self.by_remote.get(&old.remote) == Some(&oldest) {
                self.by_remote.remove(&old.remote);
            }
        }
        let key = self.next;
        self.next += 1;
        self.by_local.insert(local.clone(), key);
        self.by_remote.insert(remote.clone(), key);
        self.pairs.insert(
            key,
            Pair {
                local,
                remote,
                party,
            },
        );
        self.order.push_back(key);
    }

    /// The remote side's id for a local side's `id`; `id` itself when unknown.
    pub(crate) fn to_remote(&self, id: &SignalId) -> SignalId {
        self.by_local
            .get(id)
            .and_then(|key| self.pairs.get(key))
            .map_or_else(|| id.clone(), |pair| pair.remote.clone())
    }

    /// The local side's id for a remote side's `id`; `id` itself when unknown.
    pub(crate) fn to_local(&self, id: &SignalId) -> SignalId {
        self.by_local_of_remote(id).unwrap_or_else(|| id.clone())
    }

    fn by_local_of_remote(&self, id: &SignalId) -> Option<SignalId> {
        self.by_remote
            .get(id)
            .and_then(|key| self.pairs.get(key))
            .map(|pair| pair.local.clone())
    }

    /// The local side's id, and the local party (for a forwarded signal), of the remote side's
    /// `id`; `None` when unknown.
    pub(crate) fn by_remote(&self, id: &SignalId) -> Option<(SignalId, Option<Address>)> {
        self.by_remote
            .get(id)
            .and_then(|key| self.pairs.get(key))
            .map(|pair| (pair.local.clone(), pair.party.clone()))
    }

    /// How many pairs are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }
}
