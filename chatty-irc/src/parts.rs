//! What the session shares with its connection's tasks (the reader, the writer): the driver
//! and the session's state, apart from the [`IrcSession`](crate::IrcSession) that owns them.

use chatty_core::driver::Driver;

use crate::state::Shared;

/// The driver and the state of one session.
pub(crate) struct SessionParts {
    /// The session driver (deliveries, the inbound sink).
    pub(crate) driver: Driver,
    /// The config and what the session learnt.
    pub(crate) shared: Shared,
}
