//! What can go wrong with the log database.

use std::path::{Path, PathBuf};

/// Why the log could not be opened, written or read.
///
/// Every SQLite variant names the database file, so that the message alone tells an operator
/// which file to look at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The database file cannot be opened or created: the directory does not exist, or
    /// permissions forbid it.
    #[error("cannot open or create the log database {}: {source}", .path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The database's own error.
        #[source]
        source: sqlx::Error,
    },
    /// The file is not an SQLite database, or it is corrupt ("file is not a database",
    /// "database disk image is malformed").
    #[error("{} is not a log database, or it is corrupt: {source}", .path.display())]
    NotADatabase {
        /// The database file.
        path: PathBuf,
        /// The database's own error.
        #[source]
        source: sqlx::Error,
    },
    /// Another connection or process holds the database locked, and it stayed locked for the
    /// whole busy timeout ([`LoggerConfig::busy_timeout_ms`](crate::LoggerConfig)).
    #[error(
        "the log database {} is locked by another connection or process (still busy after the busy timeout): {source}",
        .path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// The database's own error.
        #[source]
        source: sqlx::Error,
    },
    /// The database was written by a newer version of this crate, with a schema this version
    /// does not know.
    #[error(
        "the log database {} has schema version {found}, newer than version {supported} that this version of chatty-log knows; upgrade chatty-log or use another file",
        .path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this crate knows.
        supported: i64,
    },
    /// A record in the database does not decode as a signal (edited by hand, or damaged).
    #[error("{what} in the log database {} does not decode: {source}", .path.display())]
    BadRecord {
        /// The database file.
        path: PathBuf,
        /// Which record (`record 12`, `the delivery status of …`).
        what: String,
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
    /// A signal could not be encoded as JSON for the log.
    #[error("a signal for the log database {} cannot be encoded: {source}", .path.display())]
    Encode {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Any other database error.
    #[error("log database {}: {source}", .path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// The database's own error.
        #[source]
        source: sqlx::Error,
    },
    /// An error from another [`LogStore`](crate::LogStore) implementation.
    #[error("log store: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// SQLite's primary result codes this module tells apart (the low byte of an extended code).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_NOTADB: i32 = 26;

impl LogError {
    /// An error from a store other than [`SqliteStore`](crate::SqliteStore).
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        LogError::Other(error.into())
    }

    /// The SQLite error `source` on the database file `path`, sorted into the variant that
    /// says what an operator should do about it.
    pub(crate) fn from_sqlx(path: &Path, source: sqlx::Error) -> Self {
        let path = path.to_path_buf();
        let code = match &source {
            sqlx::Error::Database(e) => e.code().and_then(|c| c.parse::<i32>().ok()),
            _ => None,
        };
        match code.map(|c| c & 0xff) {
            Some(SQLITE_NOTADB | SQLITE_CORRUPT) => LogError::NotADatabase { path, source },
            Some(SQLITE_BUSY | SQLITE_LOCKED) => LogError::Locked { path, source },
            Some(SQLITE_CANTOPEN) => LogError::Open { path, source },
            _ if matches!(source, sqlx::Error::Io(_)) => LogError::Open { path, source },
            _ => LogError::Database { path, source },
        }
    }

    /// The database file this error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            LogError::Open { path, .. }
            | LogError::NotADatabase { path, .. }
            | LogError::Locked { path, .. }
            | LogError::NewerSchema { path, .. }
            | LogError::BadRecord { path, .. }
            | LogError::Encode { path, .. }
            | LogError::Database { path, .. } => Some(path),
            LogError::Other(_) => None,
        }
    }
}
