//! The Slack session: one app (bot token + app-level token) serving a bot.

use std::fmt;
use std::sync::Arc;

use chatty_core::driver::{Backoff, Driver, Failure, Link, Protocol};
use chatty_core::session::Refusal;
use chatty_core::{Address, Answer, Capabilities, File, Query, QueryError, Signal};

use crate::PLATFORM;
use crate::caps::CAPABILITIES;
use crate::config::{ConfigError, SlackConfig};
use crate::socket::Connection;
use crate::state::State;
use crate::{connect, download, inbound, outbound, query, sent};

/// A Slack app serving a bot: Events API over Socket Mode in, the Web API out.
///
/// Connecting checks the bot token (`auth.test`, which names the bot: its own address
/// `slack:TEAM/USER;kind=individual` from then on), joins the configured channels (at the first
/// connection) and opens Socket Mode with the app-level token; once the socket said `hello`,
/// the driver pushes `SessionStarted` with that address. HTTP 429 while connecting fails the
/// attempt, and the next one waits at least Slack's `Retry-After`. Each envelope is
/// acknowledged once what it carries was pushed to the bot (under a router with a journal:
/// once it is durable), in the order read, without the socket's reading waiting for it; what
/// was not taken is left with Slack, which sends it again, and an event delivered twice (same
/// `event_id`, or a signal the journal holds) reaches the bot once. Every inbound signal's id
/// comes from the event (the same when Slack sends it again, after a restart too). Clicks on
/// the session's buttons (questions with a `choice`) and slash commands come as messages (with
/// `chosen`, or `command`), the same way: see "Choices and slash commands" in the crate
/// documentation. The
/// configured channels are joined once the socket is open. Reconnection, the end of the
/// session and delivery statuses are chatty-core's driver's.
///
/// [`send`](chatty_core::session::Session::send) calls the Web API one signal at a time, in order: an
/// `ok: false` answer becomes the refusal (a `SendFailure` naming the signal, with Slack's
/// error code); HTTP 429 is waited out for its `Retry-After` and the call made again.
///
/// [`sent`](Protocol::sent) (after a restart, of an answer that may have left just before the
/// process stopped) looks the answer up by its id in the conversation or thread it would be
/// in, from the answered message on: at most 1 000 messages, newest first.
pub struct SlackSession {
    driver: Driver,
    state: State,
}

impl fmt::Debug for SlackSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackSession")
            .field("name", &self.state.config.name)
            .field("api_url", &self.state.config.api_url)
            .field("address", &self.address())
            .finish()
    }
}

impl SlackSession {
    /// A session for the app in `config` (checked here; nothing connects until `run`).
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (min, max) = config.reconnect_backoff();
        Ok(SlackSession {
            driver: Driver::new(Backoff::new(min, max)),
            state: State::new(config),
        })
    }

    /// The bot's own address, once the session has connected (`auth.test` told it).
    pub fn address(&self) -> Option<Address> {
        self.state.conn().map(|c| c.mapper.own().clone())
    }
}

impl Protocol for SlackSession {
    type Connection = Connection;

    fn driver(&self) -> &Driver {
        &self.driver
    }

    fn name(&self) -> &str {
        &self.state.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    /// Known once `auth.test` named the bot (the driver asks after `connect`).
    fn own(&self) -> Option<Address> {
        self.address()
    }

    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        CAPABILITIES
    }

    async fn connect(self: Arc<Self>, link: Link) -> Result<Connection, Failure> {
        connect::connect(&self.state, &link).await
    }

    async fn serve(self: Arc<Self>, connection: Connection, link: Link) -> Result<(), Failure> {
        inbound::serve(&self.state, connection, &link).await
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        outbound::send(&self.state, self.driver.deliveries(), signal).await
    }

    /// Looks the answer up where it would be on Slack, by the id its metadata (or a file
    /// share's block id) carries: see "After a restart" under Guarantees in the crate documentation.
    async fn sent(&self, signal: &Signal) -> Option<bool> {
        sent::sent(&self.state, signal).await
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        query::answer(&self.state, &query).await
    }

    async fn download(&self, file: File) -> Result<File, Refusal> {
        download::download(&self.state, file).await
    }
}
