//! The network's shared state: endpoints, channels, files and delivery statuses, behind one
//! lock; what [`Network`](crate::Network) and every [`DirectSession`](crate::DirectSession) of
//! it share.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{
    Address, AddressError, AddressKind, Capabilities, DeliveryStatus, InboundSink, Presence,
    Signal, SignalId,
};
use rustc_hash::FxHashMap;

/// The platform name of direct addresses: `direct:alice`.
pub const PLATFORM: &str = "direct";

/// How many delivery statuses a network remembers (the oldest are forgotten first).
pub const DELIVERY_MEMORY: usize = 100_000;

pub(crate) struct Shared {
    pub(crate) name: String,
    /// Whether any endpoint carries less than everything (else capabilities need no lock).
    pub(crate) limited: AtomicBool,
    pub(crate) state: Mutex<State>,
}

#[derive(Default)]
pub(crate) struct State {
    // Looked up on every send, by names the network's own users chose: a fast hasher.
    pub(crate) endpoints: FxHashMap<String, Endpoint>,
    pub(crate) channels: FxHashMap<String, Channel>,
    pub(crate) files: HashMap<String, Bytes>,
    /// The delivery status of the last [`DELIVERY_MEMORY`] signals, oldest first. Written on
    /// every send and read only by queries, so it is a ring searched from the newest end rather
    /// than a map that hashes every id.
    delivery: VecDeque<(SignalId, DeliveryStatus)>,
}

pub(crate) struct Endpoint {
    /// Where the running bot listens; `None` while it is not running.
    pub(crate) sink: Option<InboundSink>,
    /// Signals that arrived while the bot was not running, in order.
    pub(crate) waiting: Vec<Signal>,
    pub(crate) presence: Presence,
    pub(crate) capabilities: Capabilities,
}

#[derive(Default)]
pub(crate) struct Channel {
    /// Members by endpoint name, with their role.
    pub(crate) members: BTreeMap<String, Option<String>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held left plain data behind; the data is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_limited(&self) -> bool {
        self.limited.load(Ordering::Acquire)
    }

    /// The address of the endpoint or channel `id` on this network, if `id` is a valid id.
    pub(crate) fn try_address(&self, id: &str, kind: AddressKind) -> Result<Address, AddressError> {
        let session = (self.name != PLATFORM).then_some(self.name.as_str());
        let address = match session {
            Some(s) => Address::with_session(PLATFORM, s, id),
            None => Address::new(PLATFORM, id),
        };
        address.map(|a| a.with_kind(kind))
    }

    /// The address of an endpoint or channel whose name was checked when it was made.
    pub(crate) fn address(&self, id: &str, kind: AddressKind) -> Address {
        self.try_address(id, kind)
            .unwrap_or_else(|e| panic!("invalid direct name {id:?}: {e}"))
    }

    /// Whether `address` names something on this network.
    pub(crate) fn owns(&self, address: &Address) -> bool {
        address.platform() == PLATFORM
            && match address.session() {
                Some(s) => s == self.name,
                None => true,
            }
    }
}

impl State {
    /// Hands `signal` to the endpoint `name`: returns its running bot's sink to push to (outside
    /// the lock), or keeps the signal until that bot runs. Records the delivery status.
    pub(crate) fn hand_over(
        &mut self,
        name: &str,
        signal: Signal,
    ) -> Option<(InboundSink, Signal)> {
        let endpoint = self.endpoints.get_mut(name)?;
        let id = signal.meta.id.clone();
        match &endpoint.sink {
            Some(sink) if !sink.is_closed() => {
                let sink = sink.clone();
                self.record_delivery(id, DeliveryStatus::Delivered);
                Some((sink, signal))
            }
            _ => {
                endpoint.waiting.push(signal);
                self.record_delivery(id, DeliveryStatus::Sent);
                None
            }
        }
    }

    /// Records a new delivery status for `id`; a status never moves back.
    pub(crate) fn set_delivery(&mut self, id: &SignalId, status: DeliveryStatus) {
        if let Some((_, old)) = self.delivery.iter_mut().rev().find(|(i, _)| i == id) {
            if status.rank() > old.rank() {
                *old = status;
            }
            return;
        }
        self.record_delivery(id.clone(), status);
    }

    /// Records the first delivery status of a signal just handed over (no search needed: its id
    /// is new).
    fn record_delivery(&mut self, id: SignalId, status: DeliveryStatus) {
        if self.delivery.len() >= DELIVERY_MEMORY {
            self.delivery.pop_front();
        }
        self.delivery.push_back((id, status));
    }

    pub(crate) fn delivery(&self, id: &SignalId) -> DeliveryStatus {
        self.delivery
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map_or(DeliveryStatus::Unknown, |(_, s)| s.clone())
    }
}
