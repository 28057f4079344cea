//! Bots for benchmarks: one that floods an address with messages, one that counts them.

use chatty_core::reexports::futures::StreamExt;
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
