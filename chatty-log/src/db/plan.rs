//! A batch of [`Op`]s sorted by table, whatever the backend: the rows each statement writes,
//! and what each op answers if the batch commits.
//!
//! The result of applying a plan is the same as applying its ops one by one in their order:
//! the tables are independent, and within the journal the only ops that interact are appends
//! and acknowledgements of the same entry, resolved here in order: an acknowledgement after the
//! entry's first append in the batch means its signal is never stored as pending, one before it
//! does nothing (as it would have done alone), and one of an entry kept before the batch
//! deletes its pending signal.

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
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.acks.is_empty()
            && self.answers.is_empty()
            && self.marks.is_empty()
            && self.claims.is_empty()
            && self.records.is_empty()
            && self.statuses.is_empty()
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
