//! What can go wrong with the log database.

use std::path::{Path, PathBuf};

/// Why the log or the journal could not be opened, written or read.
///
/// Every database variant names the database file (for PostgreSQL: its URL without the
/// password, and the schema, in the `path` field), so that the message alone tells an operator
/// which database to look at. A database that cannot be used is always an error: it is never reset
/// or replaced silently.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The database file cannot be opened or created: the directory does not exist, or
    /// permissions forbid it. PostgreSQL: the server cannot be reached, refuses the login,
    /// or has no such database.
    #[error("cannot open or create the database {}: {source}", .path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The database's own error.
        #[source]
        source: sqlx::Error,
    },
    /// The file is not an SQLite database, or it is corrupt ("file is not a database",
    /// "database disk image is malformed").
    #[error("{} is not an SQLite database, or it is corrupt: {source}", .path.display())]
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
        "the database {} is locked by another connection or process (still busy after the busy timeout): {source}",
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
    /// The journal in the database was written by a newer version of this crate, with a
    /// journal schema this version does not know.
    #[error(
        "the journal in {} has schema version {found}, newer than version {supported} that this version of chatty-log knows; upgrade chatty-log or use another file",
        .path.display()
    )]
    NewerJournalSchema {
        /// The database file.
        path: PathBuf,
        /// The journal schema version found in the file.
        found: i64,
        /// The newest journal schema version this crate knows.
        supported: i64,
    },
    /// The journal in the database belongs to another configuration: it was opened with
    /// another identity (the runner's fingerprint of its sessions). Its entries are not this
    /// configuration's to redeliver or to deduplicate against.
    #[error(
        "the journal in {} belongs to another configuration: it was made for `{found}`, and this configuration is `{expected}`; use another file for this configuration, or delete this one if its unfinished signals may be lost",
        .path.display()
    )]
    OtherIdentity {
        /// The database file.
        path: PathBuf,
        /// The identity stored in the journal.
        found: String,
        /// The identity it was opened with.
        expected: String,
    },
    /// The database was closed ([`StateDb::close`](crate::StateDb::close)), or its writer
    /// stopped (its runtime shut down): nothing more is written.
    #[error("the database {} is closed: nothing more is written to it", .path.display())]
    Closed {
        /// The database file.
        path: PathBuf,
    },
    /// Records queued without waiting ([`StateStore::with_queued_records`](crate::StateStore::with_queued_records))
    /// were lost with a commit that failed; told with the next record.
    #[error("{count} earlier records were not written to the log database {}: {message}", .path.display())]
    Unwritten {
        /// The database file.
        path: PathBuf,
        /// How many records were lost.
        count: usize,
        /// Why the commit failed.
        message: String,
    },
    /// A record in the database does not decode as a signal (edited by hand, or damaged).
    #[error("{what} in the database {} does not decode: {source}", .path.display())]
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
    #[error("a signal for the database {} cannot be encoded: {source}", .path.display())]
    Encode {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Any other database error.
    #[error("database {}: {source}", .path.display())]
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
    /// An error from a store other than [`StateStore`](crate::StateStore).
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

    /// The PostgreSQL error `source` on the database `path` (its URL and schema), sorted as
    /// [`from_sqlx`](LogError::from_sqlx) sorts SQLite's: a server that cannot be reached,
    /// refuses the login or has no such database cannot be opened; a lock another transaction
    /// held past the busy timeout (`lock_timeout`) is [`LogError::Locked`].
    pub(crate) fn from_postgres(path: &Path, source: sqlx::Error) -> Self {
        let path = path.to_path_buf();
        let code = match &source {
            sqlx::Error::Database(e) => e.code().map(|c| c.into_owned()),
            _ => None,
        };
        match code.as_deref() {
            // lock_not_available, query_canceled (a lock or statement timeout).
            Some("55P03" | "57014") => LogError::Locked { path, source },
            // invalid_catalog_name (no such database), invalid authorization, connection
            // exceptions, too many connections, the server shutting down.
            Some(c) if c == "3D000" || c.starts_with("28") || c.starts_with("08") => {
                LogError::Open { path, source }
            }
            Some("53300" | "57P01" | "57P02" | "57P03") => LogError::Open { path, source },
            Some(_) => LogError::Database { path, source },
            None => match source {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Configuration(_)
                | sqlx::Error::PoolTimedOut => LogError::Open { path, source },
                source => LogError::Database { path, source },
            },
        }
    }

    /// The SQLite error `source` of the writer's connection (rusqlite) on the database file
    /// `path`, sorted as [`from_sqlx`](LogError::from_sqlx) sorts sqlx's: the variants carry
    /// SQLite's message and extended result code either way.
    pub(crate) fn from_sqlite(path: &Path, source: rusqlite::Error) -> Self {
        let replica = match &source {
            rusqlite::Error::SqliteFailure(failure, message) => Replica {
                message: message.clone().unwrap_or_else(|| failure.to_string()),
                code: Some(failure.extended_code.to_string()),
            },
            other => Replica {
                message: other.to_string(),
                code: None,
            },
        };
        LogError::from_sqlx(path, sqlx::Error::Database(Box::new(replica)))
    }

    /// The same error again, for the next of several writes that one failed commit failed
    /// (a group commit fails every write in it): the same variant, path and message.
    pub(crate) fn replicate(&self) -> LogError {
        let copy = |source: &sqlx::Error| match source {
            sqlx::Error::Database(e) => sqlx::Error::Database(Box::new(Replica {
                message: e.message().to_owned(),
                code: e.code().map(|c| c.into_owned()),
            })),
            other => sqlx::Error::Protocol(other.to_string()),
        };
        let json = |source: &serde_json::Error| {
            serde_json::Error::io(std::io::Error::other(source.to_string()))
        };
        match self {
            LogError::Open { path, source } => LogError::Open {
                path: path.clone(),
                source: copy(source),
            },
            LogError::NotADatabase { path, source } => LogError::NotADatabase {
                path: path.clone(),
                source: copy(source),
            },
            LogError::Locked { path, source } => LogError::Locked {
                path: path.clone(),
                source: copy(source),
            },
            LogError::Database { path, source } => LogError::Database {
                path: path.clone(),
                source: copy(source),
            },
            LogError::NewerSchema {
                path,
                found,
                supported,
            } => LogError::NewerSchema {
                path: path.clone(),
                found: *found,
                supported: *supported,
            },
            LogError::NewerJournalSchema {
                path,
                found,
                supported,
            } => LogError::NewerJournalSchema {
                path: path.clone(),
                found: *found,
                supported: *supported,
            },
            LogError::OtherIdentity {
                path,
                found,
                expected,
            } => LogError::OtherIdentity {
                path: path.clone(),
                found: found.clone(),
                expected: expected.clone(),
            },
            LogError::Closed { path } => LogError::Closed { path: path.clone() },
            LogError::Unwritten {
                path,
                count,
                message,
            } => LogError::Unwritten {
                path: path.clone(),
                count: *count,
                message: message.clone(),
            },
            LogError::BadRecord { path, what, source } => LogError::BadRecord {
                path: path.clone(),
                what: what.clone(),
                source: json(source),
            },
            LogError::Encode { path, source } => LogError::Encode {
                path: path.clone(),
                source: json(source),
            },
            LogError::Other(e) => LogError::Other(e.to_string().into()),
        }
    }

    /// The database file this error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            LogError::Open { path, .. }
            | LogError::NotADatabase { path, .. }
            | LogError::Locked { path, .. }
            | LogError::NewerSchema { path, .. }
            | LogError::NewerJournalSchema { path, .. }
            | LogError::OtherIdentity { path, .. }
            | LogError::Closed { path }
            | LogError::Unwritten { path, .. }
            | LogError::BadRecord { path, .. }
            | LogError::Encode { path, .. }
            | LogError::Database { path, .. } => Some(path),
            LogError::Other(_) => None,
        }
    }
}

/// A copy of a database error (its message and code), for the other writes of a failed group
/// commit: `sqlx::Error` cannot be cloned.
#[derive(Debug)]
struct Replica {
    message: String,
    code: Option<String>,
}

impl std::fmt::Display for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Replica {}

impl sqlx::error::DatabaseError for Replica {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.code.as_deref().map(std::borrow::Cow::Borrowed)
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

impl From<LogError> for chatty_core::journal::JournalError {
    fn from(error: LogError) -> Self {
        chatty_core::journal::JournalError::new(error.to_string()).with_source(error)
    }
}

impl From<LogError> for chatty_core::state::StateError {
    /// [`StateError::Store`](chatty_core::state::StateError::Store), with the message (which
    /// names the database).
    fn from(error: LogError) -> Self {
        chatty_core::state::StateError::Store(error.to_string())
    }
}
