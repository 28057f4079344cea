//! The Logger's configuration, as a config file gives it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggerConfig {
    /// The SQLite database file. It is created, with its schema, if it does not exist; its
    /// directory must exist. SQLite keeps two more files next to it while it is open
    /// (`-wal` and `-shm`).
    pub path: PathBuf,
    /// How long, in milliseconds, an operation waits for a database that another connection or
    /// process holds locked, before it fails with [`LogError::Locked`](crate::LogError::Locked).
    /// Default: 5000.
    #[serde(default = "default_busy_timeout_ms")]
    pub busy_timeout_ms: u64,
    /// Whether every record is synced to disk before the signal goes on (SQLite
    /// `synchronous = FULL`): records then survive a power loss or an operating-system crash,
    /// at the cost of one disk sync per signal (about 30 times slower, see
    /// `docs/benchmarks.md`). By default (`false`, SQLite `synchronous = NORMAL` with its
    /// write-ahead log) every record survives a crash or restart of the process, and a power
    /// loss can lose the last records, never corrupt the file.
    #[serde(default)]
    pub sync_every_record: bool,
    /// Whether a signal goes on as soon as its record is queued for the database's writer
    /// (`true`), rather than once the record is committed (`false`, the default). Queued
    /// records are committed in order with everything written after them through the same
    /// database (so with the journal in the same file, a journal acknowledgement or answer is
    /// never durable without the records before it); a crash can lose the last ones, and the
    /// journal gives their signals again. A failed commit is reported with the next record.
    /// Measured in `docs/benchmarks.md` ("Journal and Logger write path").
    #[serde(default)]
    pub queue_records: bool,
}

fn default_busy_timeout_ms() -> u64 {
    DEFAULT_BUSY_TIMEOUT_MS
}

impl LoggerConfig {
    /// The configuration for the database file `path`, with the defaults for everything else.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LoggerConfig {
            path: path.into(),
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
    #[default]
    Normal,
    /// `synchronous = FULL`: each group commit is synced to disk (one `fsync` per commit, shared
    /// by every write in it), so a committed write survives a power loss too.
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
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The SQLite database file. It is created, with its schema, if it does not exist; its
    /// directory must exist. SQLite keeps two more files next to it while it is open (`-wal`
    /// and `-shm`).
    pub path: PathBuf,
    /// How durable a write is when its future resolves: `"normal"` (the default) or `"full"`,
    /// see [`Durability`].
    #[serde(default)]
    pub durability: Durability,
    /// How long, in milliseconds, an operation waits for a database that another connection or
    /// process holds locked, before it fails with [`LogError::Locked`](crate::LogError::Locked).
    /// Default: 5000.
    #[serde(default = "default_busy_timeout_ms")]
    pub busy_timeout_ms: u64,
    /// How many of the newest journal entries are remembered after the bot finished them, so
    /// that a platform giving one again (Slack's retries, an archive or mailbox read again) is
    /// recognised; older ones are forgotten, with the answers of every finished entry. An entry
    /// the bot has not finished is never forgotten. Default: 100 000.
    #[serde(default = "default_keys_kept")]
    pub keys_kept: u64,
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
        StateConfig {
            path: path.into(),
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
            path: config.path.clone(),
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
