//! The writer's queue, and who commits it.
//!
//! Writes are queued in the order their methods are called. One committer at a time takes
//! what is queued and commits it ([`Writer::commit`]); batches therefore commit whole and in
//! order, whoever the committer is:
//!
//! - **The task that waits**, when nobody is committing (with durability `normal`): the first
//!   poll of a write's future commits what is queued on the task's own thread, a few tens of
//!   microseconds for a small batch. A commit handed to another thread costs two thread
//!   wake-ups, and on the 2-core machine these cost more than the commit (measured in
//!   `docs/benchmarks.md`). It never waits for a lock: a database another connection holds
//!   fails at `BEGIN IMMEDIATE` with nothing written, and the batch goes back to the head of
//!   the queue for the writer's thread. Nor does it take a big batch ([`INLINE_LIMIT`]).
//! - **The writer's thread**, for everything else: batches with durability `full` (whose
//!   commit waits for `fsync`), big batches, batches that met a lock (waiting up to the busy
//!   timeout), writes nobody waits for (an acknowledgement, a queued Logger record: after
//!   [`LAZY`] unless a commit takes them along first), the close, and the upkeep: pruning the
//!   journal, and the WAL checkpoints, which SQLite would otherwise run inside a commit (with
//!   `fsync`s) and so on the caller's thread.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use super::ops::{MAX_BATCH, Op, Outcome};
use super::writer::{Failure, Known, Writer};
use crate::error::LogError;

/// The most writes a waiting task commits itself; more go to the writer's thread.
const INLINE_LIMIT: usize = 64;

/// How long writes nobody waits for (or whose waiter has not come to wait yet) stay queued for
/// a commit to take them along, before the writer's thread commits them.
const LAZY: Duration = Duration::from_millis(20);

/// How many batches in a row a task commits while other tasks' writes keep coming.
const INLINE_ROUNDS: usize = 4;

/// Commits between two WAL checkpoints (when tasks commit, SQLite's own checkpoints are off):
/// a quiet bot's commits add a few pages each, about SQLite's default of 1 000 pages.
const CHECKPOINT_COMMITS: u64 = 250;

/// Writes between two WAL checkpoints, for big batches.
const CHECKPOINT_WRITES: u64 = 5_000;

/// Who commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Committer {
    /// A waiting task, on its own thread: never waits for a lock.
    Task,
    /// The writer's thread: waits up to the busy timeout.
    Thread,
}

/// The queue and its committers. Shared by every clone of the database and the writer's
/// thread.
#[derive(Debug)]
pub(crate) struct WriteQueue {
    state: Mutex<State>,
    /// Wakes the writer's thread.
    wake: Condvar,
    /// The connection, and what the committers share: only the one committing holds it.
    conn: Mutex<Conn>,
    writer: Writer,
    /// Whether waiting tasks may commit (durability `normal`).
    by_tasks: bool,
    busy_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    ops: Vec<Op>,
    /// Whether a queued op has a waiter.
    waited_for: bool,
    /// The writer's thread is to commit what is queued now.
    for_thread: bool,
    /// The writer's thread waits with nothing queued (no timer): a write wakes it.
    thread_idle: bool,
    /// Whether a committer has taken a batch (or is doing upkeep).
    committing: bool,
    /// No more writes are taken (after a close, or when the writer stopped).
    closed: bool,
    /// The last database handle is gone: commit what is queued and stop.
    stopping: bool,
    appended_since_pruning: u64,
    commits_since_checkpoint: u64,
    writes_since_checkpoint: u64,
}

#[derive(Debug)]
struct Conn {
    /// `None` once closed.
    conn: Option<Connection>,
    known: Known,
    /// Whether the connection's busy timeout is on (the thread's) or off (a task's).
    waits: bool,
}

impl WriteQueue {
    /// The queue of `writer` on `conn`; `by_tasks`: waiting tasks may commit. With it, SQLite's
    /// automatic checkpoints are turned off: the writer's thread runs them.
    pub(crate) fn new(
        writer: Writer,
        conn: Connection,
        by_tasks: bool,
        busy_timeout: Duration,
    ) -> Result<Self, LogError> {
        if by_tasks {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(|e| LogError::from_sqlite(&writer.path, e))?;
        }
        Ok(WriteQueue {
            state: Mutex::default(),
            wake: Condvar::new(),
            conn: Mutex::new(Conn {
                conn: Some(conn),
                known: Known::new(),
                waits: true,
            }),
            writer,
            by_tasks,
            busy_timeout,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `op`; false (and `op` dropped, its waiter told the writer is gone) if the
    /// writer has closed.
    pub(crate) fn push(&self, op: Op) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        let waited_for = op.waited_for();
        if matches!(op, Op::Close { .. }) || (waited_for && !self.by_tasks) {
            state.for_thread = true;
            self.wake.notify_one();
        } else if !waited_for && state.thread_idle {
            // Its timer starts: what no commit takes along meanwhile, it commits. (A write
            // somebody waits for is committed when they come to wait: see `drive`.)
            state.thread_idle = false;
            self.wake.notify_one();
        }
        state.waited_for |= waited_for;
        state.ops.push(op);
        true
    }

    /// Called by a task about to wait for a write: commits what is queued on this thread if
    /// nobody is committing and the batch is small; else leaves it to the writer's thread.
    pub(crate) fn drive(&self) {
        if !self.by_tasks {
            return;
        }
        let mut state = self.state();
        for _ in 0..INLINE_ROUNDS {
            if state.committing || !state.waited_for || state.closed || state.for_thread {
                return;
            }
            let closing = state.ops.iter().any(|op| matches!(op, Op::Close { .. }));
            if state.ops.len() > INLINE_LIMIT || closing {
                break;
            }
            state = self.commit_queued(state, Committer::Task);
        }
        if !state.committing && !state.closed {
            if state.waited_for {
                state.for_thread = true;
                self.wake.notify_one();
            } else if self.upkeep_due(&state) {
                self.wake.notify_one();
            }
        }
    }

    /// The writer's thread: commits what tasks leave to it, and does the upkeep, until the
    /// last database handle is gone or a close is committed.
    pub(crate) fn run(&self) {
        let mut state = self.state();
        loop {
            if !state.committing {
                // Writes somebody waits for that came while a batch was committed (their
                // tasks found it busy) go at once: the commits follow each other, as the
                // batches gather behind them.
                if !state.ops.is_empty() && (state.for_thread || state.waited_for || state.stopping)
                {
                    state = self.commit_queued(state, Committer::Thread);
                    continue;
                }
                if self.upkeep_due(&state) {
                    state = self.upkeep(state);
                    continue;
                }
                if state.closed || (state.stopping && state.ops.is_empty()) {
                    break;
                }
            }
            if state.ops.is_empty() && !state.committing {
                state.thread_idle = true;
                state = self
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.thread_idle = false;
            } else {
                let (guard, waited) = self
                    .wake
                    .wait_timeout(state, LAZY)
                    .unwrap_or_else(PoisonError::into_inner);
                state = guard;
                if waited.timed_out() && !state.ops.is_empty() {
                    // Nobody took them along: the thread commits them.
                    state.for_thread = true;
                }
            }
        }
        state.closed = true;
        drop(state);
        self.conn().conn = None;
    }

    /// The last database handle is gone: the thread commits what is queued and stops.
    pub(crate) fn stop(&self) {
        self.state().stopping = true;
        self.wake.notify_one();
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a batch from the queue and commits it as `by` commits; returns with the state
    /// locked again and `committing` off.
    fn commit_queued<'s>(
        &'s self,
        mut state: MutexGuard<'s, State>,
        by: Committer,
    ) -> MutexGuard<'s, State> {
        state.committing = true;
        let n = state.ops.len().min(MAX_BATCH);
        let ops: Vec<Op> = state.ops.drain(..n).collect();
        state.waited_for = state.ops.iter().any(Op::waited_for);
        state.for_thread &= !state.ops.is_empty();
        drop(state);
        let closing = ops.iter().any(|op| matches!(op, Op::Close { .. }));
        let mut conn = self.conn();
        let result = match self.commit_on(&mut conn, by, &ops) {
            Some(Err(failure)) if by == Committer::Task && failure.is_busy() => {
                // Held by another connection: nothing was written; the thread waits for it.
                drop(conn);
                let mut state = self.state();
                let later = std::mem::replace(&mut state.ops, ops);
                state.ops.extend(later);
                state.waited_for = true;
                state.for_thread = true;
                state.committing = false;
                self.wake.notify_one();
                return state;
            }
            Some(result) => result.map_err(|e| self.writer.error(e)),
            None => Err(self.writer.closed()),
        };
        if closing {
            // Closed before the close is answered: whoever closed may open the file again.
            conn.conn = None;
        }
        drop(conn);
        let writes = ops.len() as u64;
        let appends = ops
            .iter()
            .filter(|op| matches!(op, Op::Append { .. }))
            .count() as u64;
        let committed = result.is_ok();
        if committed {
            self.writer.count(writes);
        }
        self.writer.answer(ops, result);
        let mut state = self.state();
        state.committing = false;
        if committed {
            state.appended_since_pruning += appends;
            state.commits_since_checkpoint += 1;
            state.writes_since_checkpoint += writes;
        }
        if closing {
            state.closed = true;
            for op in std::mem::take(&mut state.ops) {
                self.writer.answer(vec![op], Err(self.writer.closed()));
            }
        }
        state
    }

    /// Commits `ops` on the connection, with the busy timeout of `by`; `None` once closed.
    fn commit_on(
        &self,
        conn: &mut Conn,
        by: Committer,
        ops: &[Op],
    ) -> Option<Result<Vec<Outcome>, Failure>> {
        let c = conn.conn.as_mut()?;
        let waits = by == Committer::Thread;
        if conn.waits != waits {
            let timeout = if waits {
                self.busy_timeout
            } else {
                Duration::ZERO
            };
            if let Err(e) = c.busy_timeout(timeout) {
                return Some(Err(Failure::Sqlite(e)));
            }
            conn.waits = waits;
        }
        Some(self.writer.commit(c, ops, &mut conn.known))
    }

    /// Whether pruning or a checkpoint is due.
    fn upkeep_due(&self, state: &State) -> bool {
        let checkpoint = self.by_tasks
            && (state.commits_since_checkpoint >= CHECKPOINT_COMMITS
                || state.writes_since_checkpoint >= CHECKPOINT_WRITES);
        !state.closed
            && (checkpoint || state.appended_since_pruning >= self.writer.pruning_interval())
    }

    /// Prunes the journal and checkpoints the WAL, as due; returns with the state locked again.
    fn upkeep<'s>(&'s self, mut state: MutexGuard<'s, State>) -> MutexGuard<'s, State> {
        state.committing = true;
        let prune = state.appended_since_pruning >= self.writer.pruning_interval();
        let checkpoint = self.by_tasks
            && (state.commits_since_checkpoint >= CHECKPOINT_COMMITS
                || state.writes_since_checkpoint >= CHECKPOINT_WRITES);
        drop(state);
        let mut conn = self.conn();
        if let Some(c) = conn.conn.as_mut() {
            if prune {
                self.writer.prune(c);
            }
            if checkpoint {
                // Passive: copies what no reader still needs, never waits for one.
                let done = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(e) = done {
                    tracing::warn!(path = %self.writer.path.display(), "checkpoint failed: {e}");
                }
            }
        }
        drop(conn);
        let mut state = self.state();
        state.committing = false;
        if prune {
            state.appended_since_pruning = 0;
        }
        if checkpoint {
            state.commits_since_checkpoint = 0;
            state.writes_since_checkpoint = 0;
        }
        state
    }
}

#[cfg(test)]
mod tests;
