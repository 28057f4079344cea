//! Reads of a [`StateDb`], on the pool of its backend: the same queries in each database's
//! dialect, returning the same rows.

use super::{Backend, StateDb, postgres, sql};
use crate::error::LogError;
use crate::store::{Direction, schema};

/// Runs `$query` (built from `$sql`, the statement of the database at hand) on the read pool
/// with `$fetch`: the same binds and row types for SQLite and PostgreSQL.
macro_rules! on_pool {
    ($db:expr, $sqlite:expr, $postgres:expr, |$q:ident| $query:expr, $fetch:ident) => {
        match &$db.shared.backend {
            Backend::Sqlite { read, .. } => {
                let $q = $sqlite;
                $query.$fetch(read).await
            }
            Backend::Postgres(db) => {
                let $q = $postgres;
                $query.$fetch(&db.read).await
            }
        }
        .map_err(|e| $db.error(e))
    };
}

/// An unacknowledged entry: its number and its signal's JSON.
pub(crate) type PendingRow = (i64, Option<String>);

/// An answer: the signal it answers, the answering session, its number, whether it left.
pub(crate) type AnswerRow = (String, String, i64, bool);

/// A Logger record: its number and its signal's JSON.
pub(crate) type RecordRow = (i64, String);

impl StateDb {
    /// A session's unacknowledged entries, oldest first, and the answers to them.
    pub(crate) async fn pending_rows(
        &self,
        session: &str,
    ) -> Result<(Vec<PendingRow>, Vec<AnswerRow>), LogError> {
        let rows: Vec<PendingRow> = on_pool!(
            self,
            sql::PENDING,
            postgres::sql::PENDING,
            |text| sqlx::query_as(text).bind(session),
            fetch_all
        )?;
        let answers: Vec<AnswerRow> = on_pool!(
            self,
            sql::PENDING_ANSWERS,
            postgres::sql::PENDING_ANSWERS,
            |text| sqlx::query_as(text).bind(session),
            fetch_all
        )?;
        Ok((rows, answers))
    }

    /// A session's mark.
    pub(crate) async fn mark_value(
        &self,
        session: &str,
        name: &str,
    ) -> Result<Option<String>, LogError> {
        on_pool!(
            self,
            sql::MARK,
            postgres::sql::MARK,
            |text| sqlx::query_scalar(text).bind(session).bind(name),
            fetch_optional
        )
    }

    /// A bot's value, as committed.
    pub(crate) async fn state_value(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, LogError> {
        on_pool!(
            self,
            sql::STATE_VALUE,
            postgres::sql::STATE_VALUE,
            |text| sqlx::query_scalar(text).bind(scope).bind(key),
            fetch_optional
        )
    }

    /// A bot's keys that start with `prefix`, in byte order, as committed: those from the
    /// prefix on and below its successor (none: every key from the prefix on), a range of the
    /// primary key with nothing of the prefix read as a pattern.
    pub(crate) async fn state_keys(
        &self,
        scope: &str,
        prefix: &str,
    ) -> Result<Vec<String>, LogError> {
        match successor(prefix) {
            Some(below) => on_pool!(
                self,
                sql::STATE_KEYS_BELOW,
                postgres::sql::STATE_KEYS_BELOW,
                |text| sqlx::query_scalar(text)
                    .bind(scope)
                    .bind(prefix)
                    .bind(&below),
                fetch_all
            ),
            None => on_pool!(
                self,
                sql::STATE_KEYS_FROM,
                postgres::sql::STATE_KEYS_FROM,
                |text| sqlx::query_scalar(text).bind(scope).bind(prefix),
                fetch_all
            ),
        }
    }

    /// At most `limit` records, newest first, received from (`In`) or sent to (`Out`) the
    /// address `platform`, `id`, `session` (any when `None`), older than the record `before`.
    pub(crate) async fn history_rows(
        &self,
        direction: Direction,
        (platform, id, session): (&str, &str, Option<&str>),
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RecordRow>, LogError> {
        let (sqlite, postgres) = match direction {
            Direction::In => (schema::BY_ORIGIN, postgres::sql::BY_ORIGIN),
            Direction::Out => (schema::BY_ADDRESSEE, postgres::sql::BY_ADDRESSEE),
        };
        on_pool!(
            self,
            sqlite,
            postgres,
            |text| sqlx::query_as(text)
                .bind(direction.as_str())
                .bind(platform)
                .bind(id)
                .bind(session)
                .bind(before)
                .bind(limit),
            fetch_all
        )
    }

    /// The recorded delivery status of the signal `id`, as JSON.
    pub(crate) async fn status_json(&self, id: &str) -> Result<Option<String>, LogError> {
        on_pool!(
            self,
            schema::SELECT_STATUS,
            postgres::sql::SELECT_STATUS,
            |text| sqlx::query_scalar(text).bind(id),
            fetch_optional
        )
    }
}

/// The first string after every string that starts with `prefix`, in byte order (UTF-8's byte
/// order is that of the code points): the prefix with its last character that is not the last
/// code point raised by one, and what follows it dropped. `None` when there is none (an empty
/// prefix, or only `char::MAX`s): every string from the prefix on starts with it.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value: after the surrogates' gap, U+E000.
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn a_prefix_s_successor_bounds_exactly_the_strings_that_start_with_it() {
        assert_eq!(successor("").as_deref(), None);
        assert_eq!(successor("tickets/").as_deref(), Some("tickets0"));
        assert_eq!(successor("a%_").as_deref(), Some("a%`"));
        assert_eq!(successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10FFFF}\u{10FFFF}").as_deref(), None);
        let keys = [
            "",
            "a",
            "ab",
            "ab\u{0}",
            "ab\u{10FFFF}",
            "ab\u{10FFFF}z",
            "ac",
            "a\u{E9}",
            "b",
            "\u{D7FF}x",
            "\u{E000}",
            "\u{10FFFF}",
            "\u{10FFFF}\u{10FFFF}a",
        ];
        for prefix in keys {
            let below = successor(prefix);
            for key in keys {
                let in_range = key >= prefix && below.as_deref().is_none_or(|below| key < below);
                assert_eq!(in_range, key.starts_with(prefix), "{prefix:?} {key:?}");
            }
        }
    }
}
