//! The state the crate's modules share: the network's endpoints, channels and files behind one
//! lock ([`Shared`]), and one endpoint as its own session sees it ([`Port`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use chatty_core::driver::{self, Driver};
use chatty_core::reexports::async_channel;
use chatty_core::reexports::bytes::Bytes;
use chatty_core::session::InboundSink;
use chatty_core::{
    Address, AddressError, AddressKind, Capabilities, DeliveryStatus, Presence, Signal,
};
use rustc_hash::FxHashMap;

/// The platform name of direct addresses: `direct:alice`.
pub const PLATFORM: &str = "direct";

/// What every endpoint and channel of one network share.
pub(crate) struct Shared {
    pub(crate) name: String,
    /// Whether any endpoint carries less than everything (else capabilities need no lock).
    limited: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
pub(crate) struct State {
    // Looked up on every send, by names the network's own users chose: a fast hasher.
    pub(crate) endpoints: FxHashMap<String, Endpoint>,
    pub(crate) channels: FxHashMap<String, Channel>,
    pub(crate) files: HashMap<String, Bytes>,
}

pub(crate) struct Endpoint {
    /// Where the running bot listens; `None` while it is not running.
    pub(crate) sink: Option<InboundSink>,
    /// Signals that arrived while the bot was not running, in order.
    pub(crate) waiting: Vec<Waiting>,
    pub(crate) presence: Presence,
    pub(crate) capabilities: Capabilities,
}

/// A signal kept for an endpoint whose bot is not running.
pub(crate) struct Waiting {
    pub(crate) signal: Signal,
    /// The sending session's driver, told when the signal is delivered (gone if that session
    /// is).
    pub(crate) sender: Weak<Driver>,
}

#[derive(Default)]
pub(crate) struct Channel {
    /// Members by endpoint name, with their role.
    pub(crate) members: BTreeMap<String, Option<String>>,
}

/// What an address on this network names.
pub(crate) enum Target {
    Endpoint(String),
    Channel(String),
}

impl Shared {
    pub(crate) fn new(name: &str) -> Self {
        Shared {
            name: name.to_owned(),
            limited: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        driver::lock(&self.state)
    }

    /// Notes that some endpoint carries less than everything.
    pub(crate) fn set_limited(&self) {
        self.limited.store(true, Ordering::Release);
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

    /// What `address` names on this network, looked up in `state`.
    pub(crate) fn target_in(&self, state: &State, address: &Address) -> Option<Target> {
        if !self.owns(address) {
            return None;
        }
        let id = address.id();
        if state.endpoints.contains_key(id) {
            Some(Target::Endpoint(id.to_owned()))
        } else if state.channels.contains_key(id) {
            Some(Target::Channel(id.to_owned()))
        } else {
            None
        }
    }

    /// What `address` names on this network.
    pub(crate) fn target(&self, address: &Address) -> Option<Target> {
        self.target_in(&self.lock(), address)
    }

    /// What the endpoint at `address` can receive (everything, for anything else).
    pub(crate) fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        if !self.limited.load(Ordering::Acquire) {
            return Capabilities::all();
        }
        self.capabilities_in(&self.lock(), address)
    }

    fn capabilities_in(&self, state: &State, address: Option<&Address>) -> Capabilities {
        address
            .filter(|a| self.owns(a))
            .and_then(|a| state.endpoints.get(a.id()))
            .map_or(Capabilities::all(), |e| e.capabilities)
    }
}

impl State {
    /// Hands `signal` from the session whose driver is `sender` to the endpoint `name`: returns
    /// its running bot's sink to push to (outside the lock), or keeps the signal until that bot
    /// runs. Records the delivery status in the sender's table.
    pub(crate) fn hand_over(
        &mut self,
        name: &str,
        signal: Signal,
        sender: &Arc<Driver>,
    ) -> Option<(InboundSink, Signal)> {
        let endpoint = self.endpoints.get_mut(name)?;
        let id = signal.meta.id.clone();
        match &endpoint.sink {
            Some(sink) if !sink.is_closed() => {
                let sink = sink.clone();
                sender.deliveries().advance(&id, DeliveryStatus::Delivered);
                Some((sink, signal))
            }
            _ => {
                endpoint.waiting.push(Waiting {
                    signal,
                    sender: Arc::downgrade(sender),
                });
                sender.deliveries().advance(&id, DeliveryStatus::Sent);
                None
            }
        }
    }

    /// The members of channel `name` other than `except`.
    pub(crate) fn members(&self, name: &str, except: Option<&str>) -> Vec<String> {
        self.channels
            .get(name)
            .map(|c| {
                c.members
                    .keys()
                    .filter(|m| Some(m.as_str()) != except)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One endpoint as its own session sees it: the network, the endpoint's name and address, the
/// session's driver, and the signals the session delivers to its own bot.
pub(crate) struct Port {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: String,
    pub(crate) own: Address,
    /// Shared with the waiting signals this session sent, which report their delivery to it.
    pub(crate) driver: Arc<Driver>,
    /// Signals for this endpoint's own bot (the reflection of its own join or leave), pushed by
    /// `serve` rather than from inside the bot's `send`, which would wait on the bot's own
    /// queue.
    pub(crate) reflect: async_channel::Sender<Signal>,
    pub(crate) reflected: async_channel::Receiver<Signal>,
}

impl Port {
    pub(crate) fn new(shared: Arc<Shared>, name: &str, own: Address) -> Self {
        let (reflect, reflected) = async_channel::unbounded();
        Port {
            shared,
            name: name.to_owned(),
            own,
            driver: Arc::new(Driver::default()),
            reflect,
            reflected,
        }
    }
}
