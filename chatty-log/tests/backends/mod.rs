//! One test suite for every backend: [`each_backend!`] runs a test body against SQLite (a file
//! in a temporary directory) and against PostgreSQL (a database of the test's own on the test
//! server, `CHATTY_TEST_POSTGRES_URL`, dropped at the end), as `name::sqlite` and
//! `name::postgres`. Shared by the `journal`, `logger` and `stacked` test binaries.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use chatty_log::{
    Location, LoggerConfig, PostgresConfig, StateConfig, StateDb, StateJournal, StateStore,
};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};

/// The identity tests open their journals with.
pub(crate) const IDENTITY: &str = "test: work=xmpp:bot@example.org";

/// The environment variable that names the test PostgreSQL server (a superuser's URL).
pub(crate) const POSTGRES_URL: &str = "CHATTY_TEST_POSTGRES_URL";

/// Runs a test body against each backend: `each_backend! { async fn name(place) { … } }`
/// makes the tests `name::sqlite` and `name::postgres`, each with a fresh, empty [`Place`].
/// `#[multi_thread]` before `async fn` runs them on a multi-threaded runtime.
#[macro_export]
macro_rules! each_backend {
    ($(#[doc = $doc:literal])* #[multi_thread] async fn $name:ident($place:ident) $body:block) => {
        $crate::each_backend!(@ (flavor = "multi_thread") $(#[doc = $doc])* $name $place $body);
    };
    ($(#[doc = $doc:literal])* async fn $name:ident($place:ident) $body:block) => {
        $crate::each_backend!(@ () $(#[doc = $doc])* $name $place $body);
    };
    (@ ($($flavor:tt)*) $(#[doc = $doc:literal])* $name:ident $place:ident $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($place: $crate::backends::Place) $body

            #[tokio::test($($flavor)*)]
            async fn sqlite() {
                body($crate::backends::Place::new($crate::backends::Backend::Sqlite).await).await
            }

            #[tokio::test($($flavor)*)]
            async fn postgres() {
                body($crate::backends::Place::new($crate::backends::Backend::Postgres).await).await
            }
        }
    };
}

/// A database kind the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// An empty database of one test's own: a file in a temporary directory, or a PostgreSQL
/// database made for it and dropped when the place is.
pub(crate) struct Place {
    pub(crate) backend: Backend,
    /// Where [`StateDb`]s open it (the defaults otherwise).
    pub(crate) location: Location,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database's name, and the server's URL.
    postgres: Option<(String, String)>,
}

/// The test PostgreSQL server's URL.
///
/// # Panics
/// With the command that starts the test servers, when it is not set.
pub(crate) fn postgres_server() -> String {
    chatty_test::servers::var(POSTGRES_URL)
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    match query {
        Some(q) => format!("{scheme}://{host}/{database}?{q}"),
        None => format!("{scheme}://{host}/{database}"),
    }
}

impl Place {
    /// A fresh database of `backend`.
    pub(crate) async fn new(backend: Backend) -> Place {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("state.sqlite");
                Place {
                    backend,
                    location: Location::Sqlite(path),
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => Place::postgres_with("").await,
        }
    }

    /// A fresh PostgreSQL database made with `options` after `CREATE DATABASE name` (such as
    /// a collation of its own).
    pub(crate) async fn postgres_with(options: &str) -> Place {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let server = postgres_server();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "chatty_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!("cannot reach the test PostgreSQL server ({POSTGRES_URL}): {e}")
        });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name} {options}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&server, &name);
        Place {
            backend: Backend::Postgres,
            location: Location::Postgres(PostgresConfig::new(url).unwrap()),
            _dir: None,
            postgres: Some((name, server)),
        }
    }

    /// The state database's configuration, with the defaults.
    pub(crate) fn config(&self) -> StateConfig {
        StateConfig::at(self.location.clone())
    }

    /// The Logger's configuration, with the defaults.
    pub(crate) fn logger_config(&self) -> LoggerConfig {
        LoggerConfig::at(self.location.clone())
    }

    /// What errors name the database: the file, or the URL and schema.
    pub(crate) fn shown(&self) -> PathBuf {
        self.location.shown()
    }

    /// The SQLite file (panics for PostgreSQL).
    pub(crate) fn path(&self) -> &std::path::Path {
        match &self.location {
            Location::Sqlite(path) => path,
            _ => panic!("not an SQLite database"),
        }
    }

    /// The database opened with the defaults.
    pub(crate) async fn db(&self) -> StateDb {
        StateDb::open(&self.config()).await.unwrap()
    }

    /// The journal, with the test identity.
    pub(crate) async fn journal(&self) -> StateJournal {
        self.db().await.journal(IDENTITY).await.unwrap()
    }

    /// The Logger's store.
    pub(crate) async fn store(&self) -> StateStore {
        self.db().await.log_store()
    }

    /// A connection of the test's own to the database, where the state database's tables are.
    pub(crate) async fn connect(&self) -> RawConnection {
        match &self.location {
            Location::Sqlite(path) => RawConnection::Sqlite(
                SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
                    .await
                    .unwrap(),
            ),
            Location::Postgres(postgres) => {
                let mut conn = PgConnection::connect(&postgres.url).await.unwrap();
                sqlx::query(AssertSqlSafe(format!(
                    "SET search_path = {}",
                    postgres.schema
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                RawConnection::Postgres(conn)
            }
            other => panic!("not a test database: {other:?}"),
        }
    }

    /// Runs `sql` on a connection of the test's own.
    pub(crate) async fn execute(&self, sql: &str) {
        let mut conn = self.connect().await;
        conn.execute(sql).await;
        conn.close().await;
    }

    /// How many rows `table` has.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self.connect().await {
            RawConnection::Sqlite(mut c) => sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .unwrap(),
            RawConnection::Postgres(mut c) => sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .unwrap(),
        }
    }

    /// A connection of the test's own holding the state database's tables locked for writing
    /// until [`release`](RawConnection::release): the writer is stuck in its first commit
    /// meanwhile (until its busy timeout), and the writes made after that queue up behind it.
    /// SQLite: an exclusive transaction that has written; PostgreSQL: the tables locked in
    /// `EXCLUSIVE` mode (reads go on).
    pub(crate) async fn locked(&self) -> RawConnection {
        let mut conn = self.connect().await;
        match self.backend {
            Backend::Sqlite => {
                conn.execute("BEGIN EXCLUSIVE").await;
                conn.execute("DELETE FROM journal_marks").await;
            }
            Backend::Postgres => {
                conn.execute("BEGIN").await;
                conn.execute(
                    "LOCK TABLE journal_keys, journal_pending, journal_answers, journal_marks, \
                     journal_meta, signals, addressees, delivery_status IN EXCLUSIVE MODE",
                )
                .await;
            }
        }
        conn
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let Some((name, server)) = self.postgres.take() else {
            return;
        };
        // On a thread of its own: the test's runtime may be the one dropping this.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("the test database was not dropped: {e}");
        }
    }
}

/// A connection of a test's own, to either database.
pub(crate) enum RawConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl RawConnection {
    /// Runs `sql`.
    pub(crate) async fn execute(&mut self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            RawConnection::Sqlite(c) => drop(sqlx::raw_sql(sql).execute(c).await.unwrap()),
            RawConnection::Postgres(c) => drop(sqlx::raw_sql(sql).execute(c).await.unwrap()),
        }
    }

    /// Commits what it holds, and closes it.
    pub(crate) async fn release(mut self) {
        self.execute("COMMIT").await;
        self.close().await;
    }

    /// Closes it.
    pub(crate) async fn close(self) {
        match self {
            RawConnection::Sqlite(c) => c.close().await.unwrap(),
            RawConnection::Postgres(c) => c.close().await.unwrap(),
        }
    }
}
