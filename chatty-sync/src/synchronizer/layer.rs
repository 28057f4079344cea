//! The [`SynchronizerLayer`]: makes [`Synchronizer`]s.

use std::borrow::Cow;

use chatty_core::Layer;

use super::{DEFAULT_THREAD_NAME, Synchronizer};
use crate::channel::DEFAULT_CAPACITY;
use crate::sync_bot::SyncBot;

/// Wraps a synchronous bot ([`SyncBot`]) in a [`Synchronizer`], making it a
/// [`Bot`](chatty_core::Bot): `my_sync_bot.wrap(SynchronizerLayer::new())`.
///
/// Being a bot, the result can be wrapped by other decorators in turn (the logger, …):
/// `my_sync_bot.wrap(SynchronizerLayer::new()).wrap(other_layer)`. The synchronizer must be the
/// innermost layer, since only it takes a synchronous bot; an async bot does not go in:
///
/// ```compile_fail
/// use chatty_core::{LayerExt, from_fn};
/// use chatty_sync::SynchronizerLayer;
///
/// // `from_fn` makes an async `Bot`, not a `SyncBot`.
/// let bot = from_fn(|_signal, _handle| async { Ok(()) }).wrap(SynchronizerLayer::new());
/// ```
#[derive(Debug, Clone)]
pub struct SynchronizerLayer {
    capacity: usize,
    thread_name: Cow<'static, str>,
}

impl SynchronizerLayer {
    /// A layer with a queue of [`DEFAULT_CAPACITY`] signals and the thread name `chatty-sync`.
    pub const fn new() -> Self {
        SynchronizerLayer {
            capacity: DEFAULT_CAPACITY,
            thread_name: Cow::Borrowed(DEFAULT_THREAD_NAME),
        }
    }

    /// Sets how many inbound signals may wait for the synchronous bot (at least 1).
    #[must_use]
    pub const fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = if capacity == 0 { 1 } else { capacity };
        self
    }

    /// Sets the name of the thread the synchronous bot runs on.
    #[must_use]
    pub fn with_thread_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.thread_name = name.into();
        self
    }
}

impl Default for SynchronizerLayer {
    fn default() -> Self {
        SynchronizerLayer::new()
    }
}

impl<S: SyncBot> Layer<S> for SynchronizerLayer {
    type Bot = Synchronizer<S>;

    fn layer(&self, inner: S) -> Synchronizer<S> {
        Synchronizer::new(inner)
            .with_capacity(self.capacity)
            .with_thread_name(self.thread_name.clone())
    }
}
