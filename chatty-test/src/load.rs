//! Bots for benchmarks: one that floods an address with messages, one that counts them.

use chatty_core::reexports::futures::StreamExt;
use chatty_core::{Address, Body, Bot, BotError, Handle, Inbound, Signal};
use tokio::sync::oneshot;

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
