//! [`channel`]: a blocking queue and handle for a program that is not async, and the bot that
//! connects them to the async world. The [`Synchronizer`](crate::Synchronizer) runs on it too.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;

use chatty_core::journal::Acks;
use chatty_core::reexports::async_channel;
use chatty_core::{Bot, BotError, Handle, Inbound, Signal};
use futures::StreamExt as _;
use futures::channel::oneshot;
use futures::future::{self, Either};

use crate::handle::{BlockingHandle, Request};
use crate::queue::{self, SignalQueue};

/// The default capacity of a [`SignalQueue`]: as many inbound signals as the
/// [`Router`](chatty_core::Router) lets wait for a bot.
pub const DEFAULT_CAPACITY: usize = chatty_core::DEFAULT_CAPACITY;

/// A blocking inbound queue and handle for a program that is not async, and the [`QueueBot`]
/// that feeds and serves them. `capacity` is the queue's (at least 1).
///
/// Hand the `QueueBot` to a [`Router`](chatty_core::Router) (or to a decorator, or any runner of
/// bots) on one thread, and use the [`SignalQueue`] and [`BlockingHandle`] from the program's own
/// threads:
///
/// ```
/// use std::thread;
/// use chatty_core::{Body, Message, Router};
///
/// let (bot, queue, handle) = chatty_sync::channel(chatty_sync::DEFAULT_CAPACITY);
///
/// // The async world, on a thread of its own (here with no session, so it ends at once).
/// let runner = thread::spawn(move || futures::executor::block_on(Router::new().run(bot)));
///
/// // The program: plain blocking code.
/// for signal in queue {
///     if let Body::Message(m) = &signal.body {
///         handle.send(signal.reply(Message::text(m.text.clone()))).unwrap();
///     }
/// }
/// drop(handle);
/// runner.join().unwrap().unwrap();
/// ```
pub fn channel(capacity: usize) -> (QueueBot, SignalQueue, BlockingHandle) {
    let (signals, rx) = async_channel::bounded(capacity.max(1));
    let (requests_tx, requests) = async_channel::unbounded();
    let (reader, readers_gone) = oneshot::channel();
    let acks = Arc::new(queue::Acks::default());
    let bot = QueueBot {
        signals,
        requests,
        readers_gone,
        acks: acks.clone(),
    };
    (
        bot,
        SignalQueue::new(rx, reader, acks),
        BlockingHandle::new(requests_tx),
    )
}

/// The async side of a [`channel`]: a [`Bot`] that pushes its inbound stream into the
/// [`SignalQueue`] and carries out what is asked through the [`BlockingHandle`]s on its real
/// [`Handle`].
///
/// - Inbound signals go into the queue in the order the stream yields them. While the queue is
///   full, the bot waits (asynchronously) for room and reads no further: backpressure, never
///   loss. When the stream ends, the queue ends once drained. If every `SignalQueue` has been
///   dropped, later inbound signals are read and dropped, so that the sources are not held up.
/// - Requests from any number of threads are carried out as they come; each thread waits for
///   its answer, so each thread's requests are carried out in the order it made them.
/// - The run ends when every `BlockingHandle` has been dropped and the inbound stream has ended
///   (or every `SignalQueue` has been dropped). It never fails.
/// - It reads ahead of the program (the queue holds signals the program has not taken yet), so
///   it acknowledges explicitly ([`Bot::acks`] is [`Acks::Explicit`]): a signal is acknowledged
///   when the thread that received it asks the queue for its next one (see
///   [`SignalQueue`]), never merely for being queued.
pub struct QueueBot {
    signals: async_channel::Sender<Signal>,
    requests: async_channel::Receiver<Request>,
    /// Resolves (cancelled) when the last `SignalQueue` is dropped.
    readers_gone: oneshot::Receiver<()>,
    acks: Arc<queue::Acks>,
}

impl fmt::Debug for QueueBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueBot")
            .field("queued", &self.signals.len())
            .field("capacity", &self.signals.capacity())
            .field("pending_requests", &self.requests.len())
            .finish()
    }
}

impl Bot for QueueBot {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        self.drive(inbound, handle).await;
        Ok(())
    }

    /// Explicitly: the queue reads ahead of the program; it acknowledges each signal when the
    /// thread that received it asks for the next one.
    fn acks(&self) -> Acks {
        Acks::Explicit
    }
}

impl QueueBot {
    /// Pumps `inbound` into the queue and serves the requests, until the handles are all gone
    /// and the inbound stream is done with (see [`QueueBot`]). Dropping the future stops both at
    /// once: the queue ends and every later request fails with `Closed`.
    pub(crate) async fn drive(self, mut inbound: Inbound, handle: Handle) {
        let QueueBot {
            signals,
            requests,
            readers_gone,
            acks,
        } = self;
        // Before the first signal is queued, so that every acknowledgement has somewhere to go.
        acks.set_handle(&handle);
        // Cancelled once every handle is gone and the requests are all carried out.
        let (served, handles_gone) = oneshot::channel::<()>();
        // However this future ends (finished or dropped), no request may be left waiting.
        let _closer = CloseOnDrop(requests.clone());

        let serve = async move {
            serve(requests, handle).await;
            drop(served);
        };

        let pump = async move {
            let deliver = async {
                while let Some(signal) = inbound.next().await {
                    // Waits for room: backpressure on the inbound stream.
                    if signals.send(signal).await.is_err() {
                        return false;
                    }
                }
                true
            };
            let ended = match future::select(pin!(deliver), readers_gone).await {
                Either::Left((ended, _)) => ended,
                Either::Right(_) => false,
            };
            signals.close();
            if !ended {
                // Nobody reads any more, but the program may still send: keep the sources
                // moving by dropping what arrives, until the stream ends or the handles are gone.
                let drain = async { while inbound.next().await.is_some() {} };
                future::select(pin!(drain), handles_gone).await;
            }
        };

        future::join(pump, serve).await;
    }
}

/// Closes the request channel when dropped and drops the requests still in it, so that a thread
/// whose request was queued just before the async side stopped is woken (its answer is
/// cancelled: `Closed`) instead of waiting forever. Closing first means no request can be queued
/// after the drain.
struct CloseOnDrop(async_channel::Receiver<Request>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
        while self.0.try_recv().is_ok() {}
    }
}

/// Carries out requests on `handle` until every [`BlockingHandle`] is gone.
///
/// Requests run concurrently (one slow query does not hold up other threads' sends). Each
/// thread has at most one request outstanding, so a thread's requests still run in its order.
async fn serve(requests: async_channel::Receiver<Request>, handle: Handle) {
    requests
        .for_each_concurrent(None, |request| {
            let handle = &handle;
            async move {
                // Sending the answer fails only if the asking thread is gone: nothing to do.
                match request {
                    Request::Send(signal, reply) => {
                        let _ = reply.send(handle.send(*signal).await);
                    }
                    Request::Query(query, reply) => {
                        let _ = reply.send(handle.query(query).await);
                    }
                    Request::Download(file, None, reply) => {
                        let _ = reply.send(handle.download(&file).await);
                    }
                    Request::Download(file, Some(via), reply) => {
                        let _ = reply.send(handle.download_via(&file, &via).await);
                    }
                    Request::EndSessions(reason, reply) => {
                        let _ = reply.send(handle.end_sessions(reason).await);
                    }
                }
            }
        })
        .await;
}
