//! A database that cannot be used gives a clear error naming the file, never a panic.

use std::time::{Duration, Instant};

use chatty_core::Signal;
use chatty_log::{Direction, LogError, LogStore, LoggerConfig, LoggerLayer, SqliteStore};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::support::addr;

/// The busy timeout the lock tests use: short, so that they finish quickly.
const SHORT: Duration = Duration::from_millis(300);

async fn raw_connection(path: &std::path::Path) -> SqliteConnection {
    SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true),
    )
    .await
    .unwrap()
}

fn assert_names(error: &LogError, path: &std::path::Path) {
    let message = error.to_string();
    eprintln!("{message}");
    assert!(
        message.contains(&path.display().to_string()),
        "the message names the file: {message}"
    );
    assert_eq!(error.path(), Some(path));
}

#[tokio::test]
async fn a_file_of_garbage_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.sqlite");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, garbage).unwrap();

    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(error, LogError::NotADatabase { .. }), "{error:?}");
    assert_names(&error, &path);
    let error = LoggerLayer::open(&LoggerConfig::new(&path))
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::NotADatabase { .. }), "{error:?}");
}

#[tokio::test]
async fn a_missing_directory_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no such directory").join("log.sqlite");
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(error, LogError::Open { .. }), "{error:?}");
    assert_names(&error, &path);
}

#[tokio::test]
async fn a_database_locked_by_another_connection_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.sqlite");
    let mut other = raw_connection(&path).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE held (x)")
        .execute(&mut other)
        .await
        .unwrap();

    let config = LoggerConfig::new(&path).with_busy_timeout(SHORT);
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), SqliteStore::open_with(&config))
        .await
        .expect("opening gives up within a bounded time");
    let error = result.unwrap_err();
    assert!(matches!(error, LogError::Locked { .. }), "{error:?}");
    assert_names(&error, &path);
    assert!(started.elapsed() >= SHORT, "it waited for the busy timeout");

    // Once the lock is released, the same file opens.
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    SqliteStore::open_with(&config).await.unwrap();
}

#[tokio::test]
async fn a_write_to_a_locked_database_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.sqlite");
    let config = LoggerConfig::new(&path).with_busy_timeout(SHORT);
    let store = SqliteStore::open_with(&config).await.unwrap();

    let mut other = raw_connection(&path).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("DELETE FROM signals")
        .execute(&mut other)
        .await
        .unwrap();

    let signal = Signal::message("hi").to(addr("xmpp:bob@example.org"));
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        store.record(Direction::Out, &signal),
    )
    .await
    .expect("the write gives up within a bounded time");
    let error = result.unwrap_err();
    assert!(matches!(error, LogError::Locked { .. }), "{error:?}");
    assert_names(&error, &path);

    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    store.record(Direction::Out, &signal).await.unwrap();
}

#[tokio::test]
async fn a_schema_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite");
    let mut other = raw_connection(&path).await;
    sqlx::query("PRAGMA user_version = 99")
        .execute(&mut other)
        .await
        .unwrap();
    other.close().await.unwrap();

    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(
            error,
            LogError::NewerSchema {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(&error, &path);
}

#[test]
fn the_config_rejects_unknown_fields_and_has_defaults() {
    let config: LoggerConfig =
        serde_json::from_str(r#"{ "path": "/tmp/x.sqlite", "busy_timeout_ms": 250 }"#).unwrap();
    assert_eq!(config.busy_timeout(), Duration::from_millis(250));
    let config: LoggerConfig = serde_json::from_str(r#"{ "path": "/tmp/x.sqlite" }"#).unwrap();
    assert_eq!(config.busy_timeout(), Duration::from_secs(5));
    assert!(serde_json::from_str::<LoggerConfig>(r#"{ "path": "a", "pth": "b" }"#).is_err());
    assert!(serde_json::from_str::<LoggerConfig>(r#"{ "busy_timeout_ms": 1 }"#).is_err());
}
