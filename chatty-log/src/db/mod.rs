//! [`StateDb`]: one SQLite file with one writer, from which the journal and the Logger's store
//! are made.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Durability, StateConfig};
use crate::error::LogError;
use crate::store::{SqliteStore, schema};

mod sql;
pub(crate) mod writer;

pub(crate) use sql::{MARK, PENDING, PENDING_ANSWERS};
use writer::{Counters, Op, Unwritten, Writer};

/// How many connections a file database keeps for reading: WAL mode lets readers work beside
/// the one writer.
const READERS: u32 = 4;

/// The writer's page cache, in KiB (SQLite's `cache_size` when negative): the indexes of a
/// busy journal and log stay in memory.
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// The name [`LogError`]s give an in-memory database.
const IN_MEMORY: &str = ":memory:";

/// One SQLite database file with one background writer: the journal
/// ([`journal`](StateDb::journal)) and the Logger's store ([`log_store`](StateDb::log_store))
/// made from it write through the same writer, in one order, by group commit.
///
/// Every write is queued for the writer, which takes everything queued, writes it in one
/// transaction, commits, and then resolves the futures of that batch: a write is durable (as
/// far as [`Durability`] says) when its future resolves, and a write made after another is never
/// durable without it. Reads go through a pool of their own connections (WAL mode).
///
/// The file is opened in WAL mode with a busy timeout; the schema of both the log and the
/// journal is created on open, and a file that is not a database, is corrupt or was written by
/// a newer version is an error naming the file, never reset. Clones share the database; the
/// writer stops when the last clone (and every journal and store made from it) is dropped, or
/// at [`close`](StateDb::close). It runs on the tokio runtime that opened the database.
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
    path: PathBuf,
    durability: Durability,
    read: SqlitePool,
    write: SqlitePool,
    queue: mpsc::UnboundedSender<Op>,
    counters: Arc<Counters>,
    unwritten: Unwritten,
}

/// What the writer has done since the database was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Transactions committed (group commits).
    pub commits: u64,
    /// Writes in them (appends, acknowledgements, answers, marks, records, statuses, flushes).
    pub writes: u64,
}

impl StateDb {
    /// Opens (or creates) the database file that `config` names.
    ///
    /// Errors: [`LogError::Open`] when the file cannot be opened or created,
    /// [`LogError::NotADatabase`] when it is not an SQLite database or is corrupt,
    /// [`LogError::Locked`] when another process holds it locked for longer than the busy
    /// timeout, [`LogError::NewerSchema`] or [`LogError::NewerJournalSchema`] when a newer
    /// chatty-log wrote it.
    pub async fn open(config: &StateConfig) -> Result<Self, LogError> {
        let path = config.path.clone();
        let error = |e| LogError::from_sqlx(&path, e);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.durability {
                Durability::Full => SqliteSynchronous::Full,
                _ => SqliteSynchronous::Normal,
            })
            .busy_timeout(config.busy_timeout());
        // Acquiring waits for the busy timeout inside SQLite; give the pool a little more.
        let acquire = config.busy_timeout() * 2 + Duration::from_secs(1);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // The writer's own connection: no round trip to test it before each commit.
            .test_before_acquire(false)
            .acquire_timeout(acquire)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                options
                    .clone()
                    .statement_cache_capacity(sql::STATEMENT_CACHE)
                    .pragma("cache_size", (-WRITER_CACHE_KIB).to_string())
                    // Statement journals (a multi-row insert that fails halfway is undone
                    // alone) in memory, not in temporary files.
                    .pragma("temp_store", "memory"),
            )
            .await
            .map_err(error)?;
        migrate(&write, &path).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(acquire)
            .connect_lazy_with(options);
        Ok(StateDb::start(
            path,
            config.durability,
            read,
            write,
            true,
            config.keys_kept,
        ))
    }

    /// A database in memory: empty, and gone when the last clone is dropped. For tests.
    pub async fn in_memory() -> Result<Self, LogError> {
        let path = PathBuf::from(IN_MEMORY);
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| LogError::from_sqlx(&path, e))?;
        // One connection that is never closed: the database lives as long as it does. The
        // writer and the readers take turns on it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| LogError::from_sqlx(&path, e))?;
        migrate(&pool, &path).await?;
        Ok(StateDb::start(
            path,
            Durability::Normal,
            pool.clone(),
            pool,
            false,
            crate::config::DEFAULT_KEYS_KEPT,
        ))
    }

    /// Starts the writer; `holds`: it keeps its connection between commits (not when the
    /// readers share its one connection, in memory).
    fn start(
        path: PathBuf,
        durability: Durability,
        read: SqlitePool,
        write: SqlitePool,
        holds: bool,
        keys_kept: u64,
    ) -> Self {
        let (queue, ops) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let unwritten = Unwritten::default();
        let writer = Writer {
            holds,
            keys_kept,
            pool: write.clone(),
            path: path.clone(),
            counters: counters.clone(),
            unwritten: unwritten.clone(),
        };
        tokio::spawn(writer.run(ops));
        StateDb {
            shared: Arc::new(Shared {
                path,
                durability,
                read,
                write,
                queue,
                counters,
                unwritten,
            }),
        }
    }

    /// The Logger's store in this database: its records go through this database's writer, in
    /// order with the journal's writes.
    pub fn log_store(&self) -> SqliteStore {
        SqliteStore::from_db(self.clone())
    }

    /// The database file (`:memory:` for an in-memory database).
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
        let (reply, done) = oneshot::channel();
        self.send(Op::Flush { reply })?;
        self.wait(done).await
    }

    /// Commits what is queued, stops the writer and closes every connection (waiting for
    /// those in use). Writes after this fail with [`LogError::Closed`]. Every journal and store
    /// made from this database is closed with it.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.send(Op::Close { reply }).is_ok() {
            let _ = done.await;
        }
        self.shared.read.close().await;
        self.shared.write.close().await;
    }

    /// Queues `op` for the writer.
    pub(crate) fn send(&self, op: Op) -> Result<(), LogError> {
        self.shared.queue.send(op).map_err(|_| self.closed())
    }

    /// The answer to an op.
    pub(crate) async fn wait<T>(
        &self,
        answer: oneshot::Receiver<Result<T, LogError>>,
    ) -> Result<T, LogError> {
        answer.await.map_err(|_| self.closed())?
    }

    /// The error of a write after the writer stopped.
    pub(crate) fn closed(&self) -> LogError {
        LogError::Closed {
            path: self.shared.path.clone(),
        }
    }

    /// The pool that reads go through.
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.shared.read
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

    /// `e`, on this database's file.
    pub(crate) fn error(&self, e: sqlx::Error) -> LogError {
        LogError::from_sqlx(&self.shared.path, e)
    }
}

/// Checks the schema versions of the log and the journal, and creates what is missing.
async fn migrate(pool: &SqlitePool, path: &Path) -> Result<(), LogError> {
    let error = |e| LogError::from_sqlx(path, e);
    let mut conn = pool.acquire().await.map_err(error)?;
    let found: i64 = sqlx::query_scalar(schema::USER_VERSION)
        .fetch_one(&mut *conn)
        .await
        .map_err(error)?;
    if found > schema::VERSION {
        return Err(LogError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: schema::VERSION,
        });
    }
    let has_journal: i64 = sqlx::query_scalar(sql::HAS_JOURNAL)
        .fetch_one(&mut *conn)
        .await
        .map_err(error)?;
    if has_journal > 0 {
        let version: Option<String> = sqlx::query_scalar(sql::JOURNAL_SCHEMA)
            .fetch_optional(&mut *conn)
            .await
            .map_err(error)?;
        // A version that is not a number is not one this crate wrote: newer, or damaged.
        let found = version.map_or(Ok(0), |v| v.parse::<i64>().map_err(|_| v));
        match found {
            Ok(found) if found <= sql::JOURNAL_VERSION => {}
            found => {
                return Err(LogError::NewerJournalSchema {
                    path: path.to_path_buf(),
                    found: found.unwrap_or(i64::MAX),
                    supported: sql::JOURNAL_VERSION,
                });
            }
        }
    }
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
        .await
        .map_err(error)?;
    sqlx::raw_sql(schema::CREATE)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    sqlx::raw_sql(sql::CREATE_JOURNAL)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(error)
}
