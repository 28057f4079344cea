//! The crate's errors.

use std::any::Any;

/// Why [`SignalQueue::receive_timeout`](crate::SignalQueue::receive_timeout) returned no signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ReceiveError {
    /// No signal arrived before the timeout; one may still come.
    #[error("no signal arrived before the timeout")]
    Timeout,
    /// The inbound stream has ended and every signal in the queue has been received: no signal
    /// will ever come.
    #[error("the inbound stream has ended")]
    Ended,
}

/// Why [`SignalQueue::try_receive`](crate::SignalQueue::try_receive) returned no signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TryReceiveError {
    /// The queue is empty now; a signal may still come.
    #[error("no signal is waiting")]
    Empty,
    /// The inbound stream has ended and every signal in the queue has been received: no signal
    /// will ever come.
    #[error("the inbound stream has ended")]
    Ended,
}

/// Why the [`Synchronizer`](crate::Synchronizer) stopped, other than an error the synchronous bot
/// returned (which [`Bot::run`](chatty_core::Bot::run) returns as it is).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynchronizerError {
    /// The thread for the synchronous bot could not be started.
    #[error("could not start the synchronous bot's thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The synchronous bot panicked.
    #[error(
        "the synchronous bot panicked{}",
        .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    Panicked {
        /// The panic message, when the panic's payload was a `&str` or a `String` (as with
        /// `panic!("…")`).
        message: Option<String>,
    },
}

impl SynchronizerError {
    /// The error for a panic with `payload` (what [`std::thread::JoinHandle::join`] returns).
    pub(crate) fn panicked(payload: &(dyn Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|m| (*m).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        SynchronizerError::Panicked { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_message_is_kept_when_it_is_text() {
        let e = SynchronizerError::panicked(&"boom");
        assert_eq!(e.to_string(), "the synchronous bot panicked: boom");
        let e = SynchronizerError::panicked(&String::from("boom 42"));
        assert_eq!(e.to_string(), "the synchronous bot panicked: boom 42");
        let e = SynchronizerError::panicked(&42_u32);
        assert_eq!(e.to_string(), "the synchronous bot panicked");
        assert!(matches!(e, SynchronizerError::Panicked { message: None }));
    }

    #[test]
    fn receive_errors_say_what_happened() {
        assert_eq!(
            ReceiveError::Timeout.to_string(),
            "no signal arrived before the timeout"
        );
        assert_eq!(
            TryReceiveError::Ended.to_string(),
            "the inbound stream has ended"
        );
    }
}
