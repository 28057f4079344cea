//! The runner's state directory and journal: where they are, and what they refuse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatty::direct::{Network, Person};
use chatty::log::{Direction, LogStore};
use chatty::prelude::*;
use chatty::{Page, Runner};
use common::Counter;
use common::running::Running;

mod common;

/// A config file `name` in `dir` running an echo bot on the direct network `network`, with
/// `extra` at the top.
fn config(dir: &Path, name: &str, network: &str, extra: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "{extra}\n[sessions.echo.direct]\nnetwork = \"{network}\"\nendpoint = \"echo\"\n\n\
         [bots.echo]\nsessions = [\"echo\"]\necho = {{}}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `path` until one message was echoed; returns the run's result.
async fn run_once(network: &Network, path: &Path) -> Result<(), chatty::RunError> {
    let mut running = Running::start(Runner::new().network(network.clone()), path.to_path_buf());
    let alice = Person::join(network, "alice").await;
    let echo = network.address("echo");
    match running
        .ask(&alice, &echo, "ping", Duration::from_secs(10))
        .await
    {
        Ok(answer) => assert_eq!(answer, "ping"),
        Err(ended) => return ended,
    }
    running.stop().await
}

/// Runs `path`, which must fail before any session starts; returns the error.
async fn refused(network: &Network, path: &Path) -> String {
    let runner = Runner::new().network(network.clone());
    let run = runner.run_file(path, std::future::pending());
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the run should fail at once")
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn the_journal_is_in_a_state_directory_named_after_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-default");
    let path = config(dir.path(), "bots.toml", "state-default", "");
    run_once(&network, &path).await.unwrap();
    assert!(dir.path().join("bots.state/journal.sqlite").is_file());

    // Off: nothing is made.
    let network = Network::named("state-off");
    let path = config(
        dir.path(),
        "off.toml",
        "state-off",
        "[journal]\nenabled = false",
    );
    run_once(&network, &path).await.unwrap();
    assert!(!dir.path().join("off.state").exists());
}

#[tokio::test]
async fn a_journal_another_config_made_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-shared");
    let first = config(
        dir.path(),
        "first.toml",
        "state-shared",
        "state_dir = \"shared\"",
    );
    run_once(&network, &first).await.unwrap();

    let network = Network::named("state-shared-2");
    let second = config(
        dir.path(),
        "second.toml",
        "state-shared-2",
        "state_dir = \"shared\"",
    );
    let error = refused(&network, &second).await;
    assert!(error.contains("first.toml"), "{error}");
    assert!(error.contains("second.toml"), "{error}");
    assert!(error.contains("journal"), "{error}");
}

#[tokio::test]
async fn configs_that_name_one_identity_share_their_journal() {
    let dir = tempfile::tempdir().unwrap();
    // The same bot's config on two machines (two files here), one journal between them.
    let shared = "state_dir = \"shared\"\n[journal]\nidentity = \"support-desk\"";
    let network = Network::named("state-identity");
    let first = config(dir.path(), "first.toml", "state-identity", shared);
    run_once(&network, &first).await.unwrap();
    let network = Network::named("state-identity-2");
    let second = config(dir.path(), "second.toml", "state-identity-2", shared);
    run_once(&network, &second).await.unwrap();

    // A config without it is still refused, naming the identity it found.
    let network = Network::named("state-identity-3");
    let third = config(
        dir.path(),
        "third.toml",
        "state-identity-3",
        "state_dir = \"shared\"",
    );
    let error = refused(&network, &third).await;
    assert!(error.contains("support-desk"), "{error}");
    assert!(error.contains("third.toml"), "{error}");
}

#[tokio::test]
async fn a_corrupt_journal_is_an_error_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-corrupt");
    let path = config(dir.path(), "bot.toml", "state-corrupt", "");
    let journal = dir.path().join("bot.state/journal.sqlite");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    let garbage = b"this is not an SQLite database, and it must not be reset".repeat(100);
    std::fs::write(&journal, &garbage).unwrap();
    let error = refused(&network, &path).await;
    assert!(error.contains("journal"), "{error}");
    assert!(error.contains("journal.sqlite"), "{error}");
    assert_eq!(std::fs::read(&journal).unwrap(), garbage);
}

/// A config running an echo bot `bot` on the direct network `network`, with `logger` as its
/// Logger's table and `extra` at the top.
fn logged(dir: &Path, name: &str, network: &str, logger: &str, extra: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "{extra}\n[sessions.echo.direct]\nnetwork = \"{network}\"\nendpoint = \"echo\"\n\n\
         [bots.echo]\nsessions = [\"echo\"]\necho = {{}}\nlogger = {logger}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_logger_without_a_path_keeps_its_records_in_the_journals_database() {
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-logger");
    let path = logged(dir.path(), "bot.toml", "state-logger", "{}", "");
    run_once(&network, &path).await.unwrap();
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().all(|f| f == "bot.toml" || f == "bot.state"),
        "the Logger made a file of its own: {files:?}"
    );
    let store = chatty::log::SqliteStore::open(dir.path().join("bot.state/journal.sqlite"))
        .await
        .unwrap();
    let alice = network.address("alice");
    let history = store
        .history(Direction::In, &alice, &Page::first(10))
        .await
        .unwrap();
    let texts: Vec<&str> = history
        .signals
        .iter()
        .filter_map(|s| match &s.body {
            Body::Message(m) => Some(m.text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["ping"]);
    store.close().await;
}

#[tokio::test]
async fn a_logger_without_a_path_needs_the_journal_and_has_it_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-logger-off");
    let path = logged(
        dir.path(),
        "off.toml",
        "state-logger-off",
        "{}",
        "[journal]\nenabled = false",
    );
    let error = refused(&network, &path).await;
    assert!(error.contains("bots.echo.logger"), "{error}");
    assert!(error.contains("`path`"), "{error}");

    // Two bots, each with a Logger without a path: the second is refused, naming the first.
    let network = Network::named("state-logger-two");
    let path = dir.path().join("two.toml");
    std::fs::write(
        &path,
        "[sessions.a.direct]\nnetwork = \"state-logger-two\"\nendpoint = \"a\"\n\n\
         [sessions.b.direct]\nnetwork = \"state-logger-two\"\nendpoint = \"b\"\n\n\
         [bots.a]\nsessions = [\"a\"]\necho = {}\nlogger = {}\n\n\
         [bots.b]\nsessions = [\"b\"]\necho = {}\nlogger = {}\n",
    )
    .unwrap();
    let error = refused(&network, &path).await;
    assert!(error.contains("bots.b.logger"), "{error}");
    assert!(error.contains("bot `a`"), "{error}");
}

/// A PostgreSQL database of the test's own on the test server (`CHATTY_TEST_POSTGRES_URL`),
/// dropped at the end.
struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn new(name: &str) -> TestDatabase {
        use sqlx::Connection;
        let server = chatty_test::servers::var("CHATTY_TEST_POSTGRES_URL");
        let name = format!("chatty_runner_{name}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        admin.close().await.unwrap();
        let base = server.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        TestDatabase { server, name, url }
    }

    async fn drop_it(self) {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.server).await.unwrap();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
}

#[tokio::test]
async fn the_journal_and_a_logger_in_postgres_instead_of_files() {
    let database = TestDatabase::new("state").await;
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-postgres");
    let url = &database.url;
    let path = logged(
        dir.path(),
        "bot.toml",
        "state-postgres",
        &format!("{{ url = \"{url}\", schema = \"echo_log\" }}"),
        &format!("[journal]\nurl = \"{url}\"\ndurability = \"full\""),
    );
    run_once(&network, &path).await.unwrap();
    // No state directory: everything is in the database.
    assert!(!dir.path().join("bot.state").exists());
    let location = chatty::log::Location::Postgres(
        chatty::log::PostgresConfig::new(url.clone())
            .unwrap()
            .with_schema("echo_log")
            .unwrap(),
    );
    let store = chatty::log::StateStore::open_with(&chatty::log::LoggerConfig::at(location))
        .await
        .unwrap();
    let history = store
        .history(Direction::In, &network.address("alice"), &Page::first(10))
        .await
        .unwrap();
    assert_eq!(history.signals.len(), 1);
    store.close().await;

    // Another config naming the same schema is refused, naming the database.
    let other = logged(
        dir.path(),
        "other.toml",
        "state-postgres-other",
        "{}",
        &format!("[journal]\nurl = \"{url}\""),
    );
    let error = refused(&Network::named("state-postgres-other"), &other).await;
    assert!(
        error.contains("belongs to another configuration"),
        "{error}"
    );
    assert!(error.contains("(schema chatty)"), "{error}");
    database.drop_it().await;
}

/// A config running the counter on the direct network `network`, with `extra` at the top.
fn counter_config(dir: &Path, network: &str, extra: &str) -> PathBuf {
    let path = dir.join("counter.toml");
    let text = format!(
        "{extra}\n[sessions.counter.direct]\nnetwork = \"{network}\"\nendpoint = \"counter\"\n\n\
         [bots.counter]\nsessions = [\"counter\"]\nrust = \"counter\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the counter of `path`, sends it `messages` messages from alice, and returns what it
/// answered; the run then ends in order.
async fn count(network: &Network, path: &Path, messages: usize) -> Vec<String> {
    let runner = Runner::new()
        .network(network.clone())
        .bot("counter", |ctx| Ok(Counter(ctx.state())));
    let mut running = Running::start(runner, path.to_path_buf());
    let alice = Person::join(network, "alice").await;
    let counter = network.address("counter");
    let mut answers = Vec::new();
    for _ in 0..messages {
        let answer = running.ask(&alice, &counter, "one more", Duration::from_secs(10));
        answers.push(
            answer
                .await
                .unwrap_or_else(|ended| panic!("the run ended: {ended:?}")),
        );
    }
    running.stop().await.unwrap();
    answers
}

#[tokio::test]
async fn a_bots_state_is_kept_in_the_journals_database_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-counter");
    let path = counter_config(dir.path(), "state-counter", "");
    assert_eq!(count(&network, &path, 2).await, ["1", "2"]);
    assert_eq!(count(&network, &path, 1).await, ["3"]);

    // With the journal off, the state is in memory: it starts again with each run.
    let network = Network::named("state-counter-off");
    let path = counter_config(
        dir.path(),
        "state-counter-off",
        "[journal]\nenabled = false",
    );
    assert_eq!(count(&network, &path, 2).await, ["1", "2"]);
    assert_eq!(count(&network, &path, 1).await, ["1"]);
}

#[tokio::test]
async fn a_bots_state_is_kept_in_postgres_with_the_journal() {
    let database = TestDatabase::new("counter").await;
    let dir = tempfile::tempdir().unwrap();
    let network = Network::named("state-counter-postgres");
    let extra = format!("[journal]\nurl = \"{}\"", database.url);
    let path = counter_config(dir.path(), "state-counter-postgres", &extra);
    assert_eq!(count(&network, &path, 2).await, ["1", "2"]);
    assert_eq!(count(&network, &path, 1).await, ["3"]);
    assert!(!dir.path().join("counter.state").exists());
    database.drop_it().await;
}
