//! The session's configuration: a serde struct for the config-file runner.

use std::path::PathBuf;
use std::time::Duration;

use chatty_core::{Revealed, Secret, SecretError};
use serde::Deserialize;

use crate::proto::Sasl;

/// The platform name: the scheme of the session's addresses (`irc:#chat;kind=channel`).
pub const PLATFORM: &str = "irc";

/// How the connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS from the first byte (port 6697 by default, RFC 7194); the default. The server's
    /// certificate is checked against the system's roots (and `SSL_CERT_FILE`), plus `ca_file`
    /// when set.
    #[default]
    Direct,
    /// No TLS at all (port 6667 by default): passwords cross the network readable. Only when
    /// set explicitly, for local test servers.
    Plaintext,
}

/// The configuration of one IRC connection serving a bot.
///
/// In a config file (TOML shown; any serde format works):
///
/// ```toml
/// server = "irc.example.net"
/// nick = "chattybot"
/// # port = 6697                        # default: 6697 (6667 with tls = "plaintext")
/// # tls = "direct"                     # or "plaintext", only for local tests
/// # ca_file = "/etc/chatty/test-ca.pem"  # a CA trusted besides the system's roots
/// # username = "chattybot"             # default: the nick
/// # realname = "Chatty bot"
/// # password = { env = "IRC_PASS" }    # the server password (PASS), if the server wants one
/// # name = "irc"                       # the session name (`irc+NAME:` addresses)
/// # connect_timeout_ms = 10000
/// # reconnect_min_ms = 1000
/// # reconnect_max_ms = 60000
/// # pace_burst = 5                     # lines sent at once before pacing starts
/// # pace_interval_ms = 1000            # then one line per interval
/// # rejoin_delay_ms = 2000             # joining again after a kick: first wait, doubling
/// # rejoin_attempts = 5                # tries before giving up; 0: never join again
///
/// [sasl]                               # SASL PLAIN; the session fails if the server lacks it
/// # account = "chattybot"              # default: the nick
/// password = { file = "/run/secrets/irc" }
///
/// [[channels]]
/// name = "#chat"
/// # key = { inline = "secret" }        # the channel key (+k)
/// ```
///
/// `Debug` output never shows a password or key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrcConfig {
    /// The server's host name or IP address (also the name its TLS certificate must carry).
    pub server: String,
    /// The server's port: 6697 with TLS, 6667 without, by default.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured: direct TLS by default.
    #[serde(default)]
    pub tls: TlsMode,
    /// A PEM file of CA certificates trusted besides the system's roots (a test CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The nick to register; taken nicks fall back to `nick_`, `nick2`, `nick3`, …
    pub nick: String,
    /// The user name (ident): the nick by default.
    #[serde(default)]
    pub username: Option<String>,
    /// The real name (gecos): `Chatty bot` by default.
    #[serde(default = "default_realname")]
    pub realname: String,
    /// The server password (`PASS`), if the server wants one.
    #[serde(default)]
    pub password: Option<Secret>,
    /// SASL PLAIN login; when set, a server that does not offer it (or refuses the login) ends
    /// the session with an authentication error rather than running unauthenticated.
    #[serde(default)]
    pub sasl: Option<SaslConfig>,
    /// Channels to join when the session starts, and again after every reconnection.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// The session name: `irc` by default. Any other name qualifies the session's addresses
    /// (`irc+libera:#chat`).
    #[serde(default = "default_name")]
    pub name: String,
    /// How long one connection attempt (TCP, TLS, registration) may take, in milliseconds:
    /// 10 000 by default.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The first wait before reconnecting after a failure, in milliseconds (1 000 by default);
    /// it doubles after each failure up to `reconnect_max_ms`, with random jitter.
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// The longest wait between reconnection attempts, in milliseconds: 60 000 by default.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// How many lines go out at once before pacing starts: 5 by default.
    #[serde(default = "default_pace_burst")]
    pub pace_burst: u32,
    /// After the burst, one line per this many milliseconds: 1 000 by default; 0 turns pacing
    /// off (only for test servers without flood limits).
    #[serde(default = "default_pace_interval_ms")]
    pub pace_interval_ms: u64,
    /// After the bot was kicked from a channel, how long it waits before joining again, in
    /// milliseconds (2 000 by default); the wait doubles with each further try.
    #[serde(default = "default_rejoin_delay_ms")]
    pub rejoin_delay_ms: u64,
    /// How many times the bot tries to join a channel again after a kick before it gives up
    /// (5 by default; 0: it never joins again). A ban (`474`) gives up at once.
    #[serde(default = "default_rejoin_attempts")]
    pub rejoin_attempts: u32,
}

/// SASL PLAIN credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslConfig {
    /// The account name: the nick by default.
    #[serde(default)]
    pub account: Option<String>,
    /// The account's password.
    pub password: Secret,
}

/// A channel the session joins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The channel's name, with its prefix (`#chat`).
    pub name: String,
    /// The channel key (mode `+k`), if it has one.
    #[serde(default)]
    pub key: Option<Secret>,
}

impl ChannelConfig {
    /// The channel `name`, without a key.
    pub fn new(name: impl Into<String>) -> Self {
        ChannelConfig {
            name: name.into(),
            key: None,
        }
    }

    /// With the key `key`.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Secret>) -> Self {
        self.key = Some(key.into());
        self
    }
}

fn default_name() -> String {
    PLATFORM.to_owned()
}

fn default_realname() -> String {
    "Chatty bot".to_owned()
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

fn default_pace_burst() -> u32 {
    5
}

fn default_pace_interval_ms() -> u64 {
    1_000
}

fn default_rejoin_delay_ms() -> u64 {
    2_000
}

fn default_rejoin_attempts() -> u32 {
    5
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The server name is empty or holds white space.
    #[error("`{0}` is not a server name")]
    BadServer(String),
    /// The nick is empty, starts with a digit, `-` or a channel prefix, or holds characters
    /// IRC does not allow.
    #[error("`{0}` is not an IRC nick")]
    BadNick(String),
    /// The user name or real name holds white space (user) or line breaks.
    #[error("`{0}` is not usable as a user name or real name")]
    BadUser(String),
    /// A channel name does not start with `#`, `&`, `+` or `!`, or holds a space, comma or
    /// control character.
    #[error("channels: `{0}` is not a channel name like #chat")]
    BadChannel(String),
    /// A password, SASL password or channel key cannot be read.
    #[error("password: {0}")]
    Password(#[from] SecretError),
    /// The session name is not usable in addresses.
    #[error("`{0}` is not a session name: use letters, digits, `_` or `-`")]
    BadName(String),
    /// The reconnection backoff is empty or inverted.
    #[error("reconnect_min_ms must be at least 1 and at most reconnect_max_ms")]
    Backoff,
    /// The port is 0.
    #[error("port 0 is not a port")]
    BadPort,
}

impl IrcConfig {
    /// A configuration for `nick` on `server` with every default (direct TLS on 6697).
    pub fn new(server: impl Into<String>, nick: impl Into<String>) -> Self {
        IrcConfig {
            server: server.into(),
            port: None,
            tls: TlsMode::default(),
            ca_file: None,
            nick: nick.into(),
            username: None,
            realname: default_realname(),
            password: None,
            sasl: None,
            channels: Vec::new(),
            name: default_name(),
            connect_timeout_ms: default_connect_timeout_ms(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            pace_burst: default_pace_burst(),
            pace_interval_ms: default_pace_interval_ms(),
            rejoin_delay_ms: default_rejoin_delay_ms(),
            rejoin_attempts: default_rejoin_attempts(),
        }
    }

    /// Connects to `port` instead of the default.
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the TLS mode.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts the CA certificates in the PEM file `path` besides the system's roots.
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Logs in with SASL PLAIN as `account` (the nick when `None`).
    #[must_use]
    pub fn with_sasl(mut self, account: Option<&str>, password: impl Into<Secret>) -> Self {
        self.sasl = Some(SaslConfig {
            account: account.map(str::to_owned),
            password: password.into(),
        });
        self
    }

    /// Sends the server password `password`.
    #[must_use]
    pub fn with_password(mut self, password: impl Into<Secret>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Joins `channel` when the session starts.
    #[must_use]
    pub fn with_channel(mut self, channel: ChannelConfig) -> Self {
        self.channels.push(channel);
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

    /// Sets the pacing: `burst` lines at once, then one per `interval`.
    #[must_use]
    pub fn with_pacing(mut self, burst: u32, interval: Duration) -> Self {
        self.pace_burst = burst;
        self.pace_interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets how the bot joins a channel again after a kick: the first wait (doubling with
    /// each further try) and how many tries before it gives up (0: never).
    #[must_use]
    pub fn with_rejoin(mut self, delay: Duration, attempts: u32) -> Self {
        self.rejoin_delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.rejoin_attempts = attempts;
        self
    }

    /// The wait before the `attempt`th try (1, 2, …) to join a channel again after a kick:
    /// the configured delay, doubled for each try after the first, at most an hour.
    pub fn rejoin_delay(&self, attempt: u32) -> Duration {
        let doubled = self
            .rejoin_delay_ms
            .saturating_mul(1 << attempt.saturating_sub(1).min(20));
        Duration::from_millis(doubled.min(3_600_000))
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Direct => 6697,
            TlsMode::Plaintext => 6667,
        })
    }

    /// The user name (ident).
    pub fn username(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.nick)
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

    /// The pacing interval.
    pub fn pace_interval(&self) -> Duration {
        Duration::from_millis(self.pace_interval_ms)
    }

    /// Checks everything that can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.is_empty() || self.server.contains(char::is_whitespace) {
            return Err(ConfigError::BadServer(self.server.clone()));
        }
        if self.port == Some(0) {
            return Err(ConfigError::BadPort);
        }
        if !valid_nick(&self.nick) {
            return Err(ConfigError::BadNick(self.nick.clone()));
        }
        let user = self.username();
        if user.is_empty() || user.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(ConfigError::BadUser(user.to_owned()));
        }
        if self.realname.contains(['\r', '\n', '\0']) {
            return Err(ConfigError::BadUser(self.realname.clone()));
        }
        for channel in &self.channels {
            if !is_channel(&channel.name)
                || channel.name.len() < 2
                || channel
                    .name
                    .contains(|c: char| c == ' ' || c == ',' || c.is_control())
            {
                return Err(ConfigError::BadChannel(channel.name.clone()));
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
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return Err(ConfigError::Backoff);
        }
        Ok(())
    }

    /// The server password, read from where the config says.
    pub(crate) fn load_password(&self) -> Result<Option<Revealed>, ConfigError> {
        Ok(self.password.as_ref().map(Secret::reveal).transpose()?)
    }

    /// The SASL credentials, read from where the config says.
    pub(crate) fn load_sasl(&self) -> Result<Option<Sasl>, ConfigError> {
        let Some(sasl) = &self.sasl else {
            return Ok(None);
        };
        Ok(Some(Sasl {
            account: sasl.account.clone().unwrap_or_else(|| self.nick.clone()),
            password: sasl.password.reveal()?.expose().to_owned(),
        }))
    }
}

/// Whether `name` starts with one of RFC 2811's channel prefixes.
pub(crate) fn is_channel(name: &str) -> bool {
    name.starts_with(['#', '&', '+', '!'])
}

/// Whether `nick` is a nick RFC 2812 allows (letters, digits, `[]\`_^{|}` and `-`, not starting
/// with a digit or `-`), without a length limit (servers differ).
pub(crate) fn valid_nick(nick: &str) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = nick.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || special(first))
        && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<IrcConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_redacted_debug() {
        let c = parse(
            r##"{"server": "irc.example.net", "nick": "bot",
                "sasl": {"password": {"inline": "hunter2"}},
                "channels": [{"name": "#chat", "key": {"inline": "k3y"}}]}"##,
        )
        .unwrap();
        assert_eq!(c.tls, TlsMode::Direct);
        assert_eq!(c.port(), 6697);
        assert_eq!(c.username(), "bot");
        assert_eq!(c.name, "irc");
        assert_eq!(c.realname, "Chatty bot");
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        assert_eq!(
            c.reconnect_backoff(),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        assert_eq!(
            (c.pace_burst, c.pace_interval()),
            (5, Duration::from_secs(1))
        );
        assert_eq!(c.rejoin_attempts, 5);
        assert_eq!(
            [1, 2, 3].map(|n| c.rejoin_delay(n)),
            [2, 4, 8].map(Duration::from_secs)
        );
        assert_eq!(c.rejoin_delay(u32::MAX), Duration::from_secs(3600));
        c.validate().unwrap();
        let sasl = c.load_sasl().unwrap().unwrap();
        assert_eq!(
            (sasl.account.as_str(), sasl.password.as_str()),
            ("bot", "hunter2")
        );
        let debug = format!("{c:?} {sasl:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("k3y"),
            "{debug}"
        );
        let plain = IrcConfig::new("localhost", "bot").with_tls(TlsMode::Plaintext);
        assert_eq!(plain.port(), 6667);
        assert!(plain.load_sasl().unwrap().is_none());
        let pass = plain.with_password("p4ss").load_password().unwrap();
        assert_eq!(pass.unwrap().expose(), "p4ss");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(parse(r#"{"server": "s", "nick": "b", "nik": "c"}"#).is_err());
        assert!(parse(r#"{"server": "s", "nick": "b", "tls": "starttls"}"#).is_err());
        assert!(parse(r#"{"server": "s"}"#).is_err());
        let c = parse(r#"{"server": "s", "nick": "b", "tls": "plaintext"}"#).unwrap();
        assert_eq!(c.tls, TlsMode::Plaintext);
        let bad = |c: IrcConfig| c.validate().unwrap_err();
        assert!(matches!(
            bad(IrcConfig::new("s", "9lives")),
            ConfigError::BadNick(_)
        ));
        assert!(matches!(
            bad(IrcConfig::new("s", "a b")),
            ConfigError::BadNick(_)
        ));
        assert!(matches!(
            bad(IrcConfig::new("s", "#x")),
            ConfigError::BadNick(_)
        ));
        assert!(matches!(
            bad(IrcConfig::new("a b", "x")),
            ConfigError::BadServer(_)
        ));
        let chan = IrcConfig::new("s", "b").with_channel(ChannelConfig::new("chat"));
        assert!(matches!(bad(chan), ConfigError::BadChannel(_)));
        let chan = IrcConfig::new("s", "b").with_channel(ChannelConfig::new("#a,#b"));
        assert!(matches!(bad(chan), ConfigError::BadChannel(_)));
        let name = IrcConfig::new("s", "b").with_name("a b");
        assert!(matches!(bad(name), ConfigError::BadName(_)));
        let backoff = IrcConfig::new("s", "b")
            .with_reconnect_backoff(Duration::from_secs(5), Duration::from_secs(1));
        assert!(matches!(bad(backoff), ConfigError::Backoff));
        assert!(matches!(
            bad(IrcConfig::new("s", "b").with_port(0)),
            ConfigError::BadPort
        ));
        IrcConfig::new("s", "[b0t]-x_").validate().unwrap();
    }
}
