//! [`Recorded`]: the signals a test platform took or refused, shared with the test.

use tokio::sync::watch;

use crate::signal::{Body, Signal};

/// The signals a [`TestPlatform`](super::TestPlatform) took (or refused), in the order it did:
/// a handle the test keeps while the router owns the platform. Clones share the list.
///
/// ```
/// use chatty_core::testing::TestPlatform;
///
/// let platform = TestPlatform::new("test");
/// let sent = platform.outbound();
/// assert!(sent.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Recorded(watch::Sender<Vec<Signal>>);

impl Recorded {
    /// Adds `signal`; returns how many there are now, counting it.
    pub(super) fn push(&self, signal: Signal) -> usize {
        let mut count = 0;
        self.0.send_modify(|signals| {
            signals.push(signal);
            count = signals.len();
        });
        count
    }

    /// A copy of the signals so far.
    pub fn signals(&self) -> Vec<Signal> {
        self.0.borrow().clone()
    }

    /// The text of each signal so far (empty for a signal that is no message).
    pub fn texts(&self) -> Vec<String> {
        let signals = self.0.borrow();
        signals
            .iter()
            .map(|signal| match &signal.body {
                Body::Message(m) => m.text.clone(),
                _ => String::new(),
            })
            .collect()
    }

    /// How many signals there are so far.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether there are none so far.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// Waits until `done` holds of the signals (at once if it does already); `done` is asked
    /// again after each signal recorded.
    pub async fn wait_for(&self, mut done: impl FnMut(&[Signal]) -> bool) {
        let mut changes = self.0.subscribe();
        // `self` holds the sender: the channel never closes, and the wait ends only with `done`.
        let _ = changes.wait_for(|signals| done(signals)).await;
    }
}
