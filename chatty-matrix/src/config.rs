//! The session's configuration: a serde struct for the config-file runner.

use std::path::PathBuf;
use std::time::Duration;

use chatty_core::{Revealed, Secret, SecretError};
use serde::Deserialize;

/// The platform name: the scheme of the session's addresses (`matrix:!room;kind=channel`).
pub const PLATFORM: &str = "matrix";

/// The configuration of one Matrix account serving a bot.
///
/// In a config file (TOML shown; any serde format works):
///
/// ```toml
/// homeserver = "https://matrix.example.org"
/// user = "chattybot"                     # the localpart, or the full @chattybot:example.org
/// password = { env = "MATRIX_PASSWORD" }
/// # rooms = ["!abcdefg", "#lobby:example.org"]  # joined on every connection
/// # name = "matrix"                      # the session name (`matrix+NAME:` addresses)
/// # device_id = "CHATTY"                 # default: chatty-NAME (see below)
/// # display_name = "Chatty bot"          # the device's display name at login
/// # ca_file = "/etc/chatty/test-ca.pem"  # a CA trusted besides the system's roots
/// # connect_timeout_ms = 10000
/// # reconnect_min_ms = 1000
/// # reconnect_max_ms = 60000
/// # sync_timeout_ms = 30000              # how long one /sync waits for news
/// ```
///
/// `Debug` output never shows the password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's base URL (`https://matrix.example.org`; `http://` only for local test
    /// servers). Before each login the session reads `/.well-known/matrix/client` there and
    /// uses the `m.homeserver.base_url` it names, if any (so the server name's URL works too).
    pub homeserver: String,
    /// The account: its localpart (`chattybot`) or full user ID (`@chattybot:example.org`).
    pub user: String,
    /// The account's password (`m.login.password`).
    pub password: Secret,
    /// The session name: `matrix` by default. Any other name qualifies the session's addresses
    /// (`matrix+work:!room;kind=channel`).
    #[serde(default = "default_name")]
    pub name: String,
    /// Rooms to join (room IDs `!…` or aliases `#…:server`) on every connection; invitations are
    /// accepted anyway.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// The device ID logged in as: `chatty-NAME` by default. Kept the same across restarts so
    /// that a message sent again after a restart, with the same transaction ID, is sent once
    /// (Matrix scopes transaction IDs to the device).
    #[serde(default)]
    pub device_id: Option<String>,
    /// The device's display name at login (`Chatty bot` by default).
    #[serde(default)]
    pub display_name: Option<String>,
    /// A PEM file of CA certificates trusted besides the system's roots (a test CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long one request of the connection (login, the first sync) may take, in
    /// milliseconds: 10 000 by default.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The first wait before reconnecting after a failure, in milliseconds (1 000 by default);
    /// it doubles after each failure up to `reconnect_max_ms`, with random jitter.
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// The longest wait between reconnection attempts, in milliseconds: 60 000 by default.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// How long one long-poll `/sync` waits for news on the server, in milliseconds: 30 000 by
    /// default.
    #[serde(default = "default_sync_timeout_ms")]
    pub sync_timeout_ms: u64,
    /// How long a send keeps trying while the homeserver is out of reach or failing (a
    /// transport error, a 5xx: a restart), in milliseconds: 30 000 by default; 0 refuses it at
    /// once. The send (and so the bot's `Handle::send`) waits meanwhile; after it, the send is
    /// refused as `Unreachable`. The transaction ID makes a try after one that did reach the
    /// server harmless.
    #[serde(default = "default_send_retry_ms")]
    pub send_retry_ms: u64,
}

fn default_name() -> String {
    PLATFORM.to_owned()
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

fn default_sync_timeout_ms() -> u64 {
    30_000
}

fn default_send_retry_ms() -> u64 {
    30_000
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The homeserver is not an `http://` or `https://` URL.
    #[error("`{0}` is not a homeserver URL like https://matrix.example.org")]
    BadHomeserver(String),
    /// The user is empty, or not a localpart or `@localpart:server`.
    #[error("`{0}` is not a Matrix user (a localpart, or @localpart:server)")]
    BadUser(String),
    /// A room is neither a room ID (`!…`) nor an alias (`#…:server`).
    #[error("rooms: `{0}` is not a room ID (!…) or alias (#…:server)")]
    BadRoom(String),
    /// The password cannot be read.
    #[error("password: {0}")]
    Password(#[from] SecretError),
    /// The session name is not usable in addresses.
    #[error("`{0}` is not a session name: use letters, digits, `_` or `-`")]
    BadName(String),
    /// The device ID is empty or holds white space or control characters.
    #[error("`{0}` is not a device ID")]
    BadDevice(String),
    /// The TLS configuration cannot be built (a `ca_file` that cannot be read).
    #[error("TLS: {0}")]
    Tls(String),
    /// The reconnection backoff is empty or inverted.
    #[error("reconnect_min_ms must be at least 1 and at most reconnect_max_ms")]
    Backoff,
}

impl MatrixConfig {
    /// A configuration for `user` with `password` on `homeserver`, with every default.
    pub fn new(
        homeserver: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        MatrixConfig {
            homeserver: homeserver.into(),
            user: user.into(),
            password: password.into(),
            name: default_name(),
            rooms: Vec::new(),
            device_id: None,
            display_name: None,
            ca_file: None,
            connect_timeout_ms: default_connect_timeout_ms(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            sync_timeout_ms: default_sync_timeout_ms(),
            send_retry_ms: default_send_retry_ms(),
        }
    }

    /// Joins `room` (an ID or alias) on every connection.
    #[must_use]
    pub fn with_room(mut self, room: impl Into<String>) -> Self {
        self.rooms.push(room.into());
        self
    }

    /// Sets the session name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Logs in as the device `device_id`.
    #[must_use]
    pub fn with_device_id(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// Trusts the CA certificates in the PEM file `path` besides the system's roots.
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout_ms = millis(timeout);
        self
    }

    /// Sets the reconnection backoff bounds.
    #[must_use]
    pub fn with_reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min_ms = millis(min);
        self.reconnect_max_ms = millis(max);
        self
    }

    /// Sets how long one `/sync` waits for news on the server.
    #[must_use]
    pub fn with_sync_timeout(mut self, timeout: Duration) -> Self {
        self.sync_timeout_ms = millis(timeout);
        self
    }

    /// Sets how long a send keeps trying while the homeserver is out of reach (zero: not at
    /// all).
    #[must_use]
    pub fn with_send_retry(mut self, retry: Duration) -> Self {
        self.send_retry_ms = millis(retry);
        self
    }

    /// How long a send keeps trying while the homeserver is out of reach.
    pub fn send_retry(&self) -> Duration {
        Duration::from_millis(self.send_retry_ms)
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }

    /// The long-poll timeout of `/sync`.
    pub fn sync_timeout(&self) -> Duration {
        Duration::from_millis(self.sync_timeout_ms)
    }

    /// The reconnection backoff bounds (first wait, longest wait).
    pub fn reconnect_backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.reconnect_min_ms),
            Duration::from_millis(self.reconnect_max_ms),
        )
    }

    /// The device ID to log in as.
    pub fn device_id(&self) -> String {
        self.device_id
            .clone()
            .unwrap_or_else(|| format!("chatty-{}", self.name))
    }

    /// The homeserver's base URL without a trailing `/`.
    pub fn base_url(&self) -> &str {
        self.homeserver.trim_end_matches('/')
    }

    /// The localpart of [`user`](MatrixConfig::user), which logs in.
    pub fn localpart(&self) -> &str {
        match self.user.strip_prefix('@') {
            Some(full) => full.split(':').next().unwrap_or(full),
            None => &self.user,
        }
    }

    /// Checks everything that can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.base_url();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty() || host.contains(char::is_whitespace)) {
            return Err(ConfigError::BadHomeserver(self.homeserver.clone()));
        }
        let user_ok = match self.user.strip_prefix('@') {
            Some(full) => full
                .split_once(':')
                .is_some_and(|(local, server)| valid_localpart(local) && !server.is_empty()),
            None => valid_localpart(&self.user),
        };
        if !user_ok {
            return Err(ConfigError::BadUser(self.user.clone()));
        }
        for room in &self.rooms {
            let ok = match room.chars().next() {
                Some('!') => room.len() > 1,
                Some('#') => room.contains(':') && room.len() > 3,
                _ => false,
            };
            if !ok || room.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::BadRoom(room.clone()));
            }
        }
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(ConfigError::BadName(self.name.clone()));
        }
        let device = self.device_id();
        if device.is_empty() || device.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::BadDevice(device));
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return Err(ConfigError::Backoff);
        }
        Ok(())
    }

    /// The password, read from where the config says.
    pub(crate) fn load_password(&self) -> Result<Revealed, ConfigError> {
        Ok(self.password.reveal()?)
    }
}

/// Whether `local` is a user localpart the spec allows (`a-z 0-9 . _ = - /`, and `+`).
fn valid_localpart(local: &str) -> bool {
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/+".contains(c))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<MatrixConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_redacted_debug() {
        let c = parse(
            r##"{"homeserver": "https://matrix.example.org/", "user": "bot",
                "password": {"inline": "hunter2"}, "rooms": ["!abc", "#lobby:example.org"]}"##,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.name, "matrix");
        assert_eq!(c.base_url(), "https://matrix.example.org");
        assert_eq!(c.device_id(), "chatty-matrix");
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        assert_eq!(c.sync_timeout(), Duration::from_secs(30));
        assert_eq!(c.send_retry(), Duration::from_secs(30));
        assert_eq!(
            c.reconnect_backoff(),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        assert_eq!(c.load_password().unwrap().expose(), "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let full = MatrixConfig::new("http://127.0.0.1:8008", "@bot:localhost", "pw");
        full.validate().unwrap();
        assert_eq!(full.localpart(), "bot");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let unknown = parse(
            r#"{"homeserver": "https://m.org", "user": "bot", "password": {"inline": "x"},
                "room": ["!a"]}"#,
        );
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
        let base = || MatrixConfig::new("https://m.org", "bot", "pw");
        assert!(matches!(
            MatrixConfig::new("matrix.org", "bot", "pw").validate(),
            Err(ConfigError::BadHomeserver(_))
        ));
        assert!(matches!(
            MatrixConfig::new("https://m.org", "Bot Name", "pw").validate(),
            Err(ConfigError::BadUser(_))
        ));
        assert!(matches!(
            MatrixConfig::new("https://m.org", "@bot", "pw").validate(),
            Err(ConfigError::BadUser(_))
        ));
        assert!(matches!(
            base().with_room("lobby").validate(),
            Err(ConfigError::BadRoom(_))
        ));
        assert!(matches!(
            base().with_name("a b").validate(),
            Err(ConfigError::BadName(_))
        ));
        assert!(matches!(
            base().with_device_id("").validate(),
            Err(ConfigError::BadDevice(_))
        ));
        assert!(matches!(
            base()
                .with_reconnect_backoff(Duration::from_secs(5), Duration::from_secs(1))
                .validate(),
            Err(ConfigError::Backoff)
        ));
    }
}
