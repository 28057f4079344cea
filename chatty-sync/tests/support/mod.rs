//! Shared test doubles: an outlet that records, an inbound source, a counting decorator.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::async_channel;
use chatty_core::{
    Address, AddressKind, Answer, Availability, Bot, BotError, DeliveryStatus, Features, File,
    Handle, History, Inbound, Layer, MemberStatus, Outlet, Presence, Query, QueryError, SendError,
    Signal, SignalId, Signals,
};
use futures::StreamExt as _;
use futures::future::BoxFuture;

pub fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// An inbound message from `alice` with `text`.
pub fn message_from_alice(text: impl Into<String>) -> Signal {
    let mut signal = Signal::message(text);
    signal.meta.origin = Some(addr("xmpp:alice@example.org"));
    signal
}

/// The text of a message signal.
pub fn text(signal: &Signal) -> &str {
    match &signal.body {
        chatty_core::Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

/// An inbound stream fed by the returned sender; it ends when every sender is dropped.
pub fn source(capacity: Option<usize>) -> (async_channel::Sender<Signal>, Inbound) {
    let (tx, rx) = match capacity {
        Some(n) => async_channel::bounded(n),
        None => async_channel::unbounded(),
    };
    (tx, rx.boxed())
}

/// A download asked of the [`RecordingOutlet`]: the file, and the address it was asked via.
pub type Download = (File, Option<Address>);

/// An outlet that records what it is sent and answers queries with canned answers:
/// - an address whose id starts with `nobody` has no route (a query's error, or a send's
///   `SendError::NoRoute`, and nothing is sent);
/// - an address whose id starts with `odd` gets an answer of the wrong kind;
/// - everything else gets the answers `expected_answer` describes.
#[derive(Clone, Default)]
pub struct RecordingOutlet {
    pub sent: Arc<Mutex<Vec<Signal>>>,
    pub queries: Arc<Mutex<Vec<Query>>>,
    /// Every download asked: the file, and the address it was asked via.
    pub downloads: Arc<Mutex<Vec<Download>>>,
    /// When set, sends fail with `Closed`.
    pub closed: Arc<AtomicBool>,
}

impl RecordingOutlet {
    pub fn new() -> Self {
        RecordingOutlet::default()
    }

    pub fn handle(&self) -> Handle {
        Handle::new(self.clone())
    }

    pub fn sent(&self) -> Vec<Signal> {
        self.sent.lock().unwrap().clone()
    }

    pub fn queries(&self) -> Vec<Query> {
        self.queries.lock().unwrap().clone()
    }

    pub fn downloads(&self) -> Vec<Download> {
        self.downloads.lock().unwrap().clone()
    }
}

/// The file the test outlet fetches for `file`: its name as its bytes.
pub fn fetched(file: &File) -> File {
    File::bytes(file.name.clone(), None, file.name.clone().into_bytes())
}

/// The canned answer for `query`.
pub fn expected_answer(query: &Query) -> Result<Answer, QueryError> {
    if let Some(address) = query.address() {
        if address.id().starts_with("nobody") {
            return Err(QueryError::NoRoute {
                address: address.clone(),
            });
        }
        if address.id().starts_with("odd") {
            return Ok(Answer::Members { members: vec![] });
        }
    }
    Ok(match query {
        Query::AddressKind { .. } => Answer::AddressKind {
            kind: AddressKind::Channel,
        },
        Query::Members { .. } => Answer::Members {
            members: vec![addr("xmpp:alice@example.org"), addr("xmpp:bob@example.org")],
        },
        Query::Status { .. } => {
            Answer::Status(Presence::new(Availability::Away).with_message("lunch"))
        }
        Query::ReceivedFrom { page, .. } => Answer::History(History::new(
            vec![Signal::message("from")],
            Some(page.clone()),
        )),
        Query::SentTo { .. } => Answer::History(History::new(vec![Signal::message("to")], None)),
        Query::DeliveryStatus { .. } => Answer::DeliveryStatus(DeliveryStatus::Delivered),
        Query::MemberStatus { .. } => {
            Answer::MemberStatus(MemberStatus::new(true).with_role("moderator"))
        }
        Query::OwnStatus { .. } => Answer::MemberStatus(MemberStatus::new(false)),
        Query::SupportedSignals { .. } => Answer::SupportedSignals {
            signals: Signals::MESSAGE | Signals::FILE,
        },
        Query::SupportedFeatures { .. } => Answer::SupportedFeatures {
            features: Features::SUBJECT,
            degraded: Features::HTML,
        },
        other => return Err(QueryError::not_supported(other, "not in this test outlet")),
    })
}

impl Outlet for RecordingOutlet {
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        Box::pin(async move {
            if self.closed.load(Ordering::SeqCst) {
                return Err(SendError::Closed);
            }
            if let Some(nobody) = signal
                .meta
                .addressees
                .iter()
                .find(|a| a.id().starts_with("nobody"))
            {
                return Err(SendError::NoRoute {
                    address: nobody.clone(),
                });
            }
            let id = signal.meta.id.clone();
            self.sent.lock().unwrap().push(signal);
            Ok(id)
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move {
            self.queries.lock().unwrap().push(query.clone());
            expected_answer(&query)
        })
    }

    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
        Box::pin(async move {
            if self.closed.load(Ordering::SeqCst) {
                return Err(SendError::Closed);
            }
            if let Some(nobody) = via.as_ref().filter(|a| a.id().starts_with("nobody")) {
                return Err(SendError::NoRoute {
                    address: nobody.clone(),
                });
            }
            self.downloads.lock().unwrap().push((file.clone(), via));
            Ok(fetched(&file))
        })
    }

    fn ack(&self, _id: &SignalId) {}
}

/// Counts of what passed a [`Counting`] decorator.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub inbound: Arc<AtomicUsize>,
    pub outbound: Arc<AtomicUsize>,
}

impl Counts {
    pub fn inbound(&self) -> usize {
        self.inbound.load(Ordering::SeqCst)
    }

    pub fn outbound(&self) -> usize {
        self.outbound.load(Ordering::SeqCst)
    }
}

/// A test decorator: a bot that wraps another bot and counts signals both ways.
#[derive(Debug, Clone)]
pub struct Counting<B> {
    pub inner: B,
    pub counts: Counts,
}

impl<B: Bot> Bot for Counting<B> {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let counter = self.counts.inbound.clone();
        let inbound = inbound
            .inspect(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .boxed();
        let handle = Handle::new(CountingOutlet {
            inner: handle,
            outbound: self.counts.outbound.clone(),
        });
        self.inner.run(inbound, handle).await
    }
}

struct CountingOutlet {
    inner: Handle,
    outbound: Arc<AtomicUsize>,
}

impl Outlet for CountingOutlet {
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        self.outbound.fetch_add(1, Ordering::SeqCst);
        Box::pin(self.inner.send(signal))
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(self.inner.query(query))
    }

    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
        Box::pin(async move {
            match via {
                Some(via) => self.inner.download_via(&file, &via).await,
                None => self.inner.download(&file).await,
            }
        })
    }

    fn ack(&self, id: &SignalId) {
        self.inner.ack(id);
    }
}

/// The layer for [`Counting`], sharing one set of counts.
#[derive(Debug, Clone, Default)]
pub struct CountingLayer(pub Counts);

impl<B: Bot> Layer<B> for CountingLayer {
    type Bot = Counting<B>;

    fn layer(&self, inner: B) -> Counting<B> {
        Counting {
            inner,
            counts: self.0.clone(),
        }
    }
}

/// Aborts the test process if not disarmed (dropped) within `limit`: a guard for tests where a
/// hang would also stop a tokio timeout (a blocked single-threaded runtime).
pub struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

impl Watchdog {
    pub fn new(what: &'static str, limit: Duration) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: {what} did not finish within {limit:?}");
                std::process::abort();
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender disarms the watchdog.
        self.0.take();
    }
}

/// A generous guard for `run` futures in tests.
pub const GUARD: Duration = Duration::from_secs(20);
