//! Test doubles: a recording outlet, a probe bot, and a harness that runs a wrapped probe.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::async_channel;
use chatty_core::{
    Address, Answer, Body, Bot, BotError, DeliveryStatus, File, Handle, Inbound, Layer, Outlet,
    Query, QueryError, SendError, Signal, SignalId,
};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;

/// How long a test waits for anything before it fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// A download asked of the test outlet: the file, and the address it was asked via.
pub(crate) type Download = (File, Option<Address>);

/// The inner handle of a test: stores what it was sent and answers queries as told.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordingOutlet {
    sent: Arc<Mutex<Vec<Signal>>>,
    queries: Arc<Mutex<Vec<Query>>>,
    delivery: Arc<Mutex<Option<DeliveryStatus>>>,
    refusal: Arc<Mutex<Option<SendError>>>,
    downloads: Arc<Mutex<Vec<Download>>>,
}

impl RecordingOutlet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Everything sent through it so far.
    pub(crate) fn sent(&self) -> Vec<Signal> {
        self.sent.lock().unwrap().clone()
    }

    /// Every query put to it so far.
    pub(crate) fn queries(&self) -> Vec<Query> {
        self.queries.lock().unwrap().clone()
    }

    /// From now on, refuse every send with `error` (`None`: send again), as the router refuses
    /// a signal it knows it cannot send.
    pub(crate) fn refuse(&self, error: Option<SendError>) {
        *self.refusal.lock().unwrap() = error;
    }

    /// Every download asked of it so far, with the address it was asked via.
    pub(crate) fn downloads(&self) -> Vec<Download> {
        self.downloads.lock().unwrap().clone()
    }

    /// From now on, answer delivery-status queries with `status` (`None`: not supported).
    pub(crate) fn answer_delivery(&self, status: Option<DeliveryStatus>) {
        *self.delivery.lock().unwrap() = status;
    }
}

impl Outlet for RecordingOutlet {
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        if let Some(error) = self.refusal.lock().unwrap().clone() {
            return Box::pin(async move { Err(error) });
        }
        let id = signal.meta.id.clone();
        self.sent.lock().unwrap().push(signal);
        Box::pin(async move { Ok(id) })
    }

    /// Fetches every file as the bytes of its name.
    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
        self.downloads.lock().unwrap().push((file.clone(), via));
        let fetched = File::bytes(file.name.clone(), None, file.name.clone().into_bytes());
        Box::pin(async move { Ok(fetched) })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        self.queries.lock().unwrap().push(query.clone());
        let answer = match &query {
            Query::DeliveryStatus { .. } => match self.delivery.lock().unwrap().clone() {
                Some(status) => Ok(Answer::DeliveryStatus(status)),
                None => Err(QueryError::not_supported(
                    &query,
                    "the test outlet cannot say",
                )),
            },
            Query::Members { address } => Ok(Answer::Members {
                members: vec![address.clone()],
            }),
            _ => Err(QueryError::not_supported(
                &query,
                "the test outlet cannot say",
            )),
        };
        Box::pin(async move { answer })
    }

    fn ack(&self, _id: &SignalId) {}
}

/// A bot that hands its handle to the test and passes on everything it receives.
#[derive(Debug)]
pub(crate) struct Probe {
    handle: oneshot::Sender<Handle>,
    seen: mpsc::UnboundedSender<Signal>,
}

impl Bot for Probe {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let _ = self.handle.send(handle);
        while let Some(signal) = inbound.next().await {
            let _ = self.seen.unbounded_send(signal);
        }
        Ok(())
    }
}

/// A probe wrapped in a layer, running on a tokio task.
pub(crate) struct Harness {
    pub(crate) inbound: async_channel::Sender<Signal>,
    pub(crate) seen: mpsc::UnboundedReceiver<Signal>,
    pub(crate) handle: Handle,
    pub(crate) outlet: RecordingOutlet,
    run: tokio::task::JoinHandle<Result<(), BotError>>,
}

/// Runs a probe wrapped by `layer`, over `outlet`.
pub(crate) async fn start<L>(layer: L, outlet: RecordingOutlet) -> Harness
where
    L: Layer<Probe>,
    L::Bot: Bot,
{
    let (handle_tx, handle_rx) = oneshot::channel();
    let (seen_tx, seen) = mpsc::unbounded();
    let (inbound, inbound_rx) = async_channel::unbounded();
    let bot = layer.layer(Probe {
        handle: handle_tx,
        seen: seen_tx,
    });
    let run = tokio::spawn(bot.run(inbound_rx.boxed(), Handle::new(outlet.clone())));
    let handle = tokio::time::timeout(PATIENCE, handle_rx)
        .await
        .expect("the bot starts")
        .expect("the bot hands over its handle");
    Harness {
        inbound,
        seen,
        handle,
        outlet,
        run,
    }
}

impl Harness {
    /// Puts `signal` on the inbound stream and returns what the bot saw next.
    pub(crate) async fn deliver(&mut self, signal: Signal) -> Signal {
        self.inbound.send(signal).await.expect("the logger reads");
        self.next_seen().await
    }

    /// The next signal the bot sees.
    pub(crate) async fn next_seen(&mut self) -> Signal {
        tokio::time::timeout(PATIENCE, self.seen.next())
            .await
            .expect("the bot sees a signal in time")
            .expect("the bot is still running")
    }

    /// Ends the inbound stream; the run must end, and returns what the bot saw meanwhile.
    pub(crate) async fn finish(self) -> Vec<Signal> {
        self.inbound.close();
        drop(self.handle);
        let result = tokio::time::timeout(PATIENCE, self.run)
            .await
            .expect("the run ends when the inbound stream ends")
            .expect("the bot task does not panic");
        assert!(result.is_ok(), "{result:?}");
        self.seen.collect().await
    }
}

pub(crate) fn addr(text: &str) -> Address {
    text.parse().unwrap()
}

/// A message from `origin` to the bot.
pub(crate) fn from(origin: &str, text: &str) -> Signal {
    let mut signal = Signal::message(text).to(addr("xmpp:bot@example.org"));
    signal.meta.origin = Some(addr(origin));
    signal.meta.received = Some(chatty_core::now());
    signal
}

/// The text of a message signal.
pub(crate) fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

/// Whether `signal` is the logger's own system error.
pub(crate) fn is_logger_error(signal: &Signal) -> bool {
    matches!(&signal.body, Body::SystemError(e) if e.component == "logger")
}
