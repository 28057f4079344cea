//! Waiting for a future on a plain thread, with an optional deadline.
//!
//! The blocking side of the crate waits for two things: a signal from the queue (with a deadline
//! for [`SignalQueue::receive_timeout`](crate::SignalQueue::receive_timeout)) and the answer to a
//! request to the async side. Both are futures; this polls one on the calling thread and parks
//! the thread in between, with a waker that unparks it. No busy-waiting: the thread sleeps until
//! the future's waker fires or the deadline passes.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

/// Wakes a parked thread.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready, or until `deadline` has passed (`None`: no
/// deadline). A future that is not ready by the deadline is dropped.
pub(crate) fn wait_until<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        // A spurious wake-up (or an unpark meant for someone else) only costs one more poll.
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}

/// Polls `future` on this thread until it is ready.
pub(crate) fn wait<F: Future>(future: F) -> F::Output {
    match wait_until(future, None) {
        Some(output) => output,
        // `wait_until` without a deadline only returns once the future is ready.
        None => unreachable!("no deadline"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use futures::channel::oneshot;

    #[test]
    fn waits_for_a_value_sent_from_another_thread() {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            tx.send(7).unwrap();
        });
        assert_eq!(wait(rx), Ok(7));
        sender.join().unwrap();
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let (_tx, rx) = oneshot::channel::<()>();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(100);
        assert!(wait_until(rx, Some(deadline)).is_none());
        assert!(start.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn a_ready_future_needs_no_time() {
        assert_eq!(wait_until(async { 1 }, Some(Instant::now())), Some(1));
    }
}
