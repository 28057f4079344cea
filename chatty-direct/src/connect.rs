//! Connecting: the endpoint goes online on the network. There is no real connection to open:
//! the network is in this process.

use std::fmt;
use std::sync::Arc;

use chatty_core::driver::Failure;
use chatty_core::{Availability, ConnectionErrorKind};

use crate::state::{Port, Shared};

/// The endpoint online on its network, from `connect` until dropped (when `serve` ends, or the
/// driver drops the connection): then it is offline, and what is sent to it waits for it.
pub struct Attachment {
    shared: Arc<Shared>,
    name: String,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("endpoint", &self.name)
            .finish()
    }
}

/// Puts the endpoint of `port` online: present to others (its bot's sink is attached by
/// `serve`, once the bot has its `SessionStarted` and what waited for it).
pub(crate) fn connect(port: &Port) -> Result<Attachment, Failure> {
    let mut state = port.shared.lock();
    let Some(me) = state.endpoints.get_mut(&port.name) else {
        // Endpoints are never removed; this would be a bug.
        let cause = format!("no endpoint {} on this direct network", port.own);
        return Err(Failure::new(ConnectionErrorKind::Unreachable, cause).permanent());
    };
    if me.presence.availability == Availability::Offline {
        me.presence.availability = Availability::Available;
    }
    Ok(Attachment {
        shared: port.shared.clone(),
        name: port.name.clone(),
    })
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(me) = state.endpoints.get_mut(&self.name) {
            me.sink = None;
            me.presence.availability = Availability::Offline;
        }
    }
}
