//! [`InboundSink`]: where a session pushes what it receives, on its way to the bot.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use futures::channel::oneshot;

use super::{Closed, TrySendError};
use crate::address::Address;
use crate::journal::pipe::{Item, Piped};
use crate::journal::{EntryId, JournalError, Tap};
use crate::metadata::{SignalId, now, writable_time};
use crate::signal::{Body, SessionEnd, SessionStarted, Signal};

const NEW: u8 = 0;
const STARTED: u8 = 1;
const ENDED: u8 = 2;

/// Where a session pushes inbound signals: the bot's inbound stream.
///
/// It stamps `received` on signals that lack it and keeps the lifecycle in order (see
/// [`Session`](super::Session)). Under a router with a [journal](crate::journal), it also appends each signal
/// from the platform to the journal before handing it on (so that once [`send`] returns, the
/// signal is durable and the session may tell the platform it was received), drops what the
/// journal has seen already, and gives the bot the signals it had not finished before a
/// restart right after `SessionStarted`. Cheap to clone; every clone shares the lifecycle
/// state.
///
/// [`send`]: InboundSink::send
#[derive(Clone)]
pub struct InboundSink {
    tx: Tx,
    state: Arc<AtomicU8>,
    session: Arc<str>,
    handled: Option<Arc<Handled>>,
    observe: Option<Observer>,
    /// The router's journal, when it has one.
    journal: Option<Journaled>,
}

/// The channel to the bot: a plain one (tests of a session), or the router's, which carries
/// each signal's journal entry with it.
#[derive(Clone)]
enum Tx {
    Plain(async_channel::Sender<Signal>),
    Routed(async_channel::Sender<Queued>),
}

/// A signal on its way to the router's bot, with its journal entry if it was journaled (to
/// acknowledge once the bot has finished it).
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) signal: Signal,
    pub(crate) entry: Option<EntryId>,
}

impl Tx {
    fn try_send(&self, queued: Queued) -> Result<(), Offer> {
        let closed = |_| Offer::Closed;
        match self {
            Tx::Plain(tx) => tx.try_send(queued.signal).map_err(|e| match e {
                async_channel::TrySendError::Full(signal) => Offer::Full(Box::new(Queued {
                    signal,
                    entry: None,
                })),
                async_channel::TrySendError::Closed(_) => closed(()),
            }),
            Tx::Routed(tx) => tx.try_send(queued).map_err(|e| match e {
                async_channel::TrySendError::Full(queued) => Offer::Full(Box::new(queued)),
                async_channel::TrySendError::Closed(_) => closed(()),
            }),
        }
    }

    async fn send(&self, queued: Queued) -> Result<(), Closed> {
        match self {
            Tx::Plain(tx) => tx.send(queued.signal).await.map_err(|_| Closed),
            Tx::Routed(tx) => tx.send(queued).await.map_err(|_| Closed),
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Tx::Plain(tx) => tx.is_closed(),
            Tx::Routed(tx) => tx.is_closed(),
        }
    }

    async fn closed(&self) {
        match self {
            Tx::Plain(tx) => tx.closed().await,
            Tx::Routed(tx) => tx.closed().await,
        }
    }
}

/// Why a signal was not queued at once.
enum Offer {
    /// The bot's queue is full: here it is back.
    Full(Box<Queued>),
    /// The bot stopped listening, or the lifecycle refuses it.
    Closed,
}

/// What the router learns from each inbound signal (which session delivered which file).
pub(crate) type Observer = Arc<dyn Fn(&Signal) + Send + Sync>;

/// Who waits for the bot to have handled which `SessionAboutToEnd` (by its id). The router's
/// inbound stream fires an entry when the bot comes back for its next signal, and drops them
/// all when the bot drops the stream.
#[derive(Default)]
pub(crate) struct Handled(Mutex<HashMap<SignalId, oneshot::Sender<()>>>);

impl Handled {
    fn expect(&self, id: SignalId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        rx
    }

    pub(crate) fn take(&self, id: &SignalId) -> Option<oneshot::Sender<()>> {
        self.lock().remove(id)
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SignalId, oneshot::Sender<()>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for InboundSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundSink")
            .field("session", &self.session)
            .field("state", &self.state.load(Ordering::Relaxed))
            .field("journaled", &self.journal.is_some())
            .finish()
    }
}

impl InboundSink {
    /// A sink for the session `session`, feeding `tx`. The router makes these; tests of a
    /// session may make their own.
    pub fn new(session: &str, tx: async_channel::Sender<Signal>) -> Self {
        InboundSink::with_tx(session, Tx::Plain(tx))
    }

    fn with_tx(session: &str, tx: Tx) -> Self {
        InboundSink {
            tx,
            state: Arc::new(AtomicU8::new(NEW)),
            session: session.into(),
            handled: None,
            observe: None,
            journal: None,
        }
    }

    /// A sink whose `SessionAboutToEnd` waits until the router's bot has handled it.
    /// It also shows every signal to `observe` on its way to the bot; with a journal, every
    /// signal goes through the journal's pipe, which keeps what the platform carries before
    /// handing it on.
    pub(crate) fn routed(
        session: &str,
        tx: async_channel::Sender<Queued>,
        handled: Arc<Handled>,
        observe: Observer,
        journal: Option<(Arc<Tap>, async_channel::Sender<Piped>)>,
    ) -> Self {
        InboundSink {
            handled: Some(handled),
            observe: Some(observe),
            journal: journal.map(|(tap, pipe)| Journaled {
                name: tap.scoped(session),
                tap,
                pipe,
            }),
            ..InboundSink::with_tx(session, Tx::Routed(tx))
        }
    }

    /// Pushes one signal to the bot, waiting while the bot's queue is full.
    ///
    /// A [`Body::SessionAboutToEnd`] pushed through a router's sink also waits until the bot has
    /// handled it (asked for its next signal, or stopped), so that what the bot sends in answer
    /// still goes out before the session closes: the "last chance to send".
    ///
    /// Under a router with a journal, a signal from the platform is durable in the journal once
    /// this returns `Ok` (or it was there already, and is not handed to the bot twice).
    ///
    /// Fails with [`Closed`] when the bot stopped listening or the session already pushed
    /// [`Body::SessionEnded`], and when the journal cannot keep the signal (the bot is told
    /// with a [`SystemError`](crate::SystemError)): the signal was not taken, so leave it
    /// unacknowledged on the platform. An I/O signal before [`Body::SessionStarted`] is a bug in
    /// the session; it is refused the same way, so that the bot always sees `SessionStarted`
    /// first.
    pub async fn send(&self, mut signal: Signal) -> Result<(), Closed> {
        let started = matches!(signal.body, Body::SessionStarted(_));
        let handled = match (&signal.body, &self.handled) {
            (Body::SessionAboutToEnd(_), Some(handled)) => {
                Some(handled.expect(signal.meta.id.clone()))
            }
            _ => None,
        };
        match &self.journal {
            Some(journaled) => {
                self.admit(&mut signal)?;
                let keep = Tap::journals(&signal.body);
                journaled
                    .through(journaled.signal(signal, keep), true)
                    .await?;
                if started {
                    self.redeliver(journaled).await?;
                }
            }
            None => self.push(signal).await?,
        }
        if let Some(handled) = handled {
            // Fired when the bot asks for its next signal, cancelled when it stops: either way
            // the bot has had its chance to answer through the still-open session.
            let _ = handled.await;
        }
        Ok(())
    }

    /// Hands a signal on without waiting for it to be durable: under a router with a journal,
    /// it is written in order with what was pushed before it, together with others (group
    /// commit), and reaches the bot once durable; [`synced`](InboundSink::synced) waits until
    /// everything fed so far is. For a platform that is not told when a signal was received (or
    /// is told later, after `synced`). Waits only while the journal's pipe is full. Without a
    /// journal, the same as [`send`](InboundSink::send).
    pub async fn feed(&self, mut signal: Signal) -> Result<(), Closed> {
        match &self.journal {
            Some(journaled)
                if !matches!(
                    signal.body,
                    Body::SessionStarted(_) | Body::SessionAboutToEnd(_)
                ) =>
            {
                self.admit(&mut signal)?;
                let keep = Tap::journals(&signal.body);
                journaled
                    .through(journaled.signal(signal, keep), false)
                    .await
            }
            _ => self.send(signal).await,
        }
    }

    /// Resolves once everything pushed or fed so far is durable in the journal and handed on;
    /// `Err` when the bot stopped listening. At once without a journal.
    pub async fn synced(&self) -> Result<(), Closed> {
        match &self.journal {
            Some(journaled) => journaled.through(Item::Barrier, true).await,
            None => Ok(()),
        }
    }

    /// Gives the bot the signals it had not finished before the session last stopped.
    async fn redeliver(&self, journaled: &Journaled) -> Result<(), Closed> {
        match journaled.tap.redeliveries(&journaled.name).await {
            Ok(pending) => {
                for (signal, entry) in pending {
                    let item = Item::Signal {
                        name: journaled.name.clone(),
                        signal,
                        keep: false,
                        entry: Some(entry),
                    };
                    journaled.through(item, false).await?;
                }
                journaled.through(Item::Barrier, true).await
            }
            Err(e) => {
                tracing::error!(session = &*self.session, error = %e, "the journal could not be read; nothing is redelivered");
                let report = Signal::internal(
                    None,
                    crate::signal::SystemError::new(
                        format!("journal of session {}", self.session),
                        e.to_string(),
                    ),
                );
                journaled
                    .through(journaled.signal(report, false), true)
                    .await
            }
        }
    }

    async fn push(&self, mut signal: Signal) -> Result<(), Closed> {
        self.admit(&mut signal)?;
        let queued = Queued {
            signal,
            entry: None,
        };
        match self.tx.try_send(queued) {
            Ok(()) => Ok(()),
            // The waiting future is boxed so that it does not make every caller's future larger.
            Err(Offer::Full(queued)) => Box::pin(self.tx.send(*queued)).await,
            Err(Offer::Closed) => Err(Closed),
        }
    }

    /// Pushes one signal if the bot's queue has room, without waiting; gives the signal back if
    /// it is full. The same lifecycle rules as [`send`](InboundSink::send) apply. A signal the
    /// journal is to keep first is always given back as `Full`: use `send` or `feed` for it.
    pub fn try_send(&self, mut signal: Signal) -> Result<(), TrySendError> {
        if let Some(journaled) = &self.journal {
            if Tap::journals(&signal.body) || matches!(signal.body, Body::SessionAboutToEnd(_)) {
                return Err(TrySendError::Full(Box::new(signal)));
            }
            self.admit(&mut signal)
                .map_err(|Closed| TrySendError::Closed)?;
            let piped = Piped {
                item: journaled.signal(signal, false),
                reply: None,
            };
            return journaled.pipe.try_send(piped).map_err(|e| match e {
                async_channel::TrySendError::Full(Piped {
                    item: Item::Signal { signal, .. },
                    ..
                }) => TrySendError::Full(Box::new(signal)),
                _ => TrySendError::Closed,
            });
        }
        self.admit(&mut signal)
            .map_err(|Closed| TrySendError::Closed)?;
        let queued = Queued {
            signal,
            entry: None,
        };
        self.tx.try_send(queued).map_err(|e| match e {
            Offer::Full(queued) => TrySendError::Full(Box::new(queued.signal)),
            Offer::Closed => TrySendError::Closed,
        })
    }

    /// Applies the lifecycle rules to `signal` on its way in, stamps `received`, and shows it
    /// to the router.
    fn admit(&self, signal: &mut Signal) -> Result<(), Closed> {
        let state = self.state.load(Ordering::Acquire);
        match (&signal.body, state) {
            (_, ENDED) => return Err(Closed),
            (Body::SessionStarted(_), _) => self.state.store(STARTED, Ordering::Release),
            (Body::SessionEnded(_), _) => self.state.store(ENDED, Ordering::Release),
            (body, NEW) if !body.kind().is_internal() => return Err(Closed),
            _ => {}
        }
        if signal.meta.received.is_none() {
            signal.meta.received = Some(now());
        }
        // A time JSON cannot carry would make the signal impossible to journal or hand to a
        // program: the platform's clock is not needed to deliver it.
        if signal.meta.sent.is_some_and(|sent| !writable_time(sent)) {
            tracing::warn!(id = %signal.meta.id, "dropping a sent time out of range");
            signal.meta.sent = None;
        }
        if let Some(observe) = &self.observe {
            observe(signal);
        }
        Ok(())
    }

    /// Pushes [`Body::SessionStarted`] for a session whose own address is `own`.
    pub async fn started(&self, platform: &str, own: Option<Address>) -> Result<(), Closed> {
        self.send(Signal::internal(
            own,
            SessionStarted::new(&*self.session, platform),
        ))
        .await
    }

    /// Pushes [`Body::SessionAboutToEnd`] then [`Body::SessionEnded`] with `reason`.
    pub async fn ending(&self, own: Option<Address>, reason: Option<String>) -> Result<(), Closed> {
        let end = SessionEnd { reason };
        self.send(Signal::internal(
            own.clone(),
            Body::SessionAboutToEnd(end.clone()),
        ))
        .await?;
        self.send(Signal::internal(own, Body::SessionEnded(end)))
            .await
    }

    /// Whether [`Body::SessionEnded`] went through this sink.
    pub fn has_ended(&self) -> bool {
        self.state.load(Ordering::Acquire) == ENDED
    }

    /// Whether [`Body::SessionStarted`] went through this sink.
    pub fn has_started(&self) -> bool {
        self.state.load(Ordering::Acquire) != NEW
    }

    /// Whether the bot stopped listening.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves once the bot stopped listening (its inbound stream was dropped, or the run is
    /// over).
    pub async fn closed(&self) {
        self.tx.closed().await;
    }

    /// A session's mark in the journal (see [`Journal::mark`](crate::journal::Journal::mark)):
    /// `None` when there is no journal or no such mark.
    pub async fn mark(&self, name: &str) -> Result<Option<String>, JournalError> {
        match &self.journal {
            Some(journaled) => journaled.tap.journal().mark(&journaled.name, name).await,
            None => Ok(None),
        }
    }

    /// Sets a session's mark in the journal, in order after the signals pushed or fed before
    /// it (see [`Journal::set_mark`](crate::journal::Journal::set_mark)); resolves once
    /// durable; nothing without a journal.
    pub async fn set_mark(&self, name: &str, value: &str) -> Result<(), JournalError> {
        let Some(journaled) = &self.journal else {
            return Ok(());
        };
        let item = journaled.mark(name, value);
        journaled.through(item, true).await.map_err(|Closed| {
            JournalError::new(format!(
                "the mark `{name}` was not kept: the journal failed or the bot stopped listening"
            ))
        })
    }

    /// Sets a session's mark in the journal in order after the signals pushed or fed before it,
    /// without waiting for it to be durable: it is written together with them (group commit),
    /// never durable before them, and [`synced`](InboundSink::synced) waits for it too. For
    /// what a session keeps beside a signal it fed (what it remembers of the platform's state,
    /// so that the signal's effect is not given twice after a restart). Waits only while the
    /// journal's pipe is full; nothing without a journal.
    ///
    /// `Err` once the journal's pipe is gone (the router stopped): the mark was not kept.
    pub async fn feed_mark(&self, name: &str, value: &str) -> Result<(), Closed> {
        let Some(journaled) = &self.journal else {
            return Ok(());
        };
        journaled.through(journaled.mark(name, value), false).await
    }

    /// Whether signals pushed through this sink are journaled.
    pub fn is_journaled(&self) -> bool {
        self.journal.is_some()
    }
}

/// A sink's way into the router's journal.
#[derive(Clone)]
struct Journaled {
    tap: Arc<Tap>,
    /// The session's name in the journal.
    name: Arc<str>,
    pipe: async_channel::Sender<Piped>,
}

impl Journaled {
    fn signal(&self, signal: Signal, keep: bool) -> Item {
        Item::Signal {
            name: self.name.clone(),
            signal,
            keep,
            entry: None,
        }
    }

    /// The session's mark `mark` set to `value`, to send through the pipe.
    fn mark(&self, mark: &str, value: &str) -> Item {
        Item::Mark {
            name: self.name.clone(),
            mark: mark.to_owned(),
            value: value.to_owned(),
        }
    }

    /// Sends `item` through the pipe; with `wait`, until it is written and handed on.
    async fn through(&self, item: Item, wait: bool) -> Result<(), Closed> {
        if !wait {
            return self
                .pipe
                .send(Piped { item, reply: None })
                .await
                .map_err(|_| Closed);
        }
        let (reply, done) = oneshot::channel();
        let piped = Piped {
            item,
            reply: Some(reply),
        };
        self.pipe.send(piped).await.map_err(|_| Closed)?;
        done.await.unwrap_or(Err(Closed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn sink_keeps_the_lifecycle_in_order() {
        block_on(async {
            let (tx, rx) = async_channel::unbounded();
            let sink = InboundSink::new("work", tx);
            assert_eq!(sink.send(Signal::message("too early")).await, Err(Closed));
            sink.started("xmpp", None).await.unwrap();
            assert!(sink.has_started());
            sink.send(Signal::message("hello")).await.unwrap();
            sink.ending(None, Some("bye".into())).await.unwrap();
            assert!(sink.has_ended());
            assert_eq!(sink.send(Signal::message("too late")).await, Err(Closed));
            let kinds: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
                .map(|s| {
                    assert!(s.meta.received.is_some());
                    s.kind()
                })
                .collect();
            use crate::SignalKind::*;
            assert_eq!(
                kinds,
                [SessionStarted, Message, SessionAboutToEnd, SessionEnded]
            );
        });
    }

    #[test]
    fn a_sent_time_json_cannot_carry_is_dropped_and_the_signal_goes_on() {
        block_on(async {
            let (tx, rx) = async_channel::unbounded();
            let sink = InboundSink::new("s", tx);
            sink.started("test", None).await.unwrap();
            let mut odd = Signal::message("from the year -1199");
            odd.meta.sent = Some(time::macros::datetime!(-1199-01-01 0:00 UTC));
            let mut fine = Signal::message("today");
            let today = time::macros::datetime!(2026-12-07 20:00 UTC);
            fine.meta.sent = Some(today);
            sink.send(odd).await.unwrap();
            sink.send(fine).await.unwrap();
            let got: Vec<Signal> = std::iter::from_fn(|| rx.try_recv().ok()).skip(1).collect();
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].meta.sent, None);
            assert!(serde_json::to_string(&got[0]).is_ok());
            assert_eq!(got[1].meta.sent, Some(today));
        });
    }

    #[test]
    fn sink_reports_a_closed_bot() {
        block_on(async {
            let (tx, rx) = async_channel::unbounded();
            let sink = InboundSink::new("s", tx);
            drop(rx);
            assert!(sink.is_closed());
            assert_eq!(sink.started("direct", None).await, Err(Closed));
        });
    }
}
