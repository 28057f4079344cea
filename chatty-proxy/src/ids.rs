//! The proxy's id table: which signal on the local side is which on the remote side.

use chatty_core::driver::Recent;
use chatty_core::{Address, SignalId};

/// The other side's id of a signal, and (for a forwarded signal) the local party its answers go
/// back to.
type Other = (SignalId, Option<Address>);

/// A bounded two-way table of id pairs; the oldest pairs are forgotten first.
#[derive(Debug)]
pub(crate) struct IdTable {
    /// Local id → remote id.
    by_local: Recent<SignalId, Other>,
    /// Remote id → local id.
    by_remote: Recent<SignalId, Other>,
}

impl IdTable {
    /// A table keeping at most `capacity` pairs (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        IdTable {
            by_local: Recent::new(capacity),
            by_remote: Recent::new(capacity),
        }
    }

    /// Remembers that `local` on the local side is `remote` on the remote side; `party` is the
    /// local party of a forwarded signal (`None` for a relayed one).
    pub(crate) fn pair(&mut self, local: SignalId, remote: SignalId, party: Option<Address>) {
        self.by_local
            .insert(local.clone(), (remote.clone(), party.clone()));
        self.by_remote.insert(remote, (local, party));
    }

    /// The remote side's id for a local side's `id`; `id` itself when unknown.
    pub(crate) fn to_remote(&self, id: &SignalId) -> SignalId {
        self.by_local
            .get(id)
            .map_or_else(|| id.clone(), |(remote, _)| remote.clone())
    }

    /// The local side's id for a remote side's `id`; `id` itself when unknown.
    pub(crate) fn to_local(&self, id: &SignalId) -> SignalId {
        self.by_remote
            .get(id)
            .map_or_else(|| id.clone(), |(local, _)| local.clone())
    }

    /// The local side's id, and the local party (for a forwarded signal), of the remote side's
    /// `id`; `None` when unknown.
    pub(crate) fn by_remote(&self, id: &SignalId) -> Option<(SignalId, Option<Address>)> {
        self.by_remote.get(id).cloned()
    }

    /// The remote side's id of a relayed signal whose local copy is `id` (one the proxy sent
    /// to a local party); `None` when unknown or not relayed.
    pub(crate) fn relayed(&self, id: &SignalId) -> Option<SignalId> {
        match self.by_local.get(id) {
            Some((remote, None)) => Some(remote.clone()),
            _ => None,
        }
    }

    /// How many pairs are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_local.len().max(self.by_remote.len())
    }
}
