//! The worker: a session, beside the bot, that stands for a hub's gateway and its platform
//! sessions.
//!
//! - It reads the hub's inbound stream through the consumer every worker of the hub shares (so
//!   each signal goes to one of them), hands each signal to the bot, and acknowledges it to
//!   JetStream once the push returned: under a journal (the runner's default) the signal is
//!   durable in the worker's journal by then, as a mail is before an IMAP cursor moves. A
//!   signal given again (the worker died before acknowledging it) is marked `redelivered`.
//! - It relays every address of another platform ([`Session::relays`](chatty_core::session::Session::relays)):
//!   what the bot sends to `xmpp:alice@example.org` goes to the hub's outbound stream, with
//!   the signal's id as the message id, and the send returns once JetStream has it. Under a
//!   journal an answer's id is the same on every run, so an answer sent again after a crash
//!   within the duplicate window is dropped by JetStream.
//! - Queries go to the gateway by request and reply.
//!
//! What the gateway's sessions can carry is checked there: a signal they refuse comes back to
//! the bot as a `SendFailure`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use chatty_core::driver::{Driver, Failure, Link, Protocol, lock};
use chatty_core::journal::Journal;
use chatty_core::session::Refusal;
use chatty_core::{
    Address, Answer, Capabilities, ConnectionErrorKind, FailureKind, Query, QueryError, Signal,
    SystemError,
};
use futures::StreamExt;

use crate::acks::{Held, WorkerJournal};
use crate::config::NatsConfig;
use crate::error::NatsError;
use crate::hub::Hub;
use crate::wire::Envelope;

/// The name of the inbound stream's consumer, shared by a hub's workers.
const CONSUMER: &str = "workers";

/// The platform of a worker's session.
const PLATFORM: &str = "nats";

/// How long a query waits for the gateway's answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A session that stands for the platform sessions of a NATS hub's gateway
/// ([`NatsGateway`](crate::NatsGateway)): the bot side of a bot whose platforms are reached
/// on another machine.
///
/// ```no_run
/// use chatty_core::{Router, from_fn};
/// use chatty_nats::{NatsConfig, NatsWorker};
/// # async fn run() {
/// let worker = NatsWorker::new(NatsConfig::new("nats://127.0.0.1:4222", "support")).unwrap();
/// let echo = from_fn(|signal: chatty_core::Signal, handle| async move {
///     if let chatty_core::Body::Message(m) = &signal.body {
///         handle.send(signal.reply(chatty_core::Message::text(m.text.clone()))).await?;
///     }
///     Ok(())
/// });
/// Router::new().session(worker).run(echo).await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct NatsWorker {
    config: NatsConfig,
    name: String,
    driver: Driver,
    /// The hub, once connected.
    hub: Mutex<Option<Hub>>,
    /// The acknowledgements held until the bot finishes each signal.
    held: Held,
}

impl NatsWorker {
    /// A worker of the hub `config` names; its session is named after the hub.
    pub fn new(config: NatsConfig) -> Result<Self, NatsError> {
        if !crate::hub::valid_name(&config.hub) {
            return Err(NatsError::config(format!(
                "the hub name {:?} is not 1 to 64 letters, digits, `-` or `_`",
                config.hub
            )));
        }
        Ok(NatsWorker {
            name: config.hub.clone(),
            config,
            driver: Driver::default(),
            hub: Mutex::new(None),
            held: Held::default(),
        })
    }

    /// Wraps the journal the worker's router is to run with, so that each signal is
    /// acknowledged to JetStream only once the bot has finished it: if the worker dies first,
    /// JetStream gives it to another worker. Without it, a signal is acknowledged once it is
    /// handed on (durable in the router's journal when it has one), and stays with this worker.
    ///
    /// ```no_run
    /// use chatty_core::Router;
    /// use chatty_core::journal::MemoryJournal;
    /// use chatty_nats::{NatsConfig, NatsWorker};
    /// # async fn run(bot: impl chatty_core::Bot) {
    /// let worker = NatsWorker::new(NatsConfig::new("nats://127.0.0.1:4222", "support")).unwrap();
    /// let journal = worker.journal(MemoryJournal::new());
    /// Router::new().session(worker).journal(journal).run(bot).await.unwrap();
    /// # }
    /// ```
    pub fn journal<J: Journal>(&self, inner: J) -> WorkerJournal<J> {
        WorkerJournal::new(inner, self.held.clone())
    }

    /// Names the session (by default the hub's name).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn hub(&self) -> Option<Hub> {
        lock(&self.hub).clone()
    }
}

/// A connection failure from a hub error: a refused login is permanent, the rest is retried.
fn failure(error: NatsError) -> Failure {
    match &error {
        NatsError::Config(_) | NatsError::Secret(_) => {
            Failure::new(ConnectionErrorKind::Other, error.to_string()).permanent()
        }
        NatsError::Connect { cause, .. } if cause.contains("authorization") => {
            Failure::new(ConnectionErrorKind::Authentication, error.to_string()).permanent()
        }
        NatsError::Connect { .. } => {
            Failure::new(ConnectionErrorKind::Unreachable, error.to_string())
        }
        _ => Failure::new(ConnectionErrorKind::Protocol, error.to_string()),
    }
}

impl Protocol for NatsWorker {
    type Connection = PullConsumer;

    fn driver(&self) -> &Driver {
        &self.driver
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn own(&self) -> Option<Address> {
        Address::new(PLATFORM, self.config.hub.as_str()).ok()
    }

    /// Everything: the gateway's sessions decide, and what they refuse comes back as a
    /// `SendFailure`.
    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        Capabilities::all()
    }

    fn relays(&self, _address: &Address) -> bool {
        true
    }

    async fn connect(self: Arc<Self>, _link: Link) -> Result<PullConsumer, Failure> {
        let hub = Hub::connect(&self.config, &format!("chatty worker {}", self.name))
            .await
            .map_err(failure)?;
        let inbound = hub.inbound_stream().await.map_err(failure)?;
        hub.outbound_stream().await.map_err(failure)?;
        let consumer = hub.consumer(&inbound, CONSUMER).await.map_err(failure)?;
        *lock(&self.hub) = Some(hub);
        Ok(consumer)
    }

    async fn serve(self: Arc<Self>, consumer: PullConsumer, link: Link) -> Result<(), Failure> {
        let mut messages = consumer.messages().await.map_err(|e| {
            Failure::new(
                ConnectionErrorKind::Protocol,
                format!("reading the hub's inbound stream: {e}"),
            )
        })?;
        // Held signals keep their place while the bot works on them.
        let mut progress =
            tokio::time::interval((self.config.ack_wait() / 3).max(Duration::from_millis(100)));
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let message = tokio::select! {
                () = link.stopping() => return Ok(()),
                _ = progress.tick() => {
                    self.held.in_progress().await;
                    continue;
                }
                message = messages.next() => message,
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    return Err(Failure::new(
                        ConnectionErrorKind::Unreachable,
                        format!("reading the hub's inbound stream: {e}"),
                    ));
                }
                None => {
                    return Err(Failure::new(
                        ConnectionErrorKind::Unreachable,
                        "the hub's inbound stream ended",
                    ));
                }
            };
            let redelivered = message.info().is_ok_and(|info| info.delivered > 1);
            let signal = match Envelope::decode(&message.payload) {
                Ok(envelope) => {
                    let mut signal = envelope.signal;
                    signal.meta.redelivered |= redelivered;
                    signal
                }
                Err(e) => {
                    // Never given again: it would fail the same way.
                    let _ = message.ack_with(AckKind::Term).await;
                    Signal::new(SystemError::new("nats", e))
                }
            };
            let (_, acker) = message.split();
            let unheld = if self.held.is_journaled() {
                self.held.hold(&signal, acker);
                None
            } else {
                Some(acker)
            };
            if link.push(signal).await.is_err() {
                // Not handed to the bot: JetStream gives it again.
                return Ok(());
            }
            if let Some(acker) = unheld
                && let Err(e) = acker.ack().await
            {
                tracing::warn!(hub = %self.config.hub, "acknowledging a signal: {e}");
            }
        }
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        let hub = self.hub().ok_or_else(|| {
            Refusal::new(
                FailureKind::Unreachable,
                "not connected to the NATS hub yet",
            )
        })?;
        let id = signal.meta.id.as_str().to_owned();
        let envelope = Envelope::new(String::new(), signal);
        hub.publish(hub.outbound_subject(), id, envelope.encode())
            .await
            .map_err(|e| Refusal::new(FailureKind::Unreachable, e.to_string()))
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        let hub = self.hub().ok_or(QueryError::Closed)?;
        let request = serde_json::to_vec(&query).expect("a query always serializes");
        let reply = tokio::time::timeout(
            QUERY_TIMEOUT,
            hub.client.request(hub.query_subject(), request.into()),
        )
        .await
        .map_err(|_| QueryError::Failed {
            message: format!("the hub's gateway did not answer within {QUERY_TIMEOUT:?}"),
        })?
        .map_err(|e| QueryError::Failed {
            message: format!("asking the hub's gateway: {e}"),
        })?;
        serde_json::from_slice::<Result<Answer, QueryError>>(&reply.payload).map_err(|e| {
            QueryError::Failed {
                message: format!("a malformed answer from the hub's gateway: {e}"),
            }
        })?
    }
}
