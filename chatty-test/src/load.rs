//! Bots for benchmarks: one that floods an address with messages, one that counts them; and
//! what the echo benchmarks share: an echo bot, measuring a run's rate and CPU time per round
//! trip, the journal and Logger a Chatty echo bot runs with, and the report's ratio lines.

use chatty_core::reexports::futures::StreamExt;
use std::future::Future;
use std::time::{Duration, Instant};

use chatty_core::session::Session;
use chatty_core::{Address, Body, Bot, BotError, Handle, Inbound, Message, Router, Signal};
use tokio::sync::oneshot;

/// The CPU time this process used so far (user and system, all threads), from
/// `/proc/self/stat` (in clock ticks of 10 ms): what the benchmarks measure per signal.
/// Zero where there is no `/proc` (not Linux).
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15, the 12th and 13th after the command name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The CPU time this process's threads used so far: the sum of their
/// `/proc/self/task/*/schedstat` (time on a CPU, user and system, in nanoseconds). Finer than
/// [`cpu_time`]'s 10 ms ticks, for runs of tens of milliseconds; a thread that ends during a
/// measurement takes its time with it (the runtime's workers and the journal's writer live
/// through one). Zero where there is no `/proc` (not Linux).
pub fn threads_cpu_time() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let ns = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// A number from the environment variable `name`, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The payload benchmarks carry: a text message to `to`.
pub fn payload(to: &Address) -> Signal {
    Signal::message("payload").to(to.clone())
}

/// Sends `n` [`payload`]s to `to` as fast as its handle takes them, then stops.
#[derive(Debug)]
pub struct Flood {
    /// The addressee.
    pub to: Address,
    /// How many.
    pub n: usize,
}

impl Bot for Flood {
    async fn run(self, _inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        for _ in 0..self.n {
            handle.send(payload(&self.to)).await?;
        }
        Ok(())
    }
}

/// Counts the messages it receives; says so on `done` when it has seen `n`, and keeps reading
/// until its sessions end.
#[derive(Debug)]
pub struct Count {
    /// How many to wait for.
    pub n: usize,
    /// Told when `n` messages have arrived.
    pub done: Option<oneshot::Sender<()>>,
}

impl Bot for Count {
    async fn run(mut self, mut inbound: Inbound, _handle: Handle) -> Result<(), BotError> {
        let mut count = 0;
        while let Some(signal) = inbound.next().await {
            if matches!(signal.body, Body::Message(_)) {
                std::hint::black_box(&signal);
                count += 1;
                if count == self.n
                    && let Some(done) = self.done.take()
                {
                    let _ = done.send(());
                }
            }
        }
        Ok(())
    }
}

/// Lets the receiver come online, then runs a [`Flood`] of `n` messages to `to` on `sender` and
/// returns how long it took until the receiver's [`Count`] said `counted`.
///
/// # Panics
/// If the receiver never counts them all (a benchmark has nothing to report then).
pub async fn time_flood(
    sender: impl Session,
    to: Address,
    n: usize,
    counted: oneshot::Receiver<()>,
) -> Duration {
    // So that nothing waits for the receiver offline.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let start = Instant::now();
    let sending = tokio::spawn(Router::new().session(sender).run(Flood { to, n }));
    counted.await.expect("the receiver counts every message");
    let elapsed = start.elapsed();
    let _ = sending.await;
    elapsed
}

/// An echo bot for round-trip benchmarks: answers every message with its text, until a
/// message says `quit`; then it ends its sessions.
#[derive(Debug, Clone, Copy)]
pub struct EchoUntil(pub &'static str);

impl Bot for EchoUntil {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if let Body::Message(m) = &signal.body {
                if m.text == self.0 {
                    let end = Body::InitiateSessionEnd(chatty_core::SessionEnd::default());
                    handle.send(Signal::new(end)).await?;
                    break;
                }
                handle
                    .send(signal.reply(Message::text(m.text.clone())))
                    .await?;
            }
        }
        Ok(())
    }
}

/// A router with the echoing `session` and no answer limit on it: an echo benchmark answers
/// its one correspondent thousands of times, which the default limit
/// ([`AnswerLimit::CHAT`](chatty_core::AnswerLimit::CHAT), 3 000 per 10 minutes) takes for a
/// loop with another bot, so that a run of more round trips would stall at 3 000.
pub fn echo_router(session: impl Session) -> Router {
    let name = session.name().to_owned();
    Router::new().answer_limit(&name, None).session(session)
}

/// One echoing side of an echo benchmark, measured: round trips per second and the process's
/// CPU time per round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Round trips per second.
    pub rate: f64,
    /// The whole process's CPU time per round trip (driver included), in milliseconds.
    pub cpu_ms: f64,
}

impl Measured {
    /// Measures a run of `n` round trips: `run` makes them and returns the seconds they took;
    /// the CPU time is what `clock` (such as [`cpu_time`] or [`threads_cpu_time`]) counts from
    /// just before `run` starts to just after it ends.
    pub async fn run(n: usize, clock: fn() -> Duration, run: impl Future<Output = f64>) -> Self {
        let before = clock();
        let secs = run.await;
        let cpu = clock().saturating_sub(before).as_secs_f64();
        Measured {
            rate: n as f64 / secs,
            cpu_ms: cpu * 1000.0 / n as f64,
        }
    }

    /// The rate and the CPU time per round trip with `rate_digits` and `cpu_digits` decimals,
    /// as a report line shows them: `17979/s (0.0240 ms)`.
    pub fn show(&self, rate_digits: usize, cpu_digits: usize) -> String {
        format!(
            "{:>5.rate_digits$}/s ({:.cpu_digits$} ms)",
            self.rate, self.cpu_ms
        )
    }
}

/// Prints the two ratio lines of an echo benchmark's run: each `(label, side, baseline)`'s rate
/// divided by its baseline's, then its CPU time per round trip divided by its baseline's, under
/// the run's first line:
///
/// ```text
///        rate: chatty/bare 0.85  +journal 0.60
///        CPU per echo: chatty/bare 1.80  +journal 4.40
/// ```
pub fn print_ratios(ratios: &[(&str, &Measured, &Measured)]) {
    let line = |of: fn(&Measured) -> f64| {
        ratios
            .iter()
            .map(|(label, side, base)| format!("{label} {:.2}", of(side) / of(base)))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("       rate: {}", line(|m| m.rate));
    println!("       CPU per echo: {}", line(|m| m.cpu_ms));
}

/// What a Chatty echo bot in a benchmark runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// Nothing: no journal, no Logger.
    Nothing,
    /// The journal.
    Journal,
    /// The journal and the Logger, on one database.
    JournalAndLogger,
}

impl Durable {
    /// Each with its name for `CHATTY_BENCH_ONLY`: `chatty`, `journal`, `logger`.
    pub const NAMED: [(&'static str, Durable); 3] = [
        ("chatty", Durable::Nothing),
        ("journal", Durable::Journal),
        ("logger", Durable::JournalAndLogger),
    ];
}

/// The one echoing side the environment variable `CHATTY_BENCH_ONLY` asks a benchmark to run
/// alone (for a profiler), with its name; `None` when it is not set. The names are a bench's
/// own sides in `extra` (such as `bare`), then the Chatty bots of [`Durable::NAMED`], which
/// `chatty` makes into a side.
///
/// # Panics
/// On any other name.
pub fn bench_only<T: Copy>(
    extra: &[(&str, T)],
    chatty: impl Fn(Durable) -> T,
) -> Option<(String, T)> {
    let only = std::env::var("CHATTY_BENCH_ONLY").ok()?;
    let named = extra
        .iter()
        .copied()
        .chain(Durable::NAMED.map(|(name, durable)| (name, chatty(durable))));
    let mut names = Vec::new();
    for (name, side) in named {
        if name == only {
            return Some((only, side));
        }
        names.push(format!("`{name}`"));
    }
    let last = names.pop().unwrap_or_default();
    panic!(
        "CHATTY_BENCH_ONLY: {} or {last}, not `{only}`",
        names.join(", ")
    );
}

/// Prints the counters of a Chatty echo bot's journal writer after its run.
pub fn print_writer(commits: u64, writes: u64) {
    println!("    the writer: {commits} commits for {writes} writes");
}

/// Waits up to 10 s for an echoing side's task to end after its quit message, and says so
/// when it does not.
pub async fn ended<T>(task: tokio::task::JoinHandle<T>) {
    if tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .is_err()
    {
        println!("  (the echoing side did not end within 10 s)");
    }
}
