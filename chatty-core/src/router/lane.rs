//! A session's lane: under a journal, everything the bot sends through one session leaves from
//! here, in the order it was sent.
//!
//! An answer joins the lane and the bot goes on to its next signal. The lane takes the answers
//! waiting in it together, records them as about to leave, hands each on once that is durable
//! ([`Session::hand_on`]), and records that it left once the session confirms it; meanwhile
//! the next answers are taken and handed on (a few at most are on their way unconfirmed). So the records of the answers a bot makes in a row are written
//! together (group commit) instead of each in a commit of its own while the bot waits. The bot's
//! acknowledgement of a signal is held back until the signal's answers have left the lane
//! ([`Tap::landed`]): an acknowledged signal is not given again after a restart, so an answer
//! still in a lane when the process dies must find its signal unacknowledged. A refusal comes
//! back to the bot as a `SendFailure`, as without a journal.

use std::sync::Arc;

use futures::future::{self, BoxFuture};
use futures::stream::{FuturesOrdered, StreamExt as _};
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
/// durable hands the jobs on in order ([`Session::hand_on`]); each answer counts as gone (its
/// record, its signal's acknowledgement) once the session confirms it, in order, while the next
/// jobs are taken: at most [`ON_THEIR_WAY`] are handed on and not yet confirmed.
pub(super) async fn run(
    jobs: async_channel::Receiver<Job>,
    session: Arc<dyn Session>,
    tap: Arc<Tap>,
    feedback: Feedback,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut on_their_way: FuturesOrdered<Landing> = FuturesOrdered::new();
    loop {
        let job = if on_their_way.len() >= ON_THEIR_WAY {
            if let Some((job, result)) = on_their_way.next().await {
                land(job, result, &tap, &feedback);
            }
            continue;
        } else if on_their_way.is_empty() {
            match jobs.recv().await {
                Ok(job) => job,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                biased;
                Some((job, result)) = on_their_way.next() => {
                    land(job, result, &tap, &feedback);
                    continue;
                }
                job = jobs.recv() => match job {
                    Ok(job) => job,
                    Err(_) => break,
                },
            }
        };
        batch.push(job);
        // At most `ON_THEIR_WAY` handed on and unconfirmed, counting this batch.
        let room = BATCH.min(ON_THEIR_WAY - on_their_way.len());
        while batch.len() < room {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        record(&batch, &tap, &feedback).await;
        for job in batch.drain(..) {
            on_their_way.push_back(hand_on(job, &*session).await);
        }
    }
    while let Some((job, result)) = on_their_way.next().await {
        land(job, result, &tap, &feedback);
    }
}

/// How many jobs a lane has handed on and not yet confirmed. Each such answer is "about to
/// leave" and unconfirmed if the process dies, and is asked about after the restart
/// ([`Session::sent`]), so it stays small.
const ON_THEIR_WAY: usize = 8;

/// A job handed on, with how it went once the session confirmed it (or refused it).
type Landing = BoxFuture<'static, (Sent, Result<(), Refusal>)>;

/// What a job handed on still has to do once it is confirmed.
enum Sent {
    Answer {
        name: Arc<str>,
        of: SignalId,
        number: u32,
        id: SignalId,
    },
    Plain(oneshot::Sender<Result<(), Refusal>>),
    Barrier(oneshot::Sender<()>),
}

/// Hands `job` on (an answer whose record is durable; an unsure one only once the session
/// says it did not leave before the restart): resolves once it is in the session's order, with
/// its confirmation.
async fn hand_on(job: Job, session: &dyn Session) -> Landing {
    let (sent, signal) = match job {
        Job::Barrier(done) => return Box::pin(future::ready((Sent::Barrier(done), Ok(())))),
        Job::Plain { signal, done } => {
            // A signal that may have left already (see `Metadata::redelivered`).
            if signal.meta.redelivered && session.sent(&signal).await == Some(true) {
                return Box::pin(future::ready((Sent::Plain(done), Ok(()))));
            }
            (Sent::Plain(done), signal)
        }
        Job::Answer(answer) => {
            let Answer {
                signal,
                name,
                of,
                number,
                unsure,
            } = answer;
            let sent = Sent::Answer {
                name,
                of,
                number,
                id: signal.meta.id.clone(),
            };
            if unsure && session.sent(&signal).await == Some(true) {
                return Box::pin(future::ready((sent, Ok(()))));
            }
            (sent, signal)
        }
    };
    match session.hand_on(signal).await {
        Ok(confirmation) => Box::pin(async move { (sent, confirmation.await) }),
        Err(refusal) => Box::pin(future::ready((sent, Err(refusal)))),
    }
}

/// A job handed on is confirmed (or refused): an answer that left is recorded as left and its
/// signal may be acknowledged ([`Tap::landed`]); one the platform could not be reached for
/// (the session ended, or is not connected) leaves its signal unacknowledged, so the journal
/// gives it again after a restart and the answer goes then; the bot is told of every refusal.
fn land(sent: Sent, result: Result<(), Refusal>, tap: &Tap, feedback: &Feedback) {
    match sent {
        Sent::Barrier(done) => {
            let _ = done.send(());
        }
        Sent::Plain(done) => {
            let _ = done.send(result);
        }
        Sent::Answer {
            name,
            of,
            number,
            id,
        } => {
            let done = match result {
                Ok(()) => {
                    tap.left(&name, &of, number);
                    true
                }
                Err(refusal) => {
                    let unreachable = refusal.kind == FailureKind::Unreachable;
                    feedback::refused(feedback, id, refusal);
                    !unreachable
                }
            };
            if done {
                tap.landed(&of);
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
