//! A gateway and workers on the test NATS server (JetStream): a platform's messages reach a
//! worker's bot and its answers the platform, a message given twice is handled once, and what a
//! stopped worker had not finished is handled by the next, once.
//!
//! Needs `CHATTY_TEST_NATS_URL` (`scripts/test` starts the server; see `scripts/test-servers`).
//! Each test has a hub of its own, so they run in parallel on one server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chatty_core::journal::MemoryJournal;
use chatty_core::testing::{Recorded, TestPlatform, messages};
use chatty_core::{Body, Message, Router, Signal, from_fn};
use chatty_nats::{NatsConfig, NatsGateway, NatsWorker};

const DEADLINE: Duration = Duration::from_secs(60);

fn nats_url() -> String {
    std::env::var("CHATTY_TEST_NATS_URL").unwrap_or_else(|_| {
        panic!(
            "CHATTY_TEST_NATS_URL is not set: this test needs the test servers. `scripts/test` \
             starts them itself; to run tests alone, start them with `scripts/test-servers` and, \
             in another shell, run `eval \"$(scripts/test-servers env)\"` before `cargo test`."
        )
    })
}

/// The hub's warnings (and what it logs of its partitions) in the test's output: shown when a
/// test fails. `RUST_LOG` sets another level.
fn log() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,chatty_nats=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A hub no other test (or earlier run) uses.
fn hub() -> NatsConfig {
    log();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let name = format!(
        "t{}_{stamp}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    NatsConfig::new(nats_url(), name)
        .with_ack_wait(Duration::from_secs(2))
        .with_lease(Duration::from_secs(2))
}

/// Answers each message with "re " and its text.
fn echo() -> impl chatty_core::Bot {
    from_fn(|signal: Signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            let text = format!("re {}", m.text);
            handle.send(signal.reply(Message::text(text))).await?;
        }
        Ok(())
    })
}

/// What a bot of [`echo_until_the_sixth`] does at its sixth message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AtTheSixth {
    /// Fails before answering it: its router stops, as a process would.
    Stop,
    /// Answers it and hangs before finishing it.
    Hang,
}

/// Answers the first five messages as [`echo`] does, and the sixth as `then` says; the ones
/// after it (if it gets there) as `echo` again.
fn echo_until_the_sixth(then: AtTheSixth) -> impl chatty_core::Bot {
    let handled = std::sync::Arc::new(AtomicUsize::new(0));
    from_fn(move |signal: Signal, handle| {
        let handled = handled.clone();
        async move {
            if let Body::Message(m) = &signal.body {
                let sixth = handled.fetch_add(1, Ordering::SeqCst) == 5;
                if sixth && then == AtTheSixth::Stop {
                    return Err("the worker stops".into());
                }
                let text = format!("re {}", m.text);
                handle.send(signal.reply(Message::text(text))).await?;
                if sixth {
                    std::future::pending::<()>().await;
                }
            }
            Ok(())
        }
    })
}

/// A running router, dropped with the test.
type Running = tokio::task::JoinHandle<Result<(), chatty_core::BotError>>;

/// For a test that waited in vain: which of `running` ended, and how (a gateway or worker that
/// failed at start leaves the test waiting for answers that cannot come).
async fn ended(running: &mut [(&str, &mut Running)]) -> String {
    let mut said = Vec::new();
    for (name, task) in running.iter_mut() {
        if task.is_finished() {
            said.push(format!("{name} ended: {:?}", (&mut **task).await));
        } else {
            said.push(format!("{name} still runs"));
        }
    }
    said.join("; ")
}

/// A worker of `config`'s hub that keeps what it was given in `journal`, running `bot`: its
/// router's run, to be awaited or spawned.
fn run_worker<B: chatty_core::Bot>(
    config: &NatsConfig,
    journal: MemoryJournal,
    bot: B,
) -> impl Future<Output = Result<(), chatty_core::BotError>> + use<B> {
    let worker = NatsWorker::new(config.clone()).unwrap();
    let acking = worker.journal(journal);
    Router::new().session(worker).journal(acking).run(bot)
}

/// A worker of `config`'s hub with a journal of its own (another machine), running `bot`.
fn worker(config: &NatsConfig, bot: impl chatty_core::Bot) -> Running {
    tokio::spawn(run_worker(config, MemoryJournal::new(), bot))
}

/// The gateway of `config`'s hub, running `platform`.
fn gateway(config: &NatsConfig, platform: TestPlatform) -> Running {
    let gateway = NatsGateway::new(config.clone());
    tokio::spawn(Router::new().session(platform).run(gateway))
}

/// The gateway of `config`'s hub, running `platform`, and what the platform is sent (the
/// answers).
fn serving(config: &NatsConfig, platform: TestPlatform) -> (Recorded, Running) {
    let answers = platform.outbound();
    (answers, gateway(config, platform))
}

/// Whether `answers` has `count` signals within [`DEADLINE`].
async fn answered(answers: &Recorded, count: usize) -> bool {
    tokio::time::timeout(DEADLINE, answers.wait_for(|sent| sent.len() >= count))
        .await
        .is_ok()
}

fn sorted(mut texts: Vec<String>) -> Vec<String> {
    texts.sort();
    texts
}

fn expected(count: usize) -> Vec<String> {
    sorted((0..count).map(|i| format!("re m{i}")).collect())
}

/// Checks that `answers` has `count` answers within [`DEADLINE`] and, after `settle` (time for
/// any answer sent twice to come through), that they are [`expected`]: each message answered
/// once.
async fn answered_once(answers: &Recorded, count: usize, settle: Duration) {
    assert!(
        answered(answers, count).await,
        "{count} answers, got {:?}",
        answers.texts()
    );
    tokio::time::sleep(settle).await;
    assert_eq!(sorted(answers.texts()), expected(count));
}

#[tokio::test]
async fn a_platforms_messages_reach_a_workers_bot_and_its_answers_the_platform() {
    let config = hub();
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(messages(20)));
    let worker = tokio::spawn(
        Router::new()
            .session(NatsWorker::new(config).unwrap())
            .journal(MemoryJournal::new())
            .run(echo()),
    );
    assert!(answered(&answers, 20).await, "20 answers");
    let answered = answers.signals();
    assert_eq!(sorted(answers.texts()), expected(20));
    // Each answers the message it names, and goes to whoever wrote it.
    for answer in &answered {
        let of = answer.meta.response_to.as_ref().expect("an answer");
        let Body::Message(m) = &answer.body else {
            panic!("{answer:?}")
        };
        assert_eq!(m.text, format!("re {}", of.as_str()));
        assert_eq!(answer.meta.addressees, vec!["test:alice".parse().unwrap()]);
    }
    gateway.abort();
    worker.abort();
}

#[tokio::test]
async fn a_message_the_platform_gives_twice_is_handled_once() {
    let config = hub();
    // The platform gives the same ten messages (same ids) twice; the gateway has no journal to
    // notice, and JetStream drops the second copies by their message ids.
    let (answers, gateway) = serving(
        &config,
        TestPlatform::new("test").giving(messages(10)).rounds(2),
    );
    let worker = tokio::spawn(
        Router::new()
            .session(NatsWorker::new(config).unwrap())
            .run(echo()),
    );
    // With time for any second copy to come through.
    answered_once(&answers, 10, Duration::from_secs(1)).await;
    gateway.abort();
    worker.abort();
}

#[tokio::test]
async fn what_a_stopped_worker_had_not_finished_is_answered_by_the_next_once() {
    let config = hub();
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(messages(30)));
    // The worker's journal outlives its first run, as a journal file outlives a process.
    let journal = MemoryJournal::new();
    // A bot that answers five messages and stops, leaving what it was given after them.
    let first = echo_until_the_sixth(AtTheSixth::Stop);
    let _ = tokio::time::timeout(DEADLINE, run_worker(&config, journal.clone(), first))
        .await
        .expect("the first worker stops");
    assert_eq!(answers.len(), 5, "{:?}", answers.texts());
    let second = tokio::spawn(run_worker(&config, journal, echo()));
    answered_once(&answers, 30, Duration::from_secs(1)).await;
    gateway.abort();
    second.abort();
}

#[tokio::test]
async fn what_a_worker_that_died_had_taken_is_answered_by_another_once() {
    let config = hub();
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(messages(30)));
    // The first worker answers five messages, answers the sixth and hangs before finishing
    // it; then its process dies (the task is dropped, journal and all).
    let first = worker(&config, echo_until_the_sixth(AtTheSixth::Hang));
    assert!(
        answered(&answers, 6).await,
        "6 answers from the first worker"
    );
    first.abort();
    let _ = first.await;
    // Another worker, with a journal of its own (another machine), takes what the first had
    // not finished once JetStream's ack wait is over. The sixth answer, sent again with the
    // same id, is dropped by JetStream.
    let second = worker(&config, echo());
    answered_once(&answers, 30, Duration::from_secs(3)).await;
    gateway.abort();
    second.abort();
}

/// `count` messages from each of `people` people, interleaved; message `i` of `who` has the
/// text and id `who-i`.
fn conversations(people: usize, count: usize) -> Vec<Signal> {
    let mut signals = Vec::new();
    for i in 0..count {
        for p in 0..people {
            let text = format!("u{p}-{i}");
            let mut signal = chatty_core::testing::message(&text);
            signal.meta.origin = format!("test:u{p}").parse().ok();
            signals.push(signal);
        }
    }
    signals
}

/// A bot that answers "<tag> re <text>".
fn tagged(tag: &'static str) -> impl chatty_core::Bot {
    from_fn(move |signal: Signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            let text = format!("{tag} re {}", m.text);
            handle.send(signal.reply(Message::text(text))).await?;
        }
        Ok(())
    })
}

/// Checks that every conversation's answers came in the order of its messages, and that each
/// message was answered once; returns the tags of the workers that answered.
fn in_order_once(answers: &[Signal], people: usize, count: usize) -> Vec<String> {
    let mut tags = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut next = vec![0_usize; people];
    for answer in answers {
        let Body::Message(m) = &answer.body else {
            panic!("{answer:?}")
        };
        let (tag, text) = m.text.split_once(" re ").expect("a tagged answer");
        assert!(seen.insert(text.to_owned()), "{text} answered twice");
        let (who, i) = text.split_once('-').unwrap();
        let p: usize = who.trim_start_matches('u').parse().unwrap();
        let i: usize = i.parse().unwrap();
        assert_eq!(i, next[p], "{who}'s answers out of order at {text}");
        next[p] += 1;
        if !tags.contains(&tag.to_owned()) {
            tags.push(tag.to_owned());
        }
    }
    assert_eq!(next, vec![count; people], "every message answered");
    tags
}

#[tokio::test]
async fn two_workers_share_the_conversations_and_keep_each_in_order() {
    let config = hub();
    let (people, count) = (12, 10);
    // Two workers first; the second joins while the first holds every partition.
    let a = worker(&config, tagged("A"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = worker(&config, tagged("B"));
    // Time for the partitions to be shared out (renewals every third of the 2 s lease).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (answers, gateway) = serving(
        &config,
        TestPlatform::new("test").giving(conversations(people, count)),
    );
    assert!(
        answered(&answers, people * count).await,
        "{} answers, got {}",
        people * count,
        answers.len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut tags = in_order_once(&answers.signals(), people, count);
    tags.sort();
    assert_eq!(tags, ["A", "B"], "both workers answered");
    gateway.abort();
    a.abort();
    b.abort();
}

#[tokio::test]
async fn a_conversation_stays_in_order_when_its_worker_dies() {
    let config = hub();
    let (people, count) = (4, 15);
    let (answers, gateway) = serving(
        &config,
        TestPlatform::new("test").giving(conversations(people, count)),
    );
    // The first worker answers slowly; it dies after ten answers.
    let slow = from_fn(|signal: Signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let text = format!("A re {}", m.text);
            handle.send(signal.reply(Message::text(text))).await?;
        }
        Ok(())
    });
    let mut a = worker(&config, slow);
    let mut gateway = gateway;
    if !answered(&answers, 10).await {
        let ended = ended(&mut [("the gateway", &mut gateway), ("the worker", &mut a)]).await;
        panic!("no 10 answers from the first worker within {DEADLINE:?}; {ended}");
    }
    a.abort();
    let _ = a.await;
    let b = worker(&config, tagged("B"));
    assert!(
        answered(&answers, people * count).await,
        "{} answers, got {}",
        people * count,
        answers.len()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    in_order_once(&answers.signals(), people, count);
    gateway.abort();
    b.abort();
}

/// The messages m0, m1 and m2, m1 saying "poison".
fn poisoned() -> Vec<Signal> {
    let mut given = messages(3);
    let Body::Message(poison) = &mut given[1].body else {
        unreachable!()
    };
    poison.text = "poison".into();
    given
}

/// The system errors a bot was told of.
type Errors = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Answers each message with "re " and its text, fails on "poison" (its router then stops, as a
/// process would die), and keeps the system errors it is told of in `errors`.
fn failing_on_poison(errors: &Errors) -> impl chatty_core::Bot {
    let errors = errors.clone();
    from_fn(move |signal: Signal, handle| {
        let errors = errors.clone();
        async move {
            match &signal.body {
                Body::Message(m) if m.text == "poison" => return Err("cannot".into()),
                Body::Message(m) => {
                    let text = format!("re {}", m.text);
                    handle.send(signal.reply(Message::text(text))).await?;
                }
                Body::SystemError(e) => errors.lock().unwrap().push(e.message.clone()),
                _ => {}
            }
            Ok(())
        }
    })
}

/// Runs a worker's router `run` until it stops (its bot failed) or `answers` has `count`.
async fn until_stopped_or_answered(
    run: impl std::future::Future,
    answers: &Recorded,
    count: usize,
) {
    let answered = answers.wait_for(|sent| sent.len() >= count);
    let _ = tokio::time::timeout(DEADLINE, async {
        tokio::select! {
            _ = run => {}
            () = answered => {}
        }
    })
    .await;
}

/// A hub that gives a signal three times at most (after a 1 s ack wait each), and its gateway
/// running a platform that gives [`poisoned`]: the hub's config, the answers, the gateway.
fn poisoned_hub() -> (NatsConfig, Recorded, Running) {
    let config = hub()
        .with_ack_wait(Duration::from_secs(1))
        .with_max_tries(3);
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(poisoned()));
    (config, answers, gateway)
}

/// Starts workers of `config`'s hub one after another, each with the journal `journal` gives and
/// [`failing_on_poison`] (keeping errors in `errors`), until `answers` has the answers to m0 and
/// m2: a worker whose bot failed stops; the last one answers m2 and goes on. Returns how many
/// were started; fails once more than `most` (named `what`) were.
async fn start_until_answered(
    config: &NatsConfig,
    answers: &Recorded,
    errors: &Errors,
    mut journal: impl FnMut() -> MemoryJournal,
    most: usize,
    what: &str,
) -> usize {
    let mut started = 0;
    while answers.len() < 2 {
        started += 1;
        assert!(
            started <= most,
            "still not set aside after {started} {what}"
        );
        let run = run_worker(config, journal(), failing_on_poison(errors));
        until_stopped_or_answered(run, answers, 2).await;
    }
    started
}

/// How many signals the hub of `config` keeps in its dead-letter stream, once there is one
/// (within 5 s).
async fn set_aside(config: &NatsConfig) -> u64 {
    let client = async_nats::connect(nats_url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut dead = jetstream
        .get_stream(format!("CHATTY_{}_DEAD", config.hub))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let kept = dead.info().await.unwrap().state.messages;
        if kept > 0 || tokio::time::Instant::now() > deadline {
            return kept;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_signal_that_keeps_failing_is_set_aside_after_its_last_try() {
    let (config, answers, gateway) = poisoned_hub();
    // Each worker's bot fails on the poison; a fresh worker (another machine) comes each time.
    let errors = Errors::default();
    let tries =
        start_until_answered(&config, &answers, &errors, MemoryJournal::new, 6, "workers").await;
    // Three tries failed, the fourth worker set it aside and went on.
    assert_eq!(tries, 4, "{:?}", answers.texts());
    assert_eq!(answers.texts(), ["re m0", "re m2"]);
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("given 3 times") && errors[0].contains("_DEAD"),
        "{errors:?}"
    );
    // It is kept in the dead-letter stream.
    assert_eq!(set_aside(&config).await, 1);
    gateway.abort();
}

#[tokio::test]
async fn a_signal_that_stops_its_worker_each_time_is_set_aside_though_its_journal_gives_it_again() {
    let (config, answers, gateway) = poisoned_hub();
    // One worker machine: its journal is kept across the worker's restarts, and gives the
    // poison again at each start, before JetStream would.
    let journal = MemoryJournal::new();
    let errors = Errors::default();
    let starts =
        start_until_answered(&config, &answers, &errors, || journal.clone(), 8, "starts").await;
    assert!(starts <= 5, "{starts} starts");
    assert_eq!(answers.texts(), ["re m0", "re m2"]);
    let errors = errors.lock().unwrap().clone();
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e.contains("_DEAD")),
        "{errors:?}"
    );
    // Kept once in the dead-letter stream, by whichever count ran out.
    assert_eq!(set_aside(&config).await, 1);
    gateway.abort();
}

/// A signal that could not be set aside (its dead-letter stream was removed under the worker)
/// is tried again until it is kept, and the partition reads on. Before, its reader ended
/// without a word while the worker renewed the partition's lease: the signal was lost (its
/// last try taken) and the partition's later signals waited for a restart.
#[tokio::test]
async fn a_set_aside_that_failed_is_tried_again_and_the_partition_reads_on() {
    let (config, answers, gateway) = poisoned_hub();
    let errors = Errors::default();
    for _ in 0..3 {
        let run = run_worker(&config, MemoryJournal::new(), failing_on_poison(&errors));
        until_stopped_or_answered(run, &answers, 2).await;
    }
    assert_eq!(answers.texts(), ["re m0"]);
    let jetstream = async_nats::jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let dead = format!("CHATTY_{}_DEAD", config.hub);
    jetstream.delete_stream(&dead).await.unwrap();
    let fourth = tokio::spawn(run_worker(
        &config,
        MemoryJournal::new(),
        failing_on_poison(&errors),
    ));
    // The fourth worker has connected (it made the dead-letter stream again): the stream goes
    // before the poison comes back to it (after the 1 s ack wait).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while jetstream.get_stream(&dead).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker connects"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    jetstream.delete_stream(&dead).await.unwrap();
    assert!(answered(&answers, 2).await, "{:?}", answers.texts());
    assert_eq!(answers.texts(), ["re m0", "re m2"]);
    assert_eq!(set_aside(&config).await, 1);
    fourth.abort();
    gateway.abort();
}

/// A status change (typing, presence) is not kept in a journal: the worker acknowledges it once
/// handed on, and the conversation's next message comes.
#[tokio::test]
async fn a_status_change_does_not_stop_its_conversation() {
    let config = hub();
    let mut typing = Signal::new(chatty_core::StatusChange::new(
        chatty_core::Status::Typing {
            conversation: "test:alice".parse().unwrap(),
            state: chatty_core::TypingState::Composing,
        },
    ));
    typing.meta.origin = "test:alice".parse().ok();
    let mut given = vec![typing];
    given.extend(messages(2));
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(given));
    let worker = worker(&config, echo());
    assert!(
        answered(&answers, 2).await,
        "both messages answered after the status change"
    );
    assert_eq!(answers.texts(), ["re m0", "re m1"]);
    gateway.abort();
    worker.abort();
}

/// A system error a session reports (a malformed item it read) reaches the workers' bot, as
/// it reaches a bot on the session itself; the gateway dropped it before. The session's own
/// lifecycle signals stay with the gateway.
#[tokio::test]
async fn a_sessions_system_error_reaches_a_workers_bot() {
    let config = hub();
    let mut error = Signal::new(chatty_core::SystemError::new("test", "a malformed item"));
    error.meta.origin = "test:bot".parse().ok();
    let mut given = vec![error];
    given.extend(messages(1));
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(given));
    let bot = from_fn(|signal: Signal, handle| async move {
        let alice: chatty_core::Address = "test:alice".parse().unwrap();
        match &signal.body {
            Body::SystemError(e) => handle.say(&alice, format!("seen {}", e.message)).await?,
            Body::Message(m) => {
                handle
                    .send(signal.reply(Message::text(format!("re {}", m.text))))
                    .await?
            }
            _ => return Ok(()),
        };
        Ok(())
    });
    let worker = worker(&config, bot);
    assert!(answered(&answers, 2).await, "{:?}", answers.texts());
    let mut texts = answers.texts();
    texts.sort();
    assert_eq!(texts, ["re m0", "seen a malformed item"]);
    gateway.abort();
    worker.abort();
}

/// The next gateway asks its session about each answer the one before had taken and not
/// acknowledged: one the platform shows is not sent again; one it cannot tell about is.
#[tokio::test]
async fn an_answer_a_dead_gateway_may_have_sent_is_sent_again_only_if_the_platform_does_not_show_it()
 {
    for (says, again) in [(Some(true), 0), (None, 1)] {
        let config = hub();
        // The first gateway hands the answer to its platform, which never confirms it: the
        // gateway dies before it can acknowledge the answer to JetStream.
        let (_never, unconfirmed) = tokio::sync::watch::channel(0);
        let first = TestPlatform::new("test")
            .giving(messages(1))
            .confirming(unconfirmed);
        let (handed, first) = serving(&config, first);
        let worker = worker(&config, echo());
        assert!(
            answered(&handed, 1).await,
            "the answer handed to the platform"
        );
        first.abort();
        // The next gateway: its platform says whether the answer is there.
        let (sent, next) = serving(&config, TestPlatform::new("test").says_sent(says));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            sent.len(),
            again,
            "the platform says {says:?}: {:?}",
            sent.texts()
        );
        if again == 1 {
            assert_eq!(sent.texts(), ["re m0"]);
        }
        next.abort();
        worker.abort();
    }
}

#[tokio::test]
async fn a_standby_gateway_runs_the_hub_only_once_the_other_is_gone() {
    let config = hub();
    let worker = worker(&config, echo());
    // The first gateway holds the hub and runs.
    let first = NatsGateway::new(config.clone());
    let lease = first.hold().await.unwrap();
    let platform = TestPlatform::new("test").giving(messages(5));
    let first_answers = platform.outbound();
    let running = tokio::spawn(async move {
        let _lease = lease;
        Router::new().session(platform).run(first).await
    });
    if !answered(&first_answers, 5).await {
        let mut worker = worker;
        let ended = ended(&mut [("the worker", &mut worker)]).await;
        panic!("the first gateway's answers did not come within {DEADLINE:?}; {ended}");
    }
    // The second waits while the first lives (three lease times here).
    let second = NatsGateway::new(config.clone());
    let standby = tokio::spawn(async move {
        let lease = second.hold().await.unwrap();
        (second, lease, std::time::Instant::now())
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(!standby.is_finished(), "two gateways ran the hub at once");
    // The first dies; the second takes over within 1.1 lease times (2.2 s here), and runs.
    running.abort();
    let died = std::time::Instant::now();
    let (second, lease, took_over) = tokio::time::timeout(DEADLINE, standby)
        .await
        .expect("the standby took over")
        .unwrap();
    let after = took_over - died;
    assert!(after < Duration::from_secs(4), "took over after {after:?}");
    let mut later = messages(10);
    later.drain(..5);
    let platform = TestPlatform::new("test").giving(later);
    let second_answers = platform.outbound();
    let running = tokio::spawn(async move {
        let _lease = lease;
        Router::new().session(platform).run(second).await
    });
    assert!(
        answered(&second_answers, 5).await,
        "the second gateway's answers"
    );
    assert_eq!(
        sorted(second_answers.texts()),
        sorted((5..10).map(|i| format!("re m{i}")).collect())
    );
    running.abort();
    worker.abort();
}

#[tokio::test]
async fn a_workers_query_is_answered_by_the_gateways_sessions() {
    let config = hub();
    let (answers, gateway) = serving(&config, TestPlatform::new("test").giving(messages(1)));
    // The bot asks about the room of whoever wrote, and says what it was told.
    let asking = from_fn(|signal: Signal, handle| async move {
        if let Body::Message(_) = &signal.body {
            let room = "test:room;kind=channel".parse().unwrap();
            let told = match handle
                .query(chatty_core::Query::Members { address: room })
                .await
            {
                Ok(answer) => format!("answer {answer:?}"),
                Err(e) => format!("error {e}"),
            };
            let id = handle.send(signal.reply(Message::text(told))).await?;
            // How far that answer got is known where it was sent: at the gateway.
            let mut status = chatty_core::DeliveryStatus::Unknown;
            for _ in 0..100 {
                status = handle.delivery_status(&id).await?;
                if status != chatty_core::DeliveryStatus::Unknown {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let told = format!("status {status:?}");
            handle.send(signal.reply(Message::text(told))).await?;
        }
        Ok(())
    });
    let worker = worker(&config, asking);
    assert!(answered(&answers, 2).await, "two answers");
    // The test platform answers no query: its refusal came back through the hub.
    let told = answers.texts();
    assert!(
        told[0].starts_with("error") && told[0].contains("the session cannot answer this"),
        "{told:?}"
    );
    assert_eq!(told[1], "status Sent", "{told:?}");
    gateway.abort();
    worker.abort();
}

/// Forwards connections on `listener` to `to` (a NATS server), both ways.
async fn forward(listener: tokio::net::TcpListener, to: String) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let to = to.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[tokio::test]
async fn a_gateway_that_starts_before_nats_answers_runs_once_it_does() {
    // A port where nothing listens yet: the gateway's first tries to set up its hub fail.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let late = hub();
    let config = NatsConfig::new(format!("nats://127.0.0.1:{port}"), late.hub.clone())
        .with_ack_wait(Duration::from_secs(2))
        .with_lease(Duration::from_secs(2));
    let (answers, mut gateway) = serving(&config, TestPlatform::new("test").giving(messages(3)));
    let worker = worker(&late, echo());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !gateway.is_finished(),
        "the gateway gave up: {:?}",
        (&mut gateway).await
    );
    // NATS answers on that port now.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let nats = nats_url().trim_start_matches("nats://").to_owned();
    let _forwarding = tokio::spawn(forward(listener, nats));
    if !answered(&answers, 3).await {
        let ended = ended(&mut [("the gateway", &mut gateway)]).await;
        panic!("3 answers, got {:?}; {ended}", answers.texts());
    }
    assert_eq!(sorted(answers.texts()), expected(3));
    gateway.abort();
    worker.abort();
}

#[tokio::test]
async fn a_gateway_with_a_config_that_cannot_work_ends_at_once() {
    let config = hub();
    // The hub has 16 partitions (a first gateway's message answered: the count is set)…
    let worker = worker(&config, echo());
    let (answers, first) = serving(&config, TestPlatform::new("test").giving(messages(1)));
    assert!(answered(&answers, 1).await, "an answer through the hub");
    first.abort();
    // … and this gateway says 8.
    let other = NatsConfig::new(nats_url(), config.hub.clone()).with_partitions(8);
    let ended = tokio::time::timeout(DEADLINE, gateway(&other, TestPlatform::new("test")))
        .await
        .expect("the gateway ended")
        .unwrap();
    let error = ended.expect_err("a config that cannot work");
    assert!(error.to_string().contains("partitions"), "{error}");
    worker.abort();
}

#[tokio::test]
async fn gateways_and_workers_that_start_together_agree_on_the_partitions() {
    // Each creates the hub's partition count or reads it; started at the same moment, some
    // fail to create it before the first one's count can be read.
    for _ in 0..3 {
        let config = hub();
        let mut running: Vec<Running> = (0..4).map(|_| worker(&config, echo())).collect();
        running.extend((0..2).map(|_| gateway(&config, TestPlatform::new("test"))));
        tokio::time::sleep(Duration::from_secs(3)).await;
        for task in &mut running {
            assert!(!task.is_finished(), "one ended: {:?}", task.await);
        }
        running.iter().for_each(Running::abort);
    }
}
