//! The session's configuration: a serde struct for the config-file runner.

use std::time::Duration;

use chatty_core::{Revealed, Secret, SecretError};
use serde::Deserialize;

/// The configuration of one Slack app serving a bot.
///
/// In a config file (TOML shown; any serde format works):
///
/// ```toml
/// bot_token = { env = "SLACK_BOT_TOKEN" }     # xoxb-…; or { file = "…" }, or { inline = "…" }
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
    /// The bot token (`xoxb-…`) for the Web API: from an environment variable, a file (read when
    /// the session starts running) or inline.
    pub bot_token: Secret,
    /// The app-level token (`xapp-…`, scope `connections:write`) for Socket Mode, in the same
    /// forms.
    pub app_token: Secret,
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
    /// How long `auth.test`, opening the Socket Mode connection and its `hello` may each take
    /// before the attempt counts as failed, in milliseconds: 10 000 by default.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The first step of the reconnection backoff, in milliseconds (1 000 by default): each
    /// wait is jittered between half of and the whole step, and steps double up to
    /// `reconnect_max_ms`; a connection that served 10 s or more starts them again from here
    /// (chatty-core's session driver: `chatty_core::driver::Backoff`).
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
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A token cannot be read.
    #[error("{what} token: {source}")]
    Token {
        /// Which token: `bot` or `app`.
        what: &'static str,
        /// Why it cannot be read.
        source: SecretError,
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
    pub fn new(bot_token: impl Into<Secret>, app_token: impl Into<Secret>) -> Self {
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

    /// The bot token, read from where the config says.
    pub(crate) fn load_bot_token(&self) -> Result<Revealed, ConfigError> {
        load("bot", &self.bot_token)
    }

    /// The app-level token, read from where the config says.
    pub(crate) fn load_app_token(&self) -> Result<Revealed, ConfigError> {
        load("app", &self.app_token)
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

/// Reveals one token, naming it in the error.
fn load(what: &'static str, secret: &Secret) -> Result<Revealed, ConfigError> {
    secret
        .reveal()
        .map_err(|source| ConfigError::Token { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SlackConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_redacted_debug() {
        let c = parse(
            r#"{"bot_token": {"inline": "xoxb-secret-1"}, "app_token": {"inline": "xapp-secret-2"}}"#,
        )
        .unwrap();
        assert_eq!(c.name, "slack");
        assert_eq!(c.api_url, "https://slack.com/api/");
        assert_eq!(c.api_base(), "https://slack.com/api");
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        c.validate().unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        let token = c.load_bot_token().unwrap();
        assert_eq!(token.expose(), "xoxb-secret-1");
        assert_eq!(format!("{token:?}"), "\"<redacted>\"");
        assert_eq!(c.load_app_token().unwrap().expose(), "xapp-secret-2");
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
        assert_eq!(c.load_app_token().unwrap().expose(), "xapp-from-file");
        let missing = c.load_bot_token().unwrap_err();
        assert!(matches!(
            &missing,
            ConfigError::Token {
                what: "bot",
                source: SecretError::MissingEnv(name),
            } if name == "CHATTY_SLACK_TEST_NO_SUCH_VAR"
        ));
        assert_eq!(
            missing.to_string(),
            "bot token: the environment variable CHATTY_SLACK_TEST_NO_SUCH_VAR is not set"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            c.load_app_token(),
            Err(ConfigError::Token {
                what: "app",
                source: SecretError::Unreadable { .. }
            })
        ));
        assert!(matches!(
            SlackConfig::new("", "xapp-1").load_bot_token().unwrap_err(),
            ConfigError::Token {
                what: "bot",
                source: SecretError::Empty(from),
            } if from == "inline"
        ));
        let c = SlackConfig::new(Secret::env("PATH"), Secret::file(&path));
        assert!(!c.load_bot_token().unwrap().expose().is_empty());
    }

    #[test]
    fn bare_token_strings_are_refused_without_echoing() {
        let err = parse(r#"{"bot_token": "xoxb-bare-1", "app_token": {"inline": "xapp-2"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bare string"), "{err}");
        assert!(!err.contains("xoxb-bare-1"), "{err}");
        let err = parse(r#"{"bot_token": {"inline": "xoxb-1"}, "app_token": "xapp-bare-2"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bare string"), "{err}");
        assert!(!err.contains("xapp-bare-2"), "{err}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(
            parse(r#"{"bot_token": {"inline": "a"}, "app_token": {"inline": "b"}, "chanels": []}"#)
                .is_err()
        );
        assert!(parse(r#"{"bot_token": {"inline": "a"}}"#).is_err());
        assert!(
            parse(r#"{"bot_token": {"token": "a"}, "app_token": {"inline": "b"}}"#)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
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
        assert!(matches!(backoff.validate(), Err(ConfigError::Backoff)));
    }
}
