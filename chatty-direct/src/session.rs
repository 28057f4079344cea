//! One endpoint of a direct network, as a [`Protocol`] (and so a
//! [`Session`](chatty_core::session::Session)).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chatty_core::driver::{Driver, Failure, Link, Protocol};
use chatty_core::session::Refusal;
use chatty_core::{Address, Answer, AnswerLimit, Capabilities, File, Query, QueryError, Signal};

use crate::connect::{self, Attachment};
use crate::state::{PLATFORM, Port, Shared};
use crate::{files, inbound, outbound, query};

/// One endpoint of a [`Network`](crate::Network): a session serving one bot.
///
/// A send waits while the addressee's inbound queue is full (backpressure, never loss); a signal
/// for an endpoint whose bot is not running waits for it. Messages to a channel reach every other
/// member (not the sender); a join or leave (`Status::InRoom`) reaches every member, the sender
/// included, as a server reflects it. Like every session, it runs once: a bot that comes back
/// takes a new one from [`Network::endpoint`](crate::Network::endpoint).
pub struct DirectSession {
    port: Port,
}

impl fmt::Debug for DirectSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSession")
            .field("address", &self.port.own)
            .finish()
    }
}

impl DirectSession {
    pub(crate) fn new(shared: Arc<Shared>, name: &str, own: Address) -> Self {
        DirectSession {
            port: Port::new(shared, name, own),
        }
    }

    /// This endpoint's own address.
    pub fn address(&self) -> &Address {
        &self.port.own
    }
}

impl Protocol for DirectSession {
    /// The endpoint, online on the network until dropped.
    type Connection = Attachment;

    fn driver(&self) -> &Driver {
        &self.port.driver
    }

    fn name(&self) -> &str {
        &self.port.shared.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn own(&self) -> Option<Address> {
        Some(self.port.own.clone())
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        self.port.shared.capabilities(address)
    }

    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::CHAT)
    }

    async fn connect(self: Arc<Self>, _link: Link) -> Result<Attachment, Failure> {
        connect::connect(&self.port)
    }

    async fn serve(self: Arc<Self>, attachment: Attachment, link: Link) -> Result<(), Failure> {
        inbound::serve(&self.port, attachment, &link).await;
        Ok(())
    }

    // Not `async`: the common send is decided at once, and its future stays small.
    fn send(&self, signal: Signal) -> impl Future<Output = Result<(), Refusal>> + Send {
        outbound::send(&self.port, signal)
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        query::answer(&self.port, &query)
    }

    async fn download(&self, file: File) -> Result<File, Refusal> {
        files::download(&self.port.shared, file)
    }
}
