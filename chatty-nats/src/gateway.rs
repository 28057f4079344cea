//! The gateway: a bot, beside the platform sessions, that hands what they receive to the hub's
//! workers and sends what the workers' bots send.
//!
//! - Every signal of a platform (messages, files, status changes, user-defined signals, send
//!   failures; not the sessions' own lifecycle) is published to the hub's inbound stream, and
//!   the gateway takes the next one only once JetStream has it: under a journal the signal is
//!   then finished, so a crash of the gateway before that gives it again after the restart, and
//!   JetStream drops the second copy by its message id.
//! - What the workers' bots send arrives on the outbound stream; each is sent through the
//!   gateway's router (which picks the session by the addressees) and acknowledged once sent. A
//!   send the router refuses goes back to the workers as a `SendFailure`.
//! - Queries of the workers' bots come by request and reply, and are answered by the gateway's
//!   router.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use chatty_core::{
    Answer, Bot, BotError, FailureKind, Handle, Inbound, Query, QueryError, SendFailure, Signal,
    SignalKind,
};
use futures::StreamExt;

use crate::config::NatsConfig;
use crate::error::NatsError;
use crate::hub::Hub;
use crate::partition::{partition_of, partition_of_conversation};
use crate::standby::{self, GatewayLease};
use crate::task::Owned;
use crate::wire::Envelope;

/// The queue group of a hub's gateways for the workers' queries.
const QUERIES: &str = "gateways";

/// The longest wait between two attempts to publish a signal JetStream did not take.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// A bot that hands its sessions' signals to the workers of a NATS hub and sends what they
/// answer: the platform side of a bot whose code runs on other machines
/// ([`NatsWorker`](crate::NatsWorker)).
///
/// ```no_run
/// use chatty_core::Router;
/// use chatty_nats::{NatsConfig, NatsGateway};
/// # async fn run(xmpp: impl chatty_core::session::Session) {
/// let gateway = NatsGateway::new(NatsConfig::new("nats://127.0.0.1:4222", "support"));
/// Router::new().session(xmpp).run(gateway).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct NatsGateway {
    config: NatsConfig,
}

impl NatsGateway {
    /// A gateway to the hub `config` names.
    pub fn new(config: NatsConfig) -> Self {
        NatsGateway { config }
    }

    /// Waits until this gateway is the one of its hub that runs (another gateway of the same
    /// hub, for the same accounts, holds it while alive), and keeps it so until the lease is
    /// dropped. Run the gateway's router only once this returns, and stop it if
    /// [`GatewayLease::lost`] resolves: two gateways never run the hub's sessions at once for
    /// longer than a renewal takes to fail, and a standby takes over within about 1.1 lease
    /// times of the holder's death.
    ///
    /// ```no_run
    /// use chatty_core::Router;
    /// use chatty_nats::{NatsConfig, NatsGateway};
    /// # async fn run(xmpp: impl chatty_core::session::Session, journal: impl chatty_core::journal::Journal) {
    /// let gateway = NatsGateway::new(NatsConfig::new("nats://127.0.0.1:4222", "support"));
    /// let lease = gateway.hold().await.unwrap();
    /// tokio::select! {
    ///     _ = Router::new().session(xmpp).journal(journal).run(gateway) => {}
    ///     () = lease.lost() => eprintln!("another gateway runs the hub now"),
    /// }
    /// # }
    /// ```
    pub async fn hold(&self) -> Result<GatewayLease, NatsError> {
        let hub = Hub::connect(&self.config, "chatty gateway (lease)").await?;
        let me = hub.client.new_inbox().replace("_INBOX.", "");
        standby::hold(&hub, me).await
    }
}

/// A gateway's hold on its hub, set up.
struct SetUp {
    hub: Hub,
    /// The outbound stream's consumer, and the last sequence the gateway before took.
    answers: PullConsumer,
    taken_before: u64,
    queries: async_nats::Subscriber,
}

impl NatsGateway {
    /// Connects to the hub and makes its streams, consumer and query subscription, trying again
    /// (waiting longer each time) after a failure that may pass: a gateway that starts while
    /// NATS is out of reach or slow to answer (a JetStream request times out under load) runs
    /// once it answers. A config that cannot work or a refused login ends it at once.
    async fn set_up(&self) -> Result<SetUp, NatsError> {
        let mut wait = Duration::from_millis(200);
        loop {
            match self.try_set_up().await {
                Ok(set_up) => return Ok(set_up),
                Err(e) if e.is_permanent() => return Err(e),
                Err(e) => {
                    tracing::warn!(hub = %self.config.hub, "the gateway could not set up its hub, again in {wait:?}: {e}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_WAIT);
                }
            }
        }
    }

    async fn try_set_up(&self) -> Result<SetUp, NatsError> {
        let hub = Hub::connect(&self.config, "chatty gateway").await?;
        hub.agree_on_partitions().await?;
        hub.inbound_stream().await?;
        let outbound = hub.outbound_stream().await?;
        let (answers, taken_before) = hub.outbound_consumer(&outbound).await?;
        let queries = hub
            .client
            .queue_subscribe(hub.query_subject(), QUERIES.to_owned())
            .await
            .map_err(|e| NatsError::jetstream("subscribing to the hub's queries", e))?;
        tracing::debug!(hub = %hub.name, taken_before, "the gateway's hub is set up");
        Ok(SetUp {
            hub,
            answers,
            taken_before,
            queries,
        })
    }
}

impl Bot for NatsGateway {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let SetUp {
            hub,
            answers,
            taken_before,
            queries,
        } = self.set_up().await?;
        let _carrying = Owned::spawn(carry(hub.clone(), answers, taken_before, handle.clone()));
        let _answering = Owned::spawn(answer_queries(hub.clone(), queries, handle.clone()));
        while let Some(signal) = inbound.next().await {
            tracing::debug!(hub = %hub.name, kind = ?signal.body.kind(), "gateway got a signal");
            // A session's own events (started, connection errors, ending) are this process's;
            // a system error (a malformed item a session read) is for the bot, as it would be
            // without the hub.
            let kind = signal.body.kind();
            if kind.is_internal() && kind != SignalKind::SystemError {
                continue;
            }
            let session = origin_session(&signal);
            let partition = partition_of(&signal, hub.partitions);
            let envelope = Envelope::new(session, signal);
            publish(&hub, partition, &envelope).await;
            tracing::debug!(hub = %hub.name, partition, id = envelope.message_id(), "handed to the workers");
        }
        Ok(())
    }
}

/// The gateway session a signal came through: its origin's `+session` qualifier, or its
/// platform (a session named after its platform leaves the qualifier out).
pub(crate) fn origin_session(signal: &Signal) -> String {
    signal
        .meta
        .origin
        .as_ref()
        .map(|origin| origin.session().unwrap_or(origin.platform()).to_owned())
        .unwrap_or_default()
}

/// Publishes `envelope` to partition `partition` of the inbound stream and waits until
/// JetStream has it; tries again, waiting longer each time, as long as it does not (the signal
/// stays unfinished meanwhile).
async fn publish(hub: &Hub, partition: u32, envelope: &Envelope) {
    let mut wait = Duration::from_millis(100);
    loop {
        match hub
            .publish(
                hub.inbound_subject(partition),
                envelope.message_id(),
                envelope.encode(),
            )
            .await
        {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(hub = %hub.name, "JetStream did not take a signal, again in {wait:?}: {e}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY_WAIT);
            }
        }
    }
}

/// Sends what the workers' bots send, one at a time, each acknowledged (and the acknowledgement
/// confirmed by the server) once the session has it, before the next is sent. So of what the
/// gateway before this one had taken (up to the stream sequence `taken_before`), only the first
/// still in the stream may have left: it is marked redelivered, so that the router asks the
/// session first; the others were never sent.
async fn carry(hub: Hub, answers: PullConsumer, mut taken_before: u64, handle: Handle) {
    let mut wait = Duration::from_millis(100);
    loop {
        // Read again (waiting longer each time) when reading could not start or stopped: what
        // the gateway took and did not acknowledge comes again after the ack wait.
        match answers.messages().await {
            Ok(messages) => {
                carry_from(&hub, messages, &mut taken_before, &handle).await;
                tracing::warn!(hub = %hub.name, "reading the hub's outbound stream stopped, again in {wait:?}");
            }
            Err(e) => {
                tracing::warn!(hub = %hub.name, "cannot read the hub's outbound stream, again in {wait:?}: {e}");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY_WAIT);
    }
}

/// Sends what `messages` gives, until it ends.
async fn carry_from(
    hub: &Hub,
    mut messages: async_nats::jetstream::consumer::pull::Stream,
    taken_before: &mut u64,
    handle: &Handle,
) {
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(hub = %hub.name, "reading the outbound stream: {e}");
                continue;
            }
        };
        match Envelope::decode(&message.payload) {
            Ok(mut envelope) => {
                let sequence = message.info().map_or(0, |info| info.stream_sequence);
                if sequence <= *taken_before {
                    envelope.signal.meta.redelivered = true;
                    *taken_before = 0;
                }
                let id = envelope.signal.meta.id.clone();
                tracing::debug!(hub = %hub.name, sequence, %id, "a worker's signal to send");
                // A refusal goes to the conversation the signal was for, in its order.
                let partition = partition_of_conversation(
                    envelope.signal.meta.addressees.first(),
                    hub.partitions,
                );
                if let Err(refused) = handle.send(envelope.signal).await {
                    let failure =
                        SendFailure::new(id.clone(), FailureKind::Other, refused.to_string());
                    let mut signal = Signal::new(failure);
                    signal.meta.response_to = Some(id);
                    publish(hub, partition, &Envelope::new(String::new(), signal)).await;
                }
            }
            Err(e) => tracing::error!(hub = %hub.name, "dropped from the outbound stream: {e}"),
        }
        if let Err(e) = message.double_ack().await {
            tracing::warn!(hub = %hub.name, "acknowledging a sent signal: {e}");
        }
    }
}

/// Answers the workers' queries through the gateway's router.
async fn answer_queries(hub: Hub, mut queries: async_nats::Subscriber, handle: Handle) {
    while let Some(request) = queries.next().await {
        let Some(reply) = request.reply else {
            continue;
        };
        tracing::debug!(hub = %hub.name, "a worker's query");
        let answer = match serde_json::from_slice::<Query>(&request.payload) {
            Ok(query) => handle.query(query).await,
            Err(e) => Err(QueryError::Failed {
                message: format!("a malformed query: {e}"),
            }),
        };
        let bytes = serde_json::to_vec(&answer).or_else(|e| {
            let failed: Result<Answer, QueryError> = Err(QueryError::Failed {
                message: format!("the answer could not be written as JSON: {e}"),
            });
            serde_json::to_vec(&failed)
        });
        let Ok(bytes) = bytes else {
            tracing::warn!(hub = %hub.name, "a query's answer could not be written as JSON");
            continue;
        };
        if let Err(e) = hub.client.publish(reply, bytes.into()).await {
            tracing::warn!(hub = %hub.name, "answering a query: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::Body;

    #[test]
    fn a_signal_names_the_session_it_came_through() {
        let mut signal = Signal::message("hi");
        signal.meta.origin = "xmpp+work:alice@example.org".parse().ok();
        assert_eq!(origin_session(&signal), "work");
        signal.meta.origin = "slack:U1".parse().ok();
        assert_eq!(origin_session(&signal), "slack");
        signal.meta.origin = None;
        assert_eq!(origin_session(&signal), "");
        assert!(matches!(signal.body, Body::Message(_)));
    }
}
