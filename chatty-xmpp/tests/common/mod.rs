//! What the tests against the test Prosody share: where it is, and accounts from its pool.
//!
//! The server comes from `scripts/test` (which runs every test) or, by hand, from
//! `scripts/test-servers`; see the crate README. Without it, these tests fail and say so.

#![allow(dead_code, unreachable_pub)]

use std::fs::{File, OpenOptions};
use std::sync::Mutex;
use std::time::Duration;

use chatty_xmpp::{TlsMode, XmppConfig};

/// Where the test server is.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub direct_tls_port: u16,
    pub domain: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the chatty-xmpp tests need the test Prosody. `scripts/test` starts it \
             itself; to run these tests alone, start it with `scripts/test-servers` and, in another \
             shell, run `eval \"$(scripts/test-servers env)\"` before `cargo test -p chatty-xmpp`."
        )
    })
}

/// The test server, from the environment `scripts/test` and `scripts/test-servers` export.
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn server() -> Server {
    let port = |name: &str| {
        var(name)
            .parse()
            .unwrap_or_else(|e| panic!("{name} is not a port: {e}"))
    };
    Server {
        host: var("CHATTY_TEST_XMPP_HOST"),
        port: port("CHATTY_TEST_XMPP_PORT"),
        direct_tls_port: port("CHATTY_TEST_XMPP_DIRECT_TLS_PORT"),
        domain: var("CHATTY_TEST_XMPP_DOMAIN"),
    }
}

/// A test account: its JID and password.
#[derive(Debug, Clone)]
pub struct Account {
    pub jid: String,
    pub password: String,
}

/// The pool accounts this process holds (their lock files stay locked until it exits).
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// An account of the server's pool (t00, t01, …) that no other test, in this process or
/// another, is using: two tests on one account would see each other's messages. Each account
/// is locked (flock) until the process exits.
pub fn account() -> Account {
    let server = server();
    let pool: usize = std::env::var("CHATTY_TEST_XMPP_POOL")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(40);
    let dir = std::env::temp_dir().join(format!("chatty-xmpp-accounts-{}", server.port));
    std::fs::create_dir_all(&dir).expect("a directory for the account locks");
    // Start at a different account in each process, so that an account a test that just
    // ended used is rarely the next one taken (its session may still be closing on the server).
    let start = std::process::id() as usize
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as usize);
    for n in 0..pool {
        let i = (start + n) % pool;
        let user = format!("t{i:02}");
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(dir.join(format!("{user}.lock")))
            .expect("a lock file");
        if file.try_lock().is_ok() {
            HELD.lock().unwrap_or_else(|p| p.into_inner()).push(file);
            return Account {
                jid: format!("{user}@{}", server.domain),
                password: format!("secret-{user}"),
            };
        }
    }
    panic!("all {pool} test accounts are in use: raise XMPP_POOL_SIZE in scripts/lib/servers.sh");
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
