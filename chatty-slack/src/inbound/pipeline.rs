//! Pushing what the envelopes carry, in order, and acknowledging each envelope once its push
//! returned.
//!
//! Slack sends an envelope again until it is acknowledged (within 3 s; then on its retry
//! timetable, up to about 5 minutes). An envelope is therefore acknowledged only once what it
//! carries was taken: [`Link::push`] returned `Ok`, so under a router with a journal the
//! signal is durable (or was there already), and a crash after the ack loses nothing. An
//! envelope whose push failed (the bot is gone, the session ends, the journal failed) is not
//! acknowledged: Slack sends it again.
//!
//! The socket reader does not wait for each push: it maps each envelope and queues it here
//! ([`Job`]), and one future pushes the queue in the order read (so the order of every
//! channel's messages is kept) and hands back the envelope ids to acknowledge. A push waiting
//! for room in the bot's queue thus delays the acks of what came after it (Slack may send
//! those again: they are dropped as seen, by `event_id` in memory and by the journal across a
//! restart), never the reading of the socket, its pings or the acks of what was pushed.

use chatty_core::Signal;
use chatty_core::driver::{Link, lock};
use tokio::sync::mpsc;

use super::intake::Marks;
use crate::connect::system_error;
use crate::state::{Conn, State};

/// How many envelopes may wait for their push; past it the reader stops reading the socket
/// until the bot catches up.
pub(crate) const QUEUED: usize = 256;

/// One envelope read: what it carries for the bot, and the envelope to acknowledge once that
/// was pushed.
#[derive(Debug)]
pub(crate) struct Job {
    /// The envelope to acknowledge (none for a frame without one).
    pub(crate) envelope_id: Option<String>,
    /// What to push first.
    pub(crate) push: Push,
    /// What the intake remembered of it, to forget if it is never pushed.
    pub(crate) marks: Marks,
}

/// What an envelope carries for the bot.
#[derive(Debug)]
pub(crate) enum Push {
    /// Nothing (a redelivery, the bot's own message, an envelope the session does not map).
    Nothing,
    /// A signal.
    Signal(Box<Signal>),
    /// An envelope that cannot be read: a system error for the bot.
    Error(String),
}

/// Pushes the queued jobs in order and sends each one's envelope id to `acks` once its push
/// returned `Ok`. Returns `true` once the queue is closed and empty, `false` at the first push
/// that failed: then nothing more is pushed, and the intake forgets what it remembered of
/// every job not pushed (that one, those queued, and those the reader queues later, which it
/// cannot), so that Slack's redelivery of them is taken again.
pub(crate) async fn push_in_order(
    state: &State,
    conn: &Conn,
    link: &Link,
    mut jobs: mpsc::Receiver<Job>,
    acks: mpsc::UnboundedSender<String>,
) -> bool {
    while let Some(job) = jobs.recv().await {
        let pushed = match job.push {
            Push::Nothing => true,
            Push::Signal(signal) => link.push(*signal).await.is_ok(),
            Push::Error(message) => system_error(state, conn, link, message).await,
        };
        if !pushed {
            jobs.close();
            let mut intake = lock(&state.intake);
            intake.forget(&job.marks);
            while let Ok(job) = jobs.try_recv() {
                intake.forget(&job.marks);
            }
            return false;
        }
        if let Some(envelope_id) = job.envelope_id {
            // The reader is gone only when it stopped reading this connection.
            let _ = acks.send(envelope_id);
        }
    }
    true
}
