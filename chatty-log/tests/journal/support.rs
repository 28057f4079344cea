//! Helpers: signals from a sender, a journal in a temporary directory.

use std::path::{Path, PathBuf};

use chatty_core::journal::Pending;
use chatty_core::{Address, Body, Signal};
use chatty_log::{Durability, SqliteJournal, StateConfig, StateDb};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// The identity tests open their journals with.
pub(crate) const IDENTITY: &str = "test: work=xmpp:bot@example.org";

pub(crate) fn addr(text: &str) -> Address {
    text.parse().unwrap()
}

/// A message `text` from `origin`, with the id `id`.
pub(crate) fn from(origin: &str, id: &str, text: &str) -> Signal {
    let mut signal = Signal::message(text).to(addr("xmpp:bot@example.org"));
    signal.meta.id = id.into();
    signal.meta.origin = Some(addr(origin));
    signal
}

/// A message from alice with the id `id` and the text `id`.
pub(crate) fn alice(id: &str) -> Signal {
    from("xmpp:alice@example.org", id, id)
}

/// The text of a message signal.
pub(crate) fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

/// The texts of pending signals, in order.
pub(crate) fn texts(pending: &[Pending]) -> Vec<String> {
    pending.iter().map(|p| text(&p.signal).to_owned()).collect()
}

/// A temporary directory with a database file path in it.
pub(crate) struct Dir {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
}

pub(crate) fn dir() -> Dir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    Dir { _dir: dir, path }
}

/// Opens the journal in `path` with the test identity.
pub(crate) async fn journal(path: &Path) -> SqliteJournal {
    SqliteJournal::open(path, IDENTITY, Durability::Normal)
        .await
        .unwrap()
}

/// Opens the database in `path`.
pub(crate) async fn db(path: &Path) -> StateDb {
    StateDb::open(&StateConfig::new(path)).await.unwrap()
}

/// A connection of the test's own to the database in `path` (another writer, say).
pub(crate) async fn raw_connection(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

/// A connection of the test's own holding the database in `path` locked for writing (it has
/// begun an exclusive transaction and written in it) until the test commits it: the writer is
/// stuck in its first commit meanwhile, and the writes made after that queue up behind it.
pub(crate) async fn locked(path: &Path) -> SqliteConnection {
    let mut other = raw_connection(path).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("DELETE FROM journal_marks")
        .execute(&mut other)
        .await
        .unwrap();
    other
}
