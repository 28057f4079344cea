//! The worker: a session, beside the bot, that stands for a hub's gateway and its platform
//! sessions.
//!
//! - It holds a fair share of the hub's partitions ([`leases`](crate::leases)) and reads each
//!   partition it holds (one signal unacknowledged at a time per partition, so that a
//!   conversation's signals reach the bot in order, even across a change of worker), hands each
//!   signal to the bot, and acknowledges it to JetStream: with
//!   [`NatsWorker::journal`] once the bot has finished it (a worker that dies leaves what it had
//!   taken to the others), else once the push returned. A signal given again is marked
//!   `redelivered`. When workers come or go, the partitions are shared again.
//! - It relays every address of another platform
//!   ([`Session::relays`](chatty_core::session::Session::relays)): what the bot sends to
//!   `xmpp:alice@example.org` goes to the hub's outbound stream, with the signal's id as the
//!   message id, and the send returns once JetStream has it. Under a journal an answer's id is
//!   the same on every run, so an answer sent again after a crash within the duplicate window
//!   is dropped by JetStream.
//! - Queries go to the gateway by request and reply.
//!
//! What the gateway's sessions can carry is checked there: a signal they refuse comes back to
//! the bot as a `SendFailure`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{AckKind, stream};
use chatty_core::driver::{Driver, Failure, Link, Protocol, lock};
use chatty_core::journal::{Journal, journals};
use chatty_core::session::Refusal;
use chatty_core::{
    Address, Answer, Capabilities, ConnectionErrorKind, FailureKind, Query, QueryError, Signal,
    SystemError,
};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::acks::{Held, WorkerJournal};
use crate::config::NatsConfig;
use crate::error::NatsError;
use crate::hub::Hub;
use crate::leases::Leases;
use crate::retries::Retries;
use crate::task::Owned;
use crate::wire::Envelope;

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
        config.check()?;
        let retries = Retries::new(
            config.max_tries,
            &config.hub,
            crate::hub::stream_name(&config.hub, "DEAD"),
        );
        Ok(NatsWorker {
            name: config.hub.clone(),
            config,
            driver: Driver::default(),
            hub: Mutex::new(None),
            held: Held::new(retries),
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
        self.held.retries.rename(&self.name);
        self
    }

    fn hub(&self) -> Option<Hub> {
        lock(&self.hub).clone()
    }
}

/// A connection failure from a hub error: a refused login is permanent, the rest is retried.
fn failure(error: NatsError) -> Failure {
    match &error {
        NatsError::Connect { .. } if error.is_permanent() => {
            Failure::new(ConnectionErrorKind::Authentication, error.to_string()).permanent()
        }
        _ if error.is_permanent() => {
            Failure::new(ConnectionErrorKind::Other, error.to_string()).permanent()
        }
        NatsError::Connect { .. } => {
            Failure::new(ConnectionErrorKind::Unreachable, error.to_string())
        }
        _ => Failure::new(ConnectionErrorKind::Protocol, error.to_string()),
    }
}

impl Protocol for NatsWorker {
    type Connection = stream::Stream;

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

    /// No: what the bot sends is delivered by the gateway's sessions, so delivery-status
    /// queries go to the gateway, as other queries do.
    fn keeps_deliveries(&self) -> bool {
        false
    }

    async fn connect(self: Arc<Self>, _link: Link) -> Result<stream::Stream, Failure> {
        let hub = Hub::connect(&self.config, &format!("chatty worker {}", self.name))
            .await
            .map_err(failure)?;
        hub.agree_on_partitions().await.map_err(failure)?;
        let inbound = hub.inbound_stream().await.map_err(failure)?;
        hub.outbound_stream().await.map_err(failure)?;
        hub.dead_stream().await.map_err(failure)?;
        *lock(&self.hub) = Some(hub);
        Ok(inbound)
    }

    /// Holds a fair share of the hub's partitions (leases in a key-value bucket, see the crate
    /// docs) and reads each it holds, one task per partition, until asked to stop; then gives
    /// them up.
    async fn serve(self: Arc<Self>, inbound: stream::Stream, link: Link) -> Result<(), Failure> {
        let hub = self.hub().expect("connected");
        let me = hub.client.new_inbox().replace("_INBOX.", "");
        let mut leases = Leases::open(&hub, me, hub.partitions)
            .await
            .map_err(failure)?;
        let mut readers: HashMap<u32, Owned> = HashMap::new();
        let (failed_tx, mut failed) = mpsc::unbounded_channel::<Failure>();
        // Leases renewed, and held signals kept, well within both times.
        let period = hub.lease().min(self.config.ack_wait()) / 3;
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                () = link.stopping() => break Ok(()),
                Some(failure) = failed.recv() => break Err(failure),
                _ = tick.tick() => {
                    let changes = match leases.balance().await {
                        Ok(changes) => changes,
                        Err(e) => break Err(failure(e)),
                    };
                    if !changes.dropped.is_empty() || !changes.taken.is_empty() {
                        tracing::info!(
                            hub = %hub.name,
                            taken = ?changes.taken,
                            given_up = ?changes.dropped,
                            "partitions taken or given up"
                        );
                    }
                    for partition in changes.dropped {
                        readers.remove(&partition);
                    }
                    for partition in changes.taken {
                        let reading = read(
                            hub.clone(),
                            inbound.clone(),
                            partition,
                            link.clone(),
                            self.held.clone(),
                        );
                        let failed = failed_tx.clone();
                        readers.insert(partition, Owned::spawn(async move {
                            if let Err(e) = reading.await {
                                let _ = failed.send(e);
                            }
                        }));
                    }
                    self.held.in_progress().await;
                    set_aside_from_journal(&hub, &self.held).await;
                }
            }
        };
        drop(readers);
        leases.release().await;
        result
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

/// Reads partition `partition` of the inbound stream and hands each signal to the bot, until
/// the bot stops listening (`Ok`) or the stream fails.
async fn read(
    hub: Hub,
    inbound: stream::Stream,
    partition: u32,
    link: Link,
    held: Held,
) -> Result<(), Failure> {
    let consumer = hub
        .partition_consumer(&inbound, partition)
        .await
        .map_err(failure)?;
    tracing::debug!(hub = %hub.name, partition, "reading a partition");
    let mut messages = consumer.messages().await.map_err(|e| {
        Failure::new(
            ConnectionErrorKind::Protocol,
            format!("reading partition {partition} of the hub's inbound stream: {e}"),
        )
    })?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| {
            Failure::new(
                ConnectionErrorKind::Unreachable,
                format!("reading partition {partition} of the hub's inbound stream: {e}"),
            )
        })?;
        let delivered = message.info().map_or(1, |info| info.delivered);
        tracing::debug!(hub = %hub.name, partition, delivered, "a signal from the inbound stream");
        let redelivered = delivered > 1;
        if delivered > i64::from(hub.max_tries) {
            // JetStream gives it no more (its last try was this one): it is kept in the
            // dead-letter stream before anything else of the partition, however long that
            // takes. Ending here instead lost it, and left the partition unread while its
            // lease was renewed.
            let mut wait = Duration::from_millis(100);
            while let Err(e) = set_aside(&hub, &message, delivered).await {
                tracing::warn!(hub = %hub.name, partition, "a signal could not be set aside, again in {wait:?}: {e}");
                tokio::select! {
                    () = link.stopping() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(SET_ASIDE_MAX_WAIT);
                // Made again if it was removed.
                let _ = hub.dead_stream().await;
            }
            let _ = message.ack_with(AckKind::Term).await;
            let id = Envelope::decode(&message.payload)
                .map(|e| e.message_id())
                .unwrap_or_else(|_| "a malformed signal".to_owned());
            let told = link
                .push(Signal::new(SystemError::new(
                    "nats",
                    format!(
                        "{id} was given {} times without being finished, and is set aside \
                         in the stream {}",
                        delivered - 1,
                        hub.dead_stream_name()
                    ),
                )))
                .await;
            if told.is_err() {
                return Ok(());
            }
            continue;
        }
        let signal = match Envelope::decode(&message.payload) {
            Ok(envelope) => {
                let mut signal = envelope.signal;
                signal.meta.redelivered |= redelivered;
                signal
            }
            Err(e) => {
                // Never given again: it would fail the same way.
                let _ = message.ack_with(AckKind::Term).await;
                if link
                    .push(Signal::new(SystemError::new("nats", e)))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                continue;
            }
        };
        let (_, acker) = message.split();
        // Held until the bot has finished it, if the journal keeps it (and so says when); a
        // status change is not kept, and is acknowledged once handed on.
        let (holding, unheld) = if held.is_journaled() && journals(&signal.body) {
            (Some(held.hold(&signal, acker)), None)
        } else {
            (None, Some(acker))
        };
        if link.push(signal).await.is_err() {
            // Not handed to the bot: JetStream gives it again.
            return Ok(());
        }
        if let Some(holding) = holding {
            holding.handed();
        }
        if let Some(acker) = unheld
            && let Err(e) = acker.ack().await
        {
            tracing::warn!(hub = %hub.name, "acknowledging a signal: {e}");
        }
    }
    Err(Failure::new(
        ConnectionErrorKind::Unreachable,
        format!("partition {partition} of the hub's inbound stream ended"),
    ))
}

/// Copies `message` to the hub's dead-letter stream (with its message id, so that a second copy
/// is dropped); an error if JetStream does not take it (the message then stays where it is).
/// Publishes to the dead-letter stream what the worker's journal set aside after its last try.
async fn set_aside_from_journal(hub: &Hub, held: &Held) {
    for signal in held.retries.take_aside() {
        // The message id the gateway gave it: set aside twice (JetStream's count ran out too),
        // it is kept once.
        let envelope = Envelope::new(crate::gateway::origin_session(&signal), signal);
        if let Err(e) = hub
            .publish(hub.dead_subject(), envelope.message_id(), envelope.encode())
            .await
        {
            tracing::error!(hub = %hub.name, "a signal set aside could not be kept in the dead-letter stream: {e}");
        }
    }
}

/// The longest wait between two tries to keep a signal in the dead-letter stream.
const SET_ASIDE_MAX_WAIT: Duration = Duration::from_secs(5);

async fn set_aside(
    hub: &Hub,
    message: &async_nats::jetstream::Message,
    delivered: i64,
) -> Result<(), NatsError> {
    let id = Envelope::decode(&message.payload)
        .map(|e| e.message_id())
        .unwrap_or_else(|_| {
            format!(
                "undecodable-{}",
                message.info().map_or(0, |i| i.stream_sequence)
            )
        });
    tracing::error!(hub = %hub.name, id, delivered, "a signal set aside after its last try");
    hub.publish(hub.dead_subject(), id, message.payload.to_vec())
        .await
}
