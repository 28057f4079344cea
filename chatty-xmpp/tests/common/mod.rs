//! What the tests against the test Prosody share: where it is, and accounts from its pool.
//!
//! The server comes from `scripts/test` (which runs every test) or, by hand, from
//! `scripts/test-servers`; see the crate README. Without it, these tests fail and say so.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use chatty_core::{Body, Router, SessionEnd, Signal, Status};
use chatty_test::Probe;
use chatty_test::ProbeRemote;
use chatty_xmpp::{TlsMode, XmppConfig, XmppSession};
use tokio::task::JoinHandle;

/// Where the test server is.
pub use chatty_test::servers::XmppServer as Server;

/// The test server, from the environment `scripts/test` and `scripts/test-servers` export.
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn server() -> Server {
    chatty_test::servers::xmpp_server()
}

/// A test account: its JID and password.
#[derive(Debug, Clone)]
pub struct Account {
    pub jid: String,
    pub password: String,
}

/// An account of the server's pool (t00, t01, …) that no other test, in this process or
/// another, is using; see [`chatty_test::servers::pool_account`].
pub fn account() -> Account {
    let (jid, password) = chatty_test::servers::xmpp_account();
    Account { jid, password }
}

/// A configuration for `account` on the test server, with STARTTLS and short timeouts.
pub fn config(account: &Account) -> XmppConfig {
    let server = server();
    XmppConfig::new(&account.jid, account.password.as_str())
        .with_server(server.host, server.port)
        .with_tls(TlsMode::Starttls)
        .with_connect_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2))
}

pub const WAIT: Duration = Duration::from_secs(10);

/// A bot (a probe) on a session of its own, through a router.
pub struct Bot {
    pub remote: ProbeRemote,
    pub address: chatty_core::Address,
    pub task: JoinHandle<()>,
}

pub async fn bot(config: XmppConfig) -> Bot {
    let session = XmppSession::new(config).expect("a valid config");
    let address = session.address().clone();
    let (probe, mut remote) = Probe::new();
    remote.wait = WAIT;
    let router = Router::new().session(session);
    let task = tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    Bot {
        remote,
        address,
        task,
    }
}

impl Bot {
    pub async fn send(&mut self, signal: Signal) -> chatty_core::SignalId {
        self.remote.handle().await.send(signal).await.expect("sent")
    }

    /// The next signal that is neither lifecycle nor presence.
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

    pub async fn finish(mut self) {
        self.send(Signal::new(Body::InitiateSessionEnd(SessionEnd::default())))
            .await;
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the router ends")
            .expect("no panic");
    }
}
