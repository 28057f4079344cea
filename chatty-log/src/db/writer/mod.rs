//! How a batch of writes of a [`StateDb`](super::StateDb) is committed: group commit on the
//! writer's connection ([`connection`](super::connection)); who commits when is the queue's
//! business ([`queue`](super::queue)).
//!
//! Every write (journal appends, acknowledgements, answers and marks; the Logger's records and
//! delivery statuses; the bots' values) is an [`Op`] in one queue. A committer takes everything queued (up to
//! [`MAX_BATCH`]), applies it in one transaction, commits, and only then answers each op's
//! waiter: a write is durable when its future resolves, and a write made after another is
//! never durable without it (a batch commits whole, batches commit in order).
//!
//! Inside a batch the ops are grouped by table ([`Plan`], shared with the PostgreSQL writer)
//! into multi-row statements, with the same result as applying them one by one in their order.
//! The writer remembers the numbers (`seq`) of the entries it appended until they are
//! acknowledged, so that an acknowledgement deletes by number; others are found by key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chatty_core::journal::{Appended, EntryId};
use rusqlite::{CachedStatement, Connection, ToSql, params};

use super::ops::{self, Counters, Op, Outcome, Unwritten};
use super::plan::{EntryRow, Plan, ValueWrite};
use super::sql;
use crate::error::LogError;

/// How many unacknowledged entries the writer remembers the numbers of (their
/// acknowledgement then deletes by number; others are found by key). Far more than a bot has
/// in hand at once.
const KNOWN: usize = 100_000;

/// The numbers of the entries this writer appended that are not acknowledged yet.
pub(crate) type Known = HashMap<EntryId, i64>;

/// The writer's end: what it reports to. Its connection is [`run`](Writer::run)'s.
#[derive(Debug)]
pub(crate) struct Writer {
    /// How many finished entries' keys are kept ([`StateConfig::keys_kept`]).
    ///
    /// [`StateConfig::keys_kept`]: crate::StateConfig::keys_kept
    pub(crate) keys_kept: u64,
    pub(crate) path: PathBuf,
    pub(crate) counters: Arc<Counters>,
    pub(crate) unwritten: Unwritten,
}

/// Why a commit failed, before it is given the database's path.
#[derive(Debug)]
pub(crate) enum Failure {
    Sqlite(rusqlite::Error),
    Other(String),
}

impl Failure {
    /// Whether another connection held the database: nothing of the batch was written, and
    /// waiting for the busy timeout may let it through.
    pub(crate) fn is_busy(&self) -> bool {
        matches!(
            self,
            Failure::Sqlite(e) if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            )
        )
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sqlite(e)
    }
}

/// One prepared statement being bound, parameter after parameter.
struct Bound<'c> {
    statement: CachedStatement<'c>,
    next: usize,
}

impl<'c> Bound<'c> {
    /// `sql`, from the connection's statement cache.
    fn new(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        Ok(Bound {
            statement: conn.prepare_cached(sql)?,
            next: 0,
        })
    }

    /// Binds the next parameter.
    fn bind(&mut self, value: impl ToSql) -> rusqlite::Result<&mut Self> {
        self.next += 1;
        self.statement.raw_bind_parameter(self.next, value)?;
        Ok(self)
    }

    /// Runs the statement: how many rows it changed.
    fn execute(mut self) -> rusqlite::Result<usize> {
        self.statement.raw_execute()
    }
}

impl Writer {
    /// Counts a commit of `writes` writes.
    pub(crate) fn count(&self, writes: u64) {
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.counters.writes.fetch_add(writes, Ordering::Relaxed);
    }

    /// The error of a write the writer did not take: it has closed.
    pub(crate) fn closed(&self) -> LogError {
        LogError::Closed {
            path: self.path.clone(),
        }
    }

    /// How many appends go between two prunings: a quarter of the keys kept, so that the
    /// journal holds at most a quarter more than it keeps, and at least 64.
    pub(crate) fn pruning_interval(&self) -> u64 {
        ops::pruning_interval(self.keys_kept)
    }

    /// Forgets what the journal no longer needs ([`sql::PRUNE_KEYS`], [`sql::PRUNE_ANSWERS`]),
    /// in a transaction of its own after a commit. A failure is only logged: the next pruning
    /// tries again, and nothing depends on it but the file's size.
    pub(crate) fn prune(&self, conn: &mut Connection) {
        let keep = i64::try_from(self.keys_kept).unwrap_or(i64::MAX);
        let pruned = (|| {
            let tx = Immediate::begin(conn)?;
            conn.prepare_cached(sql::PRUNE_KEYS)?.execute([keep])?;
            conn.prepare_cached(sql::PRUNE_ANSWERS)?.execute([])?;
            tx.commit()
        })();
        if let Err(e) = pruned {
            tracing::warn!(path = %self.path.display(), "pruning the journal failed: {e}");
        }
    }

    pub(crate) fn error(&self, failure: Failure) -> LogError {
        match failure {
            Failure::Sqlite(e) => LogError::from_sqlite(&self.path, e),
            Failure::Other(message) => {
                LogError::other(format!("{}: {message}", self.path.display()))
            }
        }
    }

    /// Applies `ops` in one transaction (`BEGIN IMMEDIATE`: a database held by another
    /// connection fails at the start, with nothing written); then remembers the numbers of the
    /// new entries not acknowledged yet in `known`.
    pub(crate) fn commit(
        &self,
        conn: &mut Connection,
        ops: &[Op],
        known: &mut Known,
    ) -> Result<Vec<Outcome>, Failure> {
        let mut plan = Plan::new(ops);
        if plan.is_empty() {
            return Ok(plan.outcomes);
        }
        let tx = Immediate::begin(conn)?;
        apply(conn, &mut plan, known)?;
        tx.commit()?;
        for entry in &plan.acks {
            known.remove(*entry);
        }
        for row in &plan.entries {
            if let (Some(seq), false) = (row.seq, row.acked)
                && known.len() < KNOWN
            {
                known.insert(row.entry.clone(), seq);
            }
        }
        Ok(plan.outcomes)
    }

    /// Answers every op of a batch with its outcome, or with the batch's error.
    pub(crate) fn answer(&self, ops: Vec<Op>, result: Result<Vec<Outcome>, LogError>) {
        ops::answer_batch(ops, result, &self.unwritten);
    }
}

/// A transaction begun by `BEGIN IMMEDIATE`, rolled back when dropped uncommitted.
///
/// rusqlite's own transaction prepares its `BEGIN` and `COMMIT` anew each time (they run as a
/// batch); these are kept in the connection's statement cache, which saves parsing two
/// statements on every commit of the writer.
struct Immediate<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Immediate<'c> {
    /// Begins it: a database held by another connection fails here, with nothing written.
    fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Immediate { conn, open: true })
    }

    /// Commits it; on an error it is rolled back when dropped.
    fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Applies the plan's statements on `conn` (in a transaction, or one statement alone).
fn apply(conn: &Connection, plan: &mut Plan<'_>, known: &Known) -> Result<(), Failure> {
    entries(conn, plan, known)?;
    journal_rest(conn, plan)?;
    values(conn, plan)?;
    records(conn, plan)
}

/// New entries (their keys, then the signals of those not acknowledged in this batch), then
/// the acknowledgements of entries not added by this batch.
fn entries(conn: &Connection, plan: &mut Plan<'_>, known: &Known) -> Result<(), Failure> {
    for (statement, chunk) in sql::INSERT_KEYS.chunks_mut(&mut plan.entries) {
        let mut query = Bound::new(conn, statement)?;
        for row in chunk.iter() {
            query
                .bind(&*row.entry.session)?
                .bind(row.entry.sender.as_str())?
                .bind(row.entry.id.as_str())?;
        }
        let added = query.execute()?;
        // The rows one insert adds have consecutive numbers, in the order of its values,
        // ending with the last one it added.
        let first = conn.last_insert_rowid() - added as i64 + 1;
        if added == chunk.len() {
            for (seq, row) in (first..).zip(chunk.iter_mut()) {
                row.seq = Some(seq);
            }
        } else {
            // Some were kept already: which were added, the numbers tell.
            let new = added_keys(conn, first, added)?;
            for row in chunk.iter_mut() {
                let key = (
                    row.entry.session.to_string(),
                    row.entry.sender.clone(),
                    row.entry.id.as_str().to_owned(),
                );
                row.seq = new.get(&key).copied();
            }
        }
    }
    let mut pending: Vec<&mut EntryRow<'_>> = Vec::with_capacity(plan.entries.len());
    for row in &mut plan.entries {
        match row.seq {
            None => plan.outcomes[row.op] = Outcome::Appended(Appended::Seen),
            Some(_) if !row.acked => pending.push(row),
            Some(_) => {}
        }
    }
    for (statement, chunk) in sql::INSERT_PENDING.chunks_mut(&mut pending) {
        let mut query = Bound::new(conn, statement)?;
        for row in chunk.iter() {
            query
                .bind(row.seq)?
                .bind(&*row.entry.session)?
                .bind(row.json)?;
        }
        query.execute()?;
    }
    // Acknowledgements of entries that were in the journal before this batch: by number when
    // this writer appended them, else by key.
    let (mut by_seq, mut by_key) = (Vec::new(), Vec::new());
    for entry in plan.earlier_acks() {
        match known.get(entry) {
            Some(&seq) => by_seq.push(seq),
            None => by_key.push(entry),
        }
    }
    for (statement, chunk) in sql::ACK_SEQS.chunks(&by_seq) {
        let mut query = Bound::new(conn, statement)?;
        for &seq in chunk {
            query.bind(seq)?;
        }
        query.execute()?;
    }
    for (statement, chunk) in sql::ACK_KEYS.chunks(&by_key) {
        let mut query = Bound::new(conn, statement)?;
        for entry in chunk {
            query
                .bind(&*entry.session)?
                .bind(entry.sender.as_str())?
                .bind(entry.id.as_str())?;
        }
        query.execute()?;
    }
    Ok(())
}

/// The keys, with their numbers, of the `added` rows numbered from `first` that an insert
/// into `journal_keys` added.
fn added_keys(
    conn: &Connection,
    first: i64,
    added: usize,
) -> rusqlite::Result<HashMap<(String, String, String), i64>> {
    if added == 0 {
        return Ok(HashMap::new());
    }
    let mut statement = conn.prepare_cached(sql::KEYS_BETWEEN)?;
    let rows = statement.query_map([first, first + added as i64 - 1], |row| {
        Ok(((row.get(1)?, row.get(2)?, row.get(3)?), row.get(0)?))
    })?;
    rows.collect()
}

/// Answers, marks and identity claims.
fn journal_rest(conn: &Connection, plan: &mut Plan<'_>) -> Result<(), Failure> {
    for (statement, chunk) in sql::INSERT_ANSWERS.chunks(&plan.answers) {
        let mut query = Bound::new(conn, statement)?;
        for &(session, of, number, confirmed) in chunk {
            query
                .bind(of)?
                .bind(session)?
                .bind(i64::from(number))?
                .bind(confirmed)?;
        }
        query.execute()?;
    }
    let marks: Vec<_> = plan.marks.iter().collect();
    for (statement, chunk) in sql::SET_MARKS.chunks(&marks) {
        let mut query = Bound::new(conn, statement)?;
        for ((session, name), value) in chunk {
            query.bind(*session)?.bind(*name)?.bind(**value)?;
        }
        query.execute()?;
    }
    for &(op, identity) in &plan.claims {
        conn.prepare_cached(sql::CLAIM_IDENTITY)?
            .execute([identity])?;
        let stored: String = conn
            .prepare_cached(sql::IDENTITY)?
            .query_row([], |row| row.get(0))?;
        plan.outcomes[op] = Outcome::Identity(stored);
    }
    Ok(())
}

/// The bots' values: the last write of each key, set or deleted; one by one, in order, in a
/// batch with a swap.
fn values(conn: &Connection, plan: &mut Plan<'_>) -> Result<(), Failure> {
    if plan.swaps {
        return values_in_order(conn, plan);
    }
    let (puts, deletes) = plan.value_writes();
    for (statement, chunk) in sql::PUT_VALUES.chunks(&puts) {
        let mut query = Bound::new(conn, statement)?;
        for &(scope, key, value) in chunk {
            query.bind(scope)?.bind(key)?.bind(value)?;
        }
        query.execute()?;
    }
    for (statement, chunk) in sql::DELETE_VALUES.chunks(&deletes) {
        let mut query = Bound::new(conn, statement)?;
        for &(scope, key) in chunk {
            query.bind(scope)?.bind(key)?;
        }
        query.execute()?;
    }
    Ok(())
}

/// The bots' values one write at a time, in the batch's order: each swap sees the writes
/// before it, this batch's and every committed one (the transaction holds the write lock).
fn values_in_order(conn: &Connection, plan: &mut Plan<'_>) -> Result<(), Failure> {
    for i in 0..plan.value_sequence.len() {
        let (scope, key, write) = plan.value_sequence[i];
        match write {
            ValueWrite::Put(Some(value)) => {
                conn.prepare_cached(sql::PUT_VALUE)?
                    .execute(params![scope, key, value])?;
            }
            ValueWrite::Put(None) => {
                conn.prepare_cached(sql::DELETE_VALUE)?
                    .execute(params![scope, key])?;
            }
            ValueWrite::Swap { op, expected, new } => {
                let swapped = match (expected, new) {
                    (None, Some(new)) => conn
                        .prepare_cached(sql::SWAP_FROM_NOTHING)?
                        .execute(params![scope, key, new])?,
                    (Some(old), Some(new)) => conn
                        .prepare_cached(sql::SWAP_VALUE)?
                        .execute(params![scope, key, old, new])?,
                    (Some(old), None) => conn
                        .prepare_cached(sql::SWAP_TO_NOTHING)?
                        .execute(params![scope, key, old])?,
                    (None, None) => {
                        let there: i64 = conn
                            .prepare_cached(sql::HAS_VALUE)?
                            .query_row(params![scope, key], |row| row.get(0))?;
                        usize::from(there == 0)
                    }
                };
                plan.outcomes[op] = Outcome::Swapped(swapped == 1);
            }
        }
    }
    Ok(())
}

/// The Logger's records with their addressees, then delivery statuses.
fn records(conn: &Connection, plan: &mut Plan<'_>) -> Result<(), Failure> {
    let mut addressees = Vec::new();
    for (statement, chunk) in sql::INSERT_SIGNALS.chunks(&plan.records) {
        let mut query = Bound::new(conn, statement)?;
        for record in chunk {
            let origin = record.origin.as_ref();
            query
                .bind(record.direction)?
                .bind(record.id.as_str())?
                .bind(record.kind.as_str())?
                .bind(record.response_to.as_deref())?
                .bind(origin.map(|o| o.0.as_str()))?
                .bind(origin.and_then(|o| o.1.as_deref()))?
                .bind(origin.map(|o| o.2.as_str()))?
                .bind(record.at_ms)?
                .bind(record.json.as_str())?;
        }
        let added = query.execute()?;
        if added != chunk.len() {
            return Err(Failure::Other(format!(
                "{added} of {} records inserted",
                chunk.len()
            )));
        }
        // The rows of one insert have consecutive numbers, in the order of its values.
        let first = conn.last_insert_rowid() - chunk.len() as i64 + 1;
        for (seq, record) in (first..).zip(chunk.iter()) {
            for addressee in &record.addressees {
                addressees.push((seq, record.direction, addressee));
            }
        }
    }
    for (statement, chunk) in sql::INSERT_ADDRESSEES.chunks(&addressees) {
        let mut query = Bound::new(conn, statement)?;
        for &(seq, direction, (platform, session, id)) in chunk {
            query
                .bind(seq)?
                .bind(direction)?
                .bind(platform.as_str())?
                .bind(session.as_deref())?
                .bind(id.as_str())?;
        }
        query.execute()?;
    }
    for (statement, chunk) in sql::UPSERT_STATUSES.chunks(&plan.statuses) {
        let mut query = Bound::new(conn, statement)?;
        for status in chunk {
            query
                .bind(status.id.as_str())?
                .bind(status.rank)?
                .bind(status.json.as_str())?
                .bind(status.at_ms)?;
        }
        query.execute()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
