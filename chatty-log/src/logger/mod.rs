//! Middleware that records every signal in and out of a bot, and answers history and
//! delivery-status queries from the record.

use std::sync::Arc;

use crate::store::LogStore;

mod inbound;
mod layer;
mod outlet;
mod recorder;
mod service;

pub use layer::LoggerLayer;

/// A bot wrapped so that everything it receives and sends is recorded in a [`LogStore`].
///
/// See the [crate documentation](crate) for what it records and which queries it answers.
/// Usually made by [`LoggerLayer`]: `bot.wrap(LoggerLayer::new(store))`.
#[derive(Debug, Clone)]
pub struct Logger<B> {
    inner: B,
    store: Arc<dyn LogStore>,
}

impl<B> Logger<B> {
    /// Wraps `inner`, recording in `store`.
    pub fn new(inner: B, store: impl LogStore) -> Self {
        Logger::from_shared(inner, Arc::new(store))
    }

    /// Wraps `inner`, recording in a store shared with others.
    pub fn from_shared(inner: B, store: Arc<dyn LogStore>) -> Self {
        Logger { inner, store }
    }

    /// The wrapped bot.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The wrapped bot, mutably.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// Unwraps the bot.
    pub fn into_inner(self) -> B {
        self.inner
    }

    /// The store this logger records in.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.store
    }
}
