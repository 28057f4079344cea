//! A batch of [`Op`]s sorted by table, whatever the backend: the rows each statement writes,
//! and what each op answers if the batch commits.
//!
//! The result of applying a plan is the same as applying its ops one by one in their order:
//! the tables are independent, and within the journal the only ops that interact are appends
//! and acknowledgements of the same entry, resolved here in order: an acknowledgement after the
//! entry's first append in the batch means its signal is never stored as pending, one before it
//! does nothing (as it would have done alone), and one of an entry kept before the batch
//! deletes its pending signal. Of the bots' values, as of the marks, the last write of each key
//! in the batch is the one applied.

use std::collections::{HashMap, HashSet};

use chatty_core::journal::{Appended, EntryId};

use super::ops::{Op, Outcome, Record, Status};

/// A journal entry to insert.
#[derive(Debug)]
pub(crate) struct EntryRow<'o> {
    /// Its op's position in the batch.
    pub(crate) op: usize,
    pub(crate) entry: &'o EntryId,
    pub(crate) json: &'o str,
    /// Acknowledged after it was appended, in this batch.
    pub(crate) acked: bool,
    /// Its number, once inserted; `None` if the journal held it already.
    pub(crate) seq: Option<i64>,
}

/// A bot's value to set: scope, key, value.
pub(crate) type ValueRow<'o> = (&'o str, &'o str, &'o [u8]);

/// A bot's value to delete: scope, key.
pub(crate) type ValueKey<'o> = (&'o str, &'o str);

/// A write of a bot's value, in the order of the batch: what a batch with a swap applies one
/// by one (a swap's outcome depends on the writes before it).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueWrite<'o> {
    /// Set (`Some`) or delete (`None`).
    Put(Option<&'o [u8]>),
    /// The op at this position: set `new` if the value is `expected`.
    Swap {
        op: usize,
        expected: Option<&'o [u8]>,
        new: Option<&'o [u8]>,
    },
}

/// A batch sorted by table, with what each op answers if the commit succeeds.
#[derive(Debug)]
pub(crate) struct Plan<'o> {
    pub(crate) outcomes: Vec<Outcome>,
    /// New entries, in the order appended (the first append of each key).
    pub(crate) entries: Vec<EntryRow<'o>>,
    /// The entries appended in this batch, by key: their index in `entries`.
    pub(crate) appended: HashMap<&'o EntryId, usize>,
    /// Every key acknowledged in this batch.
    pub(crate) acks: HashSet<&'o EntryId>,
    /// Session, of, number, confirmed.
    pub(crate) answers: Vec<(&'o str, &'o str, u32, bool)>,
    /// The last value of each mark set in this batch.
    pub(crate) marks: HashMap<(&'o str, &'o str), &'o str>,
    /// The last write of each bot's value in this batch, by scope and key: the value, or
    /// `None` to delete it.
    pub(crate) values: HashMap<(&'o str, &'o str), Option<&'o [u8]>>,
    /// Every write of a bot's value, in order (scope, key, write), when the batch has a swap:
    /// then these are applied one by one instead of `values`.
    pub(crate) value_sequence: Vec<(&'o str, &'o str, ValueWrite<'o>)>,
    /// Whether the batch has a swap.
    pub(crate) swaps: bool,
    /// Op position and identity.
    pub(crate) claims: Vec<(usize, &'o str)>,
    pub(crate) records: Vec<&'o Record>,
    pub(crate) statuses: Vec<&'o Status>,
}

impl<'o> Plan<'o> {
    pub(crate) fn new(ops: &'o [Op]) -> Self {
        let mut plan = Plan {
            outcomes: vec![Outcome::Done; ops.len()],
            entries: Vec::new(),
            appended: HashMap::new(),
            acks: HashSet::new(),
            answers: Vec::new(),
            marks: HashMap::new(),
            values: HashMap::new(),
            value_sequence: Vec::new(),
            swaps: false,
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
                Op::PutValue {
                    scope, key, value, ..
                } => {
                    let (scope, key): (&'o String, &'o String) = (scope, key);
                    plan.values.insert((scope, key), value.as_deref());
                    let write = ValueWrite::Put(value.as_deref());
                    plan.value_sequence.push((scope, key, write));
                }
                Op::SwapValue {
                    scope,
                    key,
                    expected,
                    new,
                    ..
                } => {
                    let (scope, key): (&'o String, &'o String) = (scope, key);
                    plan.swaps = true;
                    plan.outcomes[i] = Outcome::Swapped(false);
                    let write = ValueWrite::Swap {
                        op: i,
                        expected: expected.as_deref(),
                        new: new.as_deref(),
                    };
                    plan.value_sequence.push((scope, key, write));
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
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.acks.is_empty()
            && self.answers.is_empty()
            && self.marks.is_empty()
            && self.values.is_empty()
            && !self.swaps
            && self.claims.is_empty()
            && self.records.is_empty()
            && self.statuses.is_empty()
    }

    /// The values to set (scope, key, value) and the keys to delete (scope, key): the last
    /// write of each key in the batch, so that the two statements may run in either order.
    /// Sorted, so that concurrent writers (PostgreSQL) lock the rows in one order.
    pub(crate) fn value_writes(&self) -> (Vec<ValueRow<'o>>, Vec<ValueKey<'o>>) {
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        for (&(scope, key), &value) in &self.values {
            match value {
                Some(value) => puts.push((scope, key, value)),
                None => deletes.push((scope, key)),
            }
        }
        puts.sort_unstable();
        deletes.sort_unstable();
        (puts, deletes)
    }

    /// The acknowledgements to apply to the database: those of entries that were in the
    /// journal before this batch (an entry this batch added is acknowledged by not storing its
    /// signal, or not at all when the acknowledgement came before its append). Call it once the
    /// entries' numbers are known.
    pub(crate) fn earlier_acks(&self) -> impl Iterator<Item = &'o EntryId> + '_ {
        self.acks.iter().copied().filter(|entry| {
            self.appended
                .get(entry)
                .is_none_or(|&at| self.entries[at].seq.is_none())
        })
    }
}
