//! A [`StateDb`](super::StateDb) on PostgreSQL: the schema checked and created in the schema
//! the config names, a writer task with a connection of its own ([`writer`]), and a pool of
//! connections for reading.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection};
use tokio::sync::mpsc;

use super::ops::{Counters, Op, Unwritten};
use crate::config::{Durability, PostgresConfig};
use crate::error::LogError;

pub(crate) mod sql;
mod writer;

/// How many connections the pool keeps for reading.
const READERS: u32 = 4;

/// The connections to a PostgreSQL state database: the writer's queue and the readers' pool.
#[derive(Debug)]
pub(crate) struct PgDatabase {
    pub(crate) read: PgPool,
    pub(crate) queue: mpsc::UnboundedSender<Op>,
}

/// What the writer task of a database reports to.
pub(crate) struct WriterReports {
    pub(crate) keys_kept: u64,
    pub(crate) counters: Arc<Counters>,
    pub(crate) unwritten: Unwritten,
}

/// Connects to the database `config` names, checks and creates the schema, and starts the
/// writer task (on the current tokio runtime). `shown` is what errors call it.
pub(crate) async fn open(
    config: &PostgresConfig,
    shown: &Path,
    durability: Durability,
    busy_timeout: Duration,
    reports: WriterReports,
) -> Result<PgDatabase, LogError> {
    let options = connect_options(config, shown, busy_timeout)?;
    let mut conn = tokio::time::timeout(busy_timeout, options.connect())
        .await
        .map_err(|_| LogError::Open {
            path: shown.to_path_buf(),
            source: sqlx::Error::PoolTimedOut,
        })?
        .map_err(|e| LogError::from_postgres(shown, e))?;
    migrate(&mut conn, config, shown).await?;
    let writer = WriterConnection {
        options: options.clone(),
        durability,
        busy_timeout,
    };
    writer
        .set_up(&mut conn)
        .await
        .map_err(|e| LogError::from_postgres(shown, e))?;
    let read = PgPoolOptions::new()
        .max_connections(READERS)
        .acquire_timeout(busy_timeout + Duration::from_secs(1))
        .connect_lazy_with(options);
    let (queue, ops) = mpsc::unbounded_channel();
    let task = writer::PgWriter {
        conn: Some(conn),
        connection: writer,
        ops,
        shown: shown.to_path_buf(),
        keys_kept: reports.keys_kept,
        counters: reports.counters,
        unwritten: reports.unwritten,
    };
    tokio::spawn(task.run());
    Ok(PgDatabase { read, queue })
}

/// How the writer connects (again, after its connection broke).
pub(crate) struct WriterConnection {
    options: PgConnectOptions,
    durability: Durability,
    busy_timeout: Duration,
}

impl WriterConnection {
    /// A new connection for the writer, set up.
    pub(crate) async fn connect(&self) -> Result<PgConnection, sqlx::Error> {
        let mut conn = tokio::time::timeout(self.busy_timeout, self.options.connect())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        self.set_up(&mut conn).await?;
        Ok(conn)
    }

    /// The writer's commits: with `normal`, a commit returns before the server flushed it to
    /// its WAL on disk (`synchronous_commit = off`).
    async fn set_up(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let synchronous_commit = match self.durability {
            Durability::Full => "SET synchronous_commit = on",
            _ => "SET synchronous_commit = off",
        };
        sqlx::query(synchronous_commit).execute(conn).await?;
        Ok(())
    }
}

/// The connection options: the URL, the password (revealed now), the schema first on the
/// search path, and how long a statement waits for another transaction's lock.
fn connect_options(
    config: &PostgresConfig,
    shown: &Path,
    busy_timeout: Duration,
) -> Result<PgConnectOptions, LogError> {
    let invalid = |message: String| LogError::Open {
        path: shown.to_path_buf(),
        source: sqlx::Error::Configuration(message.into()),
    };
    let mut options = PgConnectOptions::from_str(&config.url)
        .map_err(|e| invalid(format!("not a PostgreSQL URL: {e}")))?;
    if let Some(password) = &config.password {
        let password = password
            .reveal()
            .map_err(|e| invalid(format!("the password: {e}")))?;
        options = options.password(password.expose());
    }
    let lock_timeout = format!("{}ms", busy_timeout.as_millis().max(1));
    Ok(options
        .options([
            ("search_path", config.schema.as_str()),
            ("lock_timeout", lock_timeout.as_str()),
            // Not "schema … already exists, skipping" and the like at every start.
            ("client_min_messages", "warning"),
        ])
        .disable_statement_logging())
}

/// Creates the schema and the tables that are missing, after checking the versions of those
/// that exist: a newer one is an error, never overwritten.
async fn migrate(
    conn: &mut PgConnection,
    config: &PostgresConfig,
    shown: &Path,
) -> Result<(), LogError> {
    let error = |e| LogError::from_postgres(shown, e);
    let mut tx = conn.begin().await.map_err(error)?;
    sqlx::query(sql::LOCK_SCHEMA)
        .bind(&config.schema)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    let quoted = config.schema.replace('"', "\"\"");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS \"{quoted}\""
    )))
    .execute(&mut *tx)
    .await
    .map_err(error)?;
    let checks = [
        ("log_meta", sql::LOG_SCHEMA, sql::LOG_VERSION),
        ("journal_meta", sql::JOURNAL_SCHEMA, sql::JOURNAL_VERSION),
    ];
    for (table, query, supported) in checks {
        let exists: bool = sqlx::query_scalar(sql::HAS_TABLE)
            .bind(table)
            .fetch_one(&mut *tx)
            .await
            .map_err(error)?;
        if !exists {
            continue;
        }
        let version: Option<String> = sqlx::query_scalar(query)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error)?;
        // A version that is not a number is not one this crate wrote: newer, or damaged.
        let found = version.map_or(Ok(0), |v| v.parse::<i64>().map_err(|_| v));
        match found {
            Ok(found) if found <= supported => {}
            found => {
                let (path, found) = (PathBuf::from(shown), found.unwrap_or(i64::MAX));
                return Err(if table == "log_meta" {
                    LogError::NewerSchema {
                        path,
                        found,
                        supported,
                    }
                } else {
                    LogError::NewerJournalSchema {
                        path,
                        found,
                        supported,
                    }
                });
            }
        }
    }
    sqlx::raw_sql(sql::CREATE)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(error)
}
