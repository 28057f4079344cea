//! The writes of a [`StateDb`](super::StateDb), as queued for its writer whatever the backend:
//! [`Op`]s, and how the waiters of a batch are answered once it committed or failed.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use chatty_core::journal::{Appended, EntryId};
use tokio::sync::oneshot;

use crate::error::LogError;

/// The most ops one transaction takes: bounds the memory and the time of one commit.
pub(crate) const MAX_BATCH: usize = 8192;

/// Where a write's result goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, LogError>>;

/// One write, queued for the writer.
#[derive(Debug)]
pub(crate) enum Op {
    /// Journal: keep a signal unless its entry is kept already.
    Append {
        entry: EntryId,
        json: String,
        reply: Reply<Appended>,
    },
    /// Journal: the bot finished an entry (nobody waits).
    Ack { entry: EntryId },
    /// Journal: an answer is about to leave (`confirmed: false`) or left (`true`).
    Answered {
        session: String,
        of: String,
        number: u32,
        confirmed: bool,
        reply: Reply<()>,
    },
    /// Journal: a session's named value.
    SetMark {
        session: String,
        name: String,
        value: String,
        reply: Reply<()>,
    },
    /// Bots' state: set a value (`Some`) or delete it (`None`).
    PutValue {
        scope: String,
        key: String,
        value: Option<Vec<u8>>,
        reply: Reply<()>,
    },
    /// Bots' state: set a value (`new`, `None` to delete it) only if it is `expected` now
    /// (`None`: absent); answers whether it did.
    SwapValue {
        scope: String,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        reply: Reply<bool>,
    },
    /// Journal: store this identity if none is stored; answers the stored one.
    Claim {
        identity: String,
        reply: Reply<String>,
    },
    /// Logger: a signal in or out (nobody waits when the store queues its records).
    Record {
        record: Record,
        reply: Option<Reply<()>>,
    },
    /// Logger: raise a delivery status.
    Status {
        status: Status,
        reply: Option<Reply<()>>,
    },
    /// Resolves once everything queued before it is committed.
    Flush { reply: Reply<()> },
    /// Commits everything queued before it, then stops the writer.
    Close { reply: Reply<()> },
}

impl Op {
    /// Whether someone waits for this write's commit (an acknowledgement, or a record the
    /// store queues without waiting, rides with the next commit instead of making one).
    pub(crate) fn waited_for(&self) -> bool {
        match self {
            Op::Ack { .. } => false,
            Op::Record { reply, .. } => reply.is_some(),
            Op::Status { reply, .. } => reply.is_some(),
            _ => true,
        }
    }
}

/// A Logger record, encoded by the caller: the columns of `signals` and its addressees.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) direction: &'static str,
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) response_to: Option<String>,
    pub(crate) origin: Option<AddressParts>,
    pub(crate) at_ms: i64,
    pub(crate) json: String,
    pub(crate) addressees: Vec<AddressParts>,
}

/// An address in the columns of the log: platform, session, id.
pub(crate) type AddressParts = (String, Option<String>, String);

/// A delivery status, encoded by the caller.
#[derive(Debug)]
pub(crate) struct Status {
    pub(crate) id: String,
    pub(crate) rank: i64,
    pub(crate) json: String,
    pub(crate) at_ms: i64,
}

/// What a successful op answers.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Done,
    Appended(Appended),
    Identity(String),
    /// Whether a [`Op::SwapValue`] set its value.
    Swapped(bool),
}

/// Counts of what the writer did, shared with [`StateDb::stats`](super::StateDb::stats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) writes: AtomicU64,
}

/// Records written without a waiter that were lost with a failed commit: how many, and why.
/// The store reports them with its next record.
pub(crate) type Unwritten = Arc<Mutex<Option<(usize, String)>>>;

/// How many appends go between two prunings of a journal that keeps `keys_kept` finished
/// entries: a quarter of them, so that the journal holds at most a quarter more than it keeps,
/// and at least 64.
pub(crate) fn pruning_interval(keys_kept: u64) -> u64 {
    (keys_kept / 4).max(64)
}

/// Answers every op of a batch with its outcome, or with the batch's error; records nobody
/// waited for that a failed commit lost are counted in `unwritten`.
pub(crate) fn answer_batch(
    ops: Vec<Op>,
    result: Result<Vec<Outcome>, LogError>,
    unwritten: &Unwritten,
) {
    match result {
        Ok(outcomes) => {
            for (op, outcome) in ops.into_iter().zip(outcomes) {
                answer_one(op, Ok(outcome));
            }
        }
        Err(error) => {
            let lost = ops
                .iter()
                .filter(|op| {
                    matches!(
                        op,
                        Op::Record { reply: None, .. } | Op::Status { reply: None, .. }
                    )
                })
                .count();
            if lost > 0 {
                let mut unwritten = unwritten.lock().unwrap_or_else(|p| p.into_inner());
                let count = unwritten.as_ref().map_or(0, |(n, _)| *n) + lost;
                *unwritten = Some((count, error.to_string()));
            }
            let mut error = Some(error);
            let last = ops.len().saturating_sub(1);
            for (i, op) in ops.into_iter().enumerate() {
                let e = match (i == last, error.as_ref()) {
                    (true, _) => error.take(),
                    (false, Some(e)) => Some(e.replicate()),
                    (false, None) => None,
                };
                if let Some(e) = e {
                    answer_one(op, Err(e));
                }
            }
        }
    }
}

/// Sends one op's answer to its waiter, if it has one (a waiter that left is not an error).
fn answer_one(op: Op, result: Result<Outcome, LogError>) {
    fn done(reply: Reply<()>, result: Result<Outcome, LogError>) {
        let _ = reply.send(result.map(|_| ()));
    }
    match op {
        Op::Append { reply, .. } => {
            let _ = reply.send(result.map(|o| match o {
                Outcome::Appended(a) => a,
                _ => Appended::New,
            }));
        }
        Op::SwapValue { reply, .. } => {
            let _ = reply.send(result.map(|o| matches!(o, Outcome::Swapped(true))));
        }
        Op::Claim { reply, identity } => {
            let _ = reply.send(result.map(|o| match o {
                Outcome::Identity(stored) => stored,
                _ => identity,
            }));
        }
        Op::Answered { reply, .. }
        | Op::SetMark { reply, .. }
        | Op::PutValue { reply, .. }
        | Op::Flush { reply }
        | Op::Close { reply } => done(reply, result),
        Op::Record { reply, .. } | Op::Status { reply, .. } => {
            if let Some(reply) = reply {
                done(reply, result);
            }
        }
        Op::Ack { .. } => {}
    }
}
