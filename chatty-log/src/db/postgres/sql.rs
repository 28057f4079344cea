//! The PostgreSQL schema (the log's and the journal's tables, in the schema the config names)
//! and the writer's statements: one statement per table and batch, its rows as arrays
//! (`UNNEST`), so that a batch of any size is a handful of round trips.

/// The log's schema version (the `schema` row of `log_meta`), as SQLite's `user_version`.
pub(super) const LOG_VERSION: i64 = 1;

/// The journal's schema version (the `schema` row of `journal_meta`).
pub(super) const JOURNAL_VERSION: i64 = 1;

/// Taken (for the transaction) by whoever creates or checks the schema, so that several
/// processes opening a new database at once do not race on `CREATE TABLE IF NOT EXISTS`.
/// The schema's name.
pub(super) const LOCK_SCHEMA: &str =
    "SELECT pg_advisory_xact_lock(hashtext('chatty-log schema ' || $1))";

/// Whether a table exists in the schema: its name.
pub(super) const HAS_TABLE: &str = "SELECT to_regclass($1) IS NOT NULL";

/// The log's schema version.
pub(super) const LOG_SCHEMA: &str = "SELECT value FROM log_meta WHERE key = 'schema'";

/// The journal's schema version.
pub(super) const JOURNAL_SCHEMA: &str = "SELECT value FROM journal_meta WHERE key = 'schema'";

/// Creates the tables that are missing; run in one transaction, after [`LOCK_SCHEMA`]. The
/// same tables as SQLite's (see `crate::db::sql` and `crate::store::schema`), with
/// PostgreSQL's types; `seq`s come from sequences, so several writers never share one.
///
/// `bot_state` (the bots' values) has no version of its own, as in SQLite: a schema made by an
/// earlier chatty-log gets it here. Its `key` is collated `"C"`, so that it compares (and
/// `keys` lists) in byte order, as SQLite's, whatever the database's collation.
pub(super) const CREATE: &str = "
CREATE TABLE IF NOT EXISTS log_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
    seq             BIGSERIAL PRIMARY KEY,
    direction       TEXT      NOT NULL CHECK (direction IN ('in', 'out')),
    id              TEXT      NOT NULL,
    kind            TEXT      NOT NULL,
    response_to     TEXT,
    origin_platform TEXT,
    origin_session  TEXT,
    origin_id       TEXT,
    recorded_at_ms  BIGINT    NOT NULL,
    signal          TEXT      NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_by_origin
    ON signals (direction, origin_platform, origin_id, seq);
CREATE INDEX IF NOT EXISTS signals_by_id ON signals (id, direction, seq);
CREATE TABLE IF NOT EXISTS addressees (
    seq       BIGINT NOT NULL REFERENCES signals (seq) ON DELETE CASCADE,
    direction TEXT   NOT NULL,
    platform  TEXT   NOT NULL,
    session   TEXT,
    id        TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS addressees_by_address ON addressees (direction, platform, id, seq);
CREATE TABLE IF NOT EXISTS delivery_status (
    id            TEXT   PRIMARY KEY,
    rank          BIGINT NOT NULL,
    status        TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
INSERT INTO log_meta (key, value) VALUES ('schema', '1') ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS journal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_keys (
    seq     BIGSERIAL PRIMARY KEY,
    session TEXT NOT NULL,
    sender  TEXT NOT NULL,
    id      TEXT NOT NULL,
    UNIQUE (session, sender, id)
);
CREATE TABLE IF NOT EXISTS journal_pending (
    seq     BIGINT PRIMARY KEY,
    session TEXT   NOT NULL,
    signal  TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_pending_by_session ON journal_pending (session, seq);
CREATE TABLE IF NOT EXISTS journal_answers (
    of        TEXT    NOT NULL,
    session   TEXT    NOT NULL,
    number    BIGINT  NOT NULL,
    confirmed BOOLEAN NOT NULL,
    PRIMARY KEY (of, session, number)
);
CREATE TABLE IF NOT EXISTS journal_marks (
    session TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (session, name)
);
INSERT INTO journal_meta (key, value) VALUES ('schema', '1') ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS bot_state (
    scope TEXT  NOT NULL,
    key   TEXT  COLLATE \"C\" NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (scope, key)
);
";

/// New journal keys, in order: sessions, senders, ids. A key the journal holds already (or
/// another writer is adding) is skipped; the keys added come back with their numbers.
pub(super) const INSERT_KEYS: &str = "
INSERT INTO journal_keys (session, sender, id)
SELECT session, sender, id FROM UNNEST($1::text[], $2::text[], $3::text[])
    WITH ORDINALITY AS k (session, sender, id, n)
ORDER BY n
ON CONFLICT DO NOTHING
RETURNING seq, session, sender, id";

/// The signals of new entries: seqs, sessions, signals.
pub(super) const INSERT_PENDING: &str = "
INSERT INTO journal_pending (seq, session, signal)
SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[])";

/// Acknowledges entries by key, whichever writer appended them: sessions, senders, ids.
pub(super) const ACK_KEYS: &str = "
DELETE FROM journal_pending p
USING journal_keys k, UNNEST($1::text[], $2::text[], $3::text[]) AS a (session, sender, id)
WHERE p.seq = k.seq AND k.session = a.session AND k.sender = a.sender AND k.id = a.id";

/// Answers about to leave (`false`) or that left (`true`): ofs, sessions, numbers, confirmed.
/// An answer once confirmed stays confirmed. One row per answer (the writer merges a batch's).
pub(super) const INSERT_ANSWERS: &str = "
INSERT INTO journal_answers (of, session, number, confirmed)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bool[])
ON CONFLICT (of, session, number)
DO UPDATE SET confirmed = journal_answers.confirmed OR excluded.confirmed";

/// Sets marks: sessions, names, values (one row per mark).
pub(super) const SET_MARKS: &str = "
INSERT INTO journal_marks (session, name, value)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
ON CONFLICT (session, name) DO UPDATE SET value = excluded.value";

/// Stores the identity if none is stored, and reads the stored one: identity.
pub(super) const CLAIM_IDENTITY: &str = "
WITH claimed AS (
    INSERT INTO journal_meta (key, value) VALUES ('identity', $1)
    ON CONFLICT DO NOTHING RETURNING value
)
SELECT value FROM claimed
UNION ALL SELECT value FROM journal_meta WHERE key = 'identity'
LIMIT 1";

/// The stored identity.
pub(super) const IDENTITY: &str = "SELECT value FROM journal_meta WHERE key = 'identity'";

/// Sets bots' values: scopes, keys, values (one row per key: the writer keeps the last write of
/// each).
pub(super) const PUT_VALUES: &str = "
INSERT INTO bot_state (scope, key, value)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[])
ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value";

/// Deletes bots' values: scopes, keys.
pub(super) const DELETE_VALUES: &str = "
DELETE FROM bot_state s
USING UNNEST($1::text[], $2::text[]) AS d (scope, key)
WHERE s.scope = d.scope AND s.key = d.key";

/// Sets one bot's value: scope, key, value (a batch with a swap writes its values one by one).
pub(super) const PUT_VALUE: &str = "INSERT INTO bot_state (scope, key, value) VALUES ($1, $2, $3) \
     ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value";

/// Deletes one bot's value: scope, key.
pub(super) const DELETE_VALUE: &str = "DELETE FROM bot_state WHERE scope = $1 AND key = $2";

/// A swap from nothing: scope, key, value; one row changed if there was none (a concurrent
/// insert of the same key waits for the other transaction, and does nothing if it committed).
pub(super) const SWAP_FROM_NOTHING: &str = "INSERT INTO bot_state (scope, key, value) \
     VALUES ($1, $2, $3) ON CONFLICT (scope, key) DO NOTHING";

/// A swap from a value to another: scope, key, expected, new; one row changed if it was the
/// one expected (a concurrent change of the row is waited for, and the condition checked on
/// what it committed).
pub(super) const SWAP_VALUE: &str =
    "UPDATE bot_state SET value = $4 WHERE scope = $1 AND key = $2 AND value = $3";

/// A swap from a value to nothing: scope, key, expected.
pub(super) const SWAP_TO_NOTHING: &str =
    "DELETE FROM bot_state WHERE scope = $1 AND key = $2 AND value = $3";

/// Whether a bot's value is there: scope, key.
pub(super) const HAS_VALUE: &str = "SELECT count(*) FROM bot_state WHERE scope = $1 AND key = $2";

/// Numbers for `$1` new Logger records, taken from the sequence of `signals.seq`.
pub(super) const NEXT_SEQS: &str =
    "SELECT nextval(pg_get_serial_sequence('signals', 'seq')) FROM generate_series(1, $1)";

/// Logger records: seqs, directions, ids, kinds, response_tos, origin platforms, sessions and
/// ids, times, JSON.
pub(super) const INSERT_SIGNALS: &str = "
INSERT INTO signals (seq, direction, id, kind, response_to, origin_platform, origin_session,
                     origin_id, recorded_at_ms, signal)
SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::bigint[], $10::text[])";

/// The addressees of Logger records: seqs, directions, platforms, sessions, ids.
pub(super) const INSERT_ADDRESSEES: &str = "
INSERT INTO addressees (seq, direction, platform, session, id)
SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])";

/// Raises delivery statuses, never lowering one: ids, ranks, status JSON, times (one row per
/// id: the writer keeps the furthest of a batch's).
pub(super) const UPSERT_STATUSES: &str = "
INSERT INTO delivery_status (id, rank, status, updated_at_ms)
SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[])
ON CONFLICT (id) DO UPDATE SET rank = excluded.rank, status = excluded.status,
    updated_at_ms = excluded.updated_at_ms
WHERE excluded.rank > delivery_status.rank";

/// Forgets the keys of finished entries older than the newest `$1`. `NOT EXISTS`, an anti-join:
/// SQLite's `NOT IN (SELECT …)` is, for PostgreSQL, a subquery scanned again for every row
/// once its result outgrows `work_mem` (measured: 1.3 ms of server CPU per signal with 200 000
/// unfinished entries).
pub(super) const PRUNE_KEYS: &str = "
DELETE FROM journal_keys k
WHERE k.seq <= (SELECT MAX(seq) FROM journal_keys) - $1
  AND NOT EXISTS (SELECT 1 FROM journal_pending p WHERE p.seq = k.seq)";

/// Forgets the answers of every finished entry (an anti-join, as [`PRUNE_KEYS`]).
pub(super) const PRUNE_ANSWERS: &str = "
DELETE FROM journal_answers a
WHERE NOT EXISTS (SELECT 1 FROM journal_keys k JOIN journal_pending p ON p.seq = k.seq
                  WHERE k.id = a.of)";

/// A session's unacknowledged entries, oldest first: session.
pub(crate) const PENDING: &str =
    "SELECT seq, signal FROM journal_pending WHERE session = $1 ORDER BY seq";

/// The answers to a session's unacknowledged entries: session.
pub(crate) const PENDING_ANSWERS: &str = "
SELECT of, session, number, confirmed FROM journal_answers
WHERE of IN (SELECT k.id FROM journal_keys k JOIN journal_pending p ON p.seq = k.seq
             WHERE p.session = $1)
ORDER BY of, session, number";

/// A mark: session, name.
pub(crate) const MARK: &str = "SELECT value FROM journal_marks WHERE session = $1 AND name = $2";

/// A bot's value: scope, key.
pub(crate) const STATE_VALUE: &str = "SELECT value FROM bot_state WHERE scope = $1 AND key = $2";

/// A bot's keys from a prefix on, in byte order (the column's collation): scope, prefix.
pub(crate) const STATE_KEYS_FROM: &str =
    "SELECT key FROM bot_state WHERE scope = $1 AND key >= $2 ORDER BY key";

/// A bot's keys from a prefix up to (not including) the prefix's successor, in byte order:
/// scope, prefix, successor.
pub(crate) const STATE_KEYS_BELOW: &str =
    "SELECT key FROM bot_state WHERE scope = $1 AND key >= $2 AND key < $3 ORDER BY key";

/// A delivery status: id.
pub(crate) const SELECT_STATUS: &str = "SELECT status FROM delivery_status WHERE id = $1";

/// Signals by origin: direction, platform, id, session (NULL: any), before id (NULL: none),
/// limit. Newest first.
pub(crate) const BY_ORIGIN: &str = "
SELECT s.seq, s.signal FROM signals s
WHERE s.direction = $1 AND s.origin_platform = $2 AND s.origin_id = $3
  AND ($4::text IS NULL OR s.origin_session = $4)
  AND ($5::text IS NULL OR s.seq <
       (SELECT MIN(b.seq) FROM signals b WHERE b.id = $5 AND b.direction = $1))
ORDER BY s.seq DESC
LIMIT $6";

/// Signals by addressee: the same parameters as [`BY_ORIGIN`].
pub(crate) const BY_ADDRESSEE: &str = "
SELECT s.seq, s.signal FROM signals s
WHERE s.seq IN
      (SELECT a.seq FROM addressees a
       WHERE a.direction = $1 AND a.platform = $2 AND a.id = $3
         AND ($4::text IS NULL OR a.session = $4))
  AND ($5::text IS NULL OR s.seq <
       (SELECT MIN(b.seq) FROM signals b WHERE b.id = $5 AND b.direction = $1))
ORDER BY s.seq DESC
LIMIT $6";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_records_the_versions_it_declares() {
        assert!(CREATE.contains(&format!("('schema', '{LOG_VERSION}') ON CONFLICT")));
        let journal = &CREATE[CREATE.find("journal_meta").unwrap()..];
        assert!(journal.contains(&format!("('schema', '{JOURNAL_VERSION}') ON CONFLICT")));
    }
}
