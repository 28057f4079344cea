//! A [`Probe`] bot on one session of its own, through a real [`Router`], for the protocol
//! crates' own tests.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::journal::Journal;
use chatty_core::session::Session;
use chatty_core::{Address, Body, Router, SessionEnd, Signal, SignalId, Status};
use tokio::task::JoinHandle;

use crate::probe::{Probe, ProbeRemote};

/// A bot (a probe) on a session of its own, through a router; see [`run_bot`].
pub struct TestBot<S> {
    /// The test's side of the probe.
    pub remote: ProbeRemote,
    /// The session's own address.
    pub address: Address,
    /// The session, shared with the router (for tests that inspect it).
    pub session: Arc<S>,
    wait: Duration,
    task: JoinHandle<()>,
}

impl<S: Session> std::fmt::Debug for TestBot<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBot")
            .field("remote", &self.remote)
            .field("address", &self.address)
            .field("session", &self.session.name())
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// Starts a probe bot on `session` (whose own address is `address`) through a router and waits
/// for its `SessionStarted`; the remote waits `wait` for what must come.
///
/// # Panics
/// If `SessionStarted` does not come within `wait`.
pub async fn run_bot<S: Session>(session: S, address: Address, wait: Duration) -> TestBot<S> {
    run_bot_on(Router::new(), session, address, wait).await
}

/// [`run_bot`] under a router with `journal` (a [`MemoryJournal`] shared by two runs is the
/// journal of a process that is started again).
///
/// [`MemoryJournal`]: chatty_core::journal::MemoryJournal
///
/// # Panics
/// If `SessionStarted` does not come within `wait`.
pub async fn run_journaled_bot<S: Session>(
    session: S,
    address: Address,
    wait: Duration,
    journal: impl Journal,
) -> TestBot<S> {
    run_bot_on(Router::new().journal(journal), session, address, wait).await
}

/// Starts a probe bot on `session` through `router`.
async fn run_bot_on<S: Session>(
    router: Router,
    session: S,
    address: Address,
    wait: Duration,
) -> TestBot<S> {
    let session = Arc::new(session);
    let (probe, mut remote) = Probe::new();
    remote.wait = wait;
    let router = router.shared_session(session.clone());
    let task = tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    TestBot {
        remote,
        address,
        session,
        wait,
        task,
    }
}

impl<S: Session> TestBot<S> {
    /// Sends `signal` through the bot's handle.
    ///
    /// # Panics
    /// If the router refuses it.
    pub async fn send(&mut self, signal: Signal) -> SignalId {
        self.remote.handle().await.send(signal).await.expect("sent")
    }

    /// The next signal that is neither lifecycle nor presence.
    ///
    /// # Panics
    /// If none comes within the wait.
    pub async fn next_io(&self) -> Signal {
        loop {
            let signal = self.remote.next().await.expect("a signal in time");
            let presence = matches!(&signal.body, Body::StatusChange(c)
                if matches!(c.status, Status::Presence { .. }));
            if !ProbeRemote::is_lifecycle(&signal) && !presence {
                return signal;
            }
        }
    }

    /// Ends the session and waits for the router.
    ///
    /// # Panics
    /// If the router does not end within the wait, or panicked.
    pub async fn finish(mut self) {
        self.send(Signal::new(Body::InitiateSessionEnd(SessionEnd::default())))
            .await;
        tokio::time::timeout(self.wait, self.task)
            .await
            .expect("the router ends")
            .expect("no panic");
    }
}
