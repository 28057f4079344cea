//! What every handler of one dispatcher shares.

use std::any::Any;
use std::sync::Arc;

use chatty_core::state::State;

use crate::keys::{KeyLocks, PeopleFn};
use crate::timers::Timers;

/// What every handler of one dispatcher shares.
pub(crate) struct Shared {
    /// The bot's settings ([`Dispatcher::settings`](crate::Dispatcher::settings)).
    pub(crate) settings: Option<Arc<dyn Any + Send + Sync>>,
    /// The bot's state.
    pub(crate) state: State,
    /// Locks for read-modify-write of one key.
    pub(crate) locks: KeyLocks,
    /// The timers.
    pub(crate) timers: Timers,
    /// Who the person of an address is ([`Dispatcher::people`](crate::Dispatcher::people)).
    pub(crate) people: Option<PeopleFn>,
}
