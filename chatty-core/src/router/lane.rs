//! A session's lane: under a journal, everything the bot sends through one session leaves from
//! here, in the order it was sent.
//!
//! An answer joins the lane as soon as its "about to leave" record is made, and the bot goes on
//! to its next signal; the lane sends the answer once the record is durable, then records that
//! it left. So the records of the answers a bot makes in a row are written together (group
//! commit) instead of each in a commit of its own while the bot waits. The bot's
//! acknowledgement of a signal is held back until the signal's answers have left the lane
//! ([`Tap::landed`]): an acknowledged signal is not given again after a restart, so an answer
//! still in a lane when the process dies must find its signal unacknowledged. A refusal comes
//! back to the bot as a `SendFailure`, as without a journal.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use super::feedback::{self, Feedback};
use crate::journal::{JournalError, Tap};
use crate::metadata::SignalId;
use crate::session::{Refusal, Session};
use crate::signal::Signal;

/// What waits in a lane.
pub(super) enum Job {
    /// An answer to a journaled signal.
    Answer(Answer),
    /// Anything else through the session (a message that answers nothing, a status change, an
    /// end request): sent in its turn; `done` hears how it went.
    Plain {
        signal: Signal,
        done: oneshot::Sender<Result<(), Refusal>>,
    },
}

/// An answer in a lane, numbered ([`Tap::number`]).
pub(super) struct Answer {
    pub(super) signal: Signal,
    /// The session's name in the journal.
    pub(super) name: Arc<str>,
    pub(super) of: SignalId,
    pub(super) number: u32,
    /// Its "about to leave" record, made when the bot sent it; `None` for an answer recorded so
    /// before a restart, which the session is asked about ([`Session::sent`]) before it is sent
    /// again.
    pub(super) recorded: Option<BoxFuture<'static, Result<(), JournalError>>>,
}

/// Carries the jobs of one session's lane until the lane is closed and empty.
pub(super) async fn run(
    jobs: async_channel::Receiver<Job>,
    session: Arc<dyn Session>,
    tap: Arc<Tap>,
    feedback: Feedback,
) {
    while let Ok(job) = jobs.recv().await {
        match job {
            Job::Plain { signal, done } => {
                let _ = done.send(session.send(signal).await);
            }
            Job::Answer(answer) => {
                let of = answer.of.clone();
                deliver(answer, &*session, &tap, &feedback).await;
                tap.landed(&of);
            }
        }
    }
}

/// Sends one answer once its record is durable (or, unsure, once the session says it did not
/// leave before the restart), and records that it left.
async fn deliver(answer: Answer, session: &dyn Session, tap: &Tap, feedback: &Feedback) {
    let Answer {
        signal,
        name,
        of,
        number,
        recorded,
    } = answer;
    let id = signal.meta.id.clone();
    match recorded {
        Some(recorded) => {
            if let Err(e) = recorded.await {
                let message = format!("answer {id} could not be recorded before it left: {e}");
                feedback::journal_failed(feedback, &name, &message);
            }
        }
        None => {
            if session.sent(&signal).await == Some(true) {
                tap.answered(&name, &of, number);
                return;
            }
        }
    }
    match session.send(signal).await {
        Err(refusal) => feedback::refused(feedback, id, refusal),
        Ok(()) => tap.answered(&name, &of, number),
    }
}
