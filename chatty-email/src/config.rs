//! The session's configuration: a serde struct for the config-file runner.

use std::path::PathBuf;
use std::time::Duration;

use chatty_core::{Revealed, Secret, SecretError};
use serde::Deserialize;

/// The platform name: the scheme of the session's addresses (`mailto:alice@example.org`), and
/// the default session name.
pub const PLATFORM: &str = "mailto";

/// How a connection (SMTP, IMAP or POP3) is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Connect in plaintext and upgrade with STARTTLS (STLS for POP3); the default. The upgrade
    /// is required: a server that does not offer it is a connection error, never a silent
    /// fallback to plaintext. Certificates are checked against the system roots (and
    /// `SSL_CERT_FILE`).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTP 465, IMAP 993, POP3 995).
    Implicit,
    /// No TLS at all: the password crosses the network readable. Only when set explicitly,
    /// for local test servers.
    Plaintext,
}

/// Where outbound mail goes: an SMTP submission server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name or IP address (also the name its certificate must carry).
    pub host: String,
    /// The port: 587 by default (465 with implicit TLS, 25 in plaintext).
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured: STARTTLS by default.
    #[serde(default)]
    pub tls: TlsMode,
    /// Whether to log in (SMTP AUTH) with the account's user and password: yes by default.
    #[serde(default = "yes")]
    pub auth: bool,
}

impl SmtpConfig {
    /// The configured port, or the default for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Starttls => 587,
            TlsMode::Implicit => 465,
            TlsMode::Plaintext => 25,
        })
    }
}

/// What happens to an inbound IMAP mail once it has been handed to the bot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handled {
    /// Flag it `\Seen`; the default.
    #[default]
    Seen,
    /// Leave it as it is (the persisted UID alone keeps it from coming again).
    Keep,
    /// Delete it (flag `\Deleted` and expunge it).
    Delete,
    /// Move it to this folder (which must exist).
    MoveTo(String),
}

/// Inbound mail over IMAP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// The server's host name or IP address.
    pub host: String,
    /// The port: 143 by default (993 with implicit TLS).
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured: STARTTLS by default.
    #[serde(default)]
    pub tls: TlsMode,
    /// The folder to read: `INBOX` by default.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Whether to wait with IDLE where the server offers it (yes by default); otherwise the
    /// folder is polled every `poll_interval_ms`.
    #[serde(default = "yes")]
    pub idle: bool,
    /// How often to look for new mail without IDLE, and the longest IDLE before it is renewed,
    /// in milliseconds: 60 000 by default.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// What to do with a mail once the bot has it: `seen` by default.
    #[serde(default)]
    pub handled: Handled,
    /// Whether the "received from" history query is answered from the folder (IMAP `SEARCH
    /// FROM`, on a connection of its own): no by default (mail moved or deleted once handled is
    /// not there to find).
    #[serde(default)]
    pub history: bool,
}

impl ImapConfig {
    /// The configured port, or the default for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 993,
            TlsMode::Starttls | TlsMode::Plaintext => 143,
        })
    }
}

/// Inbound mail over POP3.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pop3Config {
    /// The server's host name or IP address.
    pub host: String,
    /// The port: 110 by default (995 with implicit TLS).
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured: STLS (STARTTLS) by default.
    #[serde(default)]
    pub tls: TlsMode,
    /// How often to look for new mail, in milliseconds: 60 000 by default.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Whether to delete a mail from the server once the bot has it: no by default.
    #[serde(default)]
    pub delete: bool,
}

impl Pop3Config {
    /// The configured port, or the default for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 995,
            TlsMode::Starttls | TlsMode::Plaintext => 110,
        })
    }
}

/// Where inbound mail comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum InboundConfig {
    /// An IMAP folder.
    Imap(ImapConfig),
    /// A POP3 mailbox.
    Pop3(Pop3Config),
}

impl InboundConfig {
    /// The poll interval (and, for IMAP, the longest IDLE).
    pub fn poll_interval(&self) -> Duration {
        let ms = match self {
            InboundConfig::Imap(c) => c.poll_interval_ms,
            InboundConfig::Pop3(c) => c.poll_interval_ms,
        };
        Duration::from_millis(ms.max(10))
    }
}

/// The configuration of one mailbox serving a bot: SMTP out, IMAP or POP3 in.
///
/// In a config file (TOML shown; any serde format works):
///
/// ```toml
/// address = "bot@example.org"          # the bot's own address (From:, and its chatty address)
/// # user = "bot"                       # the login name; default: the address
/// password = { file = "/run/secrets/mail" }  # or { env = "VAR" }, or { inline = "…" }
/// # name = "mailto"                    # the session name (`mailto+NAME:` addresses)
/// # state_path = "/var/lib/bot/mail.json"  # UIDVALIDITY + UID / seen UIDLs, without a journal
/// # answer_copies = true               # a copy of each answer to the bot's own mailbox
/// # answer_copies_kept_ms = 3600000    # how long a copy stays once read past
///
/// [smtp]
/// host = "smtp.example.org"
/// # port = 587                         # default by TLS mode: 587, 465 (implicit), 25 (plaintext)
/// # tls = "starttls"                   # or "implicit"; "plaintext" only for local tests
/// # auth = true
///
/// [inbound]
/// protocol = "imap"                    # or "pop3"
/// host = "imap.example.org"
/// # port = 143                         # 993 with tls = "implicit" (POP3: 110 / 995)
/// # tls = "starttls"
/// # folder = "INBOX"                   # IMAP only
/// # idle = true                        # IMAP only
/// # handled = "seen"                   # IMAP: "seen", "keep", "delete" or { move_to = "Done" }
/// # history = false                   # IMAP: answer "received from" queries from the folder
/// # delete = false                     # POP3 only: delete after reading
/// # poll_interval_ms = 60000
/// ```
///
/// `Debug` output never shows the password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The bot's own mail address: the `From:` of what it sends, and its chatty address
    /// (`mailto:bot@example.org`).
    pub address: String,
    /// The login name for SMTP, IMAP and POP3; the address by default.
    #[serde(default)]
    pub user: Option<String>,
    /// The password: from an environment variable, a file (read when the session is made) or
    /// inline.
    pub password: Secret,
    /// Outbound mail.
    pub smtp: SmtpConfig,
    /// Inbound mail.
    pub inbound: InboundConfig,
    /// The session name: `mailto` by default. Any other name qualifies the session's addresses
    /// (`mailto+work:alice@example.org`).
    #[serde(default = "default_name")]
    pub name: String,
    /// A file where the session keeps what it has read (IMAP: UIDVALIDITY and the last UID;
    /// POP3: the UIDLs seen), so that a restarted session neither loses nor repeats mail.
    /// Without it, that is kept in memory only: reconnects are safe, restarts are not. Under a
    /// router with a journal, the cursor is kept in the journal instead, and this file is only
    /// read (once, when the session is made) for the cursor it holds.
    #[serde(default)]
    pub state_path: Option<PathBuf>,
    /// How long one connection attempt (TCP, TLS, login) or one SMTP exchange may take, in
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
    /// Whether each answer (a signal with `response_to`) goes with a copy to the bot's own
    /// mailbox, in the same SMTP transaction (the bot's address as one more envelope
    /// recipient, not in the header; the mail marked `X-Chatty-Copy: NAME`): yes by default.
    /// The copy is there exactly when the server took the answer, so after a crash the
    /// session can tell whether the answer that was leaving left
    /// (`Protocol::sent`), and it is not sent twice. Without copies, an answer the server took
    /// just before the process died is sent again after the restart. Copies are never handed
    /// to the bot.
    #[serde(default = "yes")]
    pub answer_copies: bool,
    /// How long a copy stays in the mailbox once the session has read past it, in
    /// milliseconds: 3 600 000 (one hour) by default. It must cover the time from a restart to
    /// the bot's answers to what it is given again.
    #[serde(default = "default_answer_copies_kept_ms")]
    pub answer_copies_kept_ms: u64,
}

fn yes() -> bool {
    true
}

fn default_folder() -> String {
    "INBOX".to_owned()
}

fn default_poll_ms() -> u64 {
    60_000
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

fn default_answer_copies_kept_ms() -> u64 {
    3_600_000
}

/// Why a configuration cannot be used. Where another error is behind it (a secret file that
/// cannot be read, the TLS setup, the state file), that error is its
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The address is not a mail address (`local@domain`).
    #[error("`{0}` is not a mail address like bot@example.org")]
    BadAddress(String),
    /// The password cannot be read.
    #[error("password: {0}")]
    Password(#[from] SecretError),
    /// The session name is not usable in addresses.
    #[error("`{0}` is not a session name: use letters, digits, `_` or `-`")]
    BadName(String),
    /// The reconnection backoff is empty or inverted.
    #[error("reconnect_min_ms must be at least 1 and at most reconnect_max_ms")]
    Backoff,
    /// A host is empty, or a folder name is empty.
    #[error("{0}")]
    Invalid(String),
    /// The SMTP transport could not be set up (TLS parameters).
    #[error("the SMTP transport cannot be set up: {0}")]
    Smtp(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The state file exists but cannot be read or parsed.
    #[error("the state file {} cannot be used: {source}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why: the I/O or JSON error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// Whether `address` is a bare mail address (`local@domain`), by lettre's parser: the local
/// part of RFC 5321 (dot-atom or quoted), a domain name (IDNA allowed) or an address literal;
/// what SMTP takes as an envelope address. No display name, angle brackets or lists.
pub(crate) fn is_mail_address(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

impl EmailConfig {
    /// A configuration for `address` with `password`, sending through `smtp` and reading
    /// `inbound`, with every default.
    pub fn new(
        address: impl Into<String>,
        password: impl Into<Secret>,
        smtp: SmtpConfig,
        inbound: InboundConfig,
    ) -> Self {
        EmailConfig {
            address: address.into(),
            user: None,
            password: password.into(),
            smtp,
            inbound,
            name: default_name(),
            state_path: None,
            connect_timeout_ms: default_connect_timeout_ms(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            answer_copies: true,
            answer_copies_kept_ms: default_answer_copies_kept_ms(),
        }
    }

    /// Sets the login name.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the session name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the state file.
    #[must_use]
    pub fn with_state_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_path = Some(path.into());
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

    /// Turns the copies of answers to the bot's own mailbox on or off.
    #[must_use]
    pub fn with_answer_copies(mut self, on: bool) -> Self {
        self.answer_copies = on;
        self
    }

    /// Sets how long a copy stays once the session has read past it.
    #[must_use]
    pub fn with_answer_copies_kept(mut self, kept: Duration) -> Self {
        self.answer_copies_kept_ms = u64::try_from(kept.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// How long a copy stays once the session has read past it.
    pub fn answer_copies_kept(&self) -> Duration {
        Duration::from_millis(self.answer_copies_kept_ms)
    }

    /// The login name: `user`, or else the address.
    pub fn login(&self) -> &str {
        self.user.as_deref().unwrap_or(&self.address)
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
        if !is_mail_address(&self.address) {
            return Err(ConfigError::BadAddress(self.address.clone()));
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
        if self.smtp.host.trim().is_empty() {
            return Err(ConfigError::Invalid("smtp.host is empty".into()));
        }
        match &self.inbound {
            InboundConfig::Imap(imap) => {
                if imap.host.trim().is_empty() {
                    return Err(ConfigError::Invalid("inbound.host is empty".into()));
                }
                if imap.folder.is_empty() {
                    return Err(ConfigError::Invalid("inbound.folder is empty".into()));
                }
                if let Handled::MoveTo(folder) = &imap.handled
                    && folder.is_empty()
                {
                    return Err(ConfigError::Invalid(
                        "inbound.handled.move_to is empty".into(),
                    ));
                }
            }
            InboundConfig::Pop3(pop3) => {
                if pop3.host.trim().is_empty() {
                    return Err(ConfigError::Invalid("inbound.host is empty".into()));
                }
            }
        }
        Ok(())
    }

    /// The password, read from where the config says.
    pub(crate) fn load_password(&self) -> Result<Revealed, ConfigError> {
        Ok(self.password.reveal()?)
    }
}

/// A config whose servers are never reached (port 9, discard), for unit tests.
#[cfg(test)]
pub(crate) fn offline() -> EmailConfig {
    EmailConfig::new(
        "bot@example.org",
        "secret",
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(9),
            tls: TlsMode::Plaintext,
            auth: false,
        },
        InboundConfig::Pop3(Pop3Config {
            host: "127.0.0.1".into(),
            port: Some(9),
            tls: TlsMode::Plaintext,
            poll_interval_ms: 1000,
            delete: false,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<EmailConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    const BASE: &str = r#""address": "bot@example.org", "password": {"inline": "hunter2"},
        "smtp": {"host": "smtp.example.org"},
        "inbound": {"protocol": "imap", "host": "imap.example.org"}"#;

    #[test]
    fn defaults_and_redacted_debug() {
        let c = parse(&format!("{{{BASE}}}")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.name, "mailto");
        assert_eq!(c.login(), "bot@example.org");
        assert_eq!(c.smtp.tls, TlsMode::Starttls);
        assert_eq!(c.smtp.port(), 587);
        assert!(c.smtp.auth);
        let InboundConfig::Imap(imap) = &c.inbound else {
            panic!("imap")
        };
        assert_eq!(imap.port(), 143);
        assert_eq!(imap.folder, "INBOX");
        assert!(imap.idle);
        assert_eq!(imap.handled, Handled::Seen);
        assert_eq!(c.inbound.poll_interval(), Duration::from_secs(60));
        assert!(c.answer_copies);
        assert_eq!(c.answer_copies_kept(), Duration::from_secs(3600));
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn every_mode_and_protocol_parses() {
        let c = parse(
            r#"{"address": "bot@example.org", "password": {"file": "/p"}, "user": "bot",
            "smtp": {"host": "h", "tls": "implicit"},
            "inbound": {"protocol": "pop3", "host": "h", "tls": "implicit", "delete": true}}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.smtp.port(), 465);
        let InboundConfig::Pop3(pop3) = &c.inbound else {
            panic!("pop3")
        };
        assert_eq!(pop3.port(), 995);
        assert!(pop3.delete);
        let c = parse(
            r#"{"address": "bot@example.org", "password": {"inline": "x"},
            "smtp": {"host": "h", "tls": "plaintext", "auth": false},
            "inbound": {"protocol": "imap", "host": "h", "tls": "implicit",
                        "handled": {"move_to": "Done"}}}"#,
        )
        .unwrap();
        assert_eq!(c.smtp.port(), 25);
        let InboundConfig::Imap(imap) = &c.inbound else {
            panic!("imap")
        };
        assert_eq!(imap.handled, Handled::MoveTo("Done".into()));
        assert_eq!(imap.port(), 993);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(parse(&format!("{{{BASE}, \"pasword\": \"y\"}}")).is_err());
        assert!(
            parse(
                r#"{"address": "a@b", "password": {"inline": "x"}, "smtp": {"host": "h", "tls": "none"},
                "inbound": {"protocol": "imap", "host": "h"}}"#
            )
            .is_err()
        );
        assert!(
            parse(
                r#"{"address": "a@b", "password": {"inline": "x"}, "smtp": {"host": "h"},
                "inbound": {"protocol": "smoke", "host": "h"}}"#
            )
            .is_err()
        );
        let mut c = parse(&format!("{{{BASE}}}")).unwrap();
        c.address = "not an address".into();
        assert!(matches!(c.validate(), Err(ConfigError::BadAddress(_))));
        let bare = parse(
            r#"{"address": "a@b", "password": "hunter2", "smtp": {"host": "h"},
            "inbound": {"protocol": "imap", "host": "h"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(bare.contains("bare string"), "{bare}");
        assert!(!bare.contains("hunter2"), "{bare}");
        assert!(
            parse(
                r#"{"address": "a@b", "smtp": {"host": "h"},
                "inbound": {"protocol": "imap", "host": "h"}}"#
            )
            .is_err()
        );
        let mut c = parse(&format!("{{{BASE}}}")).unwrap();
        c.name = "a b".into();
        assert!(matches!(c.validate(), Err(ConfigError::BadName(_))));
        let mut c = parse(&format!("{{{BASE}}}")).unwrap();
        c.reconnect_min_ms = 0;
        assert!(matches!(c.validate(), Err(ConfigError::Backoff)));
    }

    #[test]
    fn password_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let mut c = parse(&format!("{{{BASE}}}")).unwrap();
        c.password = Secret::file(&path);
        assert_eq!(c.load_password().unwrap().expose(), "s3cret");
        std::fs::remove_file(&path).unwrap();
        let err = c.load_password().unwrap_err();
        assert!(
            matches!(err, ConfigError::Password(SecretError::Unreadable { .. })),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("password: cannot read the secret file"),
            "{err}"
        );
    }

    #[test]
    fn mail_addresses_are_checked() {
        assert!(is_mail_address("a@b"));
        assert!(!is_mail_address("a"));
        assert!(!is_mail_address("@b"));
        assert!(!is_mail_address("a@"));
        assert!(!is_mail_address("a@b@c"));
        assert!(!is_mail_address("a b@c"));
        assert!(!is_mail_address("<a@b>"));
        // What lettre's parser refuses beyond that: dots out of place, bad domains.
        assert!(!is_mail_address("a..b@example.org"));
        assert!(!is_mail_address(".a@example.org"));
        assert!(!is_mail_address("a@example..org"));
        assert!(!is_mail_address("a@-example.org"));
        assert!(is_mail_address("first.last+tag@mail.example.org"));
        assert!(is_mail_address("a@[127.0.0.1]"));
    }
}
