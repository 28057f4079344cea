//! A journal that cannot be used is a clear error naming the file, never a silent reset: a file
//! that is not a database, a corrupt one, a newer schema, another configuration's journal, a
//! closed database, a locked one.

use std::path::Path;
use std::time::Duration;

use chatty_core::journal::{Appended, Journal};
use chatty_log::{Durability, LogError, StateDb, StateJournal};

use crate::backends::{Backend, Place};
use crate::support::{IDENTITY, alice, texts};

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
async fn one_entry(place: &Place) {
    let journal = place.journal().await;
    journal.append("work", &alice("m1")).await.unwrap();
    journal.db().close().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let place = Place::new(Backend::Sqlite).await;
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(place.path(), &garbage).unwrap();
    let error = StateJournal::open(place.path(), IDENTITY, Durability::Normal)
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::NotADatabase { .. }), "{error:?}");
    assert_names(&error, &place.shown());
    assert_eq!(
        std::fs::read(place.path()).unwrap(),
        garbage,
        "left as it was"
    );
}

#[tokio::test]
async fn a_corrupt_database_is_refused() {
    let place = Place::new(Backend::Sqlite).await;
    one_entry(&place).await;
    // The first page after the file header holds the schema: damage it.
    let mut bytes = std::fs::read(place.path()).unwrap();
    assert!(bytes.len() > 4096, "{} bytes", bytes.len());
    for (i, byte) in bytes[100..4096].iter_mut().enumerate() {
        *byte = (i * 31 + 7) as u8;
    }
    std::fs::write(place.path(), &bytes).unwrap();
    let error = StateJournal::open(place.path(), IDENTITY, Durability::Normal)
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::NotADatabase { .. }), "{error:?}");
    assert_names(&error, &place.shown());
    assert!(error.to_string().contains("corrupt"), "{error}");
    assert_eq!(
        std::fs::read(place.path()).unwrap(),
        bytes,
        "left as it was"
    );
}

each_backend! {
    async fn a_journal_from_a_newer_version_is_refused(place) {
        one_entry(&place).await;
        place
            .execute("UPDATE journal_meta SET value = '7' WHERE key = 'schema'")
            .await;

        let error = StateDb::open(&place.config()).await.unwrap_err();
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
        assert_names(&error, &place.shown());
        // The Logger alone cannot use the database either: it is one database.
        let error = chatty_log::StateStore::open_with(&place.logger_config())
            .await
            .unwrap_err();
        assert!(matches!(error, LogError::NewerJournalSchema { .. }));
    }
}

each_backend! {
    async fn another_configurations_journal_is_refused_naming_both(place) {
        one_entry(&place).await;
        let db = place.db().await;
        let error = db.journal("another config").await.unwrap_err();
        db.close().await;
        match &error {
            LogError::OtherIdentity {
                found, expected, ..
            } => {
                assert_eq!(found, IDENTITY);
                assert_eq!(expected, "another config");
            }
            other => panic!("{other:?}"),
        }
        assert_names(&error, &place.shown());
        let message = error.to_string();
        assert!(message.contains(IDENTITY) && message.contains("another config"));

        // Nothing was reset: the journal's own configuration finds its entry.
        let journal = place.journal().await;
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m1"]);
    }
}

each_backend! {
    async fn a_closed_database_refuses_writes(place) {
        let journal = place.journal().await;
        journal.db().close().await;
        let error = journal.append("work", &alice("m1")).await.unwrap_err();
        assert!(error.to_string().contains("closed"), "{error}");
        assert!(
            error.to_string().contains(&place.shown().display().to_string()),
            "{error}"
        );
    }
}

each_backend! {
    async fn a_locked_database_fails_the_writes_of_that_commit_and_not_later_ones(place) {
        let config = place.config().with_busy_timeout(Duration::from_millis(200));
        let db = StateDb::open(&config).await.unwrap();
        let journal = db.journal(IDENTITY).await.unwrap();

        let other = place.locked().await;
        let (m1, m2) = (alice("m1"), alice("m2"));
        let failed = journal.append("work", &m1);
        let failed_too = journal.set_mark("work", "archive", "a1");
        let error = failed.await.unwrap_err();
        assert!(error.to_string().contains("locked"), "{error}");
        assert!(
            error.to_string().contains(&place.shown().display().to_string()),
            "{error}"
        );
        assert!(failed_too.await.is_err(), "the whole commit failed");

        other.release().await;
        assert_eq!(journal.append("work", &m2).await.unwrap(), Appended::New);
        // The failed append left nothing: it is new when made again.
        assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::New);
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m2", "m1"]);
        assert_eq!(journal.mark("work", "archive").await.unwrap(), None);
        db.close().await;
    }
}
