//! The router: runs one bot with the sessions that serve it.

mod feedback;
mod lane;
#[cfg(test)]
mod lane_tests;
mod memory;
mod outlet;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::future::{self, Either};
use futures::stream::{BoxStream, FuturesUnordered, Stream, StreamExt};

use crate::bot::{Bot, BotError, Handle};
use crate::journal::{self, Acks, EntryId, Journal, Tap};
use crate::limit::{AnswerCounter, AnswerLimit};
use crate::session::{Handled, InboundSink, Queued, Session};
use crate::signal::{Body, SessionEnd, Signal, SystemError};
use memory::DeliveredFiles;
use outlet::{Journaled, RouterOutlet, Served};

/// How many inbound signals wait for a slow bot before sessions are made to wait (backpressure,
/// never loss).
pub const DEFAULT_CAPACITY: usize = 1024;

/// Runs one bot with the sessions that serve it.
///
/// - **Outbound**, each signal goes to the session its addressees belong to (by platform and
///   `+session` qualifier, see [`Address`](crate::Address)); a signal for several sessions goes
///   to each, with the addressees of that session. Where no session serves an addressee, or a
///   session's [`Capabilities`](crate::Capabilities) exclude the signal, the send is an `Err`
///   ([`SendError`](crate::SendError)) and nothing is sent; where a session refuses it, the bot
///   receives a [`SendFailure`](crate::SendFailure). A status change with no addressee (the
///   bot's own presence) goes to every session that carries it.
/// - **Downloads** ([`Handle::download`](crate::Handle::download), or a [`Body::DownloadFile`]
///   signal, answered by a file signal) go to the session that delivered the file (by its
///   URL), and only to it (a URL no session delivered: to the one session that can download, if
///   there is exactly one).
/// - **Answer limit**: answers (signals with a `response_to`) to one correspondent are counted
///   per session; past the session's [`AnswerLimit`] the send is refused
///   ([`SendError::Refused`](crate::SendError::Refused), kind `RateLimited`, code
///   `answer-limit`), which ends a loop with another automatic responder.
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
    answer_limits: HashMap<String, Option<AnswerLimit>>,
    journal: Option<Arc<dyn Journal>>,
    journal_scope: Option<String>,
    acks: Option<Acks>,
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
            answer_limits: HashMap::new(),
            journal: None,
            journal_scope: None,
            acks: None,
        }
    }

    /// Keeps every signal from the platforms in `journal` before the bot sees it, gives the
    /// bot again what it had not finished when its process stopped, and sends each answer at
    /// most once: see the [journal](crate::journal) for the rules.
    ///
    /// ```
    /// use chatty_core::Router;
    /// use chatty_core::journal::MemoryJournal;
    ///
    /// let router = Router::new().journal(MemoryJournal::new());
    /// # let _ = router;
    /// ```
    #[must_use]
    pub fn journal(self, journal: impl Journal) -> Self {
        self.shared_journal(Arc::new(journal))
    }

    /// Like [`journal`](Router::journal), with a journal shared with others.
    #[must_use]
    pub fn shared_journal(mut self, journal: Arc<dyn Journal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Keeps this router's entries apart in a journal that other routers share: session names
    /// are prefixed with `scope/` in it (a runner gives each bot's router its bot's name, since
    /// two bots may each have a session of the same name).
    #[must_use]
    pub fn journal_scope(mut self, scope: impl Into<String>) -> Self {
        self.journal_scope = Some(scope.into());
        self
    }

    /// How the bot acknowledges signals, in place of what the bot says ([`Bot::acks`]): with
    /// [`Acks::Explicit`], each with [`Handle::ack`].
    #[must_use]
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = Some(acks);
        self
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

    /// Sets the answer limit of the session named `session` (`None`: no limit), in place of the
    /// session's own default ([`Session::answer_limit`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use chatty_core::{AnswerLimit, Router};
    ///
    /// let router = Router::new()
    ///     .answer_limit("mail", Some(AnswerLimit::new(10, Duration::from_secs(3600))))
    ///     .answer_limit("chat", None);
    /// # let _ = router;
    /// ```
    #[must_use]
    pub fn answer_limit(mut self, session: &str, limit: Option<AnswerLimit>) -> Self {
        self.answer_limits.insert(session.to_owned(), limit);
        self
    }

    /// Runs the bot until it stops and every session has ended.
    pub async fn run<B: Bot>(self, bot: B) -> Result<(), BotError> {
        self.run_until(bot, future::pending()).await
    }

    /// Runs the bot; when `shutdown` completes, every session is asked to end, and the run ends
    /// once they have and the bot has stopped. Returns the bot's result.
    ///
    /// Fails at once, before anything runs, when two sessions of one platform have one name:
    /// addresses could not tell them apart, and answers would leave through the wrong account.
    pub async fn run_until<B, F>(self, bot: B, shutdown: F) -> Result<(), BotError>
    where
        B: Bot,
        F: Future<Output = ()> + Send,
    {
        self.check_names()?;
        let (tx, rx) = async_channel::bounded(self.capacity);
        let (feedback_tx, feedback_rx) = async_channel::unbounded();
        let served: Arc<[Served]> = self
            .sessions
            .iter()
            .map(|session| {
                let limit = match self.answer_limits.get(session.name()) {
                    Some(limit) => *limit,
                    None => session.answer_limit(),
                };
                Served {
                    session: session.clone(),
                    answers: limit.map(|l| Mutex::new(AnswerCounter::new(l))),
                }
            })
            .collect();
        let sessions = self.sessions;
        let files = Arc::new(DeliveredFiles::default());
        let acks = self.acks.unwrap_or_else(|| bot.acks());
        let scope = self.journal_scope;
        let tap = self.journal.map(|j| Arc::new(Tap::new(j, acks, scope)));
        // With a journal, what the bot sends through a session leaves from the session's lane.
        let (lane_senders, lane_runs): (Vec<_>, FuturesUnordered<_>) = match &tap {
            Some(tap) => sessions
                .iter()
                .map(|session| {
                    let (jobs_tx, jobs_rx) = async_channel::bounded(self.capacity);
                    let run = lane::run(jobs_rx, session.clone(), tap.clone(), feedback_tx.clone());
                    (jobs_tx, run)
                })
                .unzip(),
            None => Default::default(),
        };
        let barrier_lanes = lane_senders.clone();
        let journaled = tap.clone().map(|tap| Journaled {
            names: sessions.iter().map(|s| tap.scoped(s.name())).collect(),
            lanes: lane_senders.clone(),
            tap,
        });
        let outlet = Arc::new(RouterOutlet {
            sessions: served,
            feedback: feedback_tx.clone(),
            files: files.clone(),
            journaled,
        });

        // Feedback (send failures, unsupported signals) first: it answers what the bot just did.
        let feedback = feedback_rx.map(|signal| Queued {
            signal,
            entry: None,
        });
        let merged = futures::stream::select_with_strategy(feedback, rx, |_: &mut ()| {
            futures::stream::PollNext::Left
        });
        let handled = Arc::new(Handled::default());
        // With lanes, a handled `SessionAboutToEnd` lets its session go only once the answers
        // the bot made before are out of the lanes (the last chance to send is kept).
        let (barrier_tx, barrier_rx) = async_channel::unbounded::<oneshot::Sender<()>>();
        let inbound = Acknowledging {
            inner: merged.boxed(),
            handled: handled.clone(),
            pending: None,
            tap: tap.clone(),
            finishing: None,
            barriers: tap.is_some().then(|| barrier_tx.clone()),
        }
        .boxed();

        // With a journal, every session's signals go through its pipe (one task, batched writes).
        let (pipe_tx, pipe_rx) = async_channel::bounded(self.capacity);
        let pipe = tap
            .clone()
            .map(|tap| journal::pipe::run(pipe_rx, tx.clone(), tap));
        let runs: FuturesUnordered<_> = sessions
            .iter()
            .enumerate()
            .map(|(index, session)| {
                let files = files.clone();
                let observe = Arc::new(move |signal: &Signal| files.record(index, signal));
                let sink = InboundSink::routed(
                    session.name(),
                    tx.clone(),
                    handled.clone(),
                    observe,
                    tap.clone().map(|tap| (tap, pipe_tx.clone())),
                );
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
            let runs = async move {
                runs.collect::<Vec<()>>().await;
                // A task a session left behind may still hold a sink: nothing more gets in.
                pipe_tx.close();
            };
            match pipe {
                Some(pipe) => {
                    futures::join!(runs, pipe);
                }
                None => runs.await,
            }
            tx.close();
            feedback_tx.close();
            // What is left in the lanes meets ended sessions, and fails.
            for lane in &lane_senders {
                lane.close();
            }
            barrier_tx.close();
            let _ = sessions_done_tx.send(());
        };
        let lanes_driver = lane_runs.collect::<Vec<()>>();
        let barriers_driver = {
            let lanes = barrier_lanes;
            async move {
                while let Ok(done) = barrier_rx.recv().await {
                    lane::barrier(&lanes).await;
                    let _ = done.send(());
                }
            }
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
        let (result, (), (), _, ()) = futures::join!(
            bot_driver,
            sessions_driver,
            ender,
            lanes_driver,
            barriers_driver
        );
        result
    }
}

impl Router {
    /// Two sessions of one platform with one name are a mistake in the set-up.
    fn check_names(&self) -> Result<(), BotError> {
        for (i, a) in self.sessions.iter().enumerate() {
            let twin = self.sessions[..i]
                .iter()
                .any(|b| a.platform() == b.platform() && a.name() == b.name());
            if twin {
                return Err(format!(
                    "two {} sessions are named `{}`: give each session of a platform a name of \
                     its own, so that addresses tell them apart",
                    a.platform(),
                    a.name()
                )
                .into());
            }
        }
        Ok(())
    }
}

/// The bot's inbound stream: tells a session that the bot has handled its `SessionAboutToEnd`
/// when the bot comes back for the next signal, and lets every waiting session go when the bot
/// drops the stream. With a journal, it acknowledges each journaled signal when the bot comes
/// back for the next one (or hands it over for [`Handle::ack`], with [`Acks::Explicit`]).
struct Acknowledging {
    inner: BoxStream<'static, Queued>,
    handled: Arc<Handled>,
    pending: Option<oneshot::Sender<()>>,
    tap: Option<Arc<Tap>>,
    /// The journaled signal the bot is handling, acknowledged when it asks for the next one.
    finishing: Option<EntryId>,
    /// With lanes: where a handled `SessionAboutToEnd` goes to wait for them.
    barriers: Option<async_channel::Sender<oneshot::Sender<()>>>,
}

impl Stream for Acknowledging {
    type Item = Signal;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
        if let Some(done) = self.pending.take() {
            match &self.barriers {
                Some(barriers) => {
                    if let Err(e) = barriers.try_send(done) {
                        let _ = e.into_inner().send(());
                    }
                }
                None => {
                    let _ = done.send(());
                }
            }
        }
        if let (Some(entry), Some(tap)) = (self.finishing.take(), &self.tap) {
            tap.finished(&entry);
        }
        let next = match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(queued)) => queued,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let Queued { signal, entry } = next;
        if matches!(signal.body, Body::SessionAboutToEnd(_)) {
            self.pending = self.handled.take(&signal.meta.id);
        }
        if let (Some(entry), Some(tap)) = (entry, &self.tap) {
            self.finishing = tap.handed(entry);
        }
        Poll::Ready(Some(signal))
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
