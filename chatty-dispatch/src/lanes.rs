//! Running the dispatcher: one lane per conversation, handled in order; lanes side by side,
//! a bounded number of handlers at once.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatty_core::journal::Acks;
use chatty_core::state::State;
use chatty_core::{Body, Bot, BotError, Handle, Inbound, Message, Signal, TypingState};
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::choice::{AskingOutlet, Questions};
use crate::context::{Context, Found};
use crate::dispatcher::{Dispatcher, HandlerService};
use crate::keys::{KeyLocks, conversation_key};
use crate::routes::{Route, Routes};
use crate::shared::Shared;
use crate::timers::{Due, Timers};

/// Something for a lane to handle.
enum Job {
    /// An inbound signal, acknowledged once handled.
    Signal(Signal),
    /// A timer or schedule that is due.
    Timer(Due),
}

/// What every lane shares.
struct Runner {
    routes: Routes,
    shared: Arc<Shared>,
    raw: Handle,
    questions: Questions,
    service: HandlerService,
    running: Arc<Semaphore>,
    typing_after: Option<Duration>,
    automatic: bool,
    on_error: Option<crate::dispatcher::ErrorFn>,
}

/// A lane: its queue and how many of its jobs are not finished.
struct Lane {
    jobs: mpsc::UnboundedSender<(Job, OwnedSemaphorePermit)>,
    pending: usize,
    /// When its last job finished (while `pending` is 0).
    idle_since: Instant,
}

/// How long a lane without jobs is kept, so that a conversation going back and forth does not
/// start a task for each message.
const KEEP_IDLE: Duration = Duration::from_secs(10);

impl Bot for Dispatcher {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        run(self, inbound, handle).await
    }

    fn acks(&self) -> Acks {
        Acks::Explicit
    }
}

async fn run(dispatcher: Dispatcher, mut inbound: Inbound, raw: Handle) -> Result<(), BotError> {
    let state = dispatcher
        .state
        .clone()
        .unwrap_or_else(|| State::in_memory("dispatch"));
    let questions = Questions::new(state.clone());
    questions.load().await?;
    let timers = Timers::new(state.clone(), dispatcher.schedules.clone());
    timers.load().await?;
    let shared = Arc::new(Shared {
        settings: dispatcher.settings.clone(),
        state,
        locks: KeyLocks::new(),
        timers: timers.clone(),
        people: dispatcher.people.clone(),
    });
    let base = HandlerService::new(tower::service_fn(|cx: Context| async move {
        match cx.handler() {
            Some(handler) => handler(cx.clone()).await,
            None => Ok(()),
        }
    }));
    let service = dispatcher
        .layers
        .iter()
        .fold(base, |inner, layer| layer(inner));
    let runner = Arc::new(Runner {
        routes: dispatcher.routes,
        shared,
        raw,
        questions,
        service,
        running: Arc::new(Semaphore::new(dispatcher.concurrency)),
        typing_after: dispatcher.typing_after,
        automatic: dispatcher.automatic,
        on_error: dispatcher.on_error,
    });
    let queued = Arc::new(Semaphore::new(dispatcher.queue));
    let (due_tx, mut due_rx) = mpsc::unbounded_channel::<Due>();
    let ticking = tokio::spawn(tick(timers, due_tx));
    let (idle_tx, mut idle_rx) = mpsc::unbounded_channel::<String>();
    let mut lanes: HashMap<String, Lane> = HashMap::new();
    let mut sweep = tokio::time::interval(KEEP_IDLE);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = JoinSet::new();
    loop {
        let (key, job) = tokio::select! {
            biased;
            Some(key) = idle_rx.recv() => {
                if let Some(lane) = lanes.get_mut(&key) {
                    lane.pending -= 1;
                    if lane.pending == 0 {
                        lane.idle_since = Instant::now();
                    }
                }
                continue;
            }
            _ = sweep.tick() => {
                // Lanes idle for a while end (their task ends with its queue).
                lanes.retain(|_, lane| lane.pending > 0 || lane.idle_since.elapsed() < KEEP_IDLE);
                continue;
            }
            Some(due) = due_rx.recv() => {
                let key = match due.signal.reply_addresses() {
                    to if to.is_empty() => format!("schedule {}", due.name),
                    to => conversation_key(&to),
                };
                (key, Job::Timer(due))
            }
            signal = inbound.next() => match signal {
                Some(signal) => (conversation_key(&signal.reply_addresses()), Job::Signal(signal)),
                None => break,
            },
        };
        let permit = queued
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| "the dispatcher's queue is closed")?;
        let lane = lanes.entry(key.clone()).or_insert_with(|| {
            let (jobs, rx) = mpsc::unbounded_channel();
            tasks.spawn(drive_lane(runner.clone(), key.clone(), rx, idle_tx.clone()));
            Lane {
                jobs,
                pending: 0,
                idle_since: Instant::now(),
            }
        });
        lane.pending += 1;
        if lane.jobs.send((job, permit)).is_err() {
            tracing::error!("the lane of {key} ended before its jobs");
        }
    }
    ticking.abort();
    // Every session has ended: finish what the lanes hold, then stop.
    drop(lanes);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Hands each due timer to the dispatcher's loop.
async fn tick(timers: Timers, due: mpsc::UnboundedSender<Due>) {
    loop {
        match timers.next_due().await {
            Ok(d) => {
                if due.send(d).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!("the timers cannot be read: {e}; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

async fn drive_lane(
    runner: Arc<Runner>,
    key: String,
    mut jobs: mpsc::UnboundedReceiver<(Job, OwnedSemaphorePermit)>,
    idle: mpsc::UnboundedSender<String>,
) {
    while let Some((job, permit)) = jobs.recv().await {
        runner.handle(job).await;
        drop(permit);
        // The dispatcher's loop may be gone (it has stopped reading): the lane still finishes.
        let _ = idle.send(key.clone());
    }
}

impl Runner {
    async fn handle(&self, job: Job) {
        match job {
            Job::Signal(signal) if self.unanswered(&signal) => {
                tracing::debug!("{} was sent by a machine: not handled", signal.meta.id);
                self.raw.ack(&signal.meta.id);
            }
            Job::Signal(mut signal) => {
                let id = signal.meta.id.clone();
                let chosen = self.questions.answer(&mut signal).await;
                let route = self
                    .routes
                    .route(&signal.body, signal.meta.origin.as_ref(), chosen);
                match route {
                    Route::Handler(handler, found) => {
                        let cx = Context::new(
                            signal.clone(),
                            self.handle_for(&signal),
                            self.shared.clone(),
                            found,
                            Some(handler),
                        );
                        self.call(cx).await;
                    }
                    Route::Answer(text) => self.answer(&signal, text).await,
                    Route::None => {}
                }
                self.raw.ack(&id);
            }
            Job::Timer(due) => {
                match self.routes.timers.get(&due.name) {
                    Some(handler) => {
                        let found = Found {
                            timer: Some(due.payload.clone()),
                            ..Found::default()
                        };
                        let cx = Context::new(
                            due.signal.clone(),
                            self.handle_for(&due.signal),
                            self.shared.clone(),
                            found,
                            Some(handler.clone()),
                        );
                        self.call(cx).await;
                    }
                    None => tracing::warn!(
                        "the timer `{}` is due but no handler has its name (Dispatcher::timer)",
                        due.name
                    ),
                }
                self.shared.timers.done(due).await;
            }
        }
    }

    /// The handle a handler of `signal` sends through: questions it asks ask the signal's
    /// origin.
    fn handle_for(&self, signal: &Signal) -> Handle {
        Handle::new(AskingOutlet::new(
            self.raw.clone(),
            self.questions.clone(),
            signal.meta.origin.clone(),
        ))
    }

    /// Whether `signal` is a message or file a machine sent, which this dispatcher leaves
    /// alone.
    fn unanswered(&self, signal: &Signal) -> bool {
        !self.automatic
            && signal.is_automatic()
            && matches!(signal.body, Body::Message(_) | Body::File(_))
    }

    /// Runs the handler through the middleware, showing the bot typing if it takes long; logs
    /// its error or panic.
    async fn call(&self, cx: Context) {
        let Ok(_running) = self.running.acquire().await else {
            return;
        };
        let id = cx.signal().meta.id.clone();
        let call = AssertUnwindSafe(self.service.clone().oneshot(cx.clone())).catch_unwind();
        tokio::pin!(call);
        let typing = match (self.typing_after, &cx.signal().body) {
            (Some(after), Body::Message(_)) if cx.origin().is_some() => Some(after),
            _ => None,
        };
        let outcome = match typing {
            Some(after) => tokio::select! {
                outcome = &mut call => outcome,
                () = tokio::time::sleep(after) => {
                    let _ = cx.typing(TypingState::Composing).await;
                    let outcome = call.await;
                    let _ = cx.typing(TypingState::Active).await;
                    outcome
                }
            },
            None => call.await,
        };
        let error: BotError = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => {
                tracing::warn!("the handler of {id} failed: {e}");
                e
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!("the handler of {id} panicked: {what}");
                format!("the handler panicked: {what}").into()
            }
        };
        if let Some(on_error) = &self.on_error {
            let told = AssertUnwindSafe(on_error(cx, error)).catch_unwind().await;
            if !matches!(told, Ok(Ok(()))) {
                tracing::warn!("the error handler of {id} failed too");
            }
        }
    }

    /// The dispatcher's own answer (a command's error or help): plain text, and HTML where
    /// the conversation takes it.
    async fn answer(&self, signal: &Signal, text: String) {
        let mut message = Message::text(text.clone());
        if let Some(to) = signal.reply_addresses().first() {
            let html = matches!(
                self.raw.supported_features(to).await,
                Ok((features, _)) if features.contains(chatty_core::Features::HTML)
            );
            if html {
                message = message.with_html(format!("<pre>{}</pre>", escape(&text)));
            }
        }
        if let Err(e) = self.raw.send(signal.reply(message)).await {
            tracing::warn!("the answer to {} was not sent: {e}", signal.meta.id);
        }
    }
}

/// Text as HTML text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
