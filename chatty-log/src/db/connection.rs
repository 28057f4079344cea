//! The writer's own connection, opened with rusqlite, a synchronous binding: a commit runs on
//! the thread of whoever commits ([`queue`](super::queue)), where sqlx's SQLite driver takes a
//! round trip to its worker thread per statement (and per `BEGIN` and `COMMIT`): four round
//! trips of about 50 µs of CPU each for a small commit, measured. Reads stay on sqlx's pool,
//! which is asynchronous.
//!
//! The schema of the log and the journal is checked and created here, before the writer starts,
//! with the table of the bots' values.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::sql;
use crate::config::Durability;
use crate::error::LogError;
use crate::store::schema;

/// The writer's page cache, in KiB (SQLite's `cache_size` when negative): the indexes of a
/// busy journal and log stay in memory.
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// Where the database is.
#[derive(Debug, Clone)]
pub(super) enum Place<'p> {
    /// A file, created if missing, in WAL mode.
    File(&'p Path),
    /// A database in memory that every connection of this process naming it shares (SQLite's
    /// `memdb` VFS, `/name`).
    Memory(&'p str),
}

/// Opens the writer's connection to `place`, sets it up, and creates or checks the schema.
/// `shown` is the name errors give the database.
pub(super) fn open(
    place: Place<'_>,
    shown: &Path,
    durability: Durability,
    busy_timeout: Duration,
) -> Result<Connection, LogError> {
    let error = |e| LogError::from_sqlite(shown, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = match place {
        Place::File(path) => Connection::open_with_flags(path, flags),
        Place::Memory(name) => Connection::open_with_flags(format!("file:{name}?vfs=memdb"), flags),
    }
    .map_err(error)?;
    conn.busy_timeout(busy_timeout).map_err(error)?;
    if let Place::File(_) = place {
        // The first statement that reads the file: a file that is not a database fails here.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %shown.display(), mode, "the database is not in WAL mode");
        }
    }
    let synchronous = match durability {
        Durability::Full => "FULL",
        _ => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(error)?;
    // Off on the writer's connection: it writes a signal's addressees with the signal, and an
    // enforced key makes every multi-row insert keep a statement journal (see `sql`).
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(error)?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
        .map_err(error)?;
    // Statement journals (a multi-row insert that fails halfway is undone alone) in memory,
    // not in temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(error)?;
    conn.set_prepared_statement_cache_capacity(sql::STATEMENT_CACHE);
    migrate(&mut conn, shown)?;
    Ok(conn)
}

/// Checks the schema versions of the log and the journal, and creates what is missing (in a
/// database of an earlier version: the tables it did not have, such as `bot_state`).
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LogError> {
    let error = |e| LogError::from_sqlite(path, e);
    let found: i64 = conn
        .query_row(schema::USER_VERSION, [], |row| row.get(0))
        .map_err(error)?;
    if found > schema::VERSION {
        return Err(LogError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: schema::VERSION,
        });
    }
    let has_journal: i64 = conn
        .query_row(sql::HAS_JOURNAL, [], |row| row.get(0))
        .map_err(error)?;
    if has_journal > 0 {
        let version: Option<String> = conn
            .query_row(sql::JOURNAL_SCHEMA, [], |row| row.get(0))
            .optional()
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
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(error)?;
    tx.execute_batch(schema::CREATE).map_err(error)?;
    tx.execute_batch(sql::CREATE_JOURNAL).map_err(error)?;
    tx.execute_batch(sql::CREATE_STATE).map_err(error)?;
    tx.commit().map_err(error)
}
