//! [`KeyValues`]: the bots' values (chatty-core's [`KeyValueStore`]) in a state database
//! (SQLite or PostgreSQL), written by group commit with the journal and the Logger.

use chatty_core::state::{KeyValueStore, StateError};
use futures::future::BoxFuture;

use crate::db::StateDb;
use crate::db::ops::{Op, Reply};

/// A [`KeyValueStore`] in a state database (an SQLite file or a PostgreSQL schema, see
/// [`StateDb`]): the bots' values, by scope (the bot) and key, in the table `bot_state`, kept
/// across restarts. Made by [`StateDb::key_values`]; cheap to clone, clones share the database.
///
/// Its writes go through its [`StateDb`]'s one writer, by group commit, in one order with the
/// journal's and the Logger's (a write is queued when its method is called, so even a future
/// never polled is written): [`put`](KeyValueStore::put) and [`delete`](KeyValueStore::delete)
/// resolve once their batch is committed, and a write made after another is never durable
/// without it. [`get`](KeyValueStore::get) and [`keys`](KeyValueStore::keys) first wait for the
/// writes queued before them, then read what is committed: a read sees every write made before
/// it.
///
/// [`swap`](KeyValueStore::swap) is decided in the writer's transaction, which holds
/// SQLite's write lock (or, on PostgreSQL, waits for another writer's change of the same row
/// and checks what it committed): of several processes sharing the database, one swap from a
/// value wins.
///
/// [`keys`](KeyValueStore::keys) lists in byte order (UTF-8's, which is the code points'), on
/// both backends; the prefix is matched as it is (`%` and `_` are not patterns).
///
/// Errors are [`StateError::Store`], with a message naming the database (as
/// [`LogError`](crate::LogError)'s do).
///
/// ```
/// use chatty_core::state::{KeyValueStore, State};
/// use chatty_log::StateDb;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = StateDb::in_memory().await?;
/// let values = db.key_values();
/// values.put("support", "tickets/alice", b"3").await?;
/// assert_eq!(values.get("support", "tickets/alice").await?, Some(b"3".to_vec()));
/// assert_eq!(values.keys("support", "tickets/").await?, ["tickets/alice"]);
/// assert_eq!(values.get("sales", "tickets/alice").await?, None);
///
/// // What a bot uses: one scope, typed values.
/// let state = State::new(values, "sales");
/// state.put("quota", &12u32).await?;
/// assert_eq!(state.get::<u32>("quota").await?, Some(12));
/// db.close().await;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct KeyValues {
    db: StateDb,
}

impl KeyValues {
    /// The database it is in.
    pub fn db(&self) -> &StateDb {
        &self.db
    }

    /// Queues the op `op` makes with its reply and waits for its commit.
    fn queued<T: Send + 'static>(
        &self,
        op: impl FnOnce(Reply<T>) -> Op,
    ) -> BoxFuture<'static, Result<T, StateError>> {
        let waiting = self.db.queue(op);
        Box::pin(async move { Ok(waiting.await?) })
    }

    /// Queues a write of `value` (`None`: a delete) and waits for its commit.
    fn write(
        &self,
        scope: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> BoxFuture<'static, Result<(), StateError>> {
        self.queued(|reply| Op::PutValue {
            scope: scope.to_owned(),
            key: key.to_owned(),
            value: value.map(<[u8]>::to_vec),
            reply,
        })
    }
}

/// The bots' side of a [`StateDb`]: made here, beside [`KeyValues`].
impl StateDb {
    /// The bots' values in this database ([`KeyValues`], a [`KeyValueStore`]): written through
    /// this database's writer, in order with the journal's and the Logger's writes.
    ///
    /// ```
    /// use chatty_core::state::KeyValueStore;
    /// use chatty_log::StateDb;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = StateDb::in_memory().await?;
    /// db.key_values().put("echo", "greeting", b"hello").await?;
    /// // Another handle on the same database sees it.
    /// assert_eq!(db.key_values().get("echo", "greeting").await?, Some(b"hello".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn key_values(&self) -> KeyValues {
        KeyValues { db: self.clone() }
    }
}

impl KeyValueStore for KeyValues {
    fn get<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        Box::pin(async move {
            self.db.flush().await?;
            Ok(self.db.state_value(scope, key).await?)
        })
    }

    fn put<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.write(scope, key, Some(value))
    }

    fn delete<'a>(&'a self, scope: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        self.write(scope, key, None)
    }

    fn keys<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        Box::pin(async move {
            self.db.flush().await?;
            Ok(self.db.state_keys(scope, prefix).await?)
        })
    }

    fn swap<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        self.queued(|reply| Op::SwapValue {
            scope: scope.to_owned(),
            key: key.to_owned(),
            expected: expected.map(<[u8]>::to_vec),
            new: new.map(<[u8]>::to_vec),
            reply,
        })
    }
}
