//! How a batch of writes of a [`StateDb`](super::StateDb) is committed: group commit on the
//! writer's connection ([`connection`](super::connection)); who commits when is the queue's
//! business ([`queue`](super::queue)).
//!
//! Every write (journal appends, acknowledgements, answers and marks; the Logger's records and
//! delivery statuses) is an [`Op`] in one queue. A committer takes everything queued (up to
//! [`MAX_BATCH`]), applies it in one transaction, commits, and only then answers each op's
//! waiter: a write is durable when its future resolves, and a write made after another is
//! never durable without it (a batch commits whole, batches commit in order).
//!
//! Inside a batch the ops are grouped by table into multi-row statements. The result is the
//! same as applying them one by one in their order: the tables are independent, and within
//! the journal the only ops that interact are appends and acknowledgements of the same entry,
//! which [`Plan`] resolves in order: an acknowledgement after the entry's first append in the
//! batch means its signal is never stored as pending, one before it does nothing (as it would
//! have done alone), and one of an entry kept before the batch deletes its pending signal. The
//! writer remembers the numbers (`seq`) of the entries it appended until they are
//! acknowledged, so that an acknowledgement deletes by number; others are found by key.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chatty_core::journal::{Appended, EntryId};
use rusqlite::{CachedStatement, Connection, ToSql};
use tokio::sync::oneshot;

use super::sql;
use crate::error::LogError;

/// The most ops one transaction takes: bounds the memory and the time of one commit.
pub(crate) const MAX_BATCH: usize = 8192;

/// How many unacknowledged entries the writer remembers the numbers of (their
/// acknowledgement then deletes by number; others are found by key). Far more than a bot has
/// in hand at once.
const KNOWN: usize = 100_000;

/// The numbers of the entries this writer appended that are not acknowledged yet.
pub(crate) type Known = HashMap<EntryId, i64>;

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
    /// Platform, session, id.
    pub(crate) origin: Option<(String, Option<String>, String)>,
    pub(crate) at_ms: i64,
    pub(crate) json: String,
    /// Platform, session, id of each.
    pub(crate) addressees: Vec<(String, Option<String>, String)>,
}

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
        (self.keys_kept / 4).max(64)
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
                    let mut unwritten = self.unwritten.lock().unwrap_or_else(|p| p.into_inner());
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
    for &entry in &plan.acks {
        let before = plan
            .appended
            .get(entry)
            .is_none_or(|&at| plan.entries[at].seq.is_none());
        if before {
            match known.get(entry) {
                Some(&seq) => by_seq.push(seq),
                None => by_key.push(entry),
            }
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
        Op::Claim { reply, identity } => {
            let _ = reply.send(result.map(|o| match o {
                Outcome::Identity(stored) => stored,
                _ => identity,
            }));
        }
        Op::Answered { reply, .. }
        | Op::SetMark { reply, .. }
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

/// A journal entry to insert.
#[derive(Debug)]
struct EntryRow<'o> {
    /// Its op's position in the batch.
    op: usize,
    entry: &'o EntryId,
    json: &'o str,
    /// Acknowledged after it was appended, in this batch.
    acked: bool,
    /// Its number, once inserted; `None` if the journal held it already.
    seq: Option<i64>,
}

/// A batch sorted by table, with what each op answers if the commit succeeds.
#[derive(Debug)]
struct Plan<'o> {
    outcomes: Vec<Outcome>,
    /// New entries, in the order appended (the first append of each key).
    entries: Vec<EntryRow<'o>>,
    /// The entries appended in this batch, by key: their index in `entries`.
    appended: HashMap<&'o EntryId, usize>,
    /// Every key acknowledged in this batch.
    acks: HashSet<&'o EntryId>,
    /// Session, of, number, confirmed.
    answers: Vec<(&'o str, &'o str, u32, bool)>,
    /// The last value of each mark set in this batch.
    marks: HashMap<(&'o str, &'o str), &'o str>,
    /// Op position and identity.
    claims: Vec<(usize, &'o str)>,
    records: Vec<&'o Record>,
    statuses: Vec<&'o Status>,
}

impl<'o> Plan<'o> {
    fn new(ops: &'o [Op]) -> Self {
        let mut plan = Plan {
            outcomes: vec![Outcome::Done; ops.len()],
            entries: Vec::new(),
            appended: HashMap::new(),
            acks: HashSet::new(),
            answers: Vec::new(),
            marks: HashMap::new(),
            claims: Vec::new(),
            records: Vec::new(),
            statuses: Vec::new(),
        };
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Append { entry, json, .. } => {
                    let entry: &'o EntryId = entry;
                    if plan.appended.contains_key(entry) {
                        plan.outcomes[i] = Outcome::Appended(Appended::Seen);
                    } else {
                        plan.outcomes[i] = Outcome::Appended(Appended::New);
                        plan.appended.insert(entry, plan.entries.len());
                        plan.entries.push(EntryRow {
                            op: i,
                            entry,
                            json,
                            acked: false,
                            seq: None,
                        });
                    }
                }
                Op::Ack { entry } => {
                    let entry: &'o EntryId = entry;
                    if let Some(&at) = plan.appended.get(entry) {
                        plan.entries[at].acked = true;
                    }
                    plan.acks.insert(entry);
                }
                Op::Answered {
                    session,
                    of,
                    number,
                    confirmed,
                    ..
                } => {
                    let (session, of): (&'o String, &'o String) = (session, of);
                    plan.answers.push((session, of, *number, *confirmed));
                }
                Op::SetMark {
                    session,
                    name,
                    value,
                    ..
                } => {
                    let (session, name, value): (&'o String, &'o String, &'o String) =
                        (session, name, value);
                    plan.marks.insert((session, name), value);
                }
                Op::Claim { identity, .. } => {
                    let identity: &'o String = identity;
                    plan.claims.push((i, identity));
                }
                Op::Record { record, .. } => plan.records.push(record),
                Op::Status { status, .. } => plan.statuses.push(status),
                Op::Flush { .. } | Op::Close { .. } => {}
            }
        }
        plan
    }

    /// Whether nothing is to be written (only flushes and closes).
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.acks.is_empty()
            && self.answers.is_empty()
            && self.marks.is_empty()
            && self.claims.is_empty()
            && self.records.is_empty()
            && self.statuses.is_empty()
    }
}

#[cfg(test)]
mod tests;
