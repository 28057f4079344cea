//! The Logger's and the state database's configuration, as a config file gives it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod location;

pub use location::{DEFAULT_SCHEMA, Location, PostgresConfig};
use location::{LocationKeys, UnknownKeys, refuse_unknown};

/// The default for [`LoggerConfig::busy_timeout_ms`]: five seconds.
pub(crate) const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;

/// Where the Logger keeps its log and how it waits for it.
///
/// ```
/// use chatty_log::LoggerConfig;
///
/// let config: LoggerConfig =
///     serde_json::from_str(r#"{ "path": "/var/lib/chatty/log.sqlite" }"#).unwrap();
/// assert_eq!(config, LoggerConfig::new("/var/lib/chatty/log.sqlite"));
/// assert_eq!(config.busy_timeout().as_secs(), 5);
///
/// // A misspelt field is an error, not silently ignored.
/// assert!(serde_json::from_str::<LoggerConfig>(r#"{ "path": "a", "busy_timeout": 1 }"#).is_err());
///
/// // Or a PostgreSQL database (see [`PostgresConfig`]).
/// let config: LoggerConfig =
///     serde_json::from_str(r#"{ "url": "postgres://chatty@db.example.org/bots" }"#).unwrap();
/// assert!(matches!(config.location, chatty_log::Location::Postgres(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LoggerKeys", into = "LoggerKeys")]
pub struct LoggerConfig {
    /// Where the log is: `path`, the SQLite database file (created, with its schema, if it
    /// does not exist; its directory must exist; SQLite keeps two more files next to it while
    /// it is open, `-wal` and `-shm`), or `url` (with `password` and `schema`), a PostgreSQL
    /// database ([`PostgresConfig`]). Exactly one of `path` and `url`.
    pub location: Location,
    /// How long, in milliseconds, an operation waits for a database that another connection or
    /// process holds locked, before it fails with [`LogError::Locked`](crate::LogError::Locked)
    /// (with PostgreSQL: a lock held by another transaction, and a connection to the server).
    /// Default: 5000.
    pub busy_timeout_ms: u64,
    /// Whether every record is synced to disk before the signal goes on (SQLite
    /// `synchronous = FULL`): records then survive a power loss or an operating-system crash,
    /// at the cost of one disk sync per signal (about 30 times slower, see
    /// `docs/benchmarks.md`). By default (`false`, SQLite `synchronous = NORMAL` with its
    /// write-ahead log) every record survives a crash or restart of the process, and a power
    /// loss can lose the last records, never corrupt the file. With PostgreSQL, `true` is
    /// [`Durability::Full`] and `false` [`Durability::Normal`] (see there).
    pub sync_every_record: bool,
    /// Whether a signal goes on as soon as its record is queued for the database's writer
    /// (`true`), rather than once the record is committed (`false`, the default). Queued
    /// records are committed in order with everything written after them through the same
    /// database (so with the journal in the same file, a journal acknowledgement or answer is
    /// never durable without the records before it); a crash can lose the last ones, and the
    /// journal gives their signals again. A failed commit is reported with the next record.
    /// Measured in `docs/benchmarks.md` ("Journal and Logger write path").
    pub queue_records: bool,
}

/// [`LoggerConfig`] as a config file writes it.
#[derive(Debug, Serialize, Deserialize)]
struct LoggerKeys {
    #[serde(flatten)]
    location: LocationKeys,
    #[serde(default = "default_busy_timeout_ms")]
    busy_timeout_ms: u64,
    #[serde(default)]
    sync_every_record: bool,
    #[serde(default)]
    queue_records: bool,
    #[serde(flatten, skip_serializing)]
    unknown: UnknownKeys,
}

impl TryFrom<LoggerKeys> for LoggerConfig {
    type Error = String;

    fn try_from(keys: LoggerKeys) -> Result<Self, String> {
        refuse_unknown(
            &keys.unknown,
            &["busy_timeout_ms", "sync_every_record", "queue_records"],
        )?;
        Ok(LoggerConfig {
            location: keys.location.location()?,
            busy_timeout_ms: keys.busy_timeout_ms,
            sync_every_record: keys.sync_every_record,
            queue_records: keys.queue_records,
        })
    }
}

impl From<LoggerConfig> for LoggerKeys {
    fn from(config: LoggerConfig) -> Self {
        LoggerKeys {
            location: LocationKeys::of(&config.location),
            busy_timeout_ms: config.busy_timeout_ms,
            sync_every_record: config.sync_every_record,
            queue_records: config.queue_records,
            unknown: UnknownKeys::new(),
        }
    }
}

fn default_busy_timeout_ms() -> u64 {
    DEFAULT_BUSY_TIMEOUT_MS
}

impl LoggerConfig {
    /// The configuration for the database file `path`, with the defaults for everything else.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::at(Location::Sqlite(path.into()))
    }

    /// The configuration for the database at `location`, with the defaults for everything
    /// else.
    pub fn at(location: Location) -> Self {
        LoggerConfig {
            location,
            busy_timeout_ms: DEFAULT_BUSY_TIMEOUT_MS,
            sync_every_record: false,
            queue_records: false,
        }
    }

    /// Sets whether records are queued rather than waited for (see
    /// [`LoggerConfig::queue_records`]).
    #[must_use]
    pub fn with_queued_records(mut self, queued: bool) -> Self {
        self.queue_records = queued;
        self
    }

    /// Sets the busy timeout.
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets whether every record is synced to disk (see [`LoggerConfig::sync_every_record`]).
    #[must_use]
    pub fn with_sync_every_record(mut self, sync: bool) -> Self {
        self.sync_every_record = sync;
        self
    }

    /// The busy timeout as a [`Duration`].
    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }
}

/// How far a write is durable once its future resolves: what survives which crash, at what
/// cost (see `docs/benchmarks.md`, "Journal and Logger write path").
///
/// In a config file: `"normal"` or `"full"`.
///
/// ```
/// use chatty_log::Durability;
///
/// let full: Durability = serde_json::from_str(r#""full""#).unwrap();
/// assert_eq!(full, Durability::Full);
/// assert_eq!(Durability::default(), Durability::Normal);
/// assert!(serde_json::from_str::<Durability>(r#""fsync""#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Durability {
    /// SQLite's write-ahead log with `synchronous = NORMAL`: a committed write is in the
    /// operating system's hands, so it survives a crash or a SIGKILL of the process; a power
    /// loss or an operating-system crash can lose the last commits (never corrupt the file).
    ///
    /// PostgreSQL: the writer's transactions commit with `synchronous_commit = off`: a
    /// committed write is in the server's hands (its shared memory, written to its WAL within
    /// `3 × wal_writer_delay`, 600 ms by default), so it survives the death of the bot's
    /// process; a crash of the database server (or its machine) can lose the last commits,
    /// never corrupt the database or keep a later commit without an earlier one.
    #[default]
    Normal,
    /// `synchronous = FULL`: each group commit is synced to disk (one `fsync` per commit, shared
    /// by every write in it), so a committed write survives a power loss too.
    ///
    /// PostgreSQL: `synchronous_commit = on`: a commit returns once the server flushed it to
    /// its WAL on disk (and to the synchronous standbys its `synchronous_standby_names` names,
    /// if any), so a committed write survives a crash of the server and a power loss too.
    Full,
}

/// Where the state database is (the journal, the Logger's records, or both in one file) and how
/// durable its writes are.
///
/// ```
/// use chatty_log::{Durability, StateConfig};
///
/// let config: StateConfig = serde_json::from_str(
///     r#"{ "path": "/var/lib/chatty/state.sqlite", "durability": "full" }"#,
/// )
/// .unwrap();
/// assert_eq!(config.durability, Durability::Full);
/// assert_eq!(config.busy_timeout().as_secs(), 5);
/// assert_eq!(
///     StateConfig::new("/var/lib/chatty/state.sqlite").with_durability(Durability::Full),
///     config
/// );
///
/// // A misspelt field is an error, not silently ignored.
/// assert!(serde_json::from_str::<StateConfig>(r#"{ "path": "a", "durable": "full" }"#).is_err());
///
/// // PostgreSQL instead of a file: see [`PostgresConfig`].
/// let config: StateConfig =
///     serde_json::from_str(r#"{ "url": "postgres://chatty@db.example.org/bots" }"#).unwrap();
/// assert_eq!(config.location.shown().to_str(), Some("postgres://chatty@db.example.org/bots (schema chatty)"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StateKeys", into = "StateKeys")]
pub struct StateConfig {
    /// Where the database is: `path`, the SQLite database file (created, with its schema, if it
    /// does not exist; its directory must exist; SQLite keeps two more files next to it while
    /// it is open, `-wal` and `-shm`), or `url` (with `password` and `schema`), a PostgreSQL
    /// database ([`PostgresConfig`]). Exactly one of `path` and `url`.
    pub location: Location,
    /// How durable a write is when its future resolves: `"normal"` (the default) or `"full"`,
    /// see [`Durability`].
    pub durability: Durability,
    /// How long, in milliseconds, an operation waits for a database that another connection or
    /// process holds locked, before it fails with [`LogError::Locked`](crate::LogError::Locked)
    /// (with PostgreSQL: a lock another transaction holds, and a connection to the server).
    /// Default: 5000.
    pub busy_timeout_ms: u64,
    /// How many of the newest journal entries are remembered after the bot finished them, so
    /// that a platform giving one again (Slack's retries, an archive or mailbox read again) is
    /// recognised; older ones are forgotten, with the answers of every finished entry. An entry
    /// the bot has not finished is never forgotten. Default: 100 000.
    pub keys_kept: u64,
}

/// [`StateConfig`] as a config file writes it.
#[derive(Debug, Serialize, Deserialize)]
struct StateKeys {
    #[serde(flatten)]
    location: LocationKeys,
    #[serde(default)]
    durability: Durability,
    #[serde(default = "default_busy_timeout_ms")]
    busy_timeout_ms: u64,
    #[serde(default = "default_keys_kept")]
    keys_kept: u64,
    #[serde(flatten, skip_serializing)]
    unknown: UnknownKeys,
}

impl TryFrom<StateKeys> for StateConfig {
    type Error = String;

    fn try_from(keys: StateKeys) -> Result<Self, String> {
        refuse_unknown(
            &keys.unknown,
            &["durability", "busy_timeout_ms", "keys_kept"],
        )?;
        Ok(StateConfig {
            location: keys.location.location()?,
            durability: keys.durability,
            busy_timeout_ms: keys.busy_timeout_ms,
            keys_kept: keys.keys_kept,
        })
    }
}

impl From<StateConfig> for StateKeys {
    fn from(config: StateConfig) -> Self {
        StateKeys {
            location: LocationKeys::of(&config.location),
            durability: config.durability,
            busy_timeout_ms: config.busy_timeout_ms,
            keys_kept: config.keys_kept,
            unknown: UnknownKeys::new(),
        }
    }
}

/// The default of [`StateConfig::keys_kept`]: far more than any platform gives again (Slack
/// retries for 5 minutes; archives and mailboxes are read from a cursor).
pub const DEFAULT_KEYS_KEPT: u64 = 100_000;

fn default_keys_kept() -> u64 {
    DEFAULT_KEYS_KEPT
}

impl StateConfig {
    /// The configuration for the database file `path`, with the defaults for everything else.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::at(Location::Sqlite(path.into()))
    }

    /// The configuration for the database at `location`, with the defaults for everything
    /// else.
    pub fn at(location: Location) -> Self {
        StateConfig {
            location,
            durability: Durability::Normal,
            busy_timeout_ms: DEFAULT_BUSY_TIMEOUT_MS,
            keys_kept: DEFAULT_KEYS_KEPT,
        }
    }

    /// Sets how many finished journal entries are remembered (see
    /// [`StateConfig::keys_kept`]).
    #[must_use]
    pub fn with_keys_kept(mut self, kept: u64) -> Self {
        self.keys_kept = kept;
        self
    }

    /// Sets the durability.
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the busy timeout.
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The busy timeout as a [`Duration`].
    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }
}

impl From<&LoggerConfig> for StateConfig {
    /// The Logger's database: `sync_every_record` is [`Durability::Full`].
    fn from(config: &LoggerConfig) -> Self {
        StateConfig {
            location: config.location.clone(),
            durability: if config.sync_every_record {
                Durability::Full
            } else {
                Durability::Normal
            },
            busy_timeout_ms: config.busy_timeout_ms,
            keys_kept: DEFAULT_KEYS_KEPT,
        }
    }
}
