//! The Matrix session: one account on one homeserver serving a bot.

use std::fmt;
use std::sync::Arc;

use chatty_core::driver::{Backoff, Driver, Failure, Link, Protocol};
use chatty_core::session::Refusal;
use chatty_core::{Address, Answer, AnswerLimit, Capabilities, File, Query, QueryError, Signal};

use crate::config::{ConfigError, MatrixConfig, PLATFORM};
use crate::connect::{self, Connection};
use crate::http::Http;
use crate::state::Shared;
use crate::{caps, inbound, outbound, query};

/// One Matrix account serving a bot: rooms and direct chats, room presence, typing, replies
/// (see the crate documentation for the mapping and what is not supported yet).
///
/// Running it (as a [`Session`](chatty_core::session::Session), which every [`Protocol`] is)
/// logs in with the password (once: the access token is kept in memory for the reconnections),
/// joins the configured rooms, pushes `SessionStarted` with the bot's own address
/// (`matrix:@bot:example.org;kind=individual`) and serves the long-poll `/sync` loop. A lost
/// connection, a 5xx or a 429 is a [`ConnectionError`](chatty_core::ConnectionError) and the
/// driver connects again after its backoff (at least the server's `retry_after_ms`); a refused
/// login ends the session.
///
/// [`send`](Protocol::send) sends at once, one request per room; a message's transaction ID is
/// derived from the signal's id, so that a message sent again (after a restart) is sent once.
pub struct MatrixSession {
    driver: Driver,
    shared: Arc<Shared>,
}

impl fmt::Debug for MatrixSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixSession")
            .field("homeserver", &self.shared.config.homeserver)
            .field("user", &self.shared.config.user)
            .field("name", &self.shared.config.name)
            .finish()
    }
}

impl MatrixSession {
    /// A session for `config` (checked here; nothing connects until it runs).
    pub fn new(config: MatrixConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (min, max) = config.reconnect_backoff();
        let http = Http::new(&config).map_err(|e| ConfigError::Tls(e.cause().to_owned()))?;
        Ok(MatrixSession {
            driver: Driver::new(Backoff::new(min, max)),
            shared: Arc::new(Shared::new(config, http)),
        })
    }

    /// The bot's own address on this session, once logged in:
    /// `matrix:@bot:example.org;kind=individual`.
    pub fn address(&self) -> Option<Address> {
        self.shared.own()
    }
}

impl Protocol for MatrixSession {
    type Connection = Connection;

    fn driver(&self) -> &Driver {
        &self.driver
    }

    fn name(&self) -> &str {
        &self.shared.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn own(&self) -> Option<Address> {
        self.shared.own()
    }

    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        caps::capabilities()
    }

    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::CHAT)
    }

    async fn connect(self: Arc<Self>, link: Link) -> Result<Connection, Failure> {
        connect::connect(self.shared.clone(), &link).await
    }

    async fn serve(self: Arc<Self>, connection: Connection, link: Link) -> Result<(), Failure> {
        inbound::serve(
            self.shared.clone(),
            connection,
            &link,
            self.driver.deliveries(),
        )
        .await
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        outbound::send(&self.shared, &self.driver, signal).await
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        query::answer(&self.shared, &query).await
    }

    /// Fetches an `mxc://` file with the session's token (authenticated media).
    async fn download(&self, file: File) -> Result<File, Refusal> {
        outbound::download(&self.shared, file).await
    }
}
