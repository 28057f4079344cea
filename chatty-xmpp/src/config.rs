//! The session's configuration: a serde struct for the config-file runner.

use std::time::Duration;

use chatty_core::{Revealed, Secret, SecretError};
use serde::Deserialize;
use tokio_xmpp::jid::BareJid;

/// The bare JID of the account, with a local part.
pub(crate) fn parse_account_jid(jid: &str) -> Result<BareJid, ConfigError> {
    let parsed = BareJid::new(jid).map_err(|e| ConfigError::BadJid {
        jid: jid.to_owned(),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })?;
    if parsed.node().is_none() {
        return Err(ConfigError::BadJid {
            jid: jid.to_owned(),
            reason: "it has no local part (user@)".into(),
            source: None,
        });
    }
    Ok(parsed)
}

/// The platform name: the scheme of the session's addresses (`xmpp:alice@example.org`).
pub const PLATFORM: &str = "xmpp";

/// How the connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Connect in plaintext and upgrade with STARTTLS (port 5222 by default); the default.
    /// The server's certificate is checked against the system's roots (and `SSL_CERT_FILE`).
    #[default]
    Starttls,
    /// TLS from the first byte (XEP-0368, port 5223 by default).
    Direct,
    /// No TLS at all: the password crosses the network readable. Only when set explicitly,
    /// for local test servers.
    Plaintext,
}

/// What the session's client says it is in service discovery (XEP-0030's `client` category,
/// its registered types): a bot, or a person's client. Other sessions mark what a bot sends as a
/// bot's (`Automatic::Bot`), and bots do not answer it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// `client/bot`, "an automated conversation bot": the default.
    #[default]
    Bot,
    /// `client/pc`: a person's client, for a session that stands in for a person (a proxy that
    /// passes a person's messages on, say).
    Pc,
    /// `client/console`: a person at a terminal (a chat window).
    Console,
    /// `client/web`: a person in a browser (a web chat window).
    Web,
}

impl ClientType {
    /// Every type, in a fixed order.
    pub(crate) const ALL: [ClientType; 4] = [
        ClientType::Bot,
        ClientType::Pc,
        ClientType::Console,
        ClientType::Web,
    ];

    /// The type as XEP-0030's registry names it (`bot`, `pc`, `console`, `web`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ClientType::Bot => "bot",
            ClientType::Pc => "pc",
            ClientType::Console => "console",
            ClientType::Web => "web",
        }
    }
}

/// The configuration of one XMPP account serving a bot.
///
/// In a config file (TOML shown; any serde format works):
///
/// ```toml
/// jid = "bot@example.org"
/// password = { file = "/run/secrets/xmpp" }  # or { env = "VAR" }, or { inline = "…" }
/// # server = "xmpp.example.org"         # default: the JID's domain, through DNS SRV records
/// # port = 5222                         # default: 5222 (5223 with tls = "direct")
/// # tls = "starttls"                    # or "direct"; "plaintext" only for local tests
/// # resource = "bot"                    # default: the server picks one
/// # name = "xmpp"                       # the session name (`xmpp+NAME:` addresses)
/// # connect_timeout_ms = 10000
/// # reconnect_min_ms = 1000
/// # reconnect_max_ms = 60000
/// # client_type = "bot"                # or "pc", "console", "web": what disco#info says
///
/// [[rooms]]                              # multi-user rooms (XEP-0045) to join
/// jid = "lobby@rooms.example.org"
/// # nick = "helper"                      # default: the JID's local part
/// # password = { env = "LOBBY_PASSWORD" }
/// ```
///
/// `Debug` output never shows the password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    /// The account's bare JID (`bot@example.org`).
    pub jid: String,
    /// The password: from an environment variable, a file (read when the session starts
    /// running) or inline.
    pub password: Secret,
    /// The server's host name or IP address, overriding the DNS SRV lookup of the JID's domain.
    #[serde(default)]
    pub server: Option<String>,
    /// The server's port, overriding the default (5222; 5223 with direct TLS). Without `server`
    /// it applies to the JID's domain.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured: STARTTLS by default.
    #[serde(default)]
    pub tls: TlsMode,
    /// The resource to ask for; the server picks one if absent (and may pick another anyway).
    #[serde(default)]
    pub resource: Option<String>,
    /// The session name: `xmpp` by default. Any other name qualifies the session's addresses
    /// (`xmpp+work:alice@example.org`).
    #[serde(default = "default_name")]
    pub name: String,
    /// How long one connection attempt (TCP, TLS, login) may take before it counts as failed,
    /// in milliseconds: 10 000 by default.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The first wait before reconnecting after a failure, in milliseconds (1 000 by default);
    /// it doubles after each failure up to `reconnect_max_ms`, with random jitter.
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// The longest wait between reconnection attempts, in milliseconds: 60 000 by default.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Multi-user rooms to join when the session starts, and again after every reconnection.
    #[serde(default)]
    pub rooms: Vec<RoomConfig>,
    /// The HTTP upload service (XEP-0363) for files, overriding the one found among the
    /// server's items (`upload.example.org`).
    #[serde(default)]
    pub upload_service: Option<String>,
    /// What the session's client says it is (disco#info identity `client/TYPE`): `bot` by
    /// default; a session that stands in for a person says `pc`, `console` or `web`, so that
    /// other bots do not take what it sends for a bot's.
    #[serde(default)]
    pub client_type: ClientType,
    /// Whether a sender whose disco#info identity is `client/bot` counts as automatic
    /// (`Automatic::Bot`): off by default, because common client libraries (slixmpp, aioxmpp)
    /// announce `client/bot` for every client they run, people's included, and a bot would stop
    /// answering them. On, the session asks each new sender's disco#info once.
    #[serde(default)]
    pub bots_by_identity: bool,
}

/// A multi-user room (XEP-0045) the session joins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomConfig {
    /// The room's bare JID (`lobby@rooms.example.org`).
    pub jid: String,
    /// The bot's nickname in the room: the account's local part by default.
    #[serde(default)]
    pub nick: Option<String>,
    /// The room's password, if it has one.
    #[serde(default)]
    pub password: Option<Secret>,
}

impl RoomConfig {
    /// The room `jid`, with the default nickname and no password.
    pub fn new(jid: impl Into<String>) -> Self {
        RoomConfig {
            jid: jid.into(),
            nick: None,
            password: None,
        }
    }

    /// With the nickname `nick`.
    #[must_use]
    pub fn with_nick(mut self, nick: impl Into<String>) -> Self {
        self.nick = Some(nick.into());
        self
    }
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

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The JID is not a valid bare JID with a local part.
    #[error("`{jid}` is not a bare JID like bot@example.org: {reason}")]
    BadJid {
        /// The JID as configured.
        jid: String,
        /// What is wrong with it.
        reason: String,
        /// The JID parser's error, where it refused the JID.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The password cannot be read.
    #[error("password: {0}")]
    Password(#[from] SecretError),
    /// The session name is not usable in addresses.
    #[error("`{0}` is not a session name: use letters, digits, `_` or `-`")]
    BadName(String),
    /// A room's JID is not a bare JID.
    #[error("rooms: `{jid}` is not a room JID like room@rooms.example.org: {reason}")]
    BadRoom {
        /// The JID as configured.
        jid: String,
        /// What is wrong with it.
        reason: String,
        /// The JID parser's error, where it refused the JID.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The reconnection backoff is empty or inverted.
    #[error("reconnect_min_ms must be at least 1 and at most reconnect_max_ms")]
    Backoff,
}

impl XmppConfig {
    /// A configuration for `jid` with `password` and every default.
    pub fn new(jid: impl Into<String>, password: impl Into<Secret>) -> Self {
        XmppConfig {
            jid: jid.into(),
            password: password.into(),
            server: None,
            port: None,
            tls: TlsMode::default(),
            resource: None,
            name: default_name(),
            connect_timeout_ms: default_connect_timeout_ms(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            rooms: Vec::new(),
            upload_service: None,
            client_type: ClientType::default(),
            bots_by_identity: false,
        }
    }

    /// Marks senders whose disco#info identity is `client/bot` as automatic (off by default:
    /// see [`bots_by_identity`](XmppConfig::bots_by_identity)).
    #[must_use]
    pub fn with_bots_by_identity(mut self, on: bool) -> Self {
        self.bots_by_identity = on;
        self
    }

    /// With the client type `client_type` (what disco#info says the session's client is).
    #[must_use]
    pub fn with_client_type(mut self, client_type: ClientType) -> Self {
        self.client_type = client_type;
        self
    }

    /// Connects to `host:port` instead of looking the JID's domain up in DNS.
    #[must_use]
    pub fn with_server(mut self, host: impl Into<String>, port: u16) -> Self {
        self.server = Some(host.into());
        self.port = Some(port);
        self
    }

    /// Sets the TLS mode.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
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

    /// Joins `room` when the session starts.
    #[must_use]
    pub fn with_room(mut self, room: RoomConfig) -> Self {
        self.rooms.push(room);
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

    /// Checks everything that can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        parse_account_jid(&self.jid)?;
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(ConfigError::BadName(self.name.clone()));
        }
        for room in &self.rooms {
            let bad = |reason: String| ConfigError::BadRoom {
                jid: room.jid.clone(),
                reason,
                source: None,
            };
            let jid =
                tokio_xmpp::jid::BareJid::new(&room.jid).map_err(|e| ConfigError::BadRoom {
                    jid: room.jid.clone(),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                })?;
            if jid.node().is_none() {
                return Err(bad("it has no local part (room@)".into()));
            }
            if room.nick.as_deref().is_some_and(str::is_empty) {
                return Err(bad("the nick is empty".into()));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<XmppConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_redacted_debug() {
        let c = parse(r#"{"jid": "bot@example.org", "password": {"inline": "hunter2"}}"#).unwrap();
        assert_eq!(c.tls, TlsMode::Starttls);
        assert_eq!(c.name, "xmpp");
        assert_eq!(c.client_type, ClientType::Bot);
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        assert_eq!(
            c.reconnect_backoff(),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        c.validate().unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(parse(r#"{"jid": "a@b", "password": {"inline": "x"}, "pasword": "y"}"#).is_err());
        assert!(parse(r#"{"jid": "a@b", "password": {"inline": "x"}, "tls": "none"}"#).is_err());
        let c =
            parse(r#"{"jid": "a@b", "password": {"inline": "x"}, "tls": "plaintext"}"#).unwrap();
        assert_eq!(c.tls, TlsMode::Plaintext);
        assert!(parse(r#"{"jid": "a@b", "password": "x"}"#).is_err());
        assert!(parse(r#"{"jid": "a@b"}"#).is_err());
        let no_local = parse(r#"{"jid": "example.org", "password": {"inline": "x"}}"#).unwrap();
        assert!(matches!(
            no_local.validate(),
            Err(ConfigError::BadJid { .. })
        ));
        let full = parse(r#"{"jid": "a@b/res", "password": {"inline": "x"}}"#).unwrap();
        assert!(matches!(full.validate(), Err(ConfigError::BadJid { .. })));
        let name = parse(r#"{"jid": "a@b", "password": {"inline": "x"}, "name": "a b"}"#).unwrap();
        assert!(matches!(name.validate(), Err(ConfigError::BadName(_))));
        let pc = parse(r#"{"jid": "a@b", "password": {"inline": "x"}, "client_type": "pc"}"#);
        assert_eq!(pc.unwrap().client_type, ClientType::Pc);
        assert!(
            parse(r#"{"jid": "a@b", "password": {"inline": "x"}, "client_type": "phone"}"#)
                .is_err()
        );
    }

    #[test]
    fn password_file_is_read_and_trimmed() {
        let path = std::env::temp_dir().join(format!("chatty-xmpp-pw-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        let c = XmppConfig::new("a@b", Secret::file(&path));
        assert_eq!(c.load_password().unwrap().expose(), "s3cret");
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            c.load_password(),
            Err(ConfigError::Password(SecretError::Unreadable { .. }))
        ));
    }
}
