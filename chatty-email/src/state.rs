//! What the session's modules share: the configuration, the password, the mapper, the TLS
//! setup for the inbound server, the reply-threading memory, the read cursor and when copies
//! of answers are deleted.

use std::sync::Mutex;
use std::time::Instant;

use chatty_core::Revealed;
use tokio_rustls::TlsConnector;

use crate::config::{ConfigError, EmailConfig, InboundConfig, TlsMode};
use crate::mapper::{Mapper, Threads};
use crate::net::tls_connector;
use crate::store::Store;
use crate::sweep::Sweep;

/// The session's state, borrowed by `connect`, `inbound`, `outbound` and `query`.
pub(crate) struct Shared {
    /// The configuration, checked.
    pub(crate) config: EmailConfig,
    /// The password, read when the session was made.
    pub(crate) password: Revealed,
    /// Maps mails to signals and back, with the bot's own address.
    pub(crate) mapper: Mapper,
    /// TLS for the inbound server (`None` in plaintext).
    pub(crate) tls: Option<TlsConnector>,
    /// Subjects and references of the last mails, for replies to them.
    pub(crate) threads: Mutex<Threads>,
    /// How far the mailbox was read (IMAP: UIDVALIDITY and last UID; POP3: the UIDLs seen),
    /// kept across reconnections and saved to the state file.
    pub(crate) store: tokio::sync::Mutex<Store>,
    /// When the session was made: after a restart, the copy of an answer the server took
    /// before has had at least the time since then to arrive.
    pub(crate) created: Instant,
    /// When the copies read past are deleted.
    pub(crate) sweep: Mutex<Sweep>,
    /// The mails the IMAP server would not give (UIDVALIDITY, UID), each reported once: left
    /// out of every later FETCH, so that the mail around them comes through.
    pub(crate) unfetchable: Mutex<std::collections::BTreeSet<(u32, u32)>>,
    /// The same for POP3: the UIDLs of the messages the server answered `RETR` with `-ERR`.
    pub(crate) pop3_refused: Mutex<std::collections::BTreeSet<String>>,
}

impl Shared {
    /// The state for `config`: checked, the password read, the state file loaded. Nothing
    /// here needs a runtime.
    pub(crate) fn new(config: EmailConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let password = config.load_password()?;
        let mapper = Mapper::new(&config.name, &config.address)
            .map_err(|_| ConfigError::BadAddress(config.address.clone()))?
            .with_copies(config.answer_copies);
        let store = Store::open(config.state_path.as_deref())?;
        let inbound_tls = match &config.inbound {
            InboundConfig::Imap(c) => c.tls,
            InboundConfig::Pop3(c) => c.tls,
        };
        let tls = match inbound_tls {
            TlsMode::Plaintext => None,
            TlsMode::Starttls | TlsMode::Implicit => {
                Some(tls_connector().map_err(ConfigError::Invalid)?)
            }
        };
        let sweep = Mutex::new(Sweep::new(config.answer_copies_kept()));
        Ok(Shared {
            config,
            password,
            mapper,
            tls,
            threads: Mutex::new(Threads::default()),
            store: tokio::sync::Mutex::new(store),
            created: Instant::now(),
            sweep,
            unfetchable: Mutex::default(),
            pop3_refused: Mutex::default(),
        })
    }
}
