//! A hub on a NATS server: the names of its streams and subjects, the connection, and the
//! streams themselves (made on first use, with the same settings by the gateway and workers).
//!
//! A hub named `support` has:
//! - the stream `CHATTY_support_IN`, subjects `chatty.support.in.<partition>`: what the
//!   gateway's sessions received, for the workers, by the partition of its conversation
//!   ([`partition_of`](crate::partition::partition_of)); one durable consumer per partition
//!   (`p<partition>`), read by the worker holding the partition's lease
//!   ([`leases`](crate::leases)), with one signal at a time unacknowledged, so that a
//!   conversation's signals are handled in order even across a change of worker;
//! - the stream `CHATTY_support_OUT`, subject `chatty.support.out`: what the workers' bots send,
//!   for the gateway (durable consumer `gateway`);
//! - the subject `chatty.support.query`: the workers' queries, answered by a gateway;
//! - the key-value buckets `CHATTY_support_META` (the partition count, fixed by the first
//!   gateway or worker) and `CHATTY_support_LEASES` (which worker holds which partition).
//!
//! Both streams are work queues (a message is gone once acknowledged) kept in files, and drop a
//! second copy of a message id for the configured window.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

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
    lease: Duration,
    pub(crate) partitions: u32,
    pub(crate) max_tries: u32,
}

/// How many answers a gateway takes from the outbound stream ahead of sending them.
const OUTBOUND_TAKEN_AHEAD: i64 = 64;

/// The name of the hub `hub`'s stream `which` (`IN`, `OUT`, `DEAD`, …).
pub(crate) fn stream_name(hub: &str, which: &str) -> String {
    format!("CHATTY_{hub}_{which}")
}

impl Hub {
    /// Connects to the server `config` names, as `client_name` (shown by the server).
    pub(crate) async fn connect(config: &NatsConfig, client_name: &str) -> Result<Self, NatsError> {
        config.check()?;
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
            lease: config.lease(),
            partitions: config.partitions,
            max_tries: config.max_tries.max(1),
        })
    }

    /// Checks the partition count against the hub's, fixing it if the hub has none yet: a
    /// gateway and workers that disagree would leave partitions nobody reads.
    pub(crate) async fn agree_on_partitions(&self) -> Result<(), NatsError> {
        if !(1..=1024).contains(&self.partitions) {
            return Err(NatsError::config(format!(
                "`partitions` is {}, not 1 to 1 024",
                self.partitions
            )));
        }
        let store = self
            .bucket(&self.stream_name("META"), Duration::ZERO)
            .await?;
        let ours = self.partitions.to_string();
        // The first gateway or worker of a hub sets the count; the others read it. Two that
        // start together may both fail to create it and, for a moment, read nothing (the other
        // one's create not yet readable, or failed on the bucket being made at the same time):
        // then try again, and only a count that is there and differs is a config error.
        let mut failed = String::new();
        for attempt in 1..=5u32 {
            match store.create("partitions", ours.clone().into()).await {
                Ok(_) => return Ok(()),
                Err(e) => failed = e.to_string(),
            }
            let theirs = store
                .get("partitions")
                .await
                .map_err(|e| NatsError::jetstream("reading the hub's partition count", e))?
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            match theirs {
                Some(theirs) if theirs == ours => return Ok(()),
                Some(theirs) => {
                    return Err(NatsError::config(format!(
                        "the hub {} has {theirs} partitions, this config says {ours}: give \
                         every gateway and worker of a hub the same `partitions`",
                        self.name
                    )));
                }
                None => tokio::time::sleep(Duration::from_millis(50) * attempt).await,
            }
        }
        // Not a config error: whoever calls tries again.
        Err(NatsError::jetstream(
            "setting the hub's partition count (neither made nor readable)",
            failed,
        ))
    }

    /// The bucket of the partitions' leases, made if missing: an entry lives for a lease time.
    pub(crate) async fn leases(&self) -> Result<kv::Store, NatsError> {
        self.bucket(&self.stream_name("LEASES"), self.lease).await
    }

    /// The key-value bucket `bucket`, made if missing, whose entries live for `max_age` (zero:
    /// forever).
    ///
    /// async-nats makes a bucket only after asking the server for the account's limits, and
    /// cannot read nats-server 2.9's answer to that: the bucket's stream is made here as
    /// async-nats would make it (`KV_<bucket>`, subjects `$KV.<bucket>.>`, one value per key),
    /// then opened as a bucket.
    async fn bucket(&self, bucket: &str, max_age: Duration) -> Result<kv::Store, NatsError> {
        let what = || format!("the bucket {bucket}");
        // The window must not exceed the entries' life.
        let duplicate_window = if max_age.is_zero() {
            Duration::from_secs(120)
        } else {
            max_age.min(Duration::from_secs(120))
        };
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: format!("KV_{bucket}"),
                subjects: vec![format!("$KV.{bucket}.>")],
                max_messages_per_subject: 1,
                max_age,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| NatsError::jetstream(what(), e))?;
        self.jetstream
            .get_key_value(bucket)
            .await
            .map_err(|e| NatsError::jetstream(what(), e))
    }

    /// How long a lease lasts unless renewed.
    pub(crate) fn lease(&self) -> Duration {
        self.lease
    }

    /// The subject the gateway publishes the signals of partition `partition` on.
    pub(crate) fn inbound_subject(&self, partition: u32) -> String {
        format!("{PREFIX}.{}.in.{partition}", self.name)
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
        stream_name(&self.name, which)
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

    /// The durable pull consumer of partition `partition`, made if missing: explicit
    /// acknowledgements, one signal at a time unacknowledged (the next comes once the bot
    /// finished it), a signal given again after the hub's ack wait.
    pub(crate) async fn partition_consumer(
        &self,
        stream: &stream::Stream,
        partition: u32,
    ) -> Result<consumer::PullConsumer, NatsError> {
        self.consumer(
            stream,
            consumer::pull::Config {
                durable_name: Some(format!("p{partition}")),
                filter_subject: self.inbound_subject(partition),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: self.ack_wait,
                max_ack_pending: 1,
                backoff: self.backoff(),
                // The try after the last is the worker's, to set the signal aside.
                max_deliver: i64::from(self.max_tries) + 1,
                ..Default::default()
            },
        )
        .await
    }

    /// The waits before each try again of a signal nobody finished: the ack wait, doubling,
    /// as many as there are tries (a worker sets the signal aside at the try after the last).
    fn backoff(&self) -> Vec<Duration> {
        (0..self.max_tries)
            .map(|n| self.ack_wait.saturating_mul(1 << n.min(10)))
            .collect()
    }

    /// The subject of the signals set aside after their last try.
    pub(crate) fn dead_subject(&self) -> String {
        format!("{PREFIX}.{}.dead", self.name)
    }

    /// The dead-letter stream, made if missing: what was set aside stays until someone
    /// removes it.
    pub(crate) async fn dead_stream(&self) -> Result<stream::Stream, NatsError> {
        let name = self.stream_name("DEAD");
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![self.dead_subject()],
                storage: stream::StorageType::File,
                duplicate_window: self.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| NatsError::jetstream(format!("the stream {name}"), e))
    }

    /// The dead-letter stream's name.
    pub(crate) fn dead_stream_name(&self) -> String {
        self.stream_name("DEAD")
    }

    /// The durable pull consumer of the outbound stream, shared by the hub's gateways, and the
    /// last stream sequence the gateway before this one took: what is still in the stream up
    /// to there it took and did not acknowledge, so it may have sent it.
    pub(crate) async fn outbound_consumer(
        &self,
        stream: &stream::Stream,
    ) -> Result<(consumer::PullConsumer, u64), NatsError> {
        // Made afresh by each gateway that starts (one runs at a time): what a gateway that
        // died had taken and not acknowledged comes at once and first, not after the ack wait.
        // The stream is a work queue, so what was acknowledged is gone from it already.
        let taken = match stream.consumer_info("gateway").await {
            Ok(info) => info.delivered.stream_sequence,
            Err(_) => 0,
        };
        if let Err(e) = stream.delete_consumer("gateway").await
            && !e.to_string().contains("not found")
        {
            return Err(NatsError::jetstream("the consumer gateway", e));
        }
        let consumer = self
            .consumer(
                stream,
                consumer::pull::Config {
                    durable_name: Some("gateway".to_owned()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    // The gateway sends one at a time: few taken ahead, so that few are in doubt
                    // when it dies.
                    max_ack_pending: OUTBOUND_TAKEN_AHEAD,
                    ..Default::default()
                },
            )
            .await?;
        Ok((consumer, taken))
    }

    async fn consumer(
        &self,
        stream: &stream::Stream,
        config: consumer::pull::Config,
    ) -> Result<consumer::PullConsumer, NatsError> {
        let name = config.durable_name.clone().unwrap_or_default();
        stream
            .get_or_create_consumer(&name, config)
            .await
            .map_err(|e| NatsError::jetstream(format!("the consumer {name}"), e))
    }
}
