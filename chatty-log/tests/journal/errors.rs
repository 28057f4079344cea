//! A journal that cannot be used is a clear error naming the file, never a silent reset: a file
//! that is not a database, a corrupt one, a newer schema, another configuration's journal, a
//! closed database, a locked one.

use std::path::Path;
use std::time::Duration;

use chatty_core::journal::{Appended, Journal};
use chatty_log::{Durability, LogError, SqliteJournal, StateConfig, StateDb};
use sqlx::Connection;

use crate::support::{IDENTITY, alice, dir, journal, locked, raw_connection, texts};

fn assert_names(error: &LogError, path: &Path) {
    let message = error.to_string();
    eprintln!("{message}");
    assert!(
        message.contains(&path.display().to_string()),
        "the message names the file: {message}"
    );
    assert_eq!(error.path(), Some(path));
}

/// A journal holding one pending entry, closed.
async fn one_entry(path: &Path) {
    let journal = journal(path).await;
    journal.append("work", &alice("m1")).await.unwrap();
    journal.db().close().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = dir();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&dir.path, &garbage).unwrap();
    let error = SqliteJournal::open(&dir.path, IDENTITY, Durability::Normal)
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::NotADatabase { .. }), "{error:?}");
    assert_names(&error, &dir.path);
    assert_eq!(std::fs::read(&dir.path).unwrap(), garbage, "left as it was");
}

#[tokio::test]
async fn a_corrupt_database_is_refused() {
    let dir = dir();
    one_entry(&dir.path).await;
    // The first page after the file header holds the schema: damage it.
    let mut bytes = std::fs::read(&dir.path).unwrap();
    assert!(bytes.len() > 4096, "{} bytes", bytes.len());
    for (i, byte) in bytes[100..4096].iter_mut().enumerate() {
        *byte = (i * 31 + 7) as u8;
    }
    std::fs::write(&dir.path, &bytes).unwrap();
    let error = SqliteJournal::open(&dir.path, IDENTITY, Durability::Normal)
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::NotADatabase { .. }), "{error:?}");
    assert_names(&error, &dir.path);
    assert!(error.to_string().contains("corrupt"), "{error}");
    assert_eq!(std::fs::read(&dir.path).unwrap(), bytes, "left as it was");
}

#[tokio::test]
async fn a_journal_from_a_newer_version_is_refused() {
    let dir = dir();
    one_entry(&dir.path).await;
    let mut other = raw_connection(&dir.path).await;
    sqlx::query("UPDATE journal_meta SET value = '7' WHERE key = 'schema'")
        .execute(&mut other)
        .await
        .unwrap();
    other.close().await.unwrap();

    let error = SqliteJournal::open(&dir.path, IDENTITY, Durability::Normal)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LogError::NewerJournalSchema {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(&error, &dir.path);
    // The Logger alone cannot use the file either: it is one database.
    let error = StateDb::open(&StateConfig::new(&dir.path))
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::NewerJournalSchema { .. }));
}

#[tokio::test]
async fn another_configurations_journal_is_refused_naming_both() {
    let dir = dir();
    one_entry(&dir.path).await;
    let error = SqliteJournal::open(&dir.path, "another config", Durability::Normal)
        .await
        .unwrap_err();
    match &error {
        LogError::OtherIdentity {
            found, expected, ..
        } => {
            assert_eq!(found, IDENTITY);
            assert_eq!(expected, "another config");
        }
        other => panic!("{other:?}"),
    }
    assert_names(&error, &dir.path);
    let message = error.to_string();
    assert!(message.contains(IDENTITY) && message.contains("another config"));

    // Nothing was reset: the journal's own configuration finds its entry.
    let journal = journal(&dir.path).await;
    assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m1"]);
}

#[tokio::test]
async fn a_closed_database_refuses_writes() {
    let dir = dir();
    let journal = journal(&dir.path).await;
    journal.db().close().await;
    let error = journal.append("work", &alice("m1")).await.unwrap_err();
    assert!(error.to_string().contains("closed"), "{error}");
    assert!(
        error.to_string().contains(&dir.path.display().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn a_locked_database_fails_the_writes_of_that_commit_and_not_later_ones() {
    let dir = dir();
    let config = StateConfig::new(&dir.path).with_busy_timeout(Duration::from_millis(200));
    let db = StateDb::open(&config).await.unwrap();
    let journal = db.journal(IDENTITY).await.unwrap();

    let mut other = locked(&dir.path).await;
    let (m1, m2) = (alice("m1"), alice("m2"));
    let failed = journal.append("work", &m1);
    let failed_too = journal.set_mark("work", "archive", "a1");
    let error = failed.await.unwrap_err();
    assert!(error.to_string().contains("locked"), "{error}");
    assert!(
        error.to_string().contains(&dir.path.display().to_string()),
        "{error}"
    );
    assert!(failed_too.await.is_err(), "the whole commit failed");

    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    assert_eq!(journal.append("work", &m2).await.unwrap(), Appended::New);
    // The failed append left nothing: it is new when made again.
    assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::New);
    assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m2", "m1"]);
    assert_eq!(journal.mark("work", "archive").await.unwrap(), None);
    db.close().await;
}
