//! The PostgreSQL writer: a task of its own with one connection, committing what is queued by
//! group commit.
//!
//! Ops are queued in the order their methods are called. The task takes everything queued
//! (up to [`MAX_BATCH`], and up to a close), applies it in one transaction (one statement per
//! table, its rows as arrays), commits, and only then answers the waiters: a write is durable
//! (as far as the durability says) when its future resolves, and a write made after another is
//! never durable without it. While a batch commits the next one gathers. A batch of writes
//! nobody waits for (acknowledgements, queued records) waits up to [`LAZY`] for one somebody
//! waits for, to ride with it.
//!
//! Several processes may write one schema at once: entries are acknowledged by key (never by a
//! number only this writer knows), numbers come from sequences, and a batch that meets a
//! deadlock or a serialization failure with another writer's is rolled back and tried again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chatty_core::journal::Appended;
use sqlx::{Acquire, Connection, PgConnection, Postgres, Transaction};
use tokio::sync::mpsc;

use super::{WriterConnection, sql};
use crate::db::ops::{self, AddressParts, Counters, MAX_BATCH, Op, Outcome, Status, Unwritten};
use crate::db::plan::{Plan, ValueWrite};
use crate::error::LogError;

/// How long writes nobody waits for stay queued for a write somebody waits for to take them
/// along, before the writer commits them alone.
const LAZY: Duration = Duration::from_millis(20);

/// How many times a batch that lost a deadlock to another writer is tried again.
const RETRIES: usize = 5;

/// The writer task's state.
pub(super) struct PgWriter {
    /// `None` after it broke (the server went away): the next batch connects again.
    pub(super) conn: Option<PgConnection>,
    pub(super) connection: WriterConnection,
    pub(super) ops: mpsc::UnboundedReceiver<Op>,
    pub(super) shown: PathBuf,
    pub(super) keys_kept: u64,
    pub(super) counters: Arc<Counters>,
    pub(super) unwritten: Unwritten,
}

impl PgWriter {
    /// Commits batches until the last sender is gone or a close is committed; then closes the
    /// connection.
    pub(super) async fn run(mut self) {
        let mut appended_since_pruning = 0;
        let mut next: Option<Op> = None;
        loop {
            let first = match next.take() {
                Some(op) => op,
                None => match self.ops.recv().await {
                    Some(op) => op,
                    None => break,
                },
            };
            let mut batch = vec![first];
            self.gather(&mut batch, &mut next).await;
            let closing = matches!(batch.last(), Some(Op::Close { .. }));
            let appends = batch
                .iter()
                .filter(|op| matches!(op, Op::Append { .. }))
                .count() as u64;
            let result = self.commit(&batch).await;
            if result.is_ok() {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .writes
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                appended_since_pruning += appends;
            }
            ops::answer_batch(batch, result, &self.unwritten);
            if closing {
                break;
            }
            if appended_since_pruning >= ops::pruning_interval(self.keys_kept) {
                self.prune().await;
                appended_since_pruning = 0;
            }
        }
        // Closed: what came after the close (or raced it) is refused.
        self.ops.close();
        while let Ok(op) = self.ops.try_recv() {
            ops::answer_batch(vec![op], Err(self.closed()), &self.unwritten);
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Adds what is queued to `batch`, up to a close; waits a little for a write somebody
    /// waits for if none is in it. An op that did not fit is left in `next`.
    async fn gather(&mut self, batch: &mut Vec<Op>, next: &mut Option<Op>) {
        let mut waited_for = batch.iter().any(Op::waited_for);
        let deadline = tokio::time::Instant::now() + LAZY;
        loop {
            if matches!(batch.last(), Some(Op::Close { .. })) {
                return;
            }
            let op = match self.ops.try_recv() {
                Ok(op) => op,
                Err(_) if waited_for => return,
                Err(_) => match tokio::time::timeout_at(deadline, self.ops.recv()).await {
                    Ok(Some(op)) => op,
                    Ok(None) | Err(_) => return,
                },
            };
            if batch.len() >= MAX_BATCH {
                *next = Some(op);
                return;
            }
            waited_for |= op.waited_for();
            batch.push(op);
        }
    }

    /// The error of a write after the writer stopped.
    fn closed(&self) -> LogError {
        LogError::Closed {
            path: self.shown.clone(),
        }
    }

    /// Applies `ops` in one transaction and commits it, trying again after a deadlock with
    /// another writer. A connection that broke is made again for the next batch.
    async fn commit(&mut self, ops: &[Op]) -> Result<Vec<Outcome>, LogError> {
        let mut tries = 0;
        loop {
            let mut plan = Plan::new(ops);
            if plan.is_empty() {
                return Ok(plan.outcomes);
            }
            let conn = match &mut self.conn {
                Some(conn) => conn,
                None => {
                    let conn = self.connection.connect().await;
                    let conn = conn.map_err(|e| LogError::from_postgres(&self.shown, e))?;
                    self.conn.insert(conn)
                }
            };
            let result = async {
                let mut tx = Connection::begin(conn).await?;
                apply(&mut tx, &mut plan).await?;
                tx.commit().await
            }
            .await;
            match result {
                Ok(()) => return Ok(plan.outcomes),
                Err(e) if tries < RETRIES && is_conflict(&e) => {
                    tries += 1;
                    tracing::debug!(database = %self.shown.display(), "batch tried again: {e}");
                }
                Err(e) => {
                    if is_broken(&e) {
                        tracing::warn!(database = %self.shown.display(), "the writer's connection broke: {e}");
                        self.conn = None;
                    }
                    return Err(LogError::from_postgres(&self.shown, e));
                }
            }
        }
    }

    /// Forgets what the journal no longer needs, in a transaction of its own. A failure is only
    /// logged: the next pruning tries again.
    async fn prune(&mut self) {
        let keep = i64::try_from(self.keys_kept).unwrap_or(i64::MAX);
        let Some(conn) = &mut self.conn else {
            return;
        };
        let pruned = async {
            let mut tx = Connection::begin(conn).await?;
            sqlx::query(sql::PRUNE_KEYS)
                .bind(keep)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::PRUNE_ANSWERS).execute(&mut *tx).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = pruned {
            tracing::warn!(database = %self.shown.display(), "pruning the journal failed: {e}");
        }
    }
}

/// Whether `e` is a conflict with another transaction that trying again resolves: a deadlock
/// or a serialization failure.
fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40P01" | "40001")))
}

/// Whether `e` means the connection is gone (the server stopped or the network broke): the
/// writer connects again for the next batch.
fn is_broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        // admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

type Tx<'c> = Transaction<'c, Postgres>;

/// Applies the plan's statements in `tx`.
async fn apply(tx: &mut Tx<'_>, plan: &mut Plan<'_>) -> Result<(), sqlx::Error> {
    let conn = tx.acquire().await?;
    entries(conn, plan).await?;
    journal_rest(conn, plan).await?;
    values(conn, plan).await?;
    records(conn, plan).await
}

/// New entries (their keys, then the signals of those not acknowledged in this batch), then
/// the acknowledgements of entries not added by this batch, by key.
async fn entries(conn: &mut PgConnection, plan: &mut Plan<'_>) -> Result<(), sqlx::Error> {
    if !plan.entries.is_empty() {
        let column = |f: fn(&chatty_core::journal::EntryId) -> &str| -> Vec<&str> {
            plan.entries.iter().map(|row| f(row.entry)).collect()
        };
        let added: Vec<(i64, String, String, String)> = sqlx::query_as(sql::INSERT_KEYS)
            .bind(column(|e| &e.session))
            .bind(column(|e| &e.sender))
            .bind(column(|e| e.id.as_str()))
            .fetch_all(&mut *conn)
            .await?;
        let seqs: HashMap<(String, String, String), i64> = added
            .into_iter()
            .map(|(seq, session, sender, id)| ((session, sender, id), seq))
            .collect();
        for row in &mut plan.entries {
            let key = (
                row.entry.session.to_string(),
                row.entry.sender.clone(),
                row.entry.id.as_str().to_owned(),
            );
            row.seq = seqs.get(&key).copied();
            if row.seq.is_none() {
                plan.outcomes[row.op] = Outcome::Appended(Appended::Seen);
            }
        }
        let pending: Vec<_> = plan
            .entries
            .iter()
            .filter_map(|row| row.seq.filter(|_| !row.acked).map(|seq| (seq, row)))
            .collect();
        if !pending.is_empty() {
            sqlx::query(sql::INSERT_PENDING)
                .bind(pending.iter().map(|(seq, _)| *seq).collect::<Vec<i64>>())
                .bind(
                    pending
                        .iter()
                        .map(|(_, r)| &*r.entry.session)
                        .collect::<Vec<&str>>(),
                )
                .bind(pending.iter().map(|(_, r)| r.json).collect::<Vec<&str>>())
                .execute(&mut *conn)
                .await?;
        }
    }
    let acks: Vec<_> = plan.earlier_acks().collect();
    if !acks.is_empty() {
        sqlx::query(sql::ACK_KEYS)
            .bind(acks.iter().map(|e| &*e.session).collect::<Vec<&str>>())
            .bind(
                acks.iter()
                    .map(|e| e.sender.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(acks.iter().map(|e| e.id.as_str()).collect::<Vec<&str>>())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Answers, marks and identity claims.
async fn journal_rest(conn: &mut PgConnection, plan: &mut Plan<'_>) -> Result<(), sqlx::Error> {
    if !plan.answers.is_empty() {
        // One row per answer (a statement cannot update one row twice): confirmed wins.
        let mut merged: Vec<(&str, &str, u32, bool)> = Vec::with_capacity(plan.answers.len());
        let mut at: HashMap<(&str, &str, u32), usize> = HashMap::new();
        for &(session, of, number, confirmed) in &plan.answers {
            match at.get(&(session, of, number)) {
                Some(&i) => merged[i].3 |= confirmed,
                None => {
                    at.insert((session, of, number), merged.len());
                    merged.push((session, of, number, confirmed));
                }
            }
        }
        sqlx::query(sql::INSERT_ANSWERS)
            .bind(merged.iter().map(|a| a.1).collect::<Vec<&str>>())
            .bind(merged.iter().map(|a| a.0).collect::<Vec<&str>>())
            .bind(merged.iter().map(|a| i64::from(a.2)).collect::<Vec<i64>>())
            .bind(merged.iter().map(|a| a.3).collect::<Vec<bool>>())
            .execute(&mut *conn)
            .await?;
    }
    if !plan.marks.is_empty() {
        let marks: Vec<_> = plan.marks.iter().collect();
        sqlx::query(sql::SET_MARKS)
            .bind(marks.iter().map(|m| m.0.0).collect::<Vec<&str>>())
            .bind(marks.iter().map(|m| m.0.1).collect::<Vec<&str>>())
            .bind(marks.iter().map(|m| *m.1).collect::<Vec<&str>>())
            .execute(&mut *conn)
            .await?;
    }
    for &(op, identity) in &plan.claims {
        let claimed: Option<String> = sqlx::query_scalar(sql::CLAIM_IDENTITY)
            .bind(identity)
            .fetch_optional(&mut *conn)
            .await?;
        // Another writer's claim committed while this one waited for it: the statement's
        // snapshot did not see it, the next statement's does.
        let stored = match claimed {
            Some(stored) => stored,
            None => {
                sqlx::query_scalar(sql::IDENTITY)
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
        plan.outcomes[op] = Outcome::Identity(stored);
    }
    Ok(())
}

/// The bots' values: the last write of each key, set or deleted; one by one, in order, in a
/// batch with a swap.
async fn values(conn: &mut PgConnection, plan: &mut Plan<'_>) -> Result<(), sqlx::Error> {
    if plan.swaps {
        return values_in_order(conn, plan).await;
    }
    let (puts, deletes) = plan.value_writes();
    if !puts.is_empty() {
        sqlx::query(sql::PUT_VALUES)
            .bind(puts.iter().map(|p| p.0).collect::<Vec<&str>>())
            .bind(puts.iter().map(|p| p.1).collect::<Vec<&str>>())
            .bind(puts.iter().map(|p| p.2).collect::<Vec<&[u8]>>())
            .execute(&mut *conn)
            .await?;
    }
    if !deletes.is_empty() {
        sqlx::query(sql::DELETE_VALUES)
            .bind(deletes.iter().map(|d| d.0).collect::<Vec<&str>>())
            .bind(deletes.iter().map(|d| d.1).collect::<Vec<&str>>())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The bots' values one write at a time, in the batch's order: each swap sees the writes
/// before it, this batch's and those other writers committed.
async fn values_in_order(conn: &mut PgConnection, plan: &mut Plan<'_>) -> Result<(), sqlx::Error> {
    for i in 0..plan.value_sequence.len() {
        let (scope, key, write) = plan.value_sequence[i];
        let query = |statement| sqlx::query(statement).bind(scope).bind(key);
        match write {
            ValueWrite::Put(Some(value)) => {
                query(sql::PUT_VALUE)
                    .bind(value)
                    .execute(&mut *conn)
                    .await?;
            }
            ValueWrite::Put(None) => {
                query(sql::DELETE_VALUE).execute(&mut *conn).await?;
            }
            ValueWrite::Swap { op, expected, new } => {
                let changed = match (expected, new) {
                    (None, Some(new)) => query(sql::SWAP_FROM_NOTHING).bind(new),
                    (Some(old), Some(new)) => query(sql::SWAP_VALUE).bind(old).bind(new),
                    (Some(old), None) => query(sql::SWAP_TO_NOTHING).bind(old),
                    (None, None) => {
                        let there: i64 = sqlx::query_scalar(sql::HAS_VALUE)
                            .bind(scope)
                            .bind(key)
                            .fetch_one(&mut *conn)
                            .await?;
                        plan.outcomes[op] = Outcome::Swapped(there == 0);
                        continue;
                    }
                };
                let swapped = changed.execute(&mut *conn).await?.rows_affected() == 1;
                plan.outcomes[op] = Outcome::Swapped(swapped);
            }
        }
    }
    Ok(())
}

/// The Logger's records with their addressees, then delivery statuses.
async fn records(conn: &mut PgConnection, plan: &mut Plan<'_>) -> Result<(), sqlx::Error> {
    let records = &plan.records;
    if !records.is_empty() {
        let mut seqs: Vec<i64> = sqlx::query_scalar(sql::NEXT_SEQS)
            .bind(records.len() as i64)
            .fetch_all(&mut *conn)
            .await?;
        // Ascending, in the order of the records: the log's order.
        seqs.sort_unstable();
        let origin = |f: fn(&AddressParts) -> Option<&str>| {
            records
                .iter()
                .map(|r| r.origin.as_ref().and_then(f))
                .collect::<Vec<Option<&str>>>()
        };
        sqlx::query(sql::INSERT_SIGNALS)
            .bind(&seqs)
            .bind(records.iter().map(|r| r.direction).collect::<Vec<&str>>())
            .bind(records.iter().map(|r| r.id.as_str()).collect::<Vec<&str>>())
            .bind(
                records
                    .iter()
                    .map(|r| r.kind.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(
                records
                    .iter()
                    .map(|r| r.response_to.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(origin(|o| Some(o.0.as_str())))
            .bind(origin(|o| o.1.as_deref()))
            .bind(origin(|o| Some(o.2.as_str())))
            .bind(records.iter().map(|r| r.at_ms).collect::<Vec<i64>>())
            .bind(
                records
                    .iter()
                    .map(|r| r.json.as_str())
                    .collect::<Vec<&str>>(),
            )
            .execute(&mut *conn)
            .await?;
        let addressees: Vec<_> = seqs
            .iter()
            .zip(records.iter())
            .flat_map(|(&seq, r)| r.addressees.iter().map(move |a| (seq, r.direction, a)))
            .collect();
        if !addressees.is_empty() {
            sqlx::query(sql::INSERT_ADDRESSEES)
                .bind(addressees.iter().map(|a| a.0).collect::<Vec<i64>>())
                .bind(addressees.iter().map(|a| a.1).collect::<Vec<&str>>())
                .bind(
                    addressees
                        .iter()
                        .map(|a| a.2.0.as_str())
                        .collect::<Vec<&str>>(),
                )
                .bind(
                    addressees
                        .iter()
                        .map(|a| a.2.1.as_deref())
                        .collect::<Vec<Option<&str>>>(),
                )
                .bind(
                    addressees
                        .iter()
                        .map(|a| a.2.2.as_str())
                        .collect::<Vec<&str>>(),
                )
                .execute(&mut *conn)
                .await?;
        }
    }
    if !plan.statuses.is_empty() {
        let statuses = furthest_statuses(&plan.statuses);
        sqlx::query(sql::UPSERT_STATUSES)
            .bind(
                statuses
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(statuses.iter().map(|s| s.rank).collect::<Vec<i64>>())
            .bind(
                statuses
                    .iter()
                    .map(|s| s.json.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(statuses.iter().map(|s| s.at_ms).collect::<Vec<i64>>())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// One status per id: the first of the furthest (as SQLite's rows applied in order leave it).
fn furthest_statuses<'o>(statuses: &[&'o Status]) -> Vec<&'o Status> {
    let mut kept: Vec<&Status> = Vec::with_capacity(statuses.len());
    let mut at: HashMap<&str, usize> = HashMap::new();
    for &status in statuses {
        match at.get(status.id.as_str()) {
            Some(&i) if status.rank > kept[i].rank => kept[i] = status,
            Some(_) => {}
            None => {
                at.insert(&status.id, kept.len());
                kept.push(status);
            }
        }
    }
    kept
}
