//! The session's configuration: a serde struct for the config-file runner.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// A secret (a token): shown as `"<redacted>"` by `Debug`, never logged.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the Web API only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// Where a token comes from: written inline, an environment variable, or a file.
///
/// In a config file: `bot_token = "xoxb-…"`, `bot_token = { env = "SLACK_BOT_TOKEN" }` or
/// `bot_token = { file = "/run/secrets/slack-bot" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TokenSource {
    /// The token itself.
    Inline(Secret),
    /// The name of an environment variable holding it.
    Env {
        /// The variable's name.
        env: String,
    },
    /// A file holding it (surrounding white space is trimmed).
    File {
        /// The file.
        file: PathBuf,
    },
}

impl From<&str> for TokenSource {
    fn from(value: &str) -> Self {
        TokenSource::Inline(Secret::new(value))
    }
}

impl From<String> for TokenSource {
    fn from(value: String) -> Self {
        TokenSource::Inline(Secret::new(value))
    }
}

impl TokenSource {
    /// The token, read from where it is (when the session starts).
    pub fn load(&self, what: &'static str) -> Result<Secret, ConfigError> {
        let secret =
            match self {
                TokenSource::Inline(s) => s.clone(),
                TokenSource::Env { env } => std::env::var(env)
                    .map(|v| Secret::new(v.trim()))
                    .map_err(|_| ConfigError::TokenEnv {
                        what,
                        var: env.clone(),
                    })?,
                TokenSource::File { file } => std::fs::read_to_string(file)
                    .map(|s| Secret::new(s.trim()))
                    .map_err(|e| ConfigError::TokenFile {
                        what,
                        path: file.clone(),
                        reason: e.to_string(),
                    })?,
            };
        if secret.expose().is_empty() {
            return Err(ConfigError::EmptyToken { what });
        }
        Ok(secret)
    }
}

/// The configuration of one Slack app serving a bot.
///
/// In a config file (TOML shown; any serde format works):
///
/// ```toml
/// bot_token = { env = "SLACK_BOT_TOKEN" }     # xoxb-…; or inline, or { file = "…" }
/// app_token = { file = "/run/secrets/xapp" }  # xapp-… (Socket Mode)
/// # api_url = "https://slack.com/api/"        # another base URL (a local Slack for tests)
/// # channels = ["C0123456789"]                # public channels to join at start
/// # name = "slack"                            # the session name (`slack+NAME:` addresses)
/// # connect_timeout_ms = 10000
/// # reconnect_min_ms = 1000
/// # reconnect_max_ms = 60000
/// # rate_limit_retries = 20
/// ```
///
/// `Debug` output never shows the tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The bot token (`xoxb-…`) for the Web API.
    pub bot_token: TokenSource,
    /// The app-level token (`xapp-…`, scope `connections:write`) for Socket Mode.
    pub app_token: TokenSource,
    /// The Web API base URL, ending in `/api/`: `https://slack.com/api/` by default.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Channel ids (`C…`) to join when the session starts.
    #[serde(default)]
    pub channels: Vec<String>,
    /// The session name: `slack` by default. Any other name qualifies the session's addresses
    /// (`slack+work:T01/U02`).
    #[serde(default = "default_name")]
    pub name: String,
    /// How long the first connection (auth.test, the socket's `hello`) may take before it
    /// counts as failed, in milliseconds: 10 000 by default.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The first wait before trying again after a failed connection, in milliseconds
    /// (1 000 by default; Socket Mode reconnects in whole seconds, at least one).
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// The longest wait between connection attempts, in milliseconds: 60 000 by default.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// How many HTTP 429 answers in a row one Web API call waits out (each for its
    /// `Retry-After`) before the signal fails as rate limited: 20 by default.
    #[serde(default = "default_rate_limit_retries")]
    pub rate_limit_retries: u32,
}

fn default_api_url() -> String {
    "https://slack.com/api/".to_owned()
}

fn default_name() -> String {
    crate::PLATFORM.to_owned()
}

fn default_connect_timeout_ms() -> u64 {
    10_000
}

fn default_reconnect_min_ms() -> u64 {
    1_000
}

fn default_reconnect_max_ms() -> u64 {
    60_000
}

fn default_rate_limit_retries() -> u32 {
    20
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The token's environment variable is not set.
    #[error("the {what} token's environment variable {var} is not set")]
    TokenEnv {
        /// Which token.
        what: &'static str,
        /// The variable.
        var: String,
    },
    /// The token's file cannot be read.
    #[error("cannot read the {what} token file {path}: {reason}")]
    TokenFile {
        /// Which token.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The token is empty.
    #[error("the {what} token is empty")]
    EmptyToken {
        /// Which token.
        what: &'static str,
    },
    /// The API URL is not an http(s) URL.
    #[error("`{0}` is not a Web API base URL like https://slack.com/api/")]
    BadApiUrl(String),
    /// The session name is not usable in addresses.
    #[error("`{0}` is not a session name: use letters, digits, `_` or `-`")]
    BadName(String),
    /// A channel to join is not a channel id.
    #[error("`{0}` is not a channel id like C0123456789")]
    BadChannel(String),
    /// The reconnection backoff is empty or inverted.
    #[error("reconnect_min_ms must be at least 1 and at most reconnect_max_ms")]
    Backoff,
}

impl SlackConfig {
    /// A configuration with these tokens and every default.
    pub fn new(bot_token: impl Into<TokenSource>, app_token: impl Into<TokenSource>) -> Self {
        SlackConfig {
            bot_token: bot_token.into(),
            app_token: app_token.into(),
            api_url: default_api_url(),
            channels: Vec::new(),
            name: default_name(),
            connect_timeout_ms: default_connect_timeout_ms(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            rate_limit_retries: default_rate_limit_retries(),
        }
    }

    /// Uses another Web API base URL (a local Slack).
    #[must_use]
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// Joins these channels at start.
    #[must_use]
    pub fn with_channels(mut self, channels: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.channels = channels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the session name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the reconnection backoff bounds.
    #[must_use]
    pub fn with_reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min_ms = u64::try_from(min.as_millis()).unwrap_or(u64::MAX);
        self.reconnect_max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }

    /// The reconnection backoff bounds (first wait, longest wait).
    pub fn reconnect_backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.reconnect_min_ms),
            Duration::from_millis(self.reconnect_max_ms),
        )
    }

    /// The API base URL, always ending in `/` (slack-morphism appends method names).
    pub(crate) fn api_base(&self) -> String {
        self.api_url.trim_end_matches('/').to_owned()
    }

    /// Checks everything that can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.api_url.as_str();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
            return Err(ConfigError::BadApiUrl(self.api_url.clone()));
        }
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(ConfigError::BadName(self.name.clone()));
        }
        for channel in &self.channels {
            let ok = channel.len() >= 2
                && (channel.starts_with('C') || channel.starts_with('G'))
                && channel.chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                return Err(ConfigError::BadChannel(channel.clone()));
            }
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return Err(ConfigError::Backoff);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SlackConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_redacted_debug() {
        let c = parse(r#"{"bot_token": "xoxb-secret-1", "app_token": "xapp-secret-2"}"#).unwrap();
        assert_eq!(c.name, "slack");
        assert_eq!(c.api_url, "https://slack.com/api/");
        assert_eq!(c.api_base(), "https://slack.com/api");
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        c.validate().unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn tokens_come_from_env_and_files() {
        let path = std::env::temp_dir().join(format!("chatty-slack-token-{}", std::process::id()));
        std::fs::write(&path, "xapp-from-file\n").unwrap();
        let json = format!(
            r#"{{"bot_token": {{"env": "CHATTY_SLACK_TEST_NO_SUCH_VAR"}}, "app_token": {{"file": "{}"}}}}"#,
            path.display()
        );
        let c = parse(&json).unwrap();
        assert_eq!(c.app_token.load("app").unwrap().expose(), "xapp-from-file");
        assert!(matches!(
            c.bot_token.load("bot"),
            Err(ConfigError::TokenEnv { .. })
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            c.app_token.load("app"),
            Err(ConfigError::TokenFile { .. })
        ));
        assert_eq!(
            TokenSource::from("").load("bot"),
            Err(ConfigError::EmptyToken { what: "bot" })
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(parse(r#"{"bot_token": "a", "app_token": "b", "chanels": []}"#).is_err());
        assert!(parse(r#"{"bot_token": "a"}"#).is_err());
        let bad_url = SlackConfig::new("a", "b").with_api_url("ftp://x");
        assert!(matches!(bad_url.validate(), Err(ConfigError::BadApiUrl(_))));
        let bad_name = SlackConfig::new("a", "b").with_name("a b");
        assert!(matches!(bad_name.validate(), Err(ConfigError::BadName(_))));
        let bad_channel = SlackConfig::new("a", "b").with_channels(["#general"]);
        assert!(matches!(
            bad_channel.validate(),
            Err(ConfigError::BadChannel(_))
        ));
        let backoff = SlackConfig::new("a", "b")
            .with_reconnect_backoff(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(backoff.validate(), Err(ConfigError::Backoff));
    }
}
