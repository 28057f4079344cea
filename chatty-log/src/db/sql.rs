//! The journal's schema and the bots' values', and the writer's statements: multi-row `INSERT`s in a few fixed sizes,
//! so that a batch of any size is a handful of statements, each prepared once per connection
//! and kept in the writer connection's statement cache.

use std::sync::LazyLock;

/// The journal's schema version (the `schema` row of `journal_meta`).
pub(super) const JOURNAL_VERSION: i64 = 1;

/// Whether the journal's tables exist.
pub(super) const HAS_JOURNAL: &str =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal_meta'";

/// The journal's schema version, if it is recorded.
pub(super) const JOURNAL_SCHEMA: &str = "SELECT value FROM journal_meta WHERE key = 'schema'";

/// Creates the journal's tables if they are missing; run in one transaction.
///
/// - `journal_keys`: one row per signal appended, in order (`seq`); `(session, sender, id)` is
///   the deduplication key ([`EntryId`](chatty_core::journal::EntryId)). It stays after the
///   acknowledgement, so that the platform giving the signal again is recognised.
/// - `journal_pending`: the signals not acknowledged yet (their JSON), by `seq`; a row is
///   deleted when the bot acknowledges it, so this table holds only what is in flight or was
///   left unfinished by a crash.
/// - `journal_answers`: the answers about to leave (`confirmed = 0`) or that left
///   (`confirmed = 1`), by the signal they answer (`of`), the answering session and their
///   number.
/// - `journal_marks`: a session's named values (its cursor on the platform).
/// - `journal_meta`: the schema version and the identity of the configuration that owns it.
pub(super) const CREATE_JOURNAL: &str = "
CREATE TABLE IF NOT EXISTS journal_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS journal_keys (
    seq     INTEGER PRIMARY KEY,
    session TEXT    NOT NULL,
    sender  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    UNIQUE (session, sender, id)
);

CREATE TABLE IF NOT EXISTS journal_pending (
    seq     INTEGER PRIMARY KEY,
    session TEXT    NOT NULL,
    signal  TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS journal_answers (
    of        TEXT    NOT NULL,
    session   TEXT    NOT NULL,
    number    INTEGER NOT NULL,
    confirmed INTEGER NOT NULL,
    PRIMARY KEY (of, session, number)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS journal_marks (
    session TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (session, name)
) WITHOUT ROWID;

INSERT INTO journal_meta (key, value) VALUES ('schema', '1') ON CONFLICT DO NOTHING;
";

/// Creates the table of the bots' values ([`KeyValues`](crate::KeyValues)) if it is missing; run
/// in the transaction that creates the journal's tables.
///
/// - `bot_state`: a bot's values, by scope (the bot) and key; `key` compares as bytes
///   (`BINARY`, SQLite's default), the order `keys` answers in.
///
/// It carries no version of its own and raises neither the log's nor the journal's: a
/// database of an earlier chatty-log gets it when this version opens it, and an earlier
/// version opening a database that has it leaves it alone.
pub(super) const CREATE_STATE: &str = "
CREATE TABLE IF NOT EXISTS bot_state (
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
";

/// A bot's value: scope, key.
pub(super) const STATE_VALUE: &str = "SELECT value FROM bot_state WHERE scope = ? AND key = ?";

/// A bot's keys from a prefix on, in byte order: scope, prefix.
pub(super) const STATE_KEYS_FROM: &str =
    "SELECT key FROM bot_state WHERE scope = ?1 AND key >= ?2 ORDER BY key";

/// A bot's keys from a prefix up to (not including) the prefix's successor, in byte order:
/// scope, prefix, successor.
pub(super) const STATE_KEYS_BELOW: &str =
    "SELECT key FROM bot_state WHERE scope = ?1 AND key >= ?2 AND key < ?3 ORDER BY key";

/// Stores the identity if none is stored: identity.
pub(super) const CLAIM_IDENTITY: &str =
    "INSERT INTO journal_meta (key, value) VALUES ('identity', ?) ON CONFLICT DO NOTHING";

/// The stored identity.
pub(super) const IDENTITY: &str = "SELECT value FROM journal_meta WHERE key = 'identity'";

/// The keys of the entries with `seq` between two numbers: the rows one insert added.
pub(super) const KEYS_BETWEEN: &str =
    "SELECT seq, session, sender, id FROM journal_keys WHERE seq BETWEEN ? AND ?";

/// A session's unacknowledged entries, oldest first: session.
pub(super) const PENDING: &str =
    "SELECT seq, signal FROM journal_pending WHERE session = ? ORDER BY seq";

/// The answers to a session's unacknowledged entries: session.
pub(super) const PENDING_ANSWERS: &str = "
SELECT of, session, number, confirmed FROM journal_answers
WHERE of IN (SELECT k.id FROM journal_keys k JOIN journal_pending p ON p.seq = k.seq
             WHERE p.session = ?)
ORDER BY of, session, number";

/// Forgets the keys of finished entries older than the newest `keep`: keep. An unfinished
/// entry's key stays (its pending signal is found by it).
pub(super) const PRUNE_KEYS: &str = "
DELETE FROM journal_keys
WHERE seq <= (SELECT MAX(seq) FROM journal_keys) - ?
  AND seq NOT IN (SELECT seq FROM journal_pending)";

/// Forgets the answers of every finished entry: only a signal given again after a restart
/// needs them, and a finished one is not given again.
pub(super) const PRUNE_ANSWERS: &str = "
DELETE FROM journal_answers
WHERE of NOT IN (SELECT k.id FROM journal_keys k JOIN journal_pending p ON p.seq = k.seq)";

/// A mark: session, name.
pub(super) const MARK: &str = "SELECT value FROM journal_marks WHERE session = ? AND name = ?";

/// Every multi-row insert below is `INSERT OR FAIL`: a constraint that fails stops the statement
/// without undoing its earlier rows, where the default (`ABORT`) undoes them. The writer rolls
/// its whole transaction back on any error, so undoing one statement alone is never needed, and
/// with `ABORT` SQLite copies every page a multi-row statement changes into a statement journal
/// first in case it must (18 000 instructions per XMPP echo with the Logger on, under
/// callgrind). For the same reason the writer's connection does not enforce the foreign key
/// of `addressees` (an enforced one makes a multi-row insert keep a statement journal too, and
/// turning it off for a transaction (`defer_foreign_keys`) expires every prepared statement):
/// the writer writes each signal's addressees in the transaction that writes the signal.
///
/// The row counts one multi-row statement is made in: a batch of `n` rows is split greedily
/// into these, so that at most a few statement texts exist per table.
///
/// Every count up to 16 has a statement of its own, so that the small batches of a quiet bot
/// (a commit per message) take one statement per table.
const SIZES: [usize; 18] = [
    256, 64, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
];

/// How many prepared statements the writer's connection keeps: every size of every
/// multi-row statement, and the rest.
pub(super) const STATEMENT_CACHE: usize = 512;

/// One multi-row statement in each of the [`SIZES`].
pub(super) struct MultiRow {
    texts: [Box<str>; SIZES.len()],
}

impl MultiRow {
    /// `head VALUES row, row, … tail` for each size.
    fn new(head: &str, row: &str, tail: &str) -> Self {
        MultiRow {
            texts: SIZES.map(|n| {
                let mut sql = String::with_capacity(head.len() + n * (row.len() + 2) + tail.len());
                sql.push_str(head);
                sql.push_str(" VALUES ");
                for i in 0..n {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(row);
                }
                sql.push(' ');
                sql.push_str(tail);
                sql.into_boxed_str()
            }),
        }
    }

    /// Splits `rows` into chunks of the statement sizes, each with its statement text.
    pub(super) fn chunks<'r, T>(
        &self,
        mut rows: &'r [T],
    ) -> impl Iterator<Item = (&str, &'r [T])> + use<'_, 'r, T> {
        std::iter::from_fn(move || {
            let i = SIZES.iter().position(|&n| n <= rows.len())?;
            let (chunk, rest) = rows.split_at(SIZES[i]);
            rows = rest;
            Some((&*self.texts[i], chunk))
        })
    }

    /// [`chunks`](MultiRow::chunks), mutable: for rows whose values are moved into the
    /// statement.
    pub(super) fn chunks_mut<'r, T>(
        &self,
        mut rows: &'r mut [T],
    ) -> impl Iterator<Item = (&str, &'r mut [T])> + use<'_, 'r, T> {
        std::iter::from_fn(move || {
            let i = SIZES.iter().position(|&n| n <= rows.len())?;
            let (chunk, rest) = std::mem::take(&mut rows).split_at_mut(SIZES[i]);
            rows = rest;
            Some((&*self.texts[i], chunk))
        })
    }
}

/// New journal keys: session, sender, id. A key the journal holds already is skipped (and
/// found afterwards from the count of rows added).
pub(super) static INSERT_KEYS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO journal_keys (session, sender, id)",
        "(?, ?, ?)",
        "ON CONFLICT DO NOTHING",
    )
});

/// The signals of new entries: seq, session, signal.
pub(super) static INSERT_PENDING: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO journal_pending (seq, session, signal)",
        "(?, ?, ?)",
        "",
    )
});

/// Acknowledges entries by number: seq.
pub(super) static ACK_SEQS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "DELETE FROM journal_pending WHERE seq IN (SELECT column1 FROM (",
        "(?)",
        "))",
    )
});

/// Acknowledges entries by key (those this writer did not append): session, sender, id.
pub(super) static ACK_KEYS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "DELETE FROM journal_pending WHERE seq IN (SELECT k.seq FROM journal_keys k JOIN (",
        "(?, ?, ?)",
        ") AS a ON k.session = a.column1 AND k.sender = a.column2 AND k.id = a.column3)",
    )
});

/// Answers about to leave (confirmed 0) or that left (1): of, session, number, confirmed. An
/// answer once confirmed stays confirmed, so the rows of a batch may apply in any order.
pub(super) static INSERT_ANSWERS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO journal_answers (of, session, number, confirmed)",
        "(?, ?, ?, ?)",
        "ON CONFLICT (of, session, number) DO UPDATE \
         SET confirmed = max(confirmed, excluded.confirmed)",
    )
});

/// Sets marks (one row per mark: the writer keeps the last value of each): session, name,
/// value.
pub(super) static SET_MARKS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO journal_marks (session, name, value)",
        "(?, ?, ?)",
        "ON CONFLICT (session, name) DO UPDATE SET value = excluded.value",
    )
});

/// Sets one bot's value: scope, key, value (a batch with a swap writes its values one by one).
pub(super) const PUT_VALUE: &str = "INSERT OR FAIL INTO bot_state (scope, key, value) \
     VALUES (?1, ?2, ?3) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value";

/// Deletes one bot's value: scope, key.
pub(super) const DELETE_VALUE: &str = "DELETE FROM bot_state WHERE scope = ?1 AND key = ?2";

/// A swap from nothing: scope, key, value; one row changed if there was none.
pub(super) const SWAP_FROM_NOTHING: &str = "INSERT OR FAIL INTO bot_state (scope, key, value) \
     VALUES (?1, ?2, ?3) ON CONFLICT (scope, key) DO NOTHING";

/// A swap from a value to another: scope, key, expected, new; one row changed if it was
/// the one expected.
pub(super) const SWAP_VALUE: &str =
    "UPDATE bot_state SET value = ?4 WHERE scope = ?1 AND key = ?2 AND value = ?3";

/// A swap from a value to nothing: scope, key, expected; one row changed if it was the one
/// expected.
pub(super) const SWAP_TO_NOTHING: &str =
    "DELETE FROM bot_state WHERE scope = ?1 AND key = ?2 AND value = ?3";

/// Whether a bot's value is there: scope, key.
pub(super) const HAS_VALUE: &str = "SELECT count(*) FROM bot_state WHERE scope = ?1 AND key = ?2";

/// Sets bots' values (one row per key: the writer keeps the last write of each): scope, key,
/// value.
pub(super) static PUT_VALUES: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO bot_state (scope, key, value)",
        "(?, ?, ?)",
        "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
    )
});

/// Deletes bots' values: scope, key.
pub(super) static DELETE_VALUES: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "DELETE FROM bot_state WHERE (scope, key) IN (SELECT column1, column2 FROM (",
        "(?, ?)",
        "))",
    )
});

/// Logger records: direction, id, kind, response_to, origin platform/session/id, time, JSON.
pub(super) static INSERT_SIGNALS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO signals (direction, id, kind, response_to, origin_platform, \
         origin_session, origin_id, recorded_at_ms, signal)",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "",
    )
});

/// The addressees of Logger records: seq, direction, platform, session, id.
pub(super) static INSERT_ADDRESSEES: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO addressees (seq, direction, platform, session, id)",
        "(?, ?, ?, ?, ?)",
        "",
    )
});

/// Raises delivery statuses, never lowering one: id, rank, status JSON, time. Rows apply in
/// order, so the furthest of several statuses for one id in a batch wins.
pub(super) static UPSERT_STATUSES: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "INSERT OR FAIL INTO delivery_status (id, rank, status, updated_at_ms)",
        "(?, ?, ?, ?)",
        "ON CONFLICT (id) DO UPDATE SET rank = excluded.rank, status = excluded.status, \
         updated_at_ms = excluded.updated_at_ms WHERE excluded.rank > delivery_status.rank",
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split_into_the_fixed_sizes_in_order() {
        let rows: Vec<usize> = (0..343).collect();
        let chunks: Vec<_> = INSERT_ANSWERS.chunks(&rows).collect();
        let sizes: Vec<usize> = chunks.iter().map(|(_, c)| c.len()).collect();
        assert_eq!(sizes, [256, 64, 16, 7]);
        // Up to 16 rows, one statement.
        assert!((1..=16).all(|n| INSERT_ANSWERS.chunks(&rows[..n]).count() == 1));
        let joined: Vec<usize> = chunks.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        assert_eq!(joined, rows);
        let one = [0_usize];
        let (text, _) = INSERT_ANSWERS.chunks(&one).next().unwrap();
        assert_eq!(
            text,
            "INSERT OR FAIL INTO journal_answers (of, session, number, confirmed) VALUES (?, ?, ?, ?) \
             ON CONFLICT (of, session, number) DO UPDATE SET confirmed = max(confirmed, excluded.confirmed)"
        );
        assert_eq!(INSERT_ANSWERS.chunks::<usize>(&[]).count(), 0);
    }

    #[test]
    fn the_journal_schema_records_the_version_it_declares() {
        assert!(CREATE_JOURNAL.contains(&format!("('schema', '{JOURNAL_VERSION}')")));
    }
}
