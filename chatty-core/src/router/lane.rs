//! A session's lane: under a journal, everything the bot sends through one session leaves from
//! here, in the order it was sent.
//!
//! An answer joins the lane and the bot goes on to its next signal. The lane takes the answers
//! waiting in it together, records them as about to leave, sends each once that is durable,
//! then records that it left. So the records of the answers a bot makes in a row are written
//! together (group commit) instead of each in a commit of its own while the bot waits. The bot's
//! acknowledgement of a signal is held back until the signal's answers have left the lane
//! ([`Tap::landed`]): an acknowledged signal is not given again after a restart, so an answer
//! still in a lane when the process dies must find its signal unacknowledged. A refusal comes
//! back to the bot as a `SendFailure`, as without a journal.

use std::sync::Arc;

use futures::future;
use tokio::sync::oneshot;

use super::feedback::{self, Feedback};
use crate::journal::Tap;
use crate::metadata::SignalId;
use crate::session::{Refusal, Session};
use crate::signal::{FailureKind, Signal};

/// How many jobs a lane takes at once: their answers' records are written together. It bounds
/// the answers a crash can leave "about to leave" and unconfirmed, each of which the session is
/// asked about ([`Session::sent`]) after the restart, so it stays small.
const BATCH: usize = 8;

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
    /// Told when everything before it in the lane is done: a session's `SessionAboutToEnd` is
    /// handled only once the answers the bot made to it are out of the lane.
    Barrier(oneshot::Sender<()>),
}

/// An answer in a lane, numbered ([`Tap::number`]).
pub(super) struct Answer {
    pub(super) signal: Signal,
    /// The session's name in the journal.
    pub(super) name: Arc<str>,
    pub(super) of: SignalId,
    pub(super) number: u32,
    /// Recorded "about to leave" before a restart, and not confirmed: the session is asked
    /// whether it left ([`Session::sent`]) before it is sent again.
    pub(super) unsure: bool,
}

/// Carries the jobs of one session's lane until the lane is closed and empty: takes what
/// waits (up to [`BATCH`]), records its answers as about to leave in one go, and once that is
/// durable sends the jobs in order, recording each answer that left.
pub(super) async fn run(
    jobs: async_channel::Receiver<Job>,
    session: Arc<dyn Session>,
    tap: Arc<Tap>,
    feedback: Feedback,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(job) = jobs.recv().await {
        batch.push(job);
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        record(&batch, &tap, &feedback).await;
        for job in batch.drain(..) {
            match job {
                Job::Plain { signal, done } => {
                    let _ = done.send(session.send(signal).await);
                }
                Job::Barrier(done) => {
                    let _ = done.send(());
                }
                Job::Answer(answer) => {
                    let of = answer.of.clone();
                    if deliver(answer, &*session, &tap, &feedback).await {
                        tap.landed(&of);
                    }
                }
            }
        }
    }
}

/// Records the answers of `batch` as about to leave (those not recorded so before a restart);
/// resolves once that is durable. A journal that fails is told to the bot, and the answers go
/// anyway: the bot asked for them.
async fn record(batch: &[Job], tap: &Tap, feedback: &Feedback) {
    let records = batch.iter().filter_map(|job| match job {
        Job::Answer(answer) if !answer.unsure => {
            let recorded = tap.answering(&answer.name, &answer.of, answer.number);
            Some(async move { (answer, recorded.await) })
        }
        _ => None,
    });
    for (answer, result) in future::join_all(records).await {
        if let Err(e) = result {
            let message = format!(
                "answer {} could not be recorded before it left: {e}",
                answer.signal.meta.id
            );
            feedback::journal_failed(feedback, &answer.name, &message);
        }
    }
}

/// Sends one answer whose record is durable (or, unsure, once the session says it did not
/// leave before the restart), and records that it left. Whether it is done with: `false` when
/// the platform could not be reached (the session ended, or is not connected): its signal then
/// stays unacknowledged, so the journal gives it again after a restart and the answer goes
/// then; the bot is told of the failure all the same.
async fn deliver(answer: Answer, session: &dyn Session, tap: &Tap, feedback: &Feedback) -> bool {
    let Answer {
        signal,
        name,
        of,
        number,
        unsure,
    } = answer;
    let id = signal.meta.id.clone();
    if unsure && session.sent(&signal).await == Some(true) {
        tap.left(&name, &of, number);
        return true;
    }
    match session.send(signal).await {
        Err(refusal) => {
            let unreachable = refusal.kind == FailureKind::Unreachable;
            feedback::refused(feedback, id, refusal);
            !unreachable
        }
        Ok(()) => {
            tap.left(&name, &of, number);
            true
        }
    }
}

/// Waits until every lane in `lanes` has done what was in it when this was called.
pub(super) async fn barrier(lanes: &[async_channel::Sender<Job>]) {
    let waits = lanes.iter().map(|lane| async move {
        let (done, reached) = oneshot::channel();
        if lane.send(Job::Barrier(done)).await.is_ok() {
            let _ = reached.await;
        }
    });
    future::join_all(waits).await;
}
