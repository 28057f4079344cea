//! The [`Synchronizer`] itself: the wrapper and its [`Bot`] implementation.

use std::borrow::Cow;
use std::pin::pin;
use std::thread;

use chatty_core::journal::Acks;
use chatty_core::{Bot, BotError, Handle, Inbound};
use futures::channel::oneshot;
use futures::future::{self, Either};

use super::DEFAULT_THREAD_NAME;
use crate::channel::{DEFAULT_CAPACITY, channel};
use crate::error::SynchronizerError;
use crate::sync_bot::SyncBot;

/// Runs a synchronous bot ([`SyncBot`]) behind the async bot interface: a [`Bot`] that other
/// decorators can wrap in turn.
///
/// The synchronous bot runs on a dedicated, named `std::thread`, so its blocking code never
/// stalls the async runtime. The future [`Bot::run`] returns does the async work: it pushes the
/// inbound stream into the bot's [`SignalQueue`](crate::SignalQueue) and carries out the bot's
/// sends, downloads and queries (through its [`BlockingHandle`](crate::BlockingHandle)) on the
/// real [`Handle`], answering each thread as it is done. It needs no particular async runtime.
/// It is built on [`channel`](crate::channel): the same queue, handle and
/// [`QueueBot`](crate::QueueBot) a program that is not async uses.
///
/// # The synchronizer's rule
/// - **Inbound**: signals reach the synchronous bot one at a time, in the order the inbound
///   stream yields them. At most [`capacity`](Synchronizer::capacity) wait in the queue; beyond
///   that the synchronizer stops reading the inbound stream until the bot has taken some
///   (backpressure: nothing is lost, memory does not grow).
/// - **Finished, then acknowledged**: since the queue reads ahead of the bot, the synchronizer
///   acknowledges explicitly ([`Bot::acks`] is [`Acks::Explicit`]): under a router with a
///   [journal](chatty_core::journal), a signal is acknowledged when the bot's thread asks for
///   the next one (see [`SignalQueue`](crate::SignalQueue#finishing-a-signal)), as for an async
///   bot's loop. What the bot had received and not come back from when it stopped, and what
///   still waited in the queue, is given again after a restart.
/// - **Outbound**: sends, downloads and queries from any number of threads, through clones of the
///   `BlockingHandle`, are carried out in the order each thread made them, and none is lost.
///   Different threads' requests are carried out concurrently.
///
/// # The end of the run
/// - When the inbound stream ends, the queue ends once drained
///   ([`receive`](crate::SignalQueue::receive) returns `None`), so a well-behaved bot returns.
/// - The run completes once the bot has returned and its thread has been joined. It returns the
///   bot's result; if the bot panicked, a [`SynchronizerError::Panicked`] with the panic message.
///   It does not wait for the inbound stream to end.
/// - After the run, the queue is ended and every handle call returns `Closed`, also for clones
///   the bot left behind in other threads.
/// - Dropping the run's future before it completes also ends the queue and closes the handle;
///   the thread is then left to finish on its own.
///
/// ```
/// use chatty_core::{Body, LayerExt, Message, Router};
/// use chatty_sync::{SynchronizerLayer, sync_fn};
///
/// let echo = sync_fn(|signal, handle| {
///     if let Body::Message(m) = &signal.body {
///         handle.send(signal.reply(Message::text(m.text.clone())))?;
///     }
///     Ok(())
/// });
/// let bot = echo.wrap(SynchronizerLayer::new().with_capacity(64));
/// # futures::executor::block_on(async {
/// Router::new().run(bot).await.unwrap(); // with no session, it ends at once
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Synchronizer<S> {
    inner: S,
    capacity: usize,
    thread_name: Cow<'static, str>,
}

impl<S> Synchronizer<S> {
    /// Wraps `inner`, with a queue of [`DEFAULT_CAPACITY`] signals and the thread name
    /// `chatty-sync`.
    pub fn new(inner: S) -> Self {
        Synchronizer {
            inner,
            capacity: DEFAULT_CAPACITY,
            thread_name: Cow::Borrowed(DEFAULT_THREAD_NAME),
        }
    }

    /// Sets how many inbound signals may wait for the synchronous bot (at least 1).
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Sets the name of the thread the synchronous bot runs on.
    #[must_use]
    pub fn with_thread_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// How many inbound signals may wait for the synchronous bot.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The name of the thread the synchronous bot runs on.
    pub fn thread_name(&self) -> &str {
        &self.thread_name
    }

    /// The synchronous bot.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The synchronous bot, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The synchronous bot, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: SyncBot> Bot for Synchronizer<S> {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let Synchronizer {
            inner,
            capacity,
            thread_name,
        } = self;
        let (machinery, queue, blocking) = channel(capacity);

        // The thread reports the bot's result here; if the bot panics, `done` is dropped while
        // unwinding and the receiver sees the cancellation.
        let (done, finished) = oneshot::channel();
        let thread = thread::Builder::new()
            .name(thread_name.into_owned())
            .spawn(move || {
                let _ = done.send(inner.run(queue, blocking));
            })
            .map_err(SynchronizerError::Spawn)?;

        // `finished` is polled first: once the bot is done, nothing more is read or served.
        let outcome = match future::select(finished, pin!(machinery.drive(inbound, handle))).await {
            // The bot is done: stop pumping and serving at once (dropping the machinery ends
            // the queue and closes the handle for clones left behind).
            Either::Left((outcome, _machinery)) => outcome,
            // Inbound done and every handle dropped, yet the bot still runs: wait for it.
            Either::Right(((), finished)) => finished.await,
        };

        // The thread has sent its result or is unwinding: all that is left of it is its exit,
        // so this wait is short.
        let joined = thread.join();
        match (outcome, joined) {
            (Ok(result), _) => result,
            (Err(oneshot::Canceled), Err(payload)) => {
                Err(SynchronizerError::panicked(&*payload).into())
            }
            // Cannot happen: the thread either sends its result or panics.
            (Err(oneshot::Canceled), Ok(())) => {
                Err(SynchronizerError::Panicked { message: None }.into())
            }
        }
    }

    /// Explicitly: the queue reads ahead of the blocking bot, which finishes a signal by asking
    /// for the next one.
    fn acks(&self) -> Acks {
        Acks::Explicit
    }
}
