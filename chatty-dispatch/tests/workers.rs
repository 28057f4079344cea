//! Workers sharing one state database (a scale-out's `[state]`: here two writers on one SQLite
//! file, or on one schema of the test PostgreSQL server, as two processes would have): each
//! timer is fired by one of them, once; and a number counted up by both is never handed out
//! twice. The PostgreSQL tests need the test servers (`scripts/test-servers`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chatty_core::state::State;
use chatty_core::{BotError, Message};
use chatty_direct::Harness;
use chatty_dispatch::prelude::*;
use chatty_log::{Location, PostgresConfig, StateConfig, StateDb};

/// Which database the workers share.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// How many reminders one message sets.
const TIMERS: u32 = 20;

/// Sets [`TIMERS`] reminders, due together.
async fn remind_many(_: Message, timers: ConversationTimers) -> Result<&'static str, BotError> {
    for n in 0..TIMERS {
        timers
            .after(Duration::from_millis(200), "remind", &n)
            .await?;
    }
    Ok("later")
}

/// A reminder whose handler takes a while, so that the other worker sees it due meanwhile.
async fn reminder(Fired(n): Fired<u32>) -> String {
    tokio::time::sleep(Duration::from_millis(20)).await;
    format!("reminder {n}")
}

/// What `harness`'s tester receives until nothing comes for a second.
async fn received(harness: &Harness) -> Vec<String> {
    let mut texts = Vec::new();
    while let Ok(Some(signal)) = tokio::time::timeout(Duration::from_secs(1), harness.next()).await
    {
        if let chatty_core::Body::Message(m) = &signal.body {
            texts.push(m.text.clone());
        }
    }
    texts
}

/// Two workers of `bot` sharing one state database: two writers on one SQLite file, as two
/// processes would have.
struct Workers {
    one: Harness,
    two: Harness,
    dbs: [StateDb; 2],
    _dir: tempfile::TempDir,
}

impl Workers {
    /// Starts them on `backend`: a file in a new directory, or a schema named `name` and this
    /// process's id.
    async fn start(backend: Backend, name: &str, bot: impl Fn(State) -> Dispatcher) -> Workers {
        let dir = tempfile::tempdir().unwrap();
        let config = match backend {
            Backend::Sqlite => StateConfig::new(dir.path().join("state.sqlite")),
            Backend::Postgres => {
                let url = chatty_test::servers::var("CHATTY_TEST_POSTGRES_URL");
                let schema = format!("{name}_{}", std::process::id());
                let postgres = PostgresConfig::new(url)
                    .unwrap()
                    .with_schema(schema)
                    .unwrap();
                StateConfig::at(Location::Postgres(postgres))
            }
        };
        let dbs = [
            StateDb::open(&config).await.unwrap(),
            StateDb::open(&config).await.unwrap(),
        ];
        let state = |db: &StateDb| State::new(db.key_values(), "desk");
        Workers {
            one: Harness::start(bot(state(&dbs[0]))).await,
            two: Harness::start(bot(state(&dbs[1]))).await,
            dbs,
            _dir: dir,
        }
    }

    /// What each worker's tester received until nothing came for a second.
    async fn received(&self) -> (Vec<String>, Vec<String>) {
        tokio::join!(received(&self.one), received(&self.two))
    }

    async fn stop(self) {
        self.one.stop().await.unwrap();
        self.two.stop().await.unwrap();
        for db in self.dbs {
            db.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_sqlite_fire_each_timer_once() {
    each_timer_fires_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_postgres_fire_each_timer_once() {
    each_timer_fires_once(Backend::Postgres).await;
}

async fn each_timer_fires_once(backend: Backend) {
    let workers = Workers::start(backend, "timers", |state| {
        Dispatcher::new()
            .state(state)
            .message(remind_many)
            .timer("remind", reminder)
    })
    .await;
    workers.one.say("remind me").await;
    let (from_one, from_two) = workers.received().await;
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for text in from_one.iter().chain(&from_two) {
        *fired.entry(text.clone()).or_default() += 1;
    }
    assert_eq!(fired.remove("later"), Some(1));
    let expected: BTreeMap<String, usize> =
        (0..TIMERS).map(|n| (format!("reminder {n}"), 1)).collect();
    assert_eq!(
        fired, expected,
        "first worker: {from_one:?}, second: {from_two:?}"
    );
    workers.stop().await;
}

/// The tester asks `harness`'s bot for `n` tickets at once.
async fn ask(harness: &Harness, n: u64) {
    let asked = (0..n).map(|i| harness.say(format!("ticket {i}")));
    futures::future::join_all(asked).await;
}

/// Hands out the next ticket number, counted for the whole bot.
async fn ticket(_: Message, bot: BotState) -> Result<String, BotError> {
    Ok(bot.increment("tickets").await?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_sqlite_never_hand_out_a_number_twice() {
    no_number_twice(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_postgres_never_hand_out_a_number_twice() {
    no_number_twice(Backend::Postgres).await;
}

async fn no_number_twice(backend: Backend) {
    const EACH: u64 = 30;
    let workers = Workers::start(backend, "tickets", |state| {
        Dispatcher::new().state(state).message(ticket)
    })
    .await;
    // Everyone at once, on both workers.
    tokio::join!(ask(&workers.one, EACH), ask(&workers.two, EACH));
    let (from_one, from_two) = workers.received().await;
    let numbers: Vec<u64> = from_one
        .iter()
        .chain(&from_two)
        .map(|text| text.parse().unwrap())
        .collect();
    let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(
        distinct,
        (1..=2 * EACH).collect(),
        "first worker: {from_one:?}, second: {from_two:?}"
    );
    assert_eq!(numbers.len(), distinct.len());
    workers.stop().await;
}
