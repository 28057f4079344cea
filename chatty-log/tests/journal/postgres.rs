//! What only PostgreSQL has: several processes' writers on one database at once, several
//! journals in one database (a schema each), the URL and its password in the configuration,
//! and the server's own errors.

use std::collections::BTreeSet;
use std::time::Duration;

use chatty_core::journal::{Appended, EntryId, Journal};
use chatty_core::{Page, Secret};
use chatty_log::{
    Direction, Durability, Location, LogError, LogStore, PostgresConfig, StateConfig, StateDb,
};
use futures::future::join_all;

use crate::backends::{Backend, Place};
use crate::support::{IDENTITY, addr, alice, texts};

/// The test's PostgreSQL database, in `schema`.
fn in_schema(place: &Place, schema: &str) -> StateConfig {
    let Location::Postgres(postgres) = &place.location else {
        panic!("a PostgreSQL place")
    };
    StateConfig::at(Location::Postgres(
        postgres.clone().with_schema(schema).unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_writers_on_one_database_at_once_keep_every_entry_once() {
    let place = Place::new(Backend::Postgres).await;
    // Opened at once: the schema is made once, whoever comes first.
    let config = place.config();
    let dbs = join_all((0..4).map(|_| StateDb::open(&config))).await;
    let dbs: Vec<StateDb> = dbs.into_iter().map(Result::unwrap).collect();
    let journals = join_all(dbs.iter().map(|db| db.journal(IDENTITY))).await;
    let journals: Vec<_> = journals.into_iter().map(Result::unwrap).collect();

    // Every writer appends the same 300 signals (a platform giving each to every gateway), and
    // records each it appended as new.
    let signals: Vec<_> = (0..300).map(|i| alice(&format!("m{i:03}"))).collect();
    let runs = dbs.iter().zip(&journals).map(|(db, journal)| {
        let signals = &signals;
        async move {
            let log = db.log_store();
            let mut new = Vec::new();
            for chunk in signals.chunks(25) {
                let appended = join_all(chunk.iter().map(|s| journal.append("work", s))).await;
                for (signal, appended) in chunk.iter().zip(appended) {
                    if appended.unwrap() == Appended::New {
                        log.record(Direction::In, signal).await.unwrap();
                        new.push(signal.meta.id.as_str().to_owned());
                    }
                }
            }
            new
        }
    });
    let new: Vec<Vec<String>> = join_all(runs).await;
    let all: Vec<&String> = new.iter().flatten().collect();
    let once: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 300, "each signal new to exactly one writer");
    assert_eq!(once.len(), 300);

    // Each is pending once, in order; acknowledged by a writer that did not append it.
    let pending = journals[0].pending("work").await.unwrap();
    let want: Vec<String> = (0..300).map(|i| format!("m{i:03}")).collect();
    let mut got = texts(&pending);
    got.sort();
    assert_eq!(got, want);
    for (i, signal) in signals.iter().enumerate() {
        journals[(i + 1) % 4].ack(&EntryId::of("work", signal));
    }
    for db in &dbs {
        db.flush().await.unwrap();
    }
    for journal in &journals {
        assert!(journal.pending("work").await.unwrap().is_empty());
    }
    // The log holds each record once, whichever writer made it.
    let history = dbs[3]
        .log_store()
        .history(
            Direction::In,
            &addr("xmpp:alice@example.org"),
            &Page::first(1000),
        )
        .await
        .unwrap();
    assert_eq!(history.signals.len(), 300);
    // Marks: the last one committed wins.
    journals[1].set_mark("work", "cursor", "a").await.unwrap();
    journals[2].set_mark("work", "cursor", "b").await.unwrap();
    assert_eq!(
        journals[0].mark("work", "cursor").await.unwrap().as_deref(),
        Some("b")
    );
    for db in &dbs {
        db.close().await;
    }
}

#[tokio::test]
async fn journals_of_two_configurations_share_a_database_in_two_schemas() {
    let place = Place::new(Backend::Postgres).await;
    let first = StateDb::open(&in_schema(&place, "first")).await.unwrap();
    let second = StateDb::open(&in_schema(&place, "second")).await.unwrap();
    let a = first.journal("config a").await.unwrap();
    let b = second.journal("config b").await.unwrap();
    assert_eq!(a.append("work", &alice("m1")).await.unwrap(), Appended::New);
    assert_eq!(b.append("work", &alice("m1")).await.unwrap(), Appended::New);
    b.ack(&EntryId::of("work", &alice("m1")));
    assert_eq!(texts(&a.pending("work").await.unwrap()), ["m1"]);
    assert!(b.pending("work").await.unwrap().is_empty());

    // A schema belongs to the configuration that made its journal.
    let error = second.journal("config a").await.unwrap_err();
    assert!(matches!(error, LogError::OtherIdentity { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("schema second"), "{message}");
    assert!(message.contains("config a") && message.contains("config b"));
    first.close().await;
    second.close().await;
}

#[tokio::test]
async fn the_configuration_takes_a_url_and_a_password_from_a_secret() {
    let place = Place::new(Backend::Postgres).await;
    let Location::Postgres(postgres) = &place.location else {
        panic!("a PostgreSQL place")
    };
    // As a config file gives it; the test server trusts the loopback, so any password opens.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("password");
    std::fs::write(&secret, "anything\n").unwrap();
    let json = serde_json::json!({
        "url": postgres.url,
        "password": { "file": secret },
        "schema": "from_config",
        "durability": "full",
    });
    let config: StateConfig = serde_json::from_value(json).unwrap();
    assert_eq!(config.durability, Durability::Full);
    let db = StateDb::open(&config).await.unwrap();
    assert!(db.is_postgres());
    let journal = db.journal(IDENTITY).await.unwrap();
    journal.append("work", &alice("m1")).await.unwrap();
    assert!(
        db.path()
            .display()
            .to_string()
            .contains("schema from_config")
    );
    db.close().await;

    // A password whose variable is not set: a clear error naming it, and the database.
    let missing = PostgresConfig::new(postgres.url.clone())
        .unwrap()
        .with_password(Secret::env("CHATTY_LOG_TEST_PASSWORD_UNSET"))
        .unwrap();
    let error = StateDb::open(&StateConfig::at(Location::Postgres(missing)))
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("CHATTY_LOG_TEST_PASSWORD_UNSET"),
        "{message}"
    );
    assert!(message.contains(&postgres.shown_url()), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_cannot_be_opened_and_the_message_hides_the_password() {
    let config = StateConfig::at(Location::Postgres(
        PostgresConfig::new("postgres://bot:hunter2@127.0.0.1:1/bots").unwrap(),
    ))
    .with_busy_timeout(Duration::from_secs(2));
    let error = tokio::time::timeout(Duration::from_secs(10), StateDb::open(&config))
        .await
        .expect("gives up in time")
        .unwrap_err();
    assert!(matches!(error, LogError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1/bots"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn a_log_from_a_newer_version_is_refused() {
    let place = Place::new(Backend::Postgres).await;
    place.db().await.close().await;
    place
        .execute("UPDATE log_meta SET value = '3' WHERE key = 'schema'")
        .await;
    let error = StateDb::open(&place.config()).await.unwrap_err();
    assert!(
        matches!(
            error,
            LogError::NewerSchema {
                found: 3,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("schema chatty"), "{error}");
}

#[tokio::test]
async fn the_writer_connects_again_after_its_connection_was_cut() {
    let place = Place::new(Backend::Postgres).await;
    let db = place.db().await;
    let journal = db.journal(IDENTITY).await.unwrap();
    journal.append("work", &alice("m1")).await.unwrap();
    // The server ends every other connection to the database (as a restart of it would).
    place
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
    // The write that finds the connection cut fails (nothing is lost silently)…
    let failed = journal.append("work", &alice("m2")).await;
    assert!(failed.is_err(), "{failed:?}");
    // …and the next one goes through a new connection.
    assert_eq!(
        journal.append("work", &alice("m2")).await.unwrap(),
        Appended::New
    );
    assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m1", "m2"]);
    db.close().await;
}
