//! The XMPP session: one account serving a bot.

use std::fmt;
use std::sync::{Arc, Mutex};

use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{
    Address, Answer, Body, Capabilities, FailureKind, InboundSink, Query, QueryError, Refusal,
    Session, SessionEnd, SessionError, Signal,
};
use tokio::sync::mpsc;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::iq::Iq;

use crate::caps::CAPABILITIES;
use crate::command::Command;
use crate::config::PLATFORM;
use crate::config::{ConfigError, XmppConfig, parse_account_jid};
use crate::files::Http;
use crate::iq::{IQ_TIMEOUT, disco_info, request};
use crate::mapper::Mapper;

/// How many outbound signals may wait for the connection task before `send` waits.
const COMMAND_QUEUE: usize = 1024;

/// An XMPP account serving a bot: one-to-one messages, typing and presence (see the crate
/// documentation for what is not supported yet).
///
/// [`run`](Session::run) connects (STARTTLS, direct TLS or, when configured explicitly,
/// plaintext), sends the bot's presence, pushes `SessionStarted` with the bot's own address
/// (`xmpp:bot@example.org;kind=individual`), then maps stanzas to signals. A failed connection
/// attempt (a wrong password, an unreachable server, a TLS failure, no answer within the connect
/// timeout) becomes a [`ConnectionError`](chatty_core::ConnectionError) with its cause and the time of the next attempt;
/// attempts go on with jittered exponential backoff between the configured bounds. A lost
/// connection is a [`ConnectionError`](chatty_core::ConnectionError) too, and the stream is resumed (XEP-0198) or re-opened.
///
/// [`send`](Session::send) turns a signal into stanzas at once (refusing what it cannot carry)
/// and hands them to the connection task, so it does not wait on the network.
pub struct XmppSession {
    pub(crate) config: XmppConfig,
    /// The HTTP client for uploads and downloads, made on first use.
    pub(crate) http: std::sync::OnceLock<Result<Http, String>>,
    /// The server's upload service (XEP-0363), once found.
    pub(crate) upload_service: tokio::sync::Mutex<Option<Jid>>,
    pub(crate) jid: BareJid,
    pub(crate) mapper: Mapper,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) receiver: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl fmt::Debug for XmppSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmppSession")
            .field("address", self.mapper.own())
            .field("name", &self.config.name)
            .finish()
    }
}

impl XmppSession {
    /// A session for the account in `config` (checked here; nothing connects until `run`).
    pub fn new(config: XmppConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let jid = parse_account_jid(&config.jid)?;
        let mapper = Mapper::new(&config.name, &jid)
            .map_err(|reason| ConfigError::BadJid {
                jid: config.jid.clone(),
                reason,
            })?
            .with_client_type(config.client_type)
            .with_bots_by_identity(config.bots_by_identity);
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        Ok(XmppSession {
            config,
            http: std::sync::OnceLock::new(),
            upload_service: tokio::sync::Mutex::new(None),
            jid,
            mapper,
            commands,
            receiver: Mutex::new(Some(receiver)),
        })
    }

    /// The bot's own address on this session: `xmpp:bare-jid;kind=individual`.
    pub fn address(&self) -> &Address {
        self.mapper.own()
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> SessionError {
        SessionError {
            session: self.config.name.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn own(&self) -> Option<Address> {
        Some(self.mapper.own().clone())
    }

    /// The HTTP client, made on first use.
    pub(crate) fn http(&self) -> Result<&Http, String> {
        self.http
            .get_or_init(Http::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Sends an IQ request through the connection and waits for its answer.
    pub(crate) async fn request(&self, iq: Iq, what: &str) -> Result<Iq, String> {
        request(&self.commands, iq, what, IQ_TIMEOUT).await
    }

    /// The disco#info of `to`, if it answers with one.
    pub(crate) async fn disco_info(&self, to: Jid) -> Result<Option<DiscoInfoResult>, String> {
        disco_info(
            &self.commands,
            to,
            DiscoInfoQuery { node: None },
            IQ_TIMEOUT,
        )
        .await
    }
}

/// The end of a session that was asked to end.
pub(crate) struct Ended(pub(crate) SessionEnd);

impl Session for XmppSession {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        match address {
            Some(address) => self.known_capabilities(address),
            None => CAPABILITIES,
        }
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        Box::pin(async move {
            if let Some(Ended(end)) = self.serve(&inbound).await? {
                let _ = inbound
                    .send(Signal::internal(self.own(), Body::SessionEnded(end)))
                    .await;
            }
            Ok(())
        })
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        Box::pin(async move {
            let command = match &signal.body {
                Body::InitiateSessionEnd(end) => {
                    // Ending a session that has ended already is not a failure.
                    let _ = self.commands.send(Command::End(end.clone())).await;
                    return Ok(());
                }
                Body::DownloadFile(_) => Command::Download(Box::new(signal)),
                _ => {
                    let signal = self.upload_files(signal).await?;
                    let mut stanzas = self.mapper.outbound(&signal)?;
                    self.drop_unwanted_receipt_requests(&mut stanzas);
                    Command::Send(stanzas)
                }
            };
            self.commands
                .send(command)
                .await
                .map_err(|_| Refusal::new(FailureKind::Unreachable, "the XMPP session has ended"))
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move { self.answer(&query).await })
    }
}
