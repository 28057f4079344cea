//! The config file: named sessions, named bots, what wraps each bot and which sessions serve it.
//!
//! Loaded with figment from a TOML file, every key overridable from `CHATTY_…` environment
//! variables (`CHATTY_SESSIONS__CHAT__XMPP__PORT=5223` sets `sessions.chat.xmpp.port`; only
//! variables starting `CHATTY_SESSIONS__`, `CHATTY_BOTS__`, `CHATTY_JOURNAL__` or
//! `CHATTY_STATE__`, and `CHATTY_STATE_DIR`, are read). Unknown keys are errors, and every error
//! names the file (or variable), the key and what was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use serde::de::IgnoredAny;

mod bots;
mod journal;
mod platform;
mod secrets;
mod sessions;
pub use bots::{
    EchoConfig, LoggerSettings, ProcessConfig, ProxyConfig, RelayConfig, SynchronizerConfig,
    TerminalConfig, WebConfig,
};
pub use journal::{Durability, JournalConfig, StateSettings, state_dir};
pub use platform::PlatformTable;
use secrets::resolve_secret_files;
pub(crate) use secrets::secrets;
pub use sessions::AnswerLimitConfig;

/// The prefix of the environment variables that override config keys; `__` separates keys.
pub const ENV_PREFIX: &str = "CHATTY_";

/// A whole config file.
///
/// ```toml
/// [sessions.chat.xmpp]
/// jid = "bot@example.org"
/// password = { env = "BOT_PASSWORD" }
///
/// [bots.echo]
/// echo = {}
/// sessions = ["chat"]
/// logger = { path = "echo.db" }
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The sessions, by name.
    #[serde(default)]
    pub sessions: BTreeMap<String, SessionConfig>,
    /// The bots, by name.
    #[serde(default)]
    pub bots: BTreeMap<String, BotConfig>,
    /// Where the runner keeps what must survive its process (the journal); relative to the
    /// config file's directory. Default: `<config file name>.state` beside the config file
    /// ([`state_dir`]).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// The inbound journal ([`JournalConfig`]); on by default.
    #[serde(default)]
    pub journal: JournalConfig,
    /// Where the bots' state is kept ([`StateSettings`]): in the journal's database by default.
    #[serde(default)]
    pub state: Option<StateSettings>,
}

/// One session: exactly one platform key, holding that platform's own config, and the settings
/// the runner gives every session.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// How many answers one correspondent may get before a loop is suspected
    /// ([`AnswerLimitConfig`]); the session's own default when absent.
    #[serde(default)]
    pub answer_limit: Option<AnswerLimitConfig>,
    /// The prefix of text commands on this session (`"!"`, `"/"`, `"bot, "`; `""` for none),
    /// for a bot made with chatty-dispatch (`Runner::dispatcher`); the bot's own otherwise.
    #[serde(default)]
    pub command_prefix: Option<String>,
    /// An endpoint on an in-process direct network.
    #[serde(default)]
    pub direct: Option<DirectConfig>,
    /// An XMPP account: read as [`chatty_xmpp::XmppConfig`] ([`SessionConfig::xmpp_config`]).
    #[serde(default)]
    pub xmpp: Option<PlatformTable>,
    /// An IRC nick on a server: read as [`chatty_irc::IrcConfig`] ([`SessionConfig::irc_config`]).
    #[serde(default)]
    pub irc: Option<PlatformTable>,
    /// A Matrix account: read as [`chatty_matrix::MatrixConfig`]
    /// ([`SessionConfig::matrix_config`]).
    #[serde(default)]
    pub matrix: Option<PlatformTable>,
    /// An email account: read as [`chatty_email::EmailConfig`]
    /// ([`SessionConfig::email_config`]).
    #[serde(default)]
    pub email: Option<PlatformTable>,
    /// A Slack app: read as [`chatty_slack::SlackConfig`] ([`SessionConfig::slack_config`]).
    #[serde(default)]
    pub slack: Option<PlatformTable>,
    /// A worker of a NATS hub, standing for the platform sessions of the hub's gateway on
    /// another machine: read as [`chatty_nats::NatsConfig`] ([`SessionConfig::nats_config`];
    /// see `docs/scale-out.md`).
    #[serde(default)]
    pub nats: Option<PlatformTable>,
}

impl SessionConfig {
    /// The XMPP account's config, if this session is one.
    #[cfg(feature = "xmpp")]
    pub fn xmpp_config(&self) -> Option<&chatty_xmpp::XmppConfig> {
        self.xmpp.as_ref()?.get()
    }

    /// The IRC connection's config, if this session is one.
    #[cfg(feature = "irc")]
    pub fn irc_config(&self) -> Option<&chatty_irc::IrcConfig> {
        self.irc.as_ref()?.get()
    }

    /// The Matrix account's config, if this session is one.
    #[cfg(feature = "matrix")]
    pub fn matrix_config(&self) -> Option<&chatty_matrix::MatrixConfig> {
        self.matrix.as_ref()?.get()
    }

    /// The email account's config, if this session is one.
    #[cfg(feature = "email")]
    pub fn email_config(&self) -> Option<&chatty_email::EmailConfig> {
        self.email.as_ref()?.get()
    }

    /// The Slack app's config, if this session is one.
    #[cfg(feature = "slack")]
    pub fn slack_config(&self) -> Option<&chatty_slack::SlackConfig> {
        self.slack.as_ref()?.get()
    }

    /// The NATS hub's config, if this session is a worker of one.
    #[cfg(feature = "nats")]
    pub fn nats_config(&self) -> Option<&chatty_nats::NatsConfig> {
        self.nats.as_ref()?.get()
    }
}

/// An endpoint on an in-process network: bots of one runner talk to each other this way.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectConfig {
    /// The network's name (`direct+NETWORK:…` addresses); `direct` by default.
    #[serde(default = "default_network")]
    pub network: String,
    /// The endpoint's name: the bot's address is `direct[+NETWORK]:ENDPOINT`.
    pub endpoint: String,
}

fn default_network() -> String {
    "direct".to_owned()
}

/// One bot: exactly one kind key (`echo`, `relay`, `process`, `proxy`, `rust`, `terminal`,
/// `web`, `nats`), the sessions that serve it, and the decorators around it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// The names of the sessions that serve this bot (each session serves one bot).
    pub sessions: Vec<String>,
    /// The built-in echo bot: answers every message with its text.
    #[serde(default)]
    pub echo: Option<EchoConfig>,
    /// The built-in relay: passes signals between pairs of addresses.
    #[serde(default)]
    pub relay: Option<RelayConfig>,
    /// A bot in another process, speaking JSON lines on its standard input and output.
    #[serde(default)]
    pub process: Option<ProcessConfig>,
    /// A proxy for a remote bot or person.
    #[serde(default)]
    pub proxy: Option<ProxyConfig>,
    /// A bot written in Rust and registered with [`Runner::bot`](crate::Runner::bot) (or
    /// [`Runner::sync_bot`](crate::Runner::sync_bot)) under this name.
    #[serde(default)]
    pub rust: Option<String>,
    /// A person at this terminal, as the bot (operator takeover).
    #[serde(default)]
    pub terminal: Option<TerminalConfig>,
    /// A person in a browser, as the bot (operator takeover): a web chat window.
    #[serde(default)]
    pub web: Option<WebConfig>,
    /// A gateway to a NATS hub: the bot runs on the hub's workers, on other machines; read as
    /// [`chatty_nats::NatsConfig`] ([`BotConfig::nats_config`]; see `docs/scale-out.md`).
    #[serde(default)]
    pub nats: Option<PlatformTable>,
    /// Settings for a `rust` bot, read by its factory through
    /// [`BotContext::settings`](crate::BotContext::settings).
    #[serde(default)]
    pub settings: Option<IgnoredAny>,
    /// Record every signal in and out, and answer history and delivery-status queries.
    #[serde(default)]
    pub logger: Option<LoggerSettings>,
    /// The Synchronizer's settings for a bot registered with
    /// [`Runner::sync_bot`](crate::Runner::sync_bot).
    #[serde(default)]
    pub synchronizer: Option<SynchronizerConfig>,
}

impl BotConfig {
    /// The NATS hub's config, if this bot is a gateway to one.
    #[cfg(feature = "nats")]
    pub fn nats_config(&self) -> Option<&chatty_nats::NatsConfig> {
        self.nats.as_ref()?.get()
    }
}

/// Why a config file cannot be used. The message names the file (or environment variable), the
/// key, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read; what the operating system said is the
    /// [`source`](std::error::Error::source).
    #[error("{}: cannot read it: {source}", file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A key has a wrong value, is unknown, or is missing.
    #[error("{origin}: key `{key}`: {message}")]
    Invalid {
        /// Where the value came from: the file, or an environment variable.
        origin: String,
        /// The key, dotted (`sessions.chat.xmpp.port`).
        key: String,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// Several errors.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    fn invalid(file: &Path, key: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError::Invalid {
            origin: file.display().to_string(),
            key: key.into(),
            message: message.to_string(),
        }
    }

    fn from_figment(file: &Path, env_prefix: &str, error: figment::Error) -> Self {
        ConfigError::from_figment_within(file, env_prefix, error, "")
    }

    /// `within`: the dotted key the value was extracted from; figment puts it after the path
    /// inside that value, and it goes first.
    fn from_figment_within(
        file: &Path,
        env_prefix: &str,
        error: figment::Error,
        within: &str,
    ) -> Self {
        let inner: Vec<String> = within
            .split('.')
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        let mut all: Vec<ConfigError> = error
            .into_iter()
            .map(|mut e| {
                if !inner.is_empty() && e.path.ends_with(&inner) {
                    let inside = e.path.len() - inner.len();
                    let mut path = inner.clone();
                    path.extend(e.path.drain(..inside));
                    e.path = path;
                }
                let key = e.path.join(".");
                let origin = match &e.metadata {
                    Some(md) if md.source.as_ref().and_then(|s| s.file_path()).is_some() => md
                        .source
                        .as_ref()
                        .and_then(|s| s.file_path())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    Some(md) if md.name.contains("environment") && !e.path.is_empty() => format!(
                        "environment variable {env_prefix}{}",
                        e.path.join("__").to_uppercase()
                    ),
                    Some(md) => md.name.to_string(),
                    None => file.display().to_string(),
                };
                ConfigError::Invalid {
                    origin,
                    key: if key.is_empty() { "(top)".into() } else { key },
                    message: match &e.kind {
                        figment::error::Kind::UnknownField(field, expected) => format!(
                            "unknown key `{field}`, expected one of: {}",
                            expected.join(", ")
                        ),
                        figment::error::Kind::MissingField(field) => {
                            format!("missing key `{field}`")
                        }
                        kind => kind.to_string(),
                    },
                }
            })
            .collect();
        if all.len() == 1 {
            all.remove(0)
        } else {
            ConfigError::Several(all)
        }
    }
}

/// A loaded config, with what it was loaded from (for the settings of `rust` bots).
#[derive(Debug)]
pub struct LoadedConfig {
    /// The config itself.
    pub config: Config,
    /// The file.
    pub file: PathBuf,
    pub(crate) figment: Figment,
    env_prefix: String,
}

impl LoadedConfig {
    /// The directory relative paths in the file are relative to.
    pub fn dir(&self) -> &Path {
        match self.file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// Extracts the value at `key` (dotted) as a `T`, with errors naming the file and key.
    pub(crate) fn extract<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<T, ConfigError> {
        self.figment.extract_inner(key).map_err(|error| {
            ConfigError::from_figment_within(&self.file, &self.env_prefix, error, key)
        })
    }
}

/// Loads a config file, with `CHATTY_…` environment variables over it, and checks how its parts
/// refer to each other (which bot uses which session). Builds nothing and connects to nothing.
///
/// # Errors
/// A [`ConfigError`] naming the file, the key and what was expected.
pub fn load(file: impl AsRef<Path>) -> Result<LoadedConfig, ConfigError> {
    load_with_env(file, ENV_PREFIX)
}

fn load_with_env(file: impl AsRef<Path>, env_prefix: &str) -> Result<LoadedConfig, ConfigError> {
    // Only variables for keys under `sessions`, `bots`, `journal` and `state`, and `state_dir`: other `CHATTY_…` variables (a bot's
    // password, say) are not config keys.
    let env = Env::prefixed(env_prefix)
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            key.starts_with("sessions__")
                || key.starts_with("bots__")
                || key.starts_with("journal__")
                || key.starts_with("state__")
                || key == "state_dir"
        })
        .split("__");
    let file = file.as_ref().to_path_buf();
    // figment treats a missing file as empty: read it first, for a clear error.
    if let Err(e) = std::fs::read_to_string(&file) {
        return Err(ConfigError::Unreadable { file, source: e });
    }
    let figment = Figment::from(Toml::file_exact(&file)).merge(env);
    let mut config: Config = figment
        .extract()
        .map_err(|e| ConfigError::from_figment(&file, env_prefix, e))?;
    let source = platform::Source {
        figment: &figment,
        file: &file,
        env_prefix,
    };
    platform::read_tables(&mut config, &source)?;
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    resolve_secret_files(&mut config, &dir);
    let named = sessions::name_sessions(&mut config, &figment, &file);
    let loaded = LoadedConfig {
        config,
        file,
        figment,
        env_prefix: env_prefix.to_owned(),
    };
    match (check_references(&loaded), named) {
        (Ok(()), Ok(())) => Ok(loaded),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(ConfigError::Several(vec![a, b])),
    }
}

/// The platform key a session has, or an error.
pub(crate) fn platform_of(
    file: &Path,
    name: &str,
    session: &SessionConfig,
) -> Result<&'static str, ConfigError> {
    let mut set = Vec::new();
    if session.direct.is_some() {
        set.push("direct");
    }
    if session.xmpp.is_some() {
        set.push("xmpp");
    }
    if session.irc.is_some() {
        set.push("irc");
    }
    if session.matrix.is_some() {
        set.push("matrix");
    }
    if session.email.is_some() {
        set.push("email");
    }
    if session.slack.is_some() {
        set.push("slack");
    }
    if session.nats.is_some() {
        set.push("nats");
    }
    match set.as_slice() {
        [one] => Ok(one),
        [] => Err(ConfigError::invalid(
            file,
            format!("sessions.{name}"),
            "no platform: expected exactly one of `direct`, `xmpp`, `irc`, `matrix`, `email`, `slack`, `nats`",
        )),
        many => Err(ConfigError::invalid(
            file,
            format!("sessions.{name}"),
            format!(
                "{} platforms ({}): expected exactly one",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

/// The kind key a bot has, or an error.
pub(crate) fn kind_of(
    file: &Path,
    name: &str,
    bot: &BotConfig,
) -> Result<&'static str, ConfigError> {
    let mut set = Vec::new();
    if bot.echo.is_some() {
        set.push("echo");
    }
    if bot.relay.is_some() {
        set.push("relay");
    }
    if bot.process.is_some() {
        set.push("process");
    }
    if bot.proxy.is_some() {
        set.push("proxy");
    }
    if bot.rust.is_some() {
        set.push("rust");
    }
    if bot.terminal.is_some() {
        set.push("terminal");
    }
    if bot.web.is_some() {
        set.push("web");
    }
    if bot.nats.is_some() {
        set.push("nats");
    }
    match set.as_slice() {
        [one] => Ok(one),
        [] => Err(ConfigError::invalid(
            file,
            format!("bots.{name}"),
            "no bot kind: expected exactly one of `echo`, `relay`, `process`, `proxy`, `rust`, `terminal`, `web`, `nats`",
        )),
        many => Err(ConfigError::invalid(
            file,
            format!("bots.{name}"),
            format!(
                "{} bot kinds ({}): expected exactly one",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

fn check_references(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let file = &loaded.file;
    let config = &loaded.config;
    let mut errors = Vec::new();
    for (name, session) in &config.sessions {
        if let Err(e) = platform_of(file, name, session) {
            errors.push(e);
        }
    }
    let mut served_by: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, bot) in &config.bots {
        let kind = kind_of(file, name, bot).map_err(|e| errors.push(e));
        if bot.sessions.is_empty() {
            errors.push(ConfigError::invalid(
                file,
                format!("bots.{name}.sessions"),
                "empty: a bot needs at least one session",
            ));
        }
        for (i, session) in bot.sessions.iter().enumerate() {
            let key = format!("bots.{name}.sessions[{i}]");
            if !config.sessions.contains_key(session) {
                let known: Vec<&str> = config.sessions.keys().map(String::as_str).collect();
                errors.push(ConfigError::invalid(
                    file,
                    key,
                    format!(
                        "unknown session `{session}`, expected one of: {}",
                        if known.is_empty() {
                            "(no sessions defined)".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            } else if let Some(other) = served_by.insert(session, name) {
                errors.push(ConfigError::invalid(
                    file,
                    key,
                    format!(
                        "session `{session}` serves bot `{other}` already: a session serves one bot"
                    ),
                ));
            }
        }
        if bot.settings.is_some() && !matches!(kind, Ok("rust")) {
            errors.push(ConfigError::invalid(
                file,
                format!("bots.{name}.settings"),
                "only a `rust` bot has settings",
            ));
        }
    }
    // The database keys of each table that has them: (table, path?, url, password?, schema?).
    let journal_settings = &config.journal;
    let mut databases = vec![(
        "journal".to_owned(),
        journal_settings.path.is_some(),
        journal_settings.url.as_deref(),
        journal_settings.password.is_some(),
        journal_settings.schema.is_some(),
    )];
    for (name, bot) in &config.bots {
        if let Some(logger) = &bot.logger {
            databases.push((
                format!("bots.{name}.logger"),
                logger.path.is_some(),
                logger.url.as_deref(),
                logger.password.is_some(),
                logger.schema.is_some(),
            ));
        }
    }
    if let Some(state) = &config.state {
        databases.push((
            "state".to_owned(),
            false,
            Some(state.url.as_str()),
            state.password.is_some(),
            state.schema.is_some(),
        ));
    }
    for (table, path, url, password, schema) in databases {
        if let Some((key, message)) = journal::database_keys_error(path, url, password, schema) {
            errors.push(ConfigError::invalid(
                file,
                format!("{table}.{key}"),
                message,
            ));
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(ConfigError::Several(errors)),
    }
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;
