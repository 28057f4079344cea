//! What a bot keeps between signals and across restarts: values by key, in a store the runner
//! gives it (the journal's database, SQLite or PostgreSQL, when there is one; see
//! `chatty-log`), or in memory.
//!
//! [`KeyValueStore`] is what a storage crate implements: bytes by scope (the bot) and key.
//! [`State`] is what a bot uses: one scope, typed values (serde, stored as JSON).
//!
//! ```
//! use chatty_core::state::{MemoryStore, State};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let state = State::new(MemoryStore::new(), "support");
//! assert_eq!(state.get::<u32>("tickets/alice").await?, None);
//! state.put("tickets/alice", &3u32).await?;
//! assert_eq!(state.get::<u32>("tickets/alice").await?, Some(3));
//! assert_eq!(state.keys("tickets/").await?, vec!["tickets/alice".to_owned()]);
//! state.delete("tickets/alice").await?;
//! assert_eq!(state.get::<u32>("tickets/alice").await?, None);
//! # Ok::<(), chatty_core::state::StateError>(())
//! # }).unwrap();
//! ```

mod memory;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use memory::MemoryStore;

/// Why a value could not be read or kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The store failed (a database that cannot be written, a lost connection).
    #[error("the state store: {0}")]
    Store(String),
    /// The value stored under `key` is not what was asked for, or a value would not serialize.
    #[error("the state value `{key}`: {message}")]
    Value {
        /// The key.
        key: String,
        /// What serde said.
        message: String,
    },
}

/// A store of values by scope and key, kept until deleted: what a storage crate implements
/// (`chatty-log` in the journal's database) and the runner gives each bot, scoped by the bot's
/// name.
///
/// A write resolves once it is durable (as durable as the store's durability setting makes
/// it). Writes of one store are applied in the order they were made.
pub trait KeyValueStore: fmt::Debug + Send + Sync + 'static {
    /// The value of `key` in `scope`, if there is one.
    fn get<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>>;

    /// Sets the value of `key` in `scope`; resolves once durable.
    fn put<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StateError>>;

    /// Removes `key` from `scope` (nothing if it is not there); resolves once durable.
    fn delete<'a>(&'a self, scope: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>>;

    /// The keys of `scope` that start with `prefix`, in byte order.
    fn keys<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>>;

    /// Sets `key` in `scope` to `new` (`None`: removes it), only if its value is `expected`
    /// (`None`: there is none); true if it did. Atomic against every writer of the store,
    /// those of other processes sharing it included: of two swaps from the same `expected`,
    /// one succeeds. Resolves once durable. What a lease is made of: a timer that several
    /// workers sharing one database see is taken by one of them.
    fn swap<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<bool, StateError>>;
}

impl<S: KeyValueStore + ?Sized> KeyValueStore for Arc<S> {
    fn get<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        (**self).get(scope, key)
    }

    fn put<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StateError>> {
        (**self).put(scope, key, value)
    }

    fn delete<'a>(&'a self, scope: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        (**self).delete(scope, key)
    }

    fn keys<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        (**self).keys(scope, prefix)
    }

    fn swap<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        (**self).swap(scope, key, expected, new)
    }
}

/// One bot's values: a scope of a [`KeyValueStore`], with typed values (serde, kept as JSON).
/// Cheap to clone; clones share the store.
#[derive(Debug, Clone)]
pub struct State {
    store: Arc<dyn KeyValueStore>,
    scope: Arc<str>,
}

impl State {
    /// The scope `scope` (the bot's name, in the runner) of `store`.
    pub fn new(store: impl KeyValueStore, scope: impl Into<Arc<str>>) -> Self {
        State::shared(Arc::new(store), scope)
    }

    /// The scope `scope` of a shared store.
    pub fn shared(store: Arc<dyn KeyValueStore>, scope: impl Into<Arc<str>>) -> Self {
        State {
            store,
            scope: scope.into(),
        }
    }

    /// Values kept in memory only: gone when the process ends.
    pub fn in_memory(scope: impl Into<Arc<str>>) -> Self {
        State::new(MemoryStore::new(), scope)
    }

    /// The scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The value of `key`, if there is one.
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails, [`StateError::Value`] if the value kept is not
    /// a `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StateError> {
        let Some(bytes) = self.store.get(&self.scope, key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Value {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }

    /// Sets the value of `key`; returns once it is durable.
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails, [`StateError::Value`] if `value` does not
    /// serialize.
    pub async fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StateError::Value {
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        self.store.put(&self.scope, key, &bytes).await
    }

    /// Removes `key`; returns once that is durable.
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails.
    pub async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.store.delete(&self.scope, key).await
    }

    /// The keys that start with `prefix`, in byte order.
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        self.store.keys(&self.scope, prefix).await
    }

    /// The value of `key` as it is stored (JSON bytes), if there is one: what
    /// [`swap_bytes`](Self::swap_bytes) expects, whatever the type that wrote it.
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.store.get(&self.scope, key).await
    }

    /// [`swap`](Self::swap) from the bytes stored (as [`get_bytes`](Self::get_bytes) read
    /// them) to a new value: true if `key` still held `expected`.
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails, [`StateError::Value`] if `new` does not
    /// serialize.
    pub async fn swap_bytes<T: Serialize + ?Sized>(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&T>,
    ) -> Result<bool, StateError> {
        let new = new
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| StateError::Value {
                key: key.to_owned(),
                message: e.to_string(),
            })?;
        self.store
            .swap(&self.scope, key, expected, new.as_deref())
            .await
    }

    /// Sets `key` to `new` (`None`: removes it) only if its value is `expected` (`None`: there
    /// is none), as serialized: true if it did ([`KeyValueStore::swap`]). The values compare
    /// as the bytes of their JSON, so `expected` is best a value read back with
    /// [`get`](Self::get) of a type whose JSON has one form (no maps in a random order).
    ///
    /// ```
    /// use chatty_core::state::State;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let state = State::in_memory("desk");
    /// // Whoever swaps first from "nobody" has it.
    /// assert!(state.swap("lease", None, Some(&"worker-1")).await?);
    /// assert!(!state.swap("lease", None, Some(&"worker-2")).await?);
    /// assert!(state.swap("lease", Some(&"worker-1"), None::<&&str>).await?);
    /// # Ok::<(), chatty_core::state::StateError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`StateError::Store`] if the store fails, [`StateError::Value`] if a value does not
    /// serialize.
    pub async fn swap<T: Serialize + ?Sized>(
        &self,
        key: &str,
        expected: Option<&T>,
        new: Option<&T>,
    ) -> Result<bool, StateError> {
        let expected =
            expected
                .map(serde_json::to_vec)
                .transpose()
                .map_err(|e| StateError::Value {
                    key: key.to_owned(),
                    message: e.to_string(),
                })?;
        self.swap_bytes(key, expected.as_deref(), new).await
    }
}
