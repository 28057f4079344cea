//! The XMPP session: one account serving a bot.

use std::fmt;
use std::sync::Arc;

use chatty_core::driver::{Backoff, Driver, Failure, Link, Protocol};
use chatty_core::session::{Confirmation, Refusal};
use chatty_core::{Address, Answer, AnswerLimit, Capabilities, File, Query, QueryError, Signal};

use crate::config::{ConfigError, PLATFORM, XmppConfig};
use crate::state::{Connection, Shared};
use crate::{connect, inbound, outbound, query, sent, transfer};

/// An XMPP account serving a bot: one-to-one messages, multi-user rooms, typing, presence and
/// files (see the crate documentation for what is not supported yet).
///
/// Running it (as a [`Session`](chatty_core::session::Session), which every
/// [`Protocol`] is) connects (STARTTLS, direct TLS or, when configured explicitly, plaintext),
/// sends the bot's presence, pushes `SessionStarted` with the bot's own address
/// (`xmpp:bot@example.org;kind=individual`) once the server echoed it, then maps stanzas to
/// signals. A failed connection attempt (a wrong password, an unreachable server, a TLS failure,
/// no answer within the connect timeout) becomes a
/// [`ConnectionError`](chatty_core::ConnectionError) with its cause and the time of the next
/// attempt; attempts go on with jittered exponential backoff between the configured bounds. A
/// lost connection is a [`ConnectionError`](chatty_core::ConnectionError) too, and the stream
/// is resumed (XEP-0198) or re-opened.
///
/// [`send`](Protocol::send) turns a signal into stanzas at once (refusing what it cannot carry)
/// and hands them to the connection; without a journal it does not wait on the network, under a
/// router with a journal it returns once the server acknowledged the messages (XEP-0198), so
/// that an answer the journal records as gone has left the process.
/// [`sent`](Protocol::sent) looks an answer the journal is unsure of up in the account's archive.
///
/// On every fresh stream the session catches up from the archive (MAM) after the journal's mark
/// `mam`, so that nothing sent to the bot is lost when its process dies (see the crate README).
pub struct XmppSession {
    driver: Driver,
    shared: Shared,
}

impl fmt::Debug for XmppSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppSession")
            .field("address", self.shared.own())
            .field("name", &self.shared.config.name)
            .finish()
    }
}

impl XmppSession {
    /// A session for the account in `config` (checked here; nothing connects until it runs).
    pub fn new(config: XmppConfig) -> Result<Self, ConfigError> {
        let shared = Shared::new(config)?;
        let (min, max) = shared.config.reconnect_backoff();
        // Closing takes up to one timeout for the last stanzas and one for the stream's close.
        let driver =
            Driver::new(Backoff::new(min, max)).with_stop_timeout(inbound::CLOSE_TIMEOUT * 2);
        Ok(XmppSession { driver, shared })
    }

    /// The bot's own address on this session: `xmpp:bare-jid;kind=individual`.
    pub fn address(&self) -> &Address {
        self.shared.own()
    }
}

impl Protocol for XmppSession {
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
        Some(self.shared.own().clone())
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        self.shared.capabilities(address)
    }

    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::CHAT)
    }

    async fn connect(self: Arc<Self>, link: Link) -> Result<Connection, Failure> {
        connect::connect(&self.shared, &link).await
    }

    async fn serve(self: Arc<Self>, connection: Connection, link: Link) -> Result<(), Failure> {
        inbound::serve(&self.shared, self.driver.deliveries(), connection, &link).await
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        outbound::send(&self.shared, &self.driver, signal).await
    }

    async fn hand_on(&self, signal: Signal) -> Result<Confirmation, Refusal> {
        outbound::hand_on(&self.shared, &self.driver, signal).await
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        query::answer(&self.shared, &query).await
    }

    async fn sent(&self, signal: &Signal) -> Option<bool> {
        sent::sent(&self.shared, signal).await
    }

    async fn download(&self, file: File) -> Result<File, Refusal> {
        transfer::download(&self.shared, file).await
    }
}
