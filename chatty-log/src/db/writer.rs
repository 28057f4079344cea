//! The one writer of a [`StateDb`](super::StateDb): group commit.
//!
//! Every write (journal appends, acknowledgements, answers and marks; the Logger's records and
//! delivery statuses) is an [`Op`] on one channel. The writer takes everything queued (up to
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
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::sql;
use crate::error::LogError;

/// The most ops one transaction takes: bounds the memory and the time of one commit.
const MAX_BATCH: usize = 8192;

/// How many unacknowledged entries the writer remembers the numbers of (their
/// acknowledgement then deletes by number; others are found by key). Far more than a bot has
/// in hand at once.
const KNOWN: usize = 100_000;

/// The numbers of the entries this writer appended that are not acknowledged yet.
type Known = HashMap<EntryId, i64>;

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
enum Outcome {
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

/// The writer's end: its connection pool and what it reports to.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) pool: SqlitePool,
    /// Whether the writer keeps its connection between commits (not when readers share it).
    pub(crate) holds: bool,
    /// How many finished entries' keys are kept ([`StateConfig::keys_kept`]).
    ///
    /// [`StateConfig::keys_kept`]: crate::StateConfig::keys_kept
    pub(crate) keys_kept: u64,
    pub(crate) path: PathBuf,
    pub(crate) counters: Arc<Counters>,
    pub(crate) unwritten: Unwritten,
}

impl Writer {
    /// Runs until every sender is gone or a [`Op::Close`] was committed.
    pub(crate) async fn run(self, mut queue: mpsc::UnboundedReceiver<Op>) {
        let mut ops = Vec::new();
        let mut known = Known::new();
        // The writer keeps its connection from one commit to the next (taking it from the pool
        // and giving it back each time costs more than a small commit); it takes a new one
        // after a failed commit.
        let mut held: Option<PoolConnection<Sqlite>> = None;
        let mut appended_since_pruning = 0_u64;
        while queue.recv_many(&mut ops, MAX_BATCH).await > 0 {
            let closing = ops.iter().any(|op| matches!(op, Op::Close { .. }));
            let result = match &mut held {
                Some(conn) => self.commit(conn, &mut ops, &mut known).await,
                None => match self.pool.acquire().await {
                    Ok(conn) => self.commit(held.insert(conn), &mut ops, &mut known).await,
                    Err(e) => Err(self.error(e)),
                },
            };
            if result.is_err() || closing || !self.holds {
                // Back to the pool before the close is answered, so that closing it finds the
                // connection there.
                held = None;
            }
            if result.is_ok() {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .writes
                    .fetch_add(ops.len() as u64, Ordering::Relaxed);
                appended_since_pruning += ops
                    .iter()
                    .filter(|op| matches!(op, Op::Append { .. }))
                    .count() as u64;
            }
            self.answer(std::mem::take(&mut ops), result);
            if appended_since_pruning >= self.pruning_interval() && !closing {
                appended_since_pruning = 0;
                match &mut held {
                    Some(conn) => self.prune(conn).await,
                    None => {
                        if let Ok(mut conn) = self.pool.acquire().await {
                            self.prune(&mut conn).await;
                        }
                    }
                }
            }
            if closing {
                queue.close();
                while let Ok(op) = queue.try_recv() {
                    self.answer(
                        vec![op],
                        Err(LogError::Closed {
                            path: self.path.clone(),
                        }),
                    );
                }
                return;
            }
        }
    }

    /// How many appends go between two prunings: a quarter of the keys kept, so that the
    /// journal holds at most a quarter more than it keeps, and at least 64.
    fn pruning_interval(&self) -> u64 {
        (self.keys_kept / 4).max(64)
    }

    /// Forgets what the journal no longer needs ([`sql::PRUNE_KEYS`], [`sql::PRUNE_ANSWERS`]),
    /// in a transaction of its own after a commit. A failure is only logged: the next pruning
    /// tries again, and nothing depends on it but the file's size.
    async fn prune(&self, conn: &mut PoolConnection<Sqlite>) {
        let keep = i64::try_from(self.keys_kept).unwrap_or(i64::MAX);
        let pruned = async {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, "BEGIN IMMEDIATE").await?;
            sqlx::query(sql::PRUNE_KEYS)
                .bind(keep)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::PRUNE_ANSWERS).execute(&mut *tx).await?;
            tx.commit().await
        };
        if let Err(e) = pruned.await {
            tracing::warn!(path = %self.path.display(), "pruning the journal failed: {e}");
        }
    }

    fn error(&self, e: sqlx::Error) -> LogError {
        LogError::from_sqlx(&self.path, e)
    }

    /// Applies `ops` in one transaction; then remembers the numbers of the new entries not
    /// acknowledged yet in `known`. Takes the JSON out of the ops (bound without a copy).
    async fn commit(
        &self,
        conn: &mut PoolConnection<Sqlite>,
        ops: &mut [Op],
        known: &mut Known,
    ) -> Result<Vec<Outcome>, LogError> {
        let mut plan = Plan::new(ops);
        if plan.is_empty() {
            return Ok(plan.outcomes);
        }
        if plan.statements(known) == 1 {
            // One statement is a transaction of its own: no BEGIN and COMMIT, two round trips
            // to SQLite's worker fewer (a quiet bot's commits are mostly of one statement).
            self.apply(conn, &mut plan, known).await?;
        } else {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, "BEGIN IMMEDIATE")
                .await
                .map_err(|e| self.error(e))?;
            self.apply(&mut tx, &mut plan, known).await?;
            tx.commit().await.map_err(|e| self.error(e))?;
        }
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

    /// Applies the plan's statements on `conn` (in a transaction, or one statement alone).
    async fn apply(
        &self,
        conn: &mut SqliteConnection,
        plan: &mut Plan<'_>,
        known: &Known,
    ) -> Result<(), LogError> {
        self.entries(conn, plan, known).await?;
        self.journal_rest(conn, plan).await?;
        self.records(conn, plan).await
    }

    /// New entries (their keys, then the signals of those not acknowledged in this batch),
    /// then the acknowledgements of entries not added by this batch.
    async fn entries(
        &self,
        conn: &mut SqliteConnection,
        plan: &mut Plan<'_>,
        known: &Known,
    ) -> Result<(), LogError> {
        for (statement, chunk) in sql::INSERT_KEYS.chunks_mut(&mut plan.entries) {
            let mut query = sqlx::query(statement);
            for row in chunk.iter() {
                query = query
                    .bind(row.entry.session.clone())
                    .bind(row.entry.sender.as_str())
                    .bind(row.entry.id.as_str());
            }
            let done = query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
            let added = done.rows_affected() as usize;
            // The rows one insert adds have consecutive numbers, in the order of its values,
            // ending with the last one it added.
            let first = done.last_insert_rowid() - added as i64 + 1;
            if added == chunk.len() {
                for (seq, row) in (first..).zip(chunk.iter_mut()) {
                    row.seq = Some(seq);
                }
            } else {
                // Some were kept already: which were added, the numbers tell.
                let new = self.added_keys(conn, first, added).await?;
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
            let mut query = sqlx::query(statement);
            for row in chunk.iter_mut() {
                query = query
                    .bind(row.seq)
                    .bind(row.entry.session.clone())
                    .bind(std::mem::take(&mut row.json));
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        // Acknowledgements of entries that were in the journal before this batch: by number
        // when this writer appended them, else by key.
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
            let mut query = sqlx::query(statement);
            for &seq in chunk {
                query = query.bind(seq);
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        for (statement, chunk) in sql::ACK_KEYS.chunks(&by_key) {
            let mut query = sqlx::query(statement);
            for entry in chunk {
                query = query
                    .bind(entry.session.clone())
                    .bind(entry.sender.as_str())
                    .bind(entry.id.as_str());
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// The keys, with their numbers, of the `added` rows numbered from `first` that an insert
    /// into `journal_keys` added.
    async fn added_keys(
        &self,
        conn: &mut SqliteConnection,
        first: i64,
        added: usize,
    ) -> Result<HashMap<(String, String, String), i64>, LogError> {
        if added == 0 {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(sql::KEYS_BETWEEN)
            .bind(first)
            .bind(first + added as i64 - 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(|(seq, session, sender, id)| ((session, sender, id), seq))
            .collect())
    }

    /// Answers, marks and identity claims.
    async fn journal_rest(
        &self,
        conn: &mut SqliteConnection,
        plan: &mut Plan<'_>,
    ) -> Result<(), LogError> {
        for (statement, chunk) in sql::INSERT_ANSWERS.chunks(&plan.answers) {
            let mut query = sqlx::query(statement);
            for &(session, of, number, confirmed) in chunk {
                query = query
                    .bind(of)
                    .bind(session)
                    .bind(i64::from(number))
                    .bind(confirmed);
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        let marks: Vec<_> = plan.marks.iter().collect();
        for (statement, chunk) in sql::SET_MARKS.chunks(&marks) {
            let mut query = sqlx::query(statement);
            for ((session, name), value) in chunk {
                query = query.bind(*session).bind(*name).bind(**value);
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        for &(op, identity) in &plan.claims {
            sqlx::query(sql::CLAIM_IDENTITY)
                .bind(identity)
                .execute(&mut *conn)
                .await
                .map_err(|e| self.error(e))?;
            let stored: String = sqlx::query_scalar(sql::IDENTITY)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.error(e))?;
            plan.outcomes[op] = Outcome::Identity(stored);
        }
        Ok(())
    }

    /// The Logger's records with their addressees, then delivery statuses.
    async fn records(
        &self,
        conn: &mut SqliteConnection,
        plan: &mut Plan<'_>,
    ) -> Result<(), LogError> {
        let mut addressees = Vec::new();
        for (statement, chunk) in sql::INSERT_SIGNALS.chunks(&plan.records) {
            let mut query = sqlx::query(statement);
            for record in chunk {
                let origin = record.origin.as_ref();
                query = query
                    .bind(record.direction)
                    .bind(record.id.as_str())
                    .bind(record.kind.as_str())
                    .bind(record.response_to.as_deref())
                    .bind(origin.map(|o| o.0.as_str()))
                    .bind(origin.and_then(|o| o.1.as_deref()))
                    .bind(origin.map(|o| o.2.as_str()))
                    .bind(record.at_ms)
                    .bind(record.json.as_str());
            }
            let done = query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
            if done.rows_affected() as usize != chunk.len() {
                return Err(LogError::other(format!(
                    "{}: {} of {} records inserted",
                    self.path.display(),
                    done.rows_affected(),
                    chunk.len()
                )));
            }
            // The rows of one insert have consecutive numbers, in the order of its values.
            let first = done.last_insert_rowid() - chunk.len() as i64 + 1;
            for (seq, record) in (first..).zip(chunk.iter()) {
                for addressee in &record.addressees {
                    addressees.push((seq, record.direction, addressee));
                }
            }
        }
        for (statement, chunk) in sql::INSERT_ADDRESSEES.chunks(&addressees) {
            let mut query = sqlx::query(statement);
            for &(seq, direction, (platform, session, id)) in chunk {
                query = query
                    .bind(seq)
                    .bind(direction)
                    .bind(platform.as_str())
                    .bind(session.as_deref())
                    .bind(id.as_str());
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        for (statement, chunk) in sql::UPSERT_STATUSES.chunks(&plan.statuses) {
            let mut query = sqlx::query(statement);
            for status in chunk {
                query = query
                    .bind(status.id.as_str())
                    .bind(status.rank)
                    .bind(status.json.as_str())
                    .bind(status.at_ms);
            }
            query.execute(&mut *conn).await.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Answers every op of a batch with its outcome, or with the batch's error.
    fn answer(&self, ops: Vec<Op>, result: Result<Vec<Outcome>, LogError>) {
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
    json: String,
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
    /// How many statements the plan takes at least; exact when it is one (the writer then
    /// runs it without a transaction around it). New entries take two or more (their keys,
    /// then their signals), records two (with their addressees), identity claims two.
    fn statements(&self, known: &Known) -> usize {
        if !self.entries.is_empty() || !self.records.is_empty() || !self.claims.is_empty() {
            return 2;
        }
        let by_seq = self.acks.iter().filter(|e| known.get(e).is_some()).count();
        let by_key = self.acks.len() - by_seq;
        [
            by_seq,
            by_key,
            self.answers.len(),
            self.marks.len(),
            self.statuses.len(),
        ]
        .into_iter()
        .map(sql::statements_for)
        .sum()
    }

    fn new(ops: &'o mut [Op]) -> Self {
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
        for (i, op) in ops.iter_mut().enumerate() {
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
                            json: std::mem::take(json),
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
