//! The SQLite schema and the statements on it.
//!
//! Every signal is one row of `signals`, holding the signal's full JSON plus the columns that
//! lookups need (normalized, never parsed out of the JSON in SQL); each addressee is one row of
//! `addressees`. `seq` orders the log: it only grows (`AUTOINCREMENT`), across restarts too.
//! The writes are multi-row statements of the database's writer (`crate::db::sql`).

/// The schema version this crate writes (`PRAGMA user_version`).
pub(crate) const VERSION: i64 = 1;

/// Creates the schema if it is missing; run in one transaction. Ends by setting
/// `user_version` to [`VERSION`].
pub(crate) const CREATE: &str = "
CREATE TABLE IF NOT EXISTS signals (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    response_to     TEXT,
    origin_platform TEXT,
    origin_session  TEXT,
    origin_id       TEXT,
    recorded_at_ms  INTEGER NOT NULL,
    signal          TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_by_origin
    ON signals (direction, origin_platform, origin_id, seq);
CREATE INDEX IF NOT EXISTS signals_by_id ON signals (id, direction, seq);

CREATE TABLE IF NOT EXISTS addressees (
    seq       INTEGER NOT NULL REFERENCES signals (seq) ON DELETE CASCADE,
    direction TEXT    NOT NULL,
    platform  TEXT    NOT NULL,
    session   TEXT,
    id        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS addressees_by_address
    ON addressees (direction, platform, id, seq);

CREATE TABLE IF NOT EXISTS delivery_status (
    id             TEXT    PRIMARY KEY NOT NULL,
    rank           INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);

PRAGMA user_version = 1;
";

/// Reads the schema version.
pub(crate) const USER_VERSION: &str = "PRAGMA user_version";

/// Reads a delivery status: id.
pub(crate) const SELECT_STATUS: &str = "SELECT status FROM delivery_status WHERE id = ?1";

/// Signals by origin: direction, platform, id, session (NULL: any), before id (NULL: none),
/// limit. Newest first.
pub(crate) const BY_ORIGIN: &str = "
SELECT s.seq, s.signal FROM signals s
WHERE s.direction = ?1 AND s.origin_platform = ?2 AND s.origin_id = ?3
  AND (?4 IS NULL OR s.origin_session = ?4)
  AND (?5 IS NULL OR s.seq <
       (SELECT MIN(b.seq) FROM signals b WHERE b.id = ?5 AND b.direction = ?1))
ORDER BY s.seq DESC
LIMIT ?6";

/// Signals by addressee: the same parameters as [`BY_ORIGIN`].
pub(crate) const BY_ADDRESSEE: &str = "
SELECT s.seq, s.signal FROM signals s
WHERE s.seq IN
      (SELECT a.seq FROM addressees a
       WHERE a.direction = ?1 AND a.platform = ?2 AND a.id = ?3
         AND (?4 IS NULL OR a.session = ?4))
  AND (?5 IS NULL OR s.seq <
       (SELECT MIN(b.seq) FROM signals b WHERE b.id = ?5 AND b.direction = ?1))
ORDER BY s.seq DESC
LIMIT ?6";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sets_the_version_it_declares() {
        assert!(CREATE.contains(&format!("PRAGMA user_version = {VERSION};")));
    }
}
