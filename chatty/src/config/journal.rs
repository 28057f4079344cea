//! The `[journal]` table and `state_dir`: where the runner keeps what must survive its process.

use std::path::{Path, PathBuf};

use chatty_core::Secret;
use serde::Deserialize;

/// The inbound journal: every signal from a platform is kept before the platform is told it was
/// received, and given to the bot again after a crash if the bot had not finished it (see
/// `docs/guarantees.md`). On by default.
///
/// ```toml
/// state_dir = "/var/lib/chatty"   # default: `<config name>.state` beside the config file
///
/// [journal]
/// durability = "full"             # default: "normal"
/// ```
///
/// Or in PostgreSQL, shared by every process that names the database:
///
/// ```toml
/// [journal]
/// url = "postgres://chatty@db.example.org/bots"
/// password = { env = "CHATTY_DB_PASSWORD" }
/// schema = "support_bot"          # default: "chatty"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// Whether the journal is on (default `true`). Off, a signal that was received but not yet
    /// handled when the process stops is lost, and an answer may be sent twice after a restart.
    #[serde(default = "on")]
    pub enabled: bool,
    /// The journal's database file; default `journal.sqlite` in the state directory. Relative
    /// to the config file's directory. Not with `url`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A PostgreSQL database instead of a file: `postgres://user@host:port/database`. Not
    /// with `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// The PostgreSQL password, when the URL has none: a secret (`{ env = "…" }`,
    /// `{ file = "…" }`, `{ inline = "…" }`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// The PostgreSQL schema the tables are in (default `chatty`): one per config sharing a
    /// database.
    #[serde(default)]
    pub schema: Option<String>,
    /// What a write survives once the platform was told ([`Durability`]).
    #[serde(default)]
    pub durability: Durability,
    /// How many of the newest finished signals are remembered, so that one the platform gives
    /// again is recognised (default 100 000); older ones are forgotten, and the file stops
    /// growing. An unfinished signal is never forgotten.
    #[serde(default = "keys_kept")]
    pub keys_kept: u64,
    /// Who the journal belongs to, checked each time it is opened: by default this config
    /// file's path, so that a journal another config made is refused. Give the same value to
    /// the configs that are to share one journal: the same bot's config on two machines that
    /// run it one at a time (a standby gateway over a PostgreSQL journal), or a config file
    /// that moved.
    #[serde(default)]
    pub identity: Option<String>,
}

fn keys_kept() -> u64 {
    100_000
}

fn on() -> bool {
    true
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            enabled: true,
            path: None,
            url: None,
            password: None,
            schema: None,
            durability: Durability::default(),
            keys_kept: keys_kept(),
            identity: None,
        }
    }
}

/// What is wrong with the keys that say where a database is (`[journal]`, a bot's `logger`):
/// `path` and `url` together, `password` or `schema` without `url`, a `url` that is not
/// PostgreSQL's. `None` when they are fine.
pub(crate) fn database_keys_error(
    path: bool,
    url: Option<&str>,
    password: bool,
    schema: bool,
) -> Option<(&'static str, String)> {
    match url {
        Some(_) if path => Some((
            "url",
            "both `path` and `url`: give `path` for an SQLite file or `url` for PostgreSQL".into(),
        )),
        Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
            Some(("url", "expected a postgres:// or postgresql:// URL".into()))
        }
        None if password => Some(("password", "a password is for PostgreSQL: set `url`".into())),
        None if schema => Some(("schema", "a schema is for PostgreSQL: set `url`".into())),
        _ => None,
    }
}

/// Where the bots' state ([`BotContext::state`](crate::BotContext::state)) is kept when not in
/// the journal's database: a PostgreSQL database every process of the bot names, so that they
/// share it (the workers of a NATS hub, each with a journal of its own).
///
/// ```toml
/// [state]
/// url = "postgres://chatty@db.example.org/bots"
/// password = { env = "CHATTY_DB_PASSWORD" }
/// schema = "support_state"        # default: "chatty"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// The database: `postgres://user@host:port/database`.
    pub url: String,
    /// The password, when the URL has none (a secret).
    #[serde(default)]
    pub password: Option<Secret>,
    /// The schema the values are in (default `chatty`).
    #[serde(default)]
    pub schema: Option<String>,
}

/// What a journal write survives (measured costs in `docs/benchmarks.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Survives the death of the process (a crash, SIGKILL, the machine's out-of-memory
    /// killer); a power loss or an operating-system crash may lose the last moments (SQLite
    /// write-ahead log with `synchronous = NORMAL`; PostgreSQL `synchronous_commit = off`, where
    /// a crash of the database server may lose its last moments). The default.
    #[default]
    Normal,
    /// Survives a power loss too: every group commit is synced to disk before the platform is
    /// told (`synchronous = FULL`; PostgreSQL `synchronous_commit = on`, which also survives a
    /// crash of the database server).
    Full,
}

/// The state directory: `state_dir` from the file (relative to its directory), or
/// `<file name without extension>.state` beside the config file.
///
/// ```
/// use std::path::Path;
/// use chatty::config::state_dir;
///
/// assert_eq!(state_dir(Path::new("/etc/chatty/bots.toml"), None), Path::new("/etc/chatty/bots.state"));
/// assert_eq!(state_dir(Path::new("/etc/chatty/bots.toml"), Some(Path::new("var"))), Path::new("/etc/chatty/var"));
/// ```
pub fn state_dir(file: &Path, configured: Option<&Path>) -> PathBuf {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match configured {
        Some(path) => dir.join(path),
        None => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "chatty".to_owned());
            dir.join(format!("{stem}.state"))
        }
    }
}

impl JournalConfig {
    /// The journal's file, for a config whose state directory is `state_dir` and whose own
    /// directory is `dir`.
    pub fn file(&self, dir: &Path, state_dir: &Path) -> PathBuf {
        match &self.path {
            Some(path) => dir.join(path),
            None => state_dir.join("journal.sqlite"),
        }
    }
}
