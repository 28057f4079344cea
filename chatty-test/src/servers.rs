//! Where the test servers are (`scripts/test` and `scripts/test-servers` start them and export
//! their addresses), and accounts from their pools that no other running test uses.

use std::fs::{File, OpenOptions};
use std::sync::Mutex;

/// Reads an environment variable the test scripts export.
///
/// # Panics
/// With the command to run when it is not set.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the test servers. `scripts/test` starts them \
             itself; to run tests alone, start them with `scripts/test-servers` and, in another \
             shell, run `eval \"$(scripts/test-servers env)\"` before `cargo test`."
        )
    })
}

fn port(name: &str) -> u16 {
    var(name)
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a port: {e}"))
}

/// Where the test XMPP server (Prosody) is.
#[derive(Debug, Clone)]
pub struct XmppServer {
    /// Its host (an IP address).
    pub host: String,
    /// The client port (STARTTLS, or plaintext).
    pub port: u16,
    /// The direct-TLS client port.
    pub direct_tls_port: u16,
    /// The XMPP domain of its accounts.
    pub domain: String,
}

/// The test XMPP server.
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn xmpp_server() -> XmppServer {
    XmppServer {
        host: var("CHATTY_TEST_XMPP_HOST"),
        port: port("CHATTY_TEST_XMPP_PORT"),
        direct_tls_port: port("CHATTY_TEST_XMPP_DIRECT_TLS_PORT"),
        domain: var("CHATTY_TEST_XMPP_DOMAIN"),
    }
}

/// A test account: its user name and password.
#[derive(Debug, Clone)]
pub struct PoolAccount {
    /// The user name (`t07`).
    pub user: String,
    /// Its password (`secret-t07`).
    pub password: String,
}

/// The pool accounts this process holds (their lock files stay locked until it exits).
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// An account of a server's pool (`{prefix}00`, `{prefix}01`, …, password `secret-{user}`) that
/// no other test, in this process or another, is using: two tests on one account would see each
/// other's messages. Each account is locked (flock) until the process exits. `server_key` tells
/// servers apart (the port, say), `size` is the pool's size.
///
/// # Panics
/// When every account is in use.
pub fn pool_account(prefix: &str, server_key: &str, size: usize) -> PoolAccount {
    let dir = std::env::temp_dir().join(format!("chatty-test-accounts-{prefix}-{server_key}"));
    std::fs::create_dir_all(&dir).expect("a directory for the account locks");
    // Start at a different account in each process, so that an account a test that just
    // ended used is rarely the next one taken (its session may still be closing on the server).
    let start = std::process::id() as usize
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as usize);
    for n in 0..size {
        let i = (start + n) % size;
        let user = format!("{prefix}{i:02}");
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(dir.join(format!("{user}.lock")))
            .expect("a lock file");
        if file.try_lock().is_ok() {
            HELD.lock().unwrap_or_else(|p| p.into_inner()).push(file);
            return PoolAccount {
                password: format!("secret-{user}"),
                user,
            };
        }
    }
    panic!(
        "all {size} `{prefix}` test accounts are in use: raise the pool size in scripts/lib/servers.sh"
    );
}

/// An XMPP account of the test server's pool: its JID and password.
///
/// # Panics
/// When the environment is not set, or every account is in use.
pub fn xmpp_account() -> (String, String) {
    let server = xmpp_server();
    let size: usize = std::env::var("CHATTY_TEST_XMPP_POOL")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(40);
    let account = pool_account("t", &server.port.to_string(), size);
    (
        format!("{}@{}", account.user, server.domain),
        account.password,
    )
}

/// Where the test mail servers (Dovecot, Postfix) are: the parts every test needs.
#[derive(Debug, Clone)]
pub struct MailServer {
    /// Their host (an IP address).
    pub host: String,
    /// The mail domain of the accounts.
    pub domain: String,
    /// IMAP (STARTTLS offered, plaintext login allowed on loopback).
    pub imap_port: u16,
    /// SMTP submission (STARTTLS, AUTH).
    pub submission_port: u16,
}

/// The test mail servers.
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn mail_server() -> MailServer {
    MailServer {
        host: var("CHATTY_TEST_MAIL_HOST"),
        domain: var("CHATTY_TEST_MAIL_DOMAIN"),
        imap_port: port("CHATTY_TEST_MAIL_IMAP_PORT"),
        submission_port: port("CHATTY_TEST_MAIL_SUBMISSION_PORT"),
    }
}

/// A mail account of the test pool.
#[derive(Debug, Clone)]
pub struct MailAccount {
    /// The login (`m07`).
    pub user: String,
    /// The address (`m07@localhost`).
    pub address: String,
    /// The password.
    pub password: String,
}

/// A mail account of the pool (m00, m01, …) that no other running test uses, with an empty
/// INBOX: two tests on one mailbox would read each other's mail.
///
/// # Panics
/// When the environment is not set, every account is in use, or the IMAP server fails.
pub async fn mail_account() -> MailAccount {
    let server = mail_server();
    let size: usize = std::env::var("CHATTY_TEST_MAIL_POOL")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(40);
    let account = pool_account("m", &server.imap_port.to_string(), size);
    let account = MailAccount {
        address: format!("{}@{}", account.user, server.domain),
        user: account.user,
        password: account.password,
    };
    empty_inbox(&account).await;
    account
}

/// Logs `account` in over plain IMAP (loopback only) with its INBOX selected.
///
/// # Panics
/// When the server does not answer or refuses the login.
pub async fn bare_imap(account: &MailAccount) -> async_imap::Session<tokio::net::TcpStream> {
    let server = mail_server();
    let tcp = tokio::net::TcpStream::connect((server.host.as_str(), server.imap_port))
        .await
        .expect("the test IMAP server answers");
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .expect("a greeting")
        .expect("a greeting");
    let mut session = client
        .login(&account.user, &account.password)
        .await
        .map_err(|(e, _)| e)
        .expect("the pool account logs in");
    session.select("INBOX").await.expect("INBOX");
    session
}

/// Deletes every mail in `account`'s INBOX.
///
/// # Panics
/// When the IMAP server fails.
pub async fn empty_inbox(account: &MailAccount) {
    use chatty_core::reexports::futures::TryStreamExt as _;
    let mut session = bare_imap(account).await;
    let all = session.uid_search("ALL").await.expect("search");
    if !all.is_empty() {
        let _: Vec<_> = session
            .uid_store("1:*", "+FLAGS.SILENT (\\Deleted)")
            .await
            .expect("store")
            .try_collect()
            .await
            .expect("store");
        let _: Vec<_> = session
            .expunge()
            .await
            .expect("expunge")
            .try_collect()
            .await
            .expect("expunge");
    }
    let _ = session.logout().await;
}

/// Where a test IRC server is (`scripts/lib/servers.d/irc.sh` starts them).
#[derive(Debug, Clone)]
pub struct IrcServer {
    /// Its host (an IP address).
    pub host: String,
    /// The plain-text client port.
    pub port: u16,
    /// The TLS client port (its certificate is from the test CA, `CHATTY_TEST_CA`), if the server
    /// has one.
    pub tls_port: Option<u16>,
}

/// The test InspIRCd 3: IRCv3 (message-tags, server-time, msgid, echo-message, batch,
/// labeled-response, and SASL PLAIN through Atheme's services), every new channel `+H 5000:1d`
/// (a join replays the channel's recent history in a `chathistory` batch), plain and TLS ports.
/// Registration takes about a second there (InspIRCd 3 completes it in its once-a-second loop).
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn irc_server() -> IrcServer {
    IrcServer {
        host: var("CHATTY_TEST_IRC_HOST"),
        port: port("CHATTY_TEST_IRC_PORT"),
        tls_port: Some(port("CHATTY_TEST_IRC_TLS_PORT")),
    }
}

/// The test ngircd: a plain RFC 2812 server without IRCv3 (its one capability is `multi-prefix`)
/// or TLS, for checking that nothing depends on IRCv3.
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn ngircd_server() -> IrcServer {
    IrcServer {
        host: var("CHATTY_TEST_IRC_HOST"),
        port: port("CHATTY_TEST_NGIRCD_PORT"),
        tls_port: None,
    }
}

/// The restartable test InspIRCd, for the tests that restart the server mid-conversation
/// (restarting the shared one would break the tests beside them): the same IRCv3 modules as
/// [`irc_server`], plain text only, no services (no SASL); and its control script, run as
/// `ctl stop` (returns once the server exited), `ctl start` (returns once its port listens) or
/// `ctl restart`. From `CHATTY_TEST_IRC_RESTART_PORT` and `CHATTY_TEST_IRC_RESTART_CTL`.
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn irc_restart_server() -> (IrcServer, std::path::PathBuf) {
    let server = IrcServer {
        host: var("CHATTY_TEST_IRC_HOST"),
        port: port("CHATTY_TEST_IRC_RESTART_PORT"),
        tls_port: None,
    };
    (server, var("CHATTY_TEST_IRC_RESTART_CTL").into())
}

/// An account registered with the test InspIRCd's services (for SASL PLAIN, or `IDENTIFY` to
/// NickServ) that no other running test uses: its account name and password, from the pool in
/// `CHATTY_TEST_IRC_ACCOUNTS` (`i00:secret-i00 i01:secret-i01 …`). Each is locked until the
/// process exits, as for [`xmpp_account`].
///
/// # Panics
/// When the environment is not set or malformed, or every account is in use.
pub fn irc_account() -> (String, String) {
    let server = irc_server();
    let pool = var("CHATTY_TEST_IRC_ACCOUNTS");
    let accounts: Vec<(&str, &str)> = pool
        .split_whitespace()
        .map(|pair| {
            pair.split_once(':').unwrap_or_else(|| {
                panic!("CHATTY_TEST_IRC_ACCOUNTS: `{pair}` is not `user:password`")
            })
        })
        .collect();
    assert!(
        !accounts.is_empty(),
        "CHATTY_TEST_IRC_ACCOUNTS is empty: the test IRC server has no services accounts"
    );
    let account = pool_account("i", &server.port.to_string(), accounts.len());
    let (user, password) = accounts
        .iter()
        .find(|(user, _)| *user == account.user)
        .unwrap_or_else(|| {
            panic!(
                "CHATTY_TEST_IRC_ACCOUNTS has no `{}`: its accounts must be i00, i01, …",
                account.user
            )
        });
    ((*user).to_owned(), (*password).to_owned())
}

/// Where a test Matrix homeserver (Synapse) is (`scripts/lib/servers.d/matrix.sh` starts them).
#[derive(Debug, Clone)]
pub struct MatrixServer {
    /// The base URL of its client-server API (`http://127.0.0.1:18008`: plain HTTP, loopback).
    pub url: String,
    /// Its port.
    pub port: u16,
    /// Its server name: a user `m07` is `@m07:{server_name}`.
    pub server_name: String,
    /// Its `registration_shared_secret`, for registering more users through
    /// `POST /_synapse/admin/v1/register` (a nonce from `GET` there, then an HMAC-SHA1 of
    /// `nonce\0user\0password\0notadmin` keyed with this secret).
    pub shared_secret: String,
    /// The script that stops and starts it (`ctl stop`, `ctl start`, `ctl restart`; `start`
    /// returns once the client API answers), for the restartable server only.
    pub ctl: Option<String>,
}

/// The test Synapse shared by every Matrix test: server name `localhost`, SQLite, presence on,
/// rate limits far past any test's burst, users `m00`… (see [`matrix_account`]). Never restart it:
/// the tests beside yours use it too ([`matrix_restart_server`] is for that).
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn matrix_server() -> MatrixServer {
    MatrixServer {
        url: var("CHATTY_TEST_MATRIX_URL"),
        port: port("CHATTY_TEST_MATRIX_PORT"),
        server_name: var("CHATTY_TEST_MATRIX_SERVER_NAME"),
        shared_secret: var("CHATTY_TEST_MATRIX_SHARED_SECRET"),
        ctl: None,
    }
}

/// A second test Synapse, configured like [`matrix_server`], for the tests that stop and restart
/// the server mid-conversation through its [`MatrixServer::ctl`] (a start takes about 2 s; access
/// tokens stay valid across restarts). Users `mr00`… (see [`matrix_restart_account`]).
///
/// # Panics
/// With the command to run when the environment is not set.
pub fn matrix_restart_server() -> MatrixServer {
    MatrixServer {
        url: var("CHATTY_TEST_MATRIX_RESTART_URL"),
        port: port("CHATTY_TEST_MATRIX_RESTART_PORT"),
        server_name: var("CHATTY_TEST_MATRIX_SERVER_NAME"),
        shared_secret: var("CHATTY_TEST_MATRIX_SHARED_SECRET"),
        ctl: Some(var("CHATTY_TEST_MATRIX_RESTART_CTL")),
    }
}

/// A Matrix account of a test server's pool.
#[derive(Debug, Clone)]
pub struct MatrixAccount {
    /// The localpart, which logs in (`m07`).
    pub user: String,
    /// The full user ID (`@m07:localhost`).
    pub user_id: String,
    /// Its password (`secret-m07`).
    pub password: String,
}

/// The account of `server`'s pool listed in the environment variable `list`
/// (`m00:secret-m00 m01:secret-m01 …`) that no other running test uses.
fn matrix_pool_account(server: &MatrixServer, list: &str, prefix: &str) -> MatrixAccount {
    let pool = var(list);
    let accounts: Vec<(&str, &str)> = pool
        .split_whitespace()
        .map(|pair| {
            pair.split_once(':')
                .unwrap_or_else(|| panic!("{list}: `{pair}` is not `user:password`"))
        })
        .collect();
    assert!(
        !accounts.is_empty(),
        "{list} is empty: the test Synapse has no users"
    );
    let account = pool_account(prefix, &server.port.to_string(), accounts.len());
    let (user, password) = accounts
        .iter()
        .find(|(user, _)| *user == account.user)
        .unwrap_or_else(|| {
            panic!(
                "{list} has no `{}`: its accounts must be {prefix}00, {prefix}01, …",
                account.user
            )
        });
    MatrixAccount {
        user: (*user).to_owned(),
        user_id: format!("@{user}:{}", server.server_name),
        password: (*password).to_owned(),
    }
}

/// A user of the shared test Synapse ([`matrix_server`]) that no other running test uses, from
/// the pool in `CHATTY_TEST_MATRIX_ACCOUNTS` (`m00:secret-m00 m01:secret-m01 …`, 24 of them:
/// the conformance suite alone holds 16 at once under `cargo test`). Each is locked until the
/// process exits, as for [`xmpp_account`]. The account keeps the rooms and devices earlier
/// tests left it in: create a fresh room rather than relying on an empty `/sync`. A test that needs more users can register them with
/// [`MatrixServer::shared_secret`].
///
/// # Panics
/// When the environment is not set or malformed, or every account is in use.
pub fn matrix_account() -> MatrixAccount {
    matrix_pool_account(&matrix_server(), "CHATTY_TEST_MATRIX_ACCOUNTS", "m")
}

/// A user of the restartable test Synapse ([`matrix_restart_server`]) that no other running
/// test uses, from `CHATTY_TEST_MATRIX_RESTART_ACCOUNTS` (`mr00:secret-mr00 …`, 4 of them).
///
/// # Panics
/// When the environment is not set or malformed, or every account is in use.
pub fn matrix_restart_account() -> MatrixAccount {
    matrix_pool_account(
        &matrix_restart_server(),
        "CHATTY_TEST_MATRIX_RESTART_ACCOUNTS",
        "mr",
    )
}
