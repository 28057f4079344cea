//! What the tests against the test Prosody share: where it is, and accounts from its pool.
//!
//! The server comes from `scripts/test` (which runs every test) or, by hand, from
//! `scripts/test-servers`; see the crate README. Without it, these tests fail and say so.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use chatty_xmpp::{TlsMode, XmppConfig, XmppSession};

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

/// How long tests wait for what must come.
pub const WAIT: Duration = Duration::from_secs(10);

/// A bot (a probe) on a session of its own, through a router.
pub type Bot = chatty_test::TestBot<XmppSession>;

/// Starts a bot on `config` and waits for its `SessionStarted`.
pub async fn bot(config: XmppConfig) -> Bot {
    let session = XmppSession::new(config).expect("a valid config");
    let address = session.address().clone();
    chatty_test::run_bot(session, address, WAIT).await
}
