//! The network: the public face of one direct connection's endpoints and channels.

use std::fmt;
use std::sync::Arc;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{
    Address, AddressError, AddressKind, Availability, Capabilities, Presence, SignalId,
};

use crate::session::DirectSession;
use crate::state::{Endpoint, PLATFORM, Shared};

/// An in-process chat network: endpoints (one per bot or person) and channels, linked directly.
///
/// Each [`endpoint`](Network::endpoint) is a [`Session`](chatty_core::session::Session) serving one bot
/// with the address `direct:NAME` (or `direct+NETWORK:NAME` for a network made with
/// [`Network::named`]). Messages, files, status changes and user-defined signals go from one
/// endpoint to another, or to every member of a [`channel`](Network::channel), with the metadata
/// a real platform would give them. A signal for an endpoint whose bot is not running yet waits
/// for it, as a server keeps offline messages.
///
/// ```
/// use chatty_direct::Network;
///
/// let network = Network::new();
/// let alice = network.endpoint("alice");
/// let lobby = network.channel("lobby");
/// assert_eq!(alice.address().to_string(), "direct:alice;kind=individual");
/// assert_eq!(lobby.to_string(), "direct:lobby;kind=channel");
/// ```
#[derive(Clone)]
pub struct Network {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Network")
            .field("name", &self.shared.name)
            .field("endpoints", &state.endpoints.keys().collect::<Vec<_>>())
            .field("channels", &state.channels.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Network {
    fn default() -> Self {
        Network::new()
    }
}

impl Network {
    /// A network whose addresses are `direct:NAME`.
    pub fn new() -> Self {
        Network::named(PLATFORM)
    }

    /// A network whose addresses are `direct+NETWORK:NAME`, so that two networks serving one bot
    /// are told apart.
    ///
    /// # Panics
    /// If `network` is not a valid session name (letters, digits, `_`, `-`); see
    /// [`Network::try_named`] for names from a config file.
    pub fn named(network: &str) -> Self {
        Network::try_named(network)
            .unwrap_or_else(|e| panic!("invalid network name {network:?}: {e}"))
    }

    /// [`Network::named`], with an error for an invalid name instead of a panic.
    pub fn try_named(network: &str) -> Result<Self, AddressError> {
        if network != PLATFORM {
            Address::with_session(PLATFORM, network, "x")?;
        }
        Ok(Network {
            shared: Arc::new(Shared::new(network)),
        })
    }

    /// The session name of this network's endpoints.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The endpoint `name`, made on first use: a session for one bot, carrying everything.
    /// Each call gives a new session for the endpoint (a session runs once: a bot that comes
    /// back takes a new one; what was sent to the endpoint meanwhile waits for it).
    ///
    /// # Panics
    /// If `name` is not a valid address id (empty, or with white space); see
    /// [`Network::try_endpoint_with`] for names from a config file.
    pub fn endpoint(&self, name: &str) -> DirectSession {
        self.endpoint_with(name, Capabilities::all())
    }

    /// The endpoint `name`, able to receive only what `capabilities` allow: a bot's send of a
    /// signal for it that needs more is refused at once
    /// ([`SendError::Unsupported`](chatty_core::SendError::Unsupported)), for testing how a bot
    /// copes with a platform that cannot carry everything.
    ///
    /// # Panics
    /// If `name` is not a valid address id.
    pub fn endpoint_with(&self, name: &str, capabilities: Capabilities) -> DirectSession {
        self.try_endpoint_with(name, capabilities)
            .unwrap_or_else(|e| panic!("invalid endpoint name {name:?}: {e}"))
    }

    /// [`Network::endpoint_with`], with an error for an invalid name instead of a panic.
    pub fn try_endpoint_with(
        &self,
        name: &str,
        capabilities: Capabilities,
    ) -> Result<DirectSession, AddressError> {
        let address = self.shared.try_address(name, AddressKind::Individual)?;
        {
            let mut state = self.shared.lock();
            let endpoint = state
                .endpoints
                .entry(name.to_owned())
                .or_insert_with(|| Endpoint {
                    sink: None,
                    waiting: Vec::new(),
                    presence: Presence::new(Availability::Offline),
                    capabilities,
                });
            endpoint.capabilities = capabilities;
        }
        if capabilities != Capabilities::all() {
            self.shared.set_limited();
        }
        Ok(DirectSession::new(self.shared.clone(), name, address))
    }

    /// The channel `name`, made on first use. Endpoints join it by sending a status change
    /// `InRoom { present: true }`, or with [`Network::join`].
    ///
    /// # Panics
    /// If `name` is not a valid address id; see [`Network::try_channel`].
    pub fn channel(&self, name: &str) -> Address {
        self.try_channel(name)
            .unwrap_or_else(|e| panic!("invalid channel name {name:?}: {e}"))
    }

    /// [`Network::channel`], with an error for an invalid name instead of a panic.
    pub fn try_channel(&self, name: &str) -> Result<Address, AddressError> {
        let address = self.shared.try_address(name, AddressKind::Channel)?;
        self.shared
            .lock()
            .channels
            .entry(name.to_owned())
            .or_default();
        Ok(address)
    }

    /// Puts the endpoint `member` in the channel `channel` (made if need be), without telling
    /// anyone: for setting up a test.
    pub fn join(&self, channel: &str, member: &str) {
        self.channel(channel);
        let mut state = self.shared.lock();
        if let Some(c) = state.channels.get_mut(channel) {
            c.members.insert(member.to_owned(), None);
        }
    }

    /// The address of the endpoint `name`.
    pub fn address(&self, name: &str) -> Address {
        self.shared.address(name, AddressKind::Individual)
    }

    /// Publishes `data` at a `direct-file:` URL that any endpoint can fetch
    /// ([`Handle::download`](chatty_core::Handle::download), or a
    /// [`DownloadFile`](chatty_core::DownloadFile) signal).
    pub fn publish_file(&self, data: impl Into<Bytes>) -> String {
        let url = format!("direct-file:{}", SignalId::generate());
        self.shared.lock().files.insert(url.clone(), data.into());
        url
    }
}
