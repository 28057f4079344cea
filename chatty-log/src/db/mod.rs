//! [`StateDb`]: one database (an SQLite file, or a PostgreSQL schema) with one writer, from
//! which the journal, the Logger's store and the bots' values are made.
//!
//! What does not depend on the database is shared: the queued writes ([`ops`]) and how a
//! batch of them is sorted by table ([`plan`]). SQLite's writer is [`queue`] (who commits when)
//! and [`writer`] (the transaction of a batch) on a [`connection`] of its own; PostgreSQL's is
//! a task in [`postgres`]. Reads go through [`read`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::sync::oneshot;

use crate::config::{Durability, Location, StateConfig};
use crate::error::LogError;
use crate::store::StateStore;

mod connection;
pub(crate) mod ops;
pub(crate) mod plan;
mod postgres;
mod queue;
mod read;
mod sql;
mod writer;

use connection::Place;
use ops::{Counters, Op, Reply, Unwritten};
use postgres::PgDatabase;
use queue::WriteQueue;
use writer::Writer;

/// How many connections a file database keeps for reading: WAL mode lets readers work beside
/// the one writer.
const READERS: u32 = 4;

/// The name [`LogError`]s give an in-memory database.
const IN_MEMORY: &str = ":memory:";

/// One database (an SQLite file, or a schema of a PostgreSQL database) with one background
/// writer: the journal ([`journal`](StateDb::journal)), the Logger's store
/// ([`log_store`](StateDb::log_store)) and the bots' values
/// ([`key_values`](StateDb::key_values)) made from it write through the same writer, in one
/// order, by group commit.
///
/// Every write is queued for the writer, which takes everything queued, writes it in one
/// transaction, commits, and then resolves the futures of that batch: a write is durable (as
/// far as [`Durability`] says) when its future resolves, and a write made after another is never
/// durable without it. Reads go through a pool of their own connections (WAL mode).
///
/// The file is opened in WAL mode with a busy timeout; the schema of the log, the journal and
/// the bots' values is created on open (the tables missing from a database of an earlier
/// version too), and a file that is not a database, is corrupt or was written by
/// a newer version is an error naming the file, never reset. Clones share the database; the
/// writer stops when the last clone (and every journal and store made from it) is dropped, or
/// at [`close`](StateDb::close). It runs on a thread of its own, with its own connection.
///
/// On PostgreSQL ([`Location::Postgres`]) the tables are in the configured schema, the
/// writer is a task on the tokio runtime that opened the database, with a connection of its
/// own, and several processes may write the same schema at once; see
/// [`PostgresConfig`](crate::PostgresConfig) and [`Durability`].
///
/// ```
/// use chatty_core::Signal;
/// use chatty_core::journal::{Appended, Journal};
/// use chatty_log::{Direction, LogStore, StateConfig, StateDb};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = StateDb::open(&StateConfig::new(dir.path().join("state.sqlite"))).await?;
/// let journal = db.journal("sessions: work").await?;
/// let log = db.log_store();
///
/// let hello = Signal::message("hello");
/// assert_eq!(journal.append("work", &hello).await?, Appended::New);
/// log.record(Direction::In, &hello).await?;
/// db.close().await;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct StateDb {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The file, or the PostgreSQL URL (without password) and schema: what errors name.
    path: PathBuf,
    durability: Durability,
    backend: Backend,
    counters: Arc<Counters>,
    unwritten: Unwritten,
}

/// The database's own connections.
#[derive(Debug)]
enum Backend {
    Sqlite {
        read: SqlitePool,
        queue: Arc<WriteQueue>,
    },
    Postgres(PgDatabase),
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SQLite: the writer's thread commits what is queued and stops. PostgreSQL: the writer
        // task does so when its queue's last sender (this one) is dropped.
        if let Backend::Sqlite { queue, .. } = &self.backend {
            queue.stop();
        }
    }
}

/// What the writer has done since the database was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Transactions committed (group commits).
    pub commits: u64,
    /// Writes in them (appends, acknowledgements, answers, marks, records, statuses, bots'
    /// values, flushes).
    pub writes: u64,
}

impl StateDb {
    /// Opens (or creates) the database that `config` names. A PostgreSQL database is opened on
    /// the current tokio runtime (its writer is a task of it).
    ///
    /// Errors: [`LogError::Open`] when the file cannot be opened or created (PostgreSQL: the
    /// server cannot be reached, refuses the login, or has no such database),
    /// [`LogError::NotADatabase`] when it is not an SQLite database or is corrupt,
    /// [`LogError::Locked`] when another process holds it locked for longer than the busy
    /// timeout, [`LogError::NewerSchema`] or [`LogError::NewerJournalSchema`] when a newer
    /// chatty-log wrote it.
    pub async fn open(config: &StateConfig) -> Result<Self, LogError> {
        let (durability, busy_timeout) = (config.durability, config.busy_timeout());
        let path = match &config.location {
            Location::Sqlite(path) => path.clone(),
            Location::Postgres(postgres) => {
                return Self::open_postgres(config, postgres).await;
            }
        };
        let writer = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                connection::open(Place::File(&path), &path, durability, busy_timeout)
            })
            .await
            .map_err(LogError::other)??
        };
        // Reading waits for the busy timeout inside SQLite; give the pool a little more.
        let acquire = busy_timeout * 2 + Duration::from_secs(1);
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(acquire)
            .connect_lazy_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .busy_timeout(busy_timeout),
            );
        StateDb::start(
            path,
            durability,
            read,
            writer,
            config.keys_kept,
            busy_timeout,
        )
    }

    /// A database in memory: empty, and gone when the last clone is dropped. For tests.
    pub async fn in_memory() -> Result<Self, LogError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // SQLite's `memdb` VFS: a database in memory that every connection of this process
        // naming it shares, the writer's and the readers'.
        let name = format!(
            "/chatty-state-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = PathBuf::from(IN_MEMORY);
        let busy_timeout = Duration::from_millis(crate::config::DEFAULT_BUSY_TIMEOUT_MS);
        let writer = connection::open(
            Place::Memory(&name),
            &path,
            Durability::Normal,
            busy_timeout,
        )?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(
                SqliteConnectOptions::new()
                    .filename(&name)
                    .vfs("memdb")
                    .busy_timeout(busy_timeout),
            );
        StateDb::start(
            path,
            Durability::Normal,
            read,
            writer,
            crate::config::DEFAULT_KEYS_KEPT,
            busy_timeout,
        )
    }

    /// Opens the PostgreSQL database of `config`.
    async fn open_postgres(
        config: &StateConfig,
        postgres: &crate::config::PostgresConfig,
    ) -> Result<Self, LogError> {
        let path = config.location.shown();
        let counters = Arc::new(Counters::default());
        let unwritten = Unwritten::default();
        let reports = postgres::WriterReports {
            keys_kept: config.keys_kept,
            counters: counters.clone(),
            unwritten: unwritten.clone(),
        };
        let db = postgres::open(
            postgres,
            &path,
            config.durability,
            config.busy_timeout(),
            reports,
        )
        .await?;
        tracing::debug!(database = %path.display(), "PostgreSQL state database open");
        Ok(StateDb {
            shared: Arc::new(Shared {
                path,
                durability: config.durability,
                backend: Backend::Postgres(db),
                counters,
                unwritten,
            }),
        })
    }

    /// Starts the writer's thread with its connection.
    fn start(
        path: PathBuf,
        durability: Durability,
        read: SqlitePool,
        connection: rusqlite::Connection,
        keys_kept: u64,
        busy_timeout: Duration,
    ) -> Result<Self, LogError> {
        let counters = Arc::new(Counters::default());
        let unwritten = Unwritten::default();
        let writer = Writer {
            keys_kept,
            path: path.clone(),
            counters: counters.clone(),
            unwritten: unwritten.clone(),
        };
        // Tasks commit small batches themselves unless every commit waits for `fsync`.
        let by_tasks = durability == Durability::Normal;
        let queue = Arc::new(WriteQueue::new(writer, connection, by_tasks, busy_timeout)?);
        let thread = queue.clone();
        std::thread::Builder::new()
            .name("chatty-log-writer".into())
            .spawn(move || thread.run())
            .map_err(|e| {
                LogError::other(format!("{}: cannot start the writer: {e}", path.display()))
            })?;
        Ok(StateDb {
            shared: Arc::new(Shared {
                path,
                durability,
                backend: Backend::Sqlite { read, queue },
                counters,
                unwritten,
            }),
        })
    }

    /// The Logger's store in this database: its records go through this database's writer, in
    /// order with the journal's writes.
    pub fn log_store(&self) -> StateStore {
        StateStore::from_db(self.clone())
    }

    /// The database file (`:memory:` for an in-memory database); for PostgreSQL, its URL
    /// (without the password) and schema, as errors name it.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How durable a committed write is.
    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// What the writer has done so far: how many commits, how many writes in them.
    pub fn stats(&self) -> WriteStats {
        WriteStats {
            commits: self.shared.counters.commits.load(Ordering::Relaxed),
            writes: self.shared.counters.writes.load(Ordering::Relaxed),
        }
    }

    /// Resolves once everything written before it is committed.
    pub async fn flush(&self) -> Result<(), LogError> {
        self.queue(|reply| Op::Flush { reply }).await
    }

    /// Commits what is queued, stops the writer and closes every connection (waiting for
    /// those in use). Writes after this fail with [`LogError::Closed`]. Every journal and store
    /// made from this database is closed with it.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.send(Op::Close { reply }).is_ok() {
            let _ = done.await;
        }
        match &self.shared.backend {
            Backend::Sqlite { read, .. } => read.close().await,
            Backend::Postgres(db) => db.read.close().await,
        }
    }

    /// Whether the database is PostgreSQL (rather than SQLite).
    pub fn is_postgres(&self) -> bool {
        matches!(self.shared.backend, Backend::Postgres(_))
    }

    /// Queues `op` for the writer.
    pub(crate) fn send(&self, op: Op) -> Result<(), LogError> {
        let queued = match &self.shared.backend {
            Backend::Sqlite { queue, .. } => queue.push(op),
            Backend::Postgres(db) => db.queue.send(op).is_ok(),
        };
        if queued { Ok(()) } else { Err(self.closed()) }
    }

    /// Queues the op `op` makes with its reply (at once: it is written even if the future is
    /// never polled); the future waits for the answer.
    pub(crate) fn queue<T: Send + 'static>(
        &self,
        op: impl FnOnce(Reply<T>) -> Op,
    ) -> BoxFuture<'static, Result<T, LogError>> {
        let (reply, answer) = oneshot::channel();
        let queued = self.send(op(reply));
        let db = self.clone();
        Box::pin(async move {
            queued?;
            db.wait(answer).await
        })
    }

    /// The answer to an op.
    pub(crate) async fn wait<T>(
        &self,
        answer: oneshot::Receiver<Result<T, LogError>>,
    ) -> Result<T, LogError> {
        // SQLite: commits on this thread when the writer is idle (see `queue`).
        if let Backend::Sqlite { queue, .. } = &self.shared.backend {
            queue.drive();
        }
        answer.await.map_err(|_| self.closed())?
    }

    /// The error of a write after the writer stopped.
    pub(crate) fn closed(&self) -> LogError {
        LogError::Closed {
            path: self.shared.path.clone(),
        }
    }

    /// Records written without a waiter that a failed commit lost since the last call: how
    /// many, and why.
    pub(crate) fn take_unwritten(&self) -> Option<(usize, String)> {
        self.shared
            .unwritten
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// `e`, on this database.
    pub(crate) fn error(&self, e: sqlx::Error) -> LogError {
        match self.shared.backend {
            Backend::Sqlite { .. } => LogError::from_sqlx(&self.shared.path, e),
            Backend::Postgres(_) => LogError::from_postgres(&self.shared.path, e),
        }
    }
}
