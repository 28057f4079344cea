//! A bot that hands its handle and what it receives to a test.

use std::time::Duration;

use chatty_core::reexports::async_channel;
use chatty_core::reexports::futures::StreamExt;
use chatty_core::{Body, Bot, BotError, Handle, Inbound, Signal, SignalKind};
use tokio::sync::oneshot;

/// A bot that does nothing by itself: the test gets its [`Handle`] and reads what reaches it
/// through the [`ProbeRemote`].
#[derive(Debug)]
pub struct Probe {
    handle_tx: oneshot::Sender<Handle>,
    inbound_tx: async_channel::Sender<Signal>,
    stop_rx: oneshot::Receiver<()>,
}

/// The test's side of a [`Probe`].
#[derive(Debug)]
pub struct ProbeRemote {
    handle_rx: Option<oneshot::Receiver<Handle>>,
    handle: Option<Handle>,
    inbound: async_channel::Receiver<Signal>,
    stop_tx: Option<oneshot::Sender<()>>,
    /// How long [`next`](ProbeRemote::next) waits.
    pub wait: Duration,
}

impl Probe {
    /// A probe and its remote.
    pub fn new() -> (Probe, ProbeRemote) {
        let (handle_tx, handle_rx) = oneshot::channel();
        let (inbound_tx, inbound) = async_channel::unbounded();
        let (stop_tx, stop_rx) = oneshot::channel();
        (
            Probe {
                handle_tx,
                inbound_tx,
                stop_rx,
            },
            ProbeRemote {
                handle_rx: Some(handle_rx),
                handle: None,
                inbound,
                stop_tx: Some(stop_tx),
                wait: Duration::from_secs(10),
            },
        )
    }
}

impl Bot for Probe {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let _ = self.handle_tx.send(handle);
        let mut stop = self.stop_rx;
        loop {
            tokio::select! {
                signal = inbound.next() => match signal {
                    Some(signal) => { let _ = self.inbound_tx.send(signal).await; }
                    None => return Ok(()),
                },
                _ = &mut stop => return Ok(()),
            }
        }
    }
}

impl ProbeRemote {
    /// The probe bot's handle (waits for the bot to start).
    ///
    /// # Panics
    /// If the bot never started.
    pub async fn handle(&mut self) -> Handle {
        if let Some(rx) = self.handle_rx.take() {
            let handle = tokio::time::timeout(self.wait, rx)
                .await
                .expect("the probe bot did not start in time")
                .expect("the probe bot was dropped before it started");
            self.handle = Some(handle);
        }
        self.handle.clone().expect("handle is set above")
    }

    /// The next signal the bot received, or `None` if none within the wait (or the bot ended).
    pub async fn next(&self) -> Option<Signal> {
        self.next_within(self.wait).await
    }

    /// The next signal within `wait`.
    pub async fn next_within(&self, wait: Duration) -> Option<Signal> {
        tokio::time::timeout(wait, self.inbound.recv())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// The next signal of `kind`, skipping others (status changes, lifecycle), within the wait.
    pub async fn next_of(&self, kind: SignalKind) -> Option<Signal> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let signal = self.next_within(left).await?;
            if signal.kind() == kind {
                return Some(signal);
            }
        }
    }

    /// Every signal that arrives within `wait` (for checking that nothing more comes).
    pub async fn drain_for(&self, wait: Duration) -> Vec<Signal> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(s) => out.push(s),
                None => return out,
            }
        }
    }

    /// Waits for the session-started signal.
    ///
    /// # Panics
    /// If it does not come.
    pub async fn started(&self) -> Signal {
        match self.next_of(SignalKind::SessionStarted).await {
            Some(s) => s,
            None => panic!("no SessionStarted within {:?}", self.wait),
        }
    }

    /// Stops the probe bot (the router then ends its sessions).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop_tx.take() {
            let _ = stop.send(());
        }
    }

    /// Whether `signal` is a lifecycle or connection signal (skipped by most checks).
    pub fn is_lifecycle(signal: &Signal) -> bool {
        matches!(
            signal.body,
            Body::SessionStarted(_)
                | Body::SessionAboutToEnd(_)
                | Body::SessionEnded(_)
                | Body::ConnectionError(_)
        )
    }
}
