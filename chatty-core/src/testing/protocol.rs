//! What a [`TestPlatform`] does as a [`Protocol`]: connect, serve, send.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::platform::{Refusing, TestPlatform};
use crate::address::Address;
use crate::capability::Capabilities;
use crate::driver::{Driver, Failure, Link, Protocol, lock};
use crate::session::{Confirmation, Refusal, confirmed};
use crate::signal::{ConnectionErrorKind, FailureKind, Signal};

impl Protocol for TestPlatform {
    /// The connection's number: 1 for the first.
    type Connection = usize;

    fn driver(&self) -> &Driver {
        &self.driver
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &str {
        "test"
    }

    fn own(&self) -> Option<Address> {
        let connected = self.connections.load(Ordering::SeqCst) > 0;
        self.own.clone().filter(|_| connected)
    }

    fn capabilities(&self, _: Option<&Address>) -> Capabilities {
        Capabilities::all()
    }

    async fn connect(self: Arc<Self>, _link: Link) -> Result<usize, Failure> {
        if let Some(failure) = lock(&self.failures).pop_front() {
            return Err(failure);
        }
        Ok(self.connections.fetch_add(1, Ordering::SeqCst) + 1)
    }

    async fn serve(self: Arc<Self>, connection: usize, link: Link) -> Result<(), Failure> {
        let mut dropped = self.drops.subscribe();
        let signals = (self.giving.0)(connection);
        self.give(&signals, &link).await;
        if self.chattering {
            chatter(connection, signals.len(), &link).await;
        }
        tokio::select! {
            () = link.stopping() => {
                self.stopped.store(true, Ordering::SeqCst);
                Ok(())
            }
            _ = dropped.recv() => {
                Err(Failure::new(ConnectionErrorKind::Unreachable, "dropped by the test"))
            }
        }
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        self.hand_on(signal).await?.await
    }

    async fn hand_on(&self, signal: Signal) -> Result<Confirmation, Refusal> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(refusal) = self.refusal() {
            self.refused.push(signal);
            return Err(refusal);
        }
        // Recorded as a platform's session records what it sent, for delivery-status queries.
        let id = signal.meta.id.clone();
        let number = self.outbound.push(signal);
        self.driver()
            .deliveries()
            .advance(&id, crate::query::DeliveryStatus::Sent);
        let Some(up_to) = &self.confirmed else {
            return Ok(confirmed());
        };
        let mut up_to = up_to.clone();
        Ok(Box::pin(async move {
            let _ = up_to.wait_for(|&up_to| up_to >= number).await;
            Ok(())
        }))
    }

    async fn sent(&self, _signal: &Signal) -> Option<bool> {
        self.says_sent
    }
}

impl TestPlatform {
    /// Gives this connection's `signals`, every round, until a push is refused.
    async fn give(&self, signals: &[Signal], link: &Link) {
        for _ in 0..self.rounds {
            for signal in signals {
                if let Some(pace) = self.pace {
                    tokio::time::sleep(pace).await;
                }
                let given = if self.feeding {
                    link.feed(signal.clone()).await
                } else {
                    link.push(signal.clone()).await
                };
                if given.is_err() {
                    return;
                }
                if self.marking {
                    let id = signal.meta.id.as_str();
                    let marked = match self.feeding {
                        true => link.feed_mark("given", id).await.is_ok(),
                        false => link.set_mark("given", id).await.is_ok(),
                    };
                    if !marked {
                        return;
                    }
                }
            }
            if self.feeding && link.synced().await.is_err() {
                return;
            }
        }
    }

    /// Why a signal sent now is refused, if it is.
    fn refusal(&self) -> Option<Refusal> {
        let cause = match self.refusing {
            Refusing::Never => return None,
            Refusing::OnceEnded if !self.has_stopped() => return None,
            Refusing::OnceEnded => "the session has ended",
            Refusing::Always => "the platform cannot be reached",
        };
        Some(Refusal::new(FailureKind::Unreachable, cause))
    }
}

/// Pushes messages `"{connection}.{i}"`, `i` from `first`, as fast as it can until the session
/// is to stop.
async fn chatter(connection: usize, first: usize, link: &Link) {
    let mut i = first;
    while !link.is_stopping() {
        // Refused once the session is ending: the platform keeps it (unacknowledged).
        let _ = link
            .push(Signal::message(format!("{connection}.{i}")))
            .await;
        i += 1;
        tokio::task::yield_now().await;
    }
}
