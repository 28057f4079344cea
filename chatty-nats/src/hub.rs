//! A hub on a NATS server: the names of its streams and subjects, the connection, and the
//! streams themselves (made on first use, with the same settings by the gateway and workers).
//!
//! A hub named `support` has:
//! - the stream `CHATTY_support_IN`, subjects `chatty.support.in.>`: what the gateway's sessions
//!   received, for the workers (one durable consumer, `workers`, that they share);
//! - the stream `CHATTY_support_OUT`, subject `chatty.support.out`: what the workers' bots send,
//!   for the gateway (durable consumer `gateway`);
//! - the subject `chatty.support.query`: the workers' queries, answered by a gateway.
//!
//! Both streams are work queues (a message is gone once acknowledged) kept in files, and drop a
//! second copy of a message id for the configured window.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use crate::config::NatsConfig;
use crate::error::NatsError;

/// The prefix of every stream, subject and bucket of a hub.
const PREFIX: &str = "chatty";

/// A connection to a hub: the client and its JetStream context, and the hub's names.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    pub(crate) name: String,
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    duplicate_window: Duration,
    ack_wait: Duration,
}

/// Whether `name` may name a hub: it becomes part of stream names and subjects.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Hub {
    /// Connects to the server `config` names, as `client_name` (shown by the server).
    pub(crate) async fn connect(config: &NatsConfig, client_name: &str) -> Result<Self, NatsError> {
        if !valid_name(&config.hub) {
            return Err(NatsError::config(format!(
                "the hub name {:?} is not 1 to 64 letters, digits, `-` or `_`",
                config.hub
            )));
        }
        let mut options = async_nats::ConnectOptions::new().name(client_name);
        if let Some(user) = &config.user {
            let password = match &config.password {
                Some(secret) => secret.reveal().map_err(NatsError::secret)?,
                None => return Err(NatsError::config("`user` is set without `password`")),
            };
            options = options.user_and_password(user.clone(), password.expose().to_owned());
        }
        if let Some(token) = &config.token {
            let token = token.reveal().map_err(NatsError::secret)?;
            options = options.token(token.expose().to_owned());
        }
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|e| NatsError::connect(&config.url, e))?;
        let jetstream = jetstream::new(client.clone());
        Ok(Hub {
            name: config.hub.clone(),
            client,
            jetstream,
            duplicate_window: config.duplicate_window(),
            ack_wait: config.ack_wait(),
        })
    }

    /// The subject the gateway publishes inbound signals on.
    pub(crate) fn inbound_subject(&self) -> String {
        format!("{PREFIX}.{}.in.signals", self.name)
    }

    /// The subject of what the workers' bots send.
    pub(crate) fn outbound_subject(&self) -> String {
        format!("{PREFIX}.{}.out", self.name)
    }

    /// The subject of the workers' queries, answered by a gateway.
    pub(crate) fn query_subject(&self) -> String {
        format!("{PREFIX}.{}.query", self.name)
    }

    /// Publishes `payload` to `subject` of a stream with the message id `id` (a second copy
    /// within the duplicate window is dropped), and waits until JetStream has it.
    pub(crate) async fn publish(
        &self,
        subject: String,
        id: String,
        payload: Vec<u8>,
    ) -> Result<(), NatsError> {
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .message_id(id);
        let ack = self
            .jetstream
            .send_publish(subject, publish)
            .await
            .map_err(|e| NatsError::jetstream("publishing", e))?;
        ack.await
            .map_err(|e| NatsError::jetstream("waiting for a publish's acknowledgement", e))?;
        Ok(())
    }

    fn stream_name(&self, which: &str) -> String {
        format!("CHATTY_{}_{which}", self.name)
    }

    /// The stream of inbound signals, made if missing.
    pub(crate) async fn inbound_stream(&self) -> Result<stream::Stream, NatsError> {
        self.work_queue("IN", format!("{PREFIX}.{}.in.>", self.name))
            .await
    }

    /// The stream of what the workers' bots send, made if missing.
    pub(crate) async fn outbound_stream(&self) -> Result<stream::Stream, NatsError> {
        self.work_queue("OUT", self.outbound_subject()).await
    }

    async fn work_queue(&self, which: &str, subject: String) -> Result<stream::Stream, NatsError> {
        let name = self.stream_name(which);
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![subject],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: self.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| NatsError::jetstream(format!("the stream {name}"), e))
    }

    /// The durable pull consumer `name` of `stream`, made if missing: explicit acknowledgements,
    /// a message given again after the hub's ack wait.
    pub(crate) async fn consumer(
        &self,
        stream: &stream::Stream,
        name: &str,
    ) -> Result<consumer::PullConsumer, NatsError> {
        stream
            .get_or_create_consumer(
                name,
                consumer::pull::Config {
                    durable_name: Some(name.to_owned()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| NatsError::jetstream(format!("the consumer {name}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_name_is_what_a_stream_name_and_a_subject_token_take() {
        assert!(valid_name("support"));
        assert!(valid_name("desk-2_b"));
        for bad in ["", "a.b", "a b", "a>", "a*", "ü", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
