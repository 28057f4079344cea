//! The router: runs one bot with the sessions that serve it.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::future::{self, BoxFuture, Either};
use futures::stream::{BoxStream, FuturesUnordered, Stream, StreamExt};

use crate::address::Address;
use crate::bot::{Bot, BotError, Handle, Outlet, SendError};
use crate::metadata::{SignalId, now};
use crate::query::{Answer, DeliveryStatus, Query, QueryError};
use crate::session::{Handled, InboundSink, Session};
use crate::signal::{Body, SendFailure, SessionEnd, Signal, SystemError, Unsupported};

/// How many inbound signals wait for a slow bot before sessions are made to wait (backpressure,
/// never loss).
pub const DEFAULT_CAPACITY: usize = 1024;

/// Runs one bot with the sessions that serve it.
///
/// - **Outbound**, each signal goes to the session its addressees belong to (by platform and
///   `+session` qualifier, see [`Address`]); a signal for several sessions goes to each, with
///   the addressees of that session. Where no session serves an addressee, or a session refuses
///   the signal, the bot receives a [`SendFailure`]; where the session's
///   [`Capabilities`](crate::Capabilities) exclude it, the bot receives it back as
///   [`Unsupported`]. A status change with no addressee (the bot's own presence) goes to every
///   session that carries it.
/// - **Queries** go to the session of their address; a delivery-status query to every session
///   (the furthest status wins). Supported signals and features are answered from the session's
///   declared capabilities when the session has nothing better.
/// - **Lifecycle**: sessions start together. The run ends when the bot has stopped and every
///   session has ended: a shutdown (the future given to [`run_until`](Router::run_until)) or
///   the bot stopping sends [`Body::InitiateSessionEnd`] to every session; when every session
///   has ended, the bot's inbound stream ends.
///
/// The router needs no particular async runtime.
///
/// ```
/// use chatty_core::{Router, from_fn};
///
/// # futures::executor::block_on(async {
/// // A bot with no session: its inbound stream ends at once, and so does the run.
/// Router::new()
///     .run(from_fn(|_signal, _handle| async { Ok(()) }))
///     .await
///     .unwrap();
/// # });
/// ```
pub struct Router {
    sessions: Vec<Arc<dyn Session>>,
    capacity: usize,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field(
                "sessions",
                &self.sessions.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    /// A router with no session yet.
    pub fn new() -> Self {
        Router {
            sessions: Vec::new(),
            capacity: DEFAULT_CAPACITY,
        }
    }

    /// Adds a session.
    #[must_use]
    pub fn session(self, session: impl Session) -> Self {
        self.shared_session(Arc::new(session))
    }

    /// Adds a session that is shared (for example with a test that inspects it).
    #[must_use]
    pub fn shared_session(mut self, session: Arc<dyn Session>) -> Self {
        self.sessions.push(session);
        self
    }

    /// Sets how many inbound signals may wait for the bot (at least 1).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Runs the bot until it stops and every session has ended.
    pub async fn run<B: Bot>(self, bot: B) -> Result<(), BotError> {
        self.run_until(bot, future::pending()).await
    }

    /// Runs the bot; when `shutdown` completes, every session is asked to end, and the run ends
    /// once they have and the bot has stopped. Returns the bot's result.
    pub async fn run_until<B, F>(self, bot: B, shutdown: F) -> Result<(), BotError>
    where
        B: Bot,
        F: Future<Output = ()> + Send,
    {
        let (tx, rx) = async_channel::bounded(self.capacity);
        let (feedback_tx, feedback_rx) = async_channel::unbounded();
        let sessions: Arc<[Arc<dyn Session>]> = self.sessions.into();
        let outlet = Arc::new(RouterOutlet {
            sessions: sessions.clone(),
            feedback: feedback_tx.clone(),
        });

        // Feedback (send failures, unsupported signals) first: it answers what the bot just did.
        let merged = futures::stream::select_with_strategy(feedback_rx, rx, |_: &mut ()| {
            futures::stream::PollNext::Left
        });
        let handled = Arc::new(Handled::default());
        let inbound = Acknowledging {
            inner: merged.boxed(),
            handled: handled.clone(),
            pending: None,
        }
        .boxed();

        let runs: FuturesUnordered<_> = sessions
            .iter()
            .map(|session| {
                let sink = InboundSink::routed(session.name(), tx.clone(), handled.clone());
                run_session(session.clone(), sink)
            })
            .collect();

        let (bot_done_tx, bot_done_rx) = oneshot::channel::<()>();
        let (sessions_done_tx, sessions_done_rx) = oneshot::channel::<()>();

        let bot_driver = {
            let handle = Handle::from_arc(outlet.clone());
            async move {
                let result = bot.run(inbound, handle).await;
                let _ = bot_done_tx.send(());
                result
            }
        };
        let sessions_driver = async move {
            runs.collect::<Vec<()>>().await;
            tx.close();
            feedback_tx.close();
            let _ = sessions_done_tx.send(());
        };
        let ender = async move {
            let shutdown = pin!(shutdown);
            let stop = future::select(shutdown, bot_done_rx);
            if let Either::Left((why, _)) = future::select(stop, sessions_done_rx).await {
                let reason = match why {
                    Either::Left(_) => "shutdown",
                    Either::Right(_) => "the bot stopped",
                };
                outlet.end_all(reason).await;
            }
        };
        let (result, (), ()) = futures::join!(bot_driver, sessions_driver, ender);
        result
    }
}

/// The bot's inbound stream: tells a session that the bot has handled its `SessionAboutToEnd`
/// when the bot comes back for the next signal, and lets every waiting session go when the bot
/// drops the stream.
struct Acknowledging {
    inner: BoxStream<'static, Signal>,
    handled: Arc<Handled>,
    pending: Option<oneshot::Sender<()>>,
}

impl Stream for Acknowledging {
    type Item = Signal;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
        if let Some(done) = self.pending.take() {
            let _ = done.send(());
        }
        let next = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(Some(signal)) = &next
            && matches!(signal.body, Body::SessionAboutToEnd(_))
        {
            self.pending = self.handled.take(&signal.meta.id);
        }
        next
    }
}

impl Drop for Acknowledging {
    fn drop(&mut self) {
        self.handled.clear();
    }
}

/// Runs one session; makes sure its `SessionEnded` reaches the bot even if it fails.
async fn run_session(session: Arc<dyn Session>, sink: InboundSink) {
    let result = session.clone().run(sink.clone()).await;
    if sink.has_ended() {
        return;
    }
    let reason = match result {
        Ok(()) => "the session stopped".to_owned(),
        Err(e) => {
            let _ = sink
                .send(Signal::internal(
                    None,
                    SystemError {
                        component: format!("session {}", session.name()),
                        message: e.to_string(),
                    },
                ))
                .await;
            e.to_string()
        }
    };
    let _ = sink
        .send(Signal::internal(
            None,
            Body::SessionEnded(SessionEnd {
                reason: Some(reason),
            }),
        ))
        .await;
}

/// The router's side of the bot's [`Handle`].
struct RouterOutlet {
    sessions: Arc<[Arc<dyn Session>]>,
    feedback: async_channel::Sender<Signal>,
}

impl RouterOutlet {
    /// The session serving `address`: the one named by its `+session` qualifier; else the one
    /// named after the platform; else the platform's only session.
    fn resolve(&self, address: &Address) -> Option<&Arc<dyn Session>> {
        let mut same = self
            .sessions
            .iter()
            .filter(|s| s.platform() == address.platform());
        if let Some(name) = address.session() {
            return same.find(|s| s.name() == name);
        }
        let mut only = None;
        for (count, session) in same.enumerate() {
            if session.name() == address.platform() {
                return Some(session);
            }
            only = (count == 0).then_some(session);
        }
        only
    }

    fn feed_back(&self, failed: &Signal, body: Body) {
        let mut signal = Signal::internal(None, body);
        signal.meta.response_to = Some(failed.meta.id.clone());
        // The feedback channel is unbounded so that a bot blocked in `send` can never deadlock
        // on its own full inbound queue; it only fails once the run is over.
        let _ = self.feedback.try_send(signal);
    }

    fn unsupported(&self, signal: Signal, reason: String) {
        let failed = signal.clone();
        self.feed_back(
            &failed,
            Unsupported {
                signal: Box::new(signal),
                reason,
            }
            .into(),
        );
    }

    async fn deliver(&self, session: &Arc<dyn Session>, signal: Signal) {
        let id = signal.meta.id.clone();
        if let Err(refusal) = session.send(signal).await {
            self.refused(id, refusal);
        }
    }

    /// Tells the bot that the session refused the signal `id`.
    fn refused(&self, id: SignalId, refusal: crate::Refusal) {
        let mut failure = Signal::internal(
            None,
            SendFailure {
                failed: id.clone(),
                kind: refusal.kind,
                code: refusal.code,
                message: refusal.message,
            },
        );
        failure.meta.response_to = Some(id);
        let _ = self.feedback.try_send(failure);
    }

    async fn end_all(&self, reason: &str) {
        let requests = self.sessions.iter().map(|s| {
            let request = Signal::new(Body::InitiateSessionEnd(SessionEnd {
                reason: Some(reason.to_owned()),
            }));
            s.send(request)
        });
        future::join_all(requests).await;
    }

    async fn route(&self, signal: Signal) {
        let targets: Vec<Address> = signal.route_addresses().into_iter().cloned().collect();
        if targets.is_empty() {
            return self.broadcast(signal).await;
        }
        let mut groups: Vec<(&Arc<dyn Session>, Vec<Address>)> = Vec::new();
        for target in targets {
            match self.resolve(&target) {
                Some(session) => match groups.iter_mut().find(|(s, _)| Arc::ptr_eq(s, session)) {
                    Some((_, addresses)) => addresses.push(target),
                    None => groups.push((session, vec![target])),
                },
                None => self.feed_back(
                    &signal,
                    SendFailure {
                        failed: signal.meta.id.clone(),
                        kind: crate::FailureKind::UnknownAddressee,
                        code: None,
                        message: format!("no session serves {target}"),
                    }
                    .into(),
                ),
            }
        }
        let split = groups.len() > 1;
        if let Some(((session, addresses), rest)) = groups.split_last() {
            for (other, other_addresses) in rest {
                self.send_part(other, other_addresses, signal.clone(), split)
                    .await;
            }
            self.send_part(session, addresses, signal, split).await;
        }
    }

    /// Sends `signal` through `session`, to `addresses`; with `split`, only the addressees that
    /// session serves stay on the signal.
    async fn send_part(
        &self,
        session: &Arc<dyn Session>,
        addresses: &[Address],
        mut signal: Signal,
        split: bool,
    ) {
        if split {
            signal
                .meta
                .addressees
                .retain(|a| self.resolve(a).is_some_and(|s| Arc::ptr_eq(s, session)));
        }
        let refused = addresses
            .iter()
            .find_map(|a| session.capabilities(Some(a)).check(&signal).err());
        match refused {
            Some(reason) => self.unsupported(signal, reason),
            None => self.deliver(session, signal).await,
        }
    }

    async fn broadcast(&self, signal: Signal) {
        if matches!(signal.body, Body::InitiateSessionEnd(_)) {
            let sends = self.sessions.iter().map(|s| s.send(signal.clone()));
            future::join_all(sends).await;
            return;
        }
        let mut reason = None;
        let mut carried = false;
        for session in self.sessions.iter() {
            match session.capabilities(None).check(&signal) {
                Ok(()) => {
                    carried = true;
                    self.deliver(session, signal.clone()).await;
                }
                Err(why) => reason = Some(why),
            }
        }
        if !carried {
            let reason = reason.unwrap_or_else(|| "no session serves this bot".to_owned());
            self.unsupported(signal, reason);
        }
    }
}

impl Outlet for RouterOutlet {
    fn send(&self, mut signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        if self.feedback.is_closed() {
            return Box::pin(future::ready(Err(SendError::Closed)));
        }
        signal.meta.sent.get_or_insert_with(now);
        let id = signal.meta.id.clone();
        // The common case, one addressee of a message, file or user-defined signal, is decided
        // here without allocating, and the future only waits for the session.
        if let ([to], false) = (
            signal.meta.addressees.as_slice(),
            matches!(signal.body, Body::StatusChange(_)),
        ) && let Some(session) = self.resolve(to)
        {
            if let Err(reason) = session.capabilities(Some(to)).check(&signal) {
                self.unsupported(signal, reason);
                return Box::pin(future::ready(Ok(id)));
            }
            let sending = session.send(signal);
            return Box::pin(async move {
                if let Err(refusal) = sending.await {
                    self.refused(id.clone(), refusal);
                }
                Ok(id)
            });
        }
        Box::pin(async move {
            self.route(signal).await;
            Ok(id)
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move {
            let Some(address) = query.address() else {
                return self.query_everywhere(query).await;
            };
            let session = self.resolve(address).ok_or_else(|| QueryError::NoRoute {
                address: address.clone(),
            })?;
            match session.query(query.clone()).await {
                Err(e) if e.is_not_supported() => match &query {
                    Query::SupportedSignals { address } => Ok(Answer::SupportedSignals {
                        signals: session.capabilities(Some(address)).signals,
                    }),
                    Query::SupportedFeatures { address } => {
                        let caps = session.capabilities(Some(address));
                        Ok(Answer::SupportedFeatures {
                            features: caps.features,
                            degraded: caps.degraded,
                        })
                    }
                    _ => Err(e),
                },
                other => other,
            }
        })
    }
}

impl RouterOutlet {
    /// A delivery-status query: every session is asked; the furthest status wins.
    async fn query_everywhere(&self, query: Query) -> Result<Answer, QueryError> {
        let answers = future::join_all(self.sessions.iter().map(|s| s.query(query.clone()))).await;
        let mut best: Option<DeliveryStatus> = None;
        let mut error = None;
        for answer in answers {
            match answer {
                Ok(Answer::DeliveryStatus(status)) => {
                    if best.as_ref().is_none_or(|b| status.rank() > b.rank()) {
                        best = Some(status);
                    }
                }
                Ok(other) => {
                    error = Some(QueryError::Failed {
                        message: format!("unexpected answer {other:?}"),
                    })
                }
                Err(e) if e.is_not_supported() => {
                    error.get_or_insert(e);
                }
                Err(e) => error = Some(e),
            }
        }
        match (best, error) {
            (Some(status), _) => Ok(Answer::DeliveryStatus(status)),
            (None, Some(e)) => Err(e),
            (None, None) => Err(QueryError::not_supported(
                &query,
                "no session serves this bot",
            )),
        }
    }
}
