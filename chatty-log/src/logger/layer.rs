//! The [`Layer`] that wraps bots in a [`Logger`].

use std::sync::Arc;

use chatty_core::Layer;

use super::Logger;
use crate::config::LoggerConfig;
use crate::error::LogError;
use crate::store::{LogStore, StateStore};

/// Wraps bots in a [`Logger`] recording in one shared [`LogStore`].
///
/// ```
/// use chatty_core::{LayerExt, from_fn};
/// use chatty_log::{LoggerLayer, StateStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let layer = LoggerLayer::new(StateStore::in_memory().await?);
/// let bot = from_fn(|_signal, _handle| async { Ok(()) }).wrap(layer);
/// # let _ = bot;
/// # Ok::<(), chatty_log::LogError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct LoggerLayer {
    store: Arc<dyn LogStore>,
}

impl LoggerLayer {
    /// A layer recording in `store`.
    pub fn new(store: impl LogStore) -> Self {
        LoggerLayer::from_shared(Arc::new(store))
    }

    /// A layer recording in a store shared with others.
    pub const fn from_shared(store: Arc<dyn LogStore>) -> Self {
        LoggerLayer { store }
    }

    /// A layer recording in the SQLite database that `config` names, opened (and created if
    /// missing) now. See [`StateStore::open_with`] for the errors.
    pub async fn open(config: &LoggerConfig) -> Result<Self, LogError> {
        Ok(LoggerLayer::new(StateStore::open_with(config).await?))
    }

    /// The store this layer's loggers record in.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.store
    }
}

impl<B> Layer<B> for LoggerLayer {
    type Bot = Logger<B>;

    fn layer(&self, inner: B) -> Logger<B> {
        Logger::from_shared(inner, self.store.clone())
    }
}
