//! What the router tells the bot about its own sends, on the feedback channel: a refusal that
//! came back from a session, and a journal that could not record an answer.

use crate::metadata::SignalId;
use crate::session::Refusal;
use crate::signal::{SendFailure, Signal, SystemError};

/// The channel the bot reads first: unbounded, so that a bot blocked in `send` can never
/// deadlock on its own full inbound queue; it only fails once the run is over.
pub(super) type Feedback = async_channel::Sender<Signal>;

/// Tells the bot that a session refused the signal `id` (a refusal that came back from the
/// platform, after the router had handed the signal on).
pub(super) fn refused(feedback: &Feedback, id: SignalId, refusal: Refusal) {
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
    let _ = feedback.try_send(failure);
}

/// Tells the bot that the journal of session `name` failed.
pub(super) fn journal_failed(feedback: &Feedback, name: &str, message: &str) {
    let report = SystemError::new(format!("journal of session {name}"), message.to_owned());
    let _ = feedback.try_send(Signal::internal(None, report));
}
