//! What a gateway and a worker are told: where NATS is, and the name of the hub they share.

use std::time::Duration;

use chatty_core::Secret;
use serde::{Deserialize, Serialize};

use crate::error::NatsError;

/// How long JetStream remembers a message id to drop a second copy, by default: ten minutes,
/// longer than Slack's retries (up to about five) and than a restart.
pub const DEFAULT_DUPLICATE_WINDOW_MS: u64 = 10 * 60 * 1000;

/// How long a worker has to take a signal (acknowledge it) before JetStream gives it again.
pub const DEFAULT_ACK_WAIT_MS: u64 = 30_000;

/// How many times a signal is given to a worker before it is set aside, by default.
pub const DEFAULT_MAX_TRIES: u32 = 5;

/// How many partitions a hub's conversations are spread over, by default.
pub const DEFAULT_PARTITIONS: u32 = 16;

/// How long a worker's hold on a partition, or a gateway's on its hub, lasts without being
/// renewed, by default: a standby gateway takes over within about 4.5 s.
pub const DEFAULT_LEASE_MS: u64 = 4_000;

/// One hub: where NATS is, and the name a gateway and its workers share.
///
/// The hub's name names its JetStream streams and subjects, so two bots on one NATS server are
/// two hubs. Unknown keys are refused.
///
/// ```
/// use chatty_nats::NatsConfig;
///
/// let config: NatsConfig =
///     serde_json::from_str(r#"{ "url": "nats://127.0.0.1:4222", "hub": "support" }"#).unwrap();
/// assert_eq!(config, NatsConfig::new("nats://127.0.0.1:4222", "support"));
/// assert_eq!(config.duplicate_window().as_secs(), 600);
/// assert_eq!(config.partitions, 16);
/// assert!(serde_json::from_str::<NatsConfig>(r#"{ "url": "x", "hub": "h", "hubb": 1 }"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NatsConfig {
    /// The server: `nats://host:port` (`tls://host:port` for TLS).
    pub url: String,
    /// The hub's name: letters, digits, `-` and `_` (it names streams and subjects).
    pub hub: String,
    /// A user name, with `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A token, instead of a user and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// How long JetStream drops a second copy of a message id, in milliseconds (at least
    /// [`DEFAULT_DUPLICATE_WINDOW_MS`] is advised).
    #[serde(default = "default_duplicate_window_ms")]
    pub duplicate_window_ms: u64,
    /// How long a worker has to take a signal before it is given again, in milliseconds.
    #[serde(default = "default_ack_wait_ms")]
    pub ack_wait_ms: u64,
    /// How many partitions the conversations are spread over (1 to 1 024): each is handled by
    /// one worker at a time, so the signals of one conversation are handled in order. Fixed
    /// when the hub is first used; a gateway or worker told another number refuses to start.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// How long a worker's hold on a partition, or a gateway's on the hub, lasts unless
    /// renewed, in milliseconds: a worker that died leaves its partitions to the others after
    /// this (and its unfinished signals after the ack wait), a gateway its hub to a standby
    /// one.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// How many times a signal is given to a worker (each time one takes it and dies, or its
    /// bot fails, before finishing it) before it is set aside in the hub's dead-letter stream,
    /// with a `SystemError` to the bot. The waits between tries double from the ack wait.
    #[serde(default = "default_max_tries")]
    pub max_tries: u32,
}

fn default_max_tries() -> u32 {
    DEFAULT_MAX_TRIES
}

fn default_partitions() -> u32 {
    DEFAULT_PARTITIONS
}

fn default_lease_ms() -> u64 {
    DEFAULT_LEASE_MS
}

fn default_duplicate_window_ms() -> u64 {
    DEFAULT_DUPLICATE_WINDOW_MS
}

fn default_ack_wait_ms() -> u64 {
    DEFAULT_ACK_WAIT_MS
}

impl NatsConfig {
    /// The hub `hub` on the server at `url`, without credentials.
    pub fn new(url: impl Into<String>, hub: impl Into<String>) -> Self {
        NatsConfig {
            url: url.into(),
            hub: hub.into(),
            user: None,
            password: None,
            token: None,
            duplicate_window_ms: DEFAULT_DUPLICATE_WINDOW_MS,
            ack_wait_ms: DEFAULT_ACK_WAIT_MS,
            partitions: DEFAULT_PARTITIONS,
            lease_ms: DEFAULT_LEASE_MS,
            max_tries: DEFAULT_MAX_TRIES,
        }
    }

    /// Logs in as `user` with `password`.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.user = Some(user.into());
        self.password = Some(password.into());
        self
    }

    /// Logs in with a token.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How long a worker has to take a signal before it is given again.
    #[must_use]
    pub fn with_ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets a signal aside after `tries` tries (at least 1).
    #[must_use]
    pub fn with_max_tries(mut self, tries: u32) -> Self {
        self.max_tries = tries.max(1);
        self
    }

    /// Spreads the conversations over `partitions` partitions.
    #[must_use]
    pub fn with_partitions(mut self, partitions: u32) -> Self {
        self.partitions = partitions;
        self
    }

    /// How long a worker's hold on a partition lasts unless renewed.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Checks what can be checked without connecting: the hub's name, the partition count,
    /// a `user` with its `password`, and times that are not zero. A gateway and a worker check
    /// it before they connect; the runner checks it when it loads the config file.
    ///
    /// ```
    /// use chatty_nats::NatsConfig;
    ///
    /// assert!(NatsConfig::new("nats://127.0.0.1:4222", "support").check().is_ok());
    /// let error = NatsConfig::new("nats://127.0.0.1:4222", "sup port").check().unwrap_err();
    /// assert!(error.to_string().contains("hub name"), "{error}");
    /// let error = NatsConfig::new("nats://x", "h").with_partitions(0).check().unwrap_err();
    /// assert!(error.to_string().contains("partitions"), "{error}");
    /// ```
    ///
    /// # Errors
    /// A [`NatsError::Config`] saying which key is wrong and what was expected.
    pub fn check(&self) -> Result<(), NatsError> {
        if !valid_name(&self.hub) {
            return Err(NatsError::config(format!(
                "the hub name {:?} is not 1 to 64 letters, digits, `-` or `_`",
                self.hub
            )));
        }
        if !(1..=1024).contains(&self.partitions) {
            return Err(NatsError::config(format!(
                "`partitions` is {}, not 1 to 1 024",
                self.partitions
            )));
        }
        if self.user.is_some() && self.password.is_none() {
            return Err(NatsError::config("`user` is set without `password`"));
        }
        if self.password.is_some() && self.user.is_none() {
            return Err(NatsError::config("`password` is set without `user`"));
        }
        if self.token.is_some() && self.user.is_some() {
            return Err(NatsError::config(
                "both `token` and `user` are set: log in with one of them",
            ));
        }
        for (key, value) in [
            ("ack_wait_ms", self.ack_wait_ms),
            ("lease_ms", self.lease_ms),
            ("duplicate_window_ms", self.duplicate_window_ms),
        ] {
            if value == 0 {
                return Err(NatsError::config(format!(
                    "`{key}` is 0: it must be at least 1"
                )));
            }
        }
        if self.max_tries == 0 {
            return Err(NatsError::config("`max_tries` is 0: it must be at least 1"));
        }
        Ok(())
    }

    /// How long a worker's hold on a partition lasts unless renewed.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// How long JetStream drops a second copy of a message id.
    pub fn duplicate_window(&self) -> Duration {
        Duration::from_millis(self.duplicate_window_ms)
    }

    /// How long a worker has to take a signal before it is given again.
    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms)
    }
}

/// Whether `name` may name a hub: it becomes part of stream names and subjects.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_name_is_what_a_stream_name_and_a_subject_token_take() {
        assert!(valid_name("support"));
        assert!(valid_name("desk-2_b"));
        for bad in ["", "a.b", "a b", "a>", "a*", "ü", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
