//! The settings of each bot kind and of the decorators around a bot (`[bots.NAME]`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chatty_core::Secret;
use serde::Deserialize;

/// The echo bot's settings (none yet).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoConfig {}

/// The relay's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Pairs of addresses: what one says goes to the other, both ways.
    pub pairs: Vec<[String; 2]>,
    /// Whether relayed text starts with who said it (`alice@example.org: hello`); `true` by
    /// default.
    #[serde(default = "yes")]
    pub label: bool,
}

fn yes() -> bool {
    true
}

/// A bot in another process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// The program: a path, or a name looked up in `PATH`.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// More environment variables for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its working directory; the config file's directory by default.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The first wait before restarting it after it exits, in milliseconds (500 by default);
    /// doubling up to `restart_max_ms`.
    #[serde(default = "default_restart_min_ms")]
    pub restart_min_ms: u64,
    /// The longest wait between restarts, in milliseconds: 30 000 by default.
    #[serde(default = "default_restart_max_ms")]
    pub restart_max_ms: u64,
    /// How many signals the program may have in hand at most (given to it or waiting for it,
    /// not acknowledged): 1 000 by default. The sessions take no more from the platform
    /// meanwhile.
    #[serde(default = "default_in_hand")]
    pub in_hand: usize,
}

fn default_in_hand() -> usize {
    1_000
}

fn default_restart_min_ms() -> u64 {
    500
}

fn default_restart_max_ms() -> u64 {
    30_000
}

/// A proxy's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The remote bot or person (`xmpp:echo@example.org`).
    pub remote: String,
    /// Where the remote's unprompted signals go; whoever spoke last by default.
    #[serde(default)]
    pub local: Option<String>,
}

/// A terminal chat window as the bot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    /// The conversation to open first.
    #[serde(default)]
    pub talk_to: Option<String>,
}

/// A web chat window as the bot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where to listen: `127.0.0.1:8080` by default. Any other than a loopback address needs a
    /// `token`.
    #[serde(default = "default_web_bind")]
    pub bind: String,
    /// The token every request must carry (`?token=` or `Authorization: Bearer`). It is never
    /// printed or logged: the runner prints the window's URL without it.
    #[serde(default)]
    pub token: Option<Secret>,
    /// The host names (or IP addresses) the window is reached by from other machines (only with
    /// a `token`): a request naming any other host than these, loopback names and the `bind`
    /// address is refused, against DNS rebinding.
    #[serde(default)]
    pub public_names: Vec<String>,
    /// The conversation to open first.
    #[serde(default)]
    pub talk_to: Option<String>,
}

fn default_web_bind() -> String {
    "127.0.0.1:8080".to_owned()
}

/// The Logger's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggerSettings {
    /// The SQLite database file (created if missing; its directory must exist). Without it
    /// (and without `url`), the records go into the journal's database, through the journal's
    /// writer (one bot's Logger per database; the journal must be on).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A PostgreSQL database instead of a file: `postgres://user@host:port/database`.
    #[serde(default)]
    pub url: Option<String>,
    /// The PostgreSQL password, when the URL has none (a secret).
    #[serde(default)]
    pub password: Option<Secret>,
    /// The PostgreSQL schema the records are in (default `chatty`).
    #[serde(default)]
    pub schema: Option<String>,
    /// How long to wait for a locked database, in milliseconds: 5 000 by default.
    #[serde(default)]
    pub busy_timeout_ms: Option<u64>,
    /// Sync every record to disk before the signal goes on; `false` by default.
    #[serde(default)]
    pub sync_every_record: bool,
}

/// The Synchronizer's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynchronizerConfig {
    /// How many signals may wait in the bot's queue.
    #[serde(default)]
    pub capacity: Option<usize>,
}
