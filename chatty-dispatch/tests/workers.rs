//! Workers sharing one state database (a scale-out's `[state]`, here two writers on one SQLite
//! file, as two processes would have): each timer and each schedule's firing is fired by one of
//! them, once.

use std::collections::BTreeMap;
use std::time::Duration;

use chatty_core::state::State;
use chatty_core::{BotError, Message};
use chatty_direct::Harness;
use chatty_dispatch::prelude::*;
use chatty_log::{StateConfig, StateDb};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_a_state_database_fire_each_timer_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = StateConfig::new(dir.path().join("state.sqlite"));
    let (first, second) = (
        StateDb::open(&config).await.unwrap(),
        StateDb::open(&config).await.unwrap(),
    );
    let bot = |db: &StateDb| {
        Dispatcher::new()
            .state(State::new(db.key_values(), "desk"))
            .message(remind_many)
            .timer("remind", reminder)
    };
    let (one, two) = (
        Harness::start(bot(&first)).await,
        Harness::start(bot(&second)).await,
    );
    one.say("remind me").await;
    let (from_one, from_two) = tokio::join!(received(&one), received(&two));
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
    one.stop().await.unwrap();
    two.stop().await.unwrap();
    first.close().await;
    second.close().await;
}
