//! The SQLite log store.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chatty_core::{Address, DeliveryStatus, History, Page, Signal, SignalId};
use futures::future::BoxFuture;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Direction, LogStore, schema};
use crate::config::LoggerConfig;
use crate::error::LogError;

/// How many connections a file store keeps: WAL mode lets readers work beside the one writer.
const FILE_CONNECTIONS: u32 = 4;

/// The name [`LogError`]s give an in-memory store's database.
const IN_MEMORY: &str = ":memory:";

/// A [`LogStore`] in an SQLite database file (or in memory, for tests).
///
/// The file is opened in WAL mode with a busy timeout, and its schema is created on open.
/// Cloning is cheap and shares the connections.
///
/// ```
/// use chatty_core::{Address, Page, Signal};
/// use chatty_log::{Direction, LogStore, SqliteStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = SqliteStore::in_memory().await?;
/// let alice: Address = "xmpp:alice@example.org".parse().unwrap();
/// let hello = Signal::message("hello").to(alice.clone());
/// store.record(Direction::Out, &hello).await?;
///
/// let history = store.history(Direction::Out, &alice, &Page::first(10)).await?;
/// assert_eq!(history.signals, vec![hello]);
/// # Ok::<(), chatty_log::LogError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the log database file at `path`, with the default busy timeout.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with(&LoggerConfig::new(path.as_ref())).await
    }

    /// Opens (or creates) the log database file that `config` names.
    ///
    /// Errors: [`LogError::Open`] when the file cannot be opened or created,
    /// [`LogError::NotADatabase`] when it is not an SQLite database or is corrupt,
    /// [`LogError::Locked`] when another process holds it locked for longer than the busy
    /// timeout, [`LogError::NewerSchema`] when a newer chatty-log wrote it.
    pub async fn open_with(config: &LoggerConfig) -> Result<Self, LogError> {
        let path = config.path.clone();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if config.sync_every_record {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(config.busy_timeout());
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_CONNECTIONS)
            // Acquiring waits for the busy timeout inside SQLite; give the pool a little more.
            .acquire_timeout(config.busy_timeout() * 2 + std::time::Duration::from_secs(1));
        SqliteStore::connect(path, pool, options).await
    }

    /// A store in memory: empty, and gone when the last clone is dropped. For tests.
    pub async fn in_memory() -> Result<Self, LogError> {
        let path = PathBuf::from(IN_MEMORY);
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| LogError::from_sqlx(&path, e))?;
        // One connection that is never closed: the database lives as long as it does.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
        SqliteStore::connect(path, pool, options).await
    }

    /// Opens the pool and brings the schema up to date.
    async fn connect(
        path: PathBuf,
        pool: SqlitePoolOptions,
        options: SqliteConnectOptions,
    ) -> Result<Self, LogError> {
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|e| LogError::from_sqlx(&path, e))?;
        let store = SqliteStore { pool, path };
        store.migrate().await?;
        Ok(store)
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn error(&self, e: sqlx::Error) -> LogError {
        LogError::from_sqlx(&self.path, e)
    }

    /// Checks the schema version and creates the schema if it is missing.
    async fn migrate(&self) -> Result<(), LogError> {
        let found: i64 = sqlx::query_scalar(schema::USER_VERSION)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        if found > schema::VERSION {
            return Err(LogError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: schema::VERSION,
            });
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        sqlx::raw_sql(schema::CREATE)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn insert(&self, direction: Direction, signal: &Signal) -> Result<(), LogError> {
        let json = serde_json::to_string(signal).map_err(|source| LogError::Encode {
            path: self.path.clone(),
            source,
        })?;
        let kind = serde_json::to_value(signal.kind())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{:?}", signal.kind()));
        let origin = signal.meta.origin.as_ref();
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let seq = sqlx::query(schema::INSERT_SIGNAL)
            .bind(direction.as_str())
            .bind(signal.meta.id.as_str())
            .bind(kind)
            .bind(signal.meta.response_to.as_ref().map(SignalId::as_str))
            .bind(origin.map(Address::platform))
            .bind(origin.and_then(Address::session))
            .bind(origin.map(Address::id))
            .bind(now_ms())
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?
            .last_insert_rowid();
        for addressee in &signal.meta.addressees {
            sqlx::query(schema::INSERT_ADDRESSEE)
                .bind(seq)
                .bind(direction.as_str())
                .bind(addressee.platform())
                .bind(addressee.session())
                .bind(addressee.id())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn upsert_status(&self, id: &SignalId, status: &DeliveryStatus) -> Result<(), LogError> {
        let json = serde_json::to_string(status).map_err(|source| LogError::Encode {
            path: self.path.clone(),
            source,
        })?;
        sqlx::query(schema::UPSERT_STATUS)
            .bind(id.as_str())
            .bind(i64::from(status.rank()))
            .bind(json)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn select_history(
        &self,
        direction: Direction,
        address: &Address,
        page: &Page,
    ) -> Result<History, LogError> {
        if page.limit == 0 {
            return Ok(History::new(Vec::new(), None));
        }
        let sql = match direction {
            Direction::In => schema::BY_ORIGIN,
            Direction::Out => schema::BY_ADDRESSEE,
        };
        // One more than asked for tells whether older records remain.
        let rows = sqlx::query(sql)
            .bind(direction.as_str())
            .bind(address.platform())
            .bind(address.id())
            .bind(address.session())
            .bind(page.before.as_ref().map(SignalId::as_str))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        let more = rows.len() > page.limit as usize;
        let mut signals = Vec::with_capacity(rows.len().min(page.limit as usize));
        for row in rows.iter().take(page.limit as usize) {
            let seq: i64 = row.try_get(0).map_err(|e| self.error(e))?;
            let json: &str = row.try_get(1).map_err(|e| self.error(e))?;
            let signal: Signal =
                serde_json::from_str(json).map_err(|source| LogError::BadRecord {
                    path: self.path.clone(),
                    what: format!("record {seq}"),
                    source,
                })?;
            signals.push(signal);
        }
        let next = match (more, signals.last()) {
            (true, Some(last)) => Some(Page::first(page.limit).with_before(last.meta.id.clone())),
            _ => None,
        };
        Ok(History::new(signals, next))
    }

    async fn select_status(&self, id: &SignalId) -> Result<Option<DeliveryStatus>, LogError> {
        let json: Option<String> = sqlx::query_scalar(schema::SELECT_STATUS)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|source| LogError::BadRecord {
                path: self.path.clone(),
                what: format!("the delivery status of {id}"),
                source,
            })
        })
        .transpose()
    }
}

impl LogStore for SqliteStore {
    fn record<'a>(
        &'a self,
        direction: Direction,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(self.insert(direction, signal))
    }

    fn set_delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
        status: &'a DeliveryStatus,
    ) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(self.upsert_status(id, status))
    }

    fn history<'a>(
        &'a self,
        direction: Direction,
        address: &'a Address,
        page: &'a Page,
    ) -> BoxFuture<'a, Result<History, LogError>> {
        Box::pin(self.select_history(direction, address, page))
    }

    fn delivery_status<'a>(
        &'a self,
        id: &'a SignalId,
    ) -> BoxFuture<'a, Result<Option<DeliveryStatus>, LogError>> {
        Box::pin(self.select_status(id))
    }
}

/// The local clock in milliseconds since the Unix epoch, for the `*_at_ms` columns.
fn now_ms() -> i64 {
    i64::try_from(chatty_core::now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
