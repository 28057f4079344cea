//! The blocking inbound queue.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use chatty_core::reexports::async_channel::{self, TryRecvError};
use chatty_core::{Handle, Signal, SignalId};
use futures::channel::oneshot;

use crate::error::{ReceiveError, TryReceiveError};
use crate::park;

/// The blocking inbound queue: the signals of a bot's inbound stream, for blocking code.
///
/// A synchronous bot gets one from the [`Synchronizer`](crate::Synchronizer); a program that is
/// not async gets one from [`channel`](crate::channel). Signals come out one at a time in the
/// order the inbound stream yielded them. The queue *ends* once the inbound stream has ended and
/// every signal in it has been received: then [`receive`](SignalQueue::receive) returns `None`
/// and the iterator stops.
///
/// The queue is bounded (its [`capacity`](SignalQueue::capacity)): while it is full, the async
/// side waits for room instead of reading more of the inbound stream, so a slow bot slows its
/// sources down (backpressure) and no signal is lost or piles up in memory.
///
/// Clones share one queue: each signal is received by one of them.
///
/// # Finishing a signal
/// Under a router with a [journal](chatty_core::journal), a signal the bot had not finished
/// when its process stopped is given again after a restart. A thread **finishes** the signal
/// it received last when it asks for the next one ([`receive`](SignalQueue::receive),
/// [`receive_timeout`](SignalQueue::receive_timeout), [`try_receive`](SignalQueue::try_receive),
/// the iterator), whatever the answer: the queue then acknowledges it. So each thread sees its
/// signals one at a time, as a blocking bot's loop does; a signal a bot received and did not
/// come back from (it stopped, panicked, or its process died) is not acknowledged, nor are those
/// still waiting in the queue. A thread that hands a signal on to another thread to handle is
/// outside this rule: it acknowledges the signal when it asks for its own next one.
///
/// ```
/// use std::time::Duration;
/// use chatty_sync::{ReceiveError, TryReceiveError};
///
/// let (_bot, queue, _handle) = chatty_sync::channel(16);
/// assert_eq!(queue.try_receive(), Err(TryReceiveError::Empty));
/// assert_eq!(
///     queue.receive_timeout(Duration::from_millis(10)),
///     Err(ReceiveError::Timeout)
/// );
/// ```
//
// The primitive is the bounded `async_channel` that chatty-core already uses for inbound streams:
// - the async side sends with `send(..).await`, which waits for room without blocking an
//   executor thread, so a full queue turns into backpressure on the inbound stream;
// - `recv_blocking` waits on the channel's event listener (no busy-waiting);
// - `async_channel` has no receive with a timeout, so `receive_timeout` polls the `recv` future
//   on this thread and parks it until the future's waker fires or the deadline passes
//   (`park::wait_until`); a signal not taken by then stays in the queue.
// A `Mutex` + `Condvar` queue would give the timeout for free but need an async-aware
// notification for room on the other side: more code for the same behaviour.
#[derive(Clone)]
pub struct SignalQueue {
    rx: async_channel::Receiver<Signal>,
    /// Dropped with the last clone of the queue: tells the async side that nobody reads any more
    /// (it then stops waiting for room; see [`QueueBot`](crate::QueueBot)).
    _reader: Arc<oneshot::Sender<()>>,
    acks: Arc<Acks>,
}

/// What the queue acknowledges, and where: the signal each thread received last, to the
/// handle the async side runs on (set before the first signal is queued).
#[derive(Debug, Default)]
pub(crate) struct Acks {
    handle: OnceLock<Handle>,
    last: Mutex<HashMap<ThreadId, SignalId>>,
}

impl Acks {
    /// The handle acknowledgements go to; the first one set stays.
    pub(crate) fn set_handle(&self, handle: &Handle) {
        let _ = self.handle.set(handle.clone());
    }

    /// The calling thread finished the signal it received last.
    fn finished(&self) {
        let last = self
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&thread::current().id());
        if let (Some(id), Some(handle)) = (last, self.handle.get()) {
            handle.ack(&id);
        }
    }

    /// The calling thread received `signal`.
    fn received(&self, signal: &Signal) {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(thread::current().id(), signal.meta.id.clone());
    }
}

impl SignalQueue {
    pub(crate) fn new(
        rx: async_channel::Receiver<Signal>,
        reader: oneshot::Sender<()>,
        acks: Arc<Acks>,
    ) -> Self {
        SignalQueue {
            rx,
            _reader: Arc::new(reader),
            acks,
        }
    }

    /// Waits for the next signal; `None` once the inbound stream has ended and the queue is
    /// drained. The signal this thread received before is finished (see
    /// [Finishing a signal](SignalQueue#finishing-a-signal)).
    pub fn receive(&self) -> Option<Signal> {
        self.acks.finished();
        let signal = self.rx.recv_blocking().ok();
        if let Some(signal) = &signal {
            self.acks.received(signal);
        }
        signal
    }

    /// Waits at most `timeout` for the next signal. The signal this thread received before is
    /// finished.
    ///
    /// # Errors
    /// [`ReceiveError::Timeout`] when none arrived in time, [`ReceiveError::Ended`] once the
    /// inbound stream has ended and the queue is drained.
    pub fn receive_timeout(&self, timeout: Duration) -> Result<Signal, ReceiveError> {
        // A timeout too long to add to `now` is no timeout at all.
        let deadline = Instant::now().checked_add(timeout);
        self.acks.finished();
        match park::wait_until(self.rx.recv(), deadline) {
            Some(Ok(signal)) => {
                self.acks.received(&signal);
                Ok(signal)
            }
            Some(Err(_closed)) => Err(ReceiveError::Ended),
            None => Err(ReceiveError::Timeout),
        }
    }

    /// Takes the next signal if one is waiting, without blocking. The signal this thread
    /// received before is finished.
    ///
    /// # Errors
    /// [`TryReceiveError::Empty`] when none is waiting, [`TryReceiveError::Ended`] once the
    /// inbound stream has ended and the queue is drained.
    pub fn try_receive(&self) -> Result<Signal, TryReceiveError> {
        self.acks.finished();
        let signal = self.rx.try_recv().map_err(|e| match e {
            TryRecvError::Empty => TryReceiveError::Empty,
            TryRecvError::Closed => TryReceiveError::Ended,
        })?;
        self.acks.received(&signal);
        Ok(signal)
    }

    /// How many signals are waiting.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no signal is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// How many signals may wait before the async side waits for room.
    pub fn capacity(&self) -> usize {
        self.rx.capacity().unwrap_or(usize::MAX)
    }

    /// Whether the queue has ended: the inbound stream has ended and every signal has been
    /// received.
    pub fn is_ended(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty()
    }
}

impl fmt::Debug for SignalQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("ended", &self.is_ended())
            .finish()
    }
}

/// Blocking iteration: each item is [`receive`](SignalQueue::receive)d; the iteration ends with
/// the queue.
impl Iterator for SignalQueue {
    type Item = Signal;

    fn next(&mut self) -> Option<Signal> {
        self.receive()
    }
}

/// Blocking iteration through a shared reference (`for signal in &queue`), as for the queue
/// itself.
impl Iterator for &SignalQueue {
    type Item = Signal;

    fn next(&mut self) -> Option<Signal> {
        self.receive()
    }
}
