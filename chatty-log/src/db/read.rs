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
