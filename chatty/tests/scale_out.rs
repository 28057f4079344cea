//! Scale-out with real processes: `chatty` gateways and workers (`[bots.X] nats = {…}`,
//! `[sessions.X.nats]`) on the test NATS server, people on the test Prosody (raw XMPP clients
//! written here, in the test's process), and SIGKILL.
//!
//! - A gateway and a worker; a second worker added mid-burst takes over partitions; the first is
//!   SIGKILLed mid-burst. 2 000 messages from eight people: each gets exactly one answer to each,
//!   in the order sent.
//! - Two gateways of one hub sharing a PostgreSQL journal: the active one is SIGKILLed mid-burst,
//!   the standby answers within 10 s, and each message gets exactly one answer.
//!
//! Needs the test servers (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`):
//! Prosody with its archive, nats-server with JetStream, PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::crash::{Chatty, plain};
use common::xmpp_person::{Heard, Ids, Person};
use common::xmpp_session_toml;
use tokio::sync::watch;
use tokio::time::Instant;

mod common;

/// How one person's burst goes.
#[derive(Clone, Copy)]
struct Pace {
    /// How many messages the person sends.
    messages: usize,
    /// The time between two messages.
    every: Duration,
    /// How many may be unanswered at once.
    window: usize,
    /// How long nothing more may come once every message has an answer.
    quiet: Duration,
    /// When to give up.
    deadline: Duration,
}

/// What one person got: the numbers of the answers, in the order they came, and when the first
/// answer to a message sent after `since` came (if `since` was set).
struct Heard1 {
    answers: Vec<usize>,
    first_after: Option<Duration>,
}

/// A person on a pool account, talking to `bot`; their messages are `{tag}-{i:04}`.
struct Talker {
    person: Person,
    tag: String,
}

impl Talker {
    async fn new(tag: String) -> Talker {
        let server = chatty_test::servers::xmpp_server();
        let (jid, password) = chatty_test::servers::xmpp_account();
        let person = Person::connect(&server, &jid, &password).await;
        Talker { person, tag }
    }

    /// Says hello until the bot answers (it may still be starting).
    async fn warm_up(&mut self, bot: &str) {
        let started = Instant::now();
        let mut n = 0;
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the bot never answered {}'s hello",
                self.tag
            );
            self.person
                .send(bot, &format!("warm-up-{}-{n}", self.tag), Ids::Stanza)
                .await;
            n += 1;
            let until = Instant::now() + Duration::from_secs(2);
            while let Ok(Some(element)) =
                tokio::time::timeout_at(until, self.person.stanzas.recv()).await
            {
                if let Some(Heard::Answer(body)) = self.person.handle(&element).await
                    && body.starts_with("warm-up-")
                {
                    return;
                }
            }
        }
    }

    /// Sends the burst to `bot`, counting answers into `total`; `kill` holds the instant of a
    /// kill once there is one, to time the first answer to a message sent after it.
    async fn burst(
        mut self,
        bot: String,
        pace: Pace,
        total: Arc<AtomicUsize>,
        kill: watch::Receiver<Option<Instant>>,
    ) -> Heard1 {
        let number = |body: &str| {
            let rest = body.strip_prefix(&self.tag)?.strip_prefix('-')?;
            rest.parse::<usize>().ok().filter(|i| *i < pace.messages)
        };
        let started = Instant::now();
        let mut answers = Vec::new();
        let mut sent_at: Vec<Instant> = Vec::new();
        let mut first_after = None;
        let mut last_answer = Instant::now();
        let mut tick = tokio::time::interval(pace.every);
        loop {
            let answered = answers.len();
            tokio::select! {
                _ = tick.tick(), if sent_at.len() < pace.messages
                    && sent_at.len() < answered + pace.window => {
                    let i = sent_at.len();
                    let text = format!("{}-{i:04}", self.tag);
                    self.person.send(&bot, &text, Ids::of(i)).await;
                    sent_at.push(Instant::now());
                }
                element = self.person.stanzas.recv() => {
                    let element = element.expect("the person's stream is open");
                    if let Some(Heard::Answer(body)) = self.person.handle(&element).await
                        && let Some(i) = number(&body)
                    {
                        answers.push(i);
                        total.fetch_add(1, Ordering::Relaxed);
                        last_answer = Instant::now();
                        if let Some(killed) = *kill.borrow()
                            && first_after.is_none()
                            && sent_at.get(i).is_some_and(|at| *at > killed)
                        {
                            first_after = Some(last_answer - killed);
                        }
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let mut have: Vec<usize> = answers.clone();
            have.sort_unstable();
            have.dedup();
            let done = have.len() >= pace.messages && last_answer.elapsed() >= pace.quiet;
            if done || started.elapsed() > pace.deadline {
                return Heard1 {
                    answers,
                    first_after,
                };
            }
        }
    }
}

/// A `chatty` process in a directory of its own under `dir`.
fn process(dir: &Path, name: &str, config: &str) -> Chatty {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Chatty::start(&dir, config, "info,chatty_nats=info")
}

/// The lines of a process's first run log that contain `text`, without their colours.
fn log_lines(dir: &Path, name: &str, text: &str) -> Vec<String> {
    let log: PathBuf = dir.join(name).join("run-1.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(plain)
        .filter(|l| l.contains(text))
        .collect()
}

/// The `nats` table of every process of the hub `hub`: short leases and ack waits, so that a
/// test does not wait long for a dead worker's partitions.
fn hub_table(hub: &str, quick: bool) -> String {
    let url = chatty_test::servers::var("CHATTY_TEST_NATS_URL");
    if quick {
        format!(r#"{{ url = "{url}", hub = "{hub}", lease_ms = 2000, ack_wait_ms = 4000 }}"#)
    } else {
        format!(r#"{{ url = "{url}", hub = "{hub}" }}"#)
    }
}

/// A worker's config: the echo bot on the hub's session.
fn worker_config(hub: &str, quick: bool) -> String {
    format!(
        r#"
[sessions.hub]
answer_limit = false
nats = {table}

[bots.echo]
sessions = ["hub"]
echo = {{}}
"#,
        table = hub_table(hub, quick)
    )
}

/// A gateway's config: the account `jid` and the gateway bot; `journal` is the `[journal]`
/// table's body, if any.
fn gateway_config(hub: &str, quick: bool, jid: &str, password: &str, journal: &str) -> String {
    format!(
        r#"
[sessions.chat]
answer_limit = false
{xmpp}
[bots.gateway]
sessions = ["chat"]
nats = {table}

[journal]
{journal}
"#,
        xmpp = xmpp_session_toml("chat", jid, password),
        table = hub_table(hub, quick)
    )
}

/// Waits until `ready` is true, checking the processes meanwhile.
async fn wait_for(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each person's answers that are missing, repeated or out of order, as a report (empty if
/// none): every message answered once, in the order sent.
fn check_each_once_in_order(heard: &[Heard1], messages: usize) -> (usize, usize, Vec<String>) {
    let (mut lost, mut twice, mut report) = (0, 0, Vec::new());
    for (p, h) in heard.iter().enumerate() {
        let mut seen = vec![0usize; messages];
        for i in &h.answers {
            seen[*i] += 1;
        }
        let missing: Vec<usize> = (0..messages).filter(|i| seen[*i] == 0).collect();
        let repeated: Vec<usize> = (0..messages).filter(|i| seen[*i] > 1).collect();
        let out_of_order = h.answers.windows(2).filter(|w| w[1] <= w[0]).count();
        lost += missing.len();
        twice += repeated.len();
        if !missing.is_empty() || !repeated.is_empty() || out_of_order > 0 {
            report.push(format!(
                "person {p}: lost {missing:?}, twice {repeated:?}, {out_of_order} out of order"
            ));
        }
    }
    (lost, twice, report)
}

/// Each person's burst: 250 messages, one every 8 ms, at most 60 unanswered.
const PACE: Pace = Pace {
    messages: 250,
    every: Duration::from_millis(8),
    window: 60,
    quiet: Duration::from_secs(8),
    deadline: Duration::from_secs(240),
};

/// `people` people on pool accounts (their messages tagged `{prefix}{n}-`), each answered once
/// by `bot` already.
async fn talkers(people: usize, prefix: &str, bot: &str) -> Vec<Talker> {
    let mut talkers = Vec::new();
    for p in 0..people {
        let mut talker = Talker::new(format!("{prefix}{p}")).await;
        talker.warm_up(bot).await;
        talkers.push(talker);
    }
    talkers
}

/// Starts each talker's burst to `bot`, all counting answers into `total`.
fn bursts(
    talkers: Vec<Talker>,
    bot: &str,
    total: &Arc<AtomicUsize>,
    kill: &watch::Receiver<Option<Instant>>,
) -> Vec<tokio::task::JoinHandle<Heard1>> {
    talkers
        .into_iter()
        .map(|t| tokio::spawn(t.burst(bot.to_owned(), PACE, total.clone(), kill.clone())))
        .collect()
}

/// What each burst heard, once all have ended.
async fn heard(bursts: Vec<tokio::task::JoinHandle<Heard1>>) -> Vec<Heard1> {
    let mut heard = Vec::new();
    for burst in bursts {
        heard.push(burst.await.unwrap());
    }
    heard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_burst_and_one_added_lose_repeat_and_reorder_nothing() {
    const PEOPLE: usize = 8;
    let pace = PACE;
    let dir = tempfile::tempdir().unwrap();
    let hub = format!("w{}", std::process::id());
    let (bot_jid, bot_password) = chatty_test::servers::xmpp_account();
    let mut gateway = process(
        dir.path(),
        "gateway",
        &gateway_config(&hub, true, &bot_jid, &bot_password, ""),
    );
    let mut first = process(dir.path(), "worker-1", &worker_config(&hub, true));
    let talkers = talkers(PEOPLE, "p", &bot_jid).await;
    let total = Arc::new(AtomicUsize::new(0));
    let (_kill_tx, kill) = watch::channel(None);
    let bursts = bursts(talkers, &bot_jid, &total, &kill);

    // A second worker once a fifth is answered; the first killed once half is.
    let all = PEOPLE * pace.messages;
    wait_for("a fifth answered", pace.deadline, || {
        total.load(Ordering::Relaxed) >= all / 5
    })
    .await;
    let mut second = process(dir.path(), "worker-2", &worker_config(&hub, true));
    wait_for(
        "the first worker gives up partitions",
        Duration::from_secs(30),
        || {
            first.check();
            log_lines(dir.path(), "worker-1", "given_up=[")
                .iter()
                .any(|l| !l.contains("given_up=[]"))
        },
    )
    .await;
    wait_for("half answered", pace.deadline, || {
        total.load(Ordering::Relaxed) >= all / 2
    })
    .await;
    let at_kill = total.load(Ordering::Relaxed);
    first.kill();

    let heard = heard(bursts).await;
    gateway.check();
    second.check();
    gateway.stop();
    second.stop();
    let taken_by_second = log_lines(dir.path(), "worker-2", "taken=[")
        .iter()
        .any(|l| !l.contains("taken=[]"));
    let (lost, twice, report) = check_each_once_in_order(&heard, pace.messages);
    eprintln!(
        "{all} messages from {PEOPLE} people; the first worker killed with {at_kill} answered; \
         lost {lost}, answered twice {twice}"
    );
    assert!(at_kill < all, "the kill came after the burst");
    assert!(taken_by_second, "the added worker took no partition");
    assert!(
        report.is_empty(),
        "{}\n--- gateway:\n{}\n--- second worker:\n{}",
        report.join("\n"),
        gateway.tail(),
        second.tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_gateway_answers_within_10_s_of_the_active_ones_death_and_each_message_once() {
    const PEOPLE: usize = 4;
    let pace = PACE;
    let dir = std::mem::ManuallyDrop::new(tempfile::tempdir().unwrap());
    eprintln!("DIR {}", dir.path().display());
    let hub = format!("g{}", std::process::id());
    let (bot_jid, bot_password) = chatty_test::servers::xmpp_account();
    // Both gateways keep their journal in one PostgreSQL schema, as one identity: the standby
    // goes on from the active one's cursors.
    let journal = format!(
        "url = \"{}\"\nschema = \"gw_{}\"\nidentity = \"gateway\"\n",
        chatty_test::servers::var("CHATTY_TEST_POSTGRES_URL"),
        std::process::id()
    );
    let config = gateway_config(&hub, false, &bot_jid, &bot_password, &journal);
    let mut active = process(dir.path(), "gateway-1", &config);
    wait_for(
        "the first gateway holds the hub",
        Duration::from_secs(30),
        || {
            active.check();
            !log_lines(dir.path(), "gateway-1", "this gateway holds the hub").is_empty()
        },
    )
    .await;
    let mut standby = process(dir.path(), "gateway-2", &config);
    let mut worker = process(dir.path(), "worker", &worker_config(&hub, false));
    let talkers = talkers(PEOPLE, "q", &bot_jid).await;
    standby.check();
    assert!(
        log_lines(dir.path(), "gateway-2", "this gateway holds the hub").is_empty(),
        "the standby runs while the active gateway lives"
    );
    let total = Arc::new(AtomicUsize::new(0));
    let (kill_tx, kill) = watch::channel(None);
    let bursts = bursts(talkers, &bot_jid, &total, &kill);
    let all = PEOPLE * pace.messages;
    wait_for("a third answered", pace.deadline, || {
        total.load(Ordering::Relaxed) >= all / 3
    })
    .await;
    let at_kill = total.load(Ordering::Relaxed);
    active.kill();
    kill_tx.send(Some(Instant::now())).unwrap();

    let heard = heard(bursts).await;
    standby.check();
    worker.check();
    standby.stop();
    worker.stop();
    let (lost, twice, report) = check_each_once_in_order(&heard, pace.messages);
    let takeover = heard.iter().filter_map(|h| h.first_after).min();
    eprintln!(
        "{all} messages from {PEOPLE} people; the active gateway killed with {at_kill} answered; \
         the first answer to a message sent after the kill came {takeover:?} after it; lost \
         {lost}, answered twice {twice}"
    );
    assert!(at_kill < all, "the kill came after the burst");
    let takeover = takeover.expect("no answer to a message sent after the kill");
    assert!(
        takeover <= Duration::from_secs(10),
        "the standby answered {takeover:?} after the kill"
    );
    // The answer the killed gateway may have been sending is looked for in the account's
    // archive before it is sent again.
    assert_eq!(
        (lost, twice),
        (0, 0),
        "{}\n--- standby:\n{}\n--- worker:\n{}",
        report.join("\n"),
        standby.tail(),
        worker.tail()
    );
}
