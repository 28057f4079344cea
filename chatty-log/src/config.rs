//! The Logger's configuration, as a config file gives it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default for [`LoggerConfig::busy_timeout_ms`]: five seconds.
const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;

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
        }
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
