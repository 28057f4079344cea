//! The IRC session: one nick on one server serving a bot.

use std::fmt;
use std::sync::Arc;

use chatty_core::driver::{Backoff, Driver, Failure, Link, Protocol};
use chatty_core::session::{Confirmation, Refusal};
use chatty_core::{Address, Answer, AnswerLimit, Capabilities, Query, QueryError, Signal};

use crate::config::{ConfigError, IrcConfig, PLATFORM};
use crate::connect::{self, Connection};
use crate::parts::SessionParts;
use crate::state::Shared;
use crate::{caps, inbound, outbound, query, sent};

/// One nick on an IRC server serving a bot: channels and private messages, room presence and
/// typing (see the crate documentation for the mapping and what is not supported yet).
///
/// Running it (as a [`Session`](chatty_core::session::Session), which every [`Protocol`] is)
/// connects (direct TLS or, when configured explicitly, plaintext), registers (IRCv3
/// capabilities, SASL PLAIN when configured, a fallback nick when the nick is taken), pushes
/// `SessionStarted` with the bot's own address (`irc:nick;kind=individual`), joins the
/// configured channels and maps lines to signals. A failed attempt or a lost connection is a
/// [`ConnectionError`](chatty_core::ConnectionError) and the driver connects again after its
/// backoff; a refused login (SASL, server password, a nick the server never accepts) ends the
/// session.
///
/// [`send`](Protocol::send) maps a signal to lines at once (refusing what IRC cannot carry) and
/// queues them; the connection's writer sends them paced, so a burst from the bot does not get
/// it disconnected for flooding.
pub struct IrcSession {
    parts: Arc<SessionParts>,
}

impl fmt::Debug for IrcSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrcSession")
            .field("server", &self.parts.shared.config.server)
            .field("nick", &self.parts.shared.live().nick)
            .field("name", &self.parts.shared.config.name)
            .finish()
    }
}

impl IrcSession {
    /// A session for `config` (checked here; nothing connects until it runs).
    pub fn new(config: IrcConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (min, max) = config.reconnect_backoff();
        let driver =
            Driver::new(Backoff::new(min, max)).with_stop_timeout(inbound::QUIT_TIMEOUT * 2);
        Ok(IrcSession {
            parts: Arc::new(SessionParts {
                driver,
                shared: Shared::new(config),
            }),
        })
    }

    /// The bot's own address on this session: `irc:nick;kind=individual`, with the nick the
    /// server accepted once registered.
    pub fn address(&self) -> Option<Address> {
        self.parts.shared.own()
    }
}

impl Protocol for IrcSession {
    type Connection = Connection;

    fn driver(&self) -> &Driver {
        &self.parts.driver
    }

    fn name(&self) -> &str {
        &self.parts.shared.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn own(&self) -> Option<Address> {
        self.parts.shared.own()
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        caps::capabilities(&self.parts.shared.live(), address)
    }

    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::CHAT)
    }

    async fn connect(self: Arc<Self>, link: Link) -> Result<Connection, Failure> {
        connect::connect(self.parts.clone(), &link).await
    }

    async fn serve(self: Arc<Self>, connection: Connection, link: Link) -> Result<(), Failure> {
        inbound::serve(self.parts.clone(), connection, &link).await
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        outbound::send(&self.parts.shared, &self.parts.driver, signal).await
    }

    async fn hand_on(&self, signal: Signal) -> Result<Confirmation, Refusal> {
        outbound::hand_on(&self.parts.shared, &self.parts.driver, signal).await
    }

    async fn sent(&self, signal: &Signal) -> Option<bool> {
        sent::sent(&self.parts.shared, signal).await
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        query::answer(&self.parts.shared, &query)
    }
}
