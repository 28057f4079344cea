//! What the tests against the test mail servers share: where they are, accounts from their
//! pool, sessions on them, and a bare IMAP client for preparing and checking mailboxes.
//!
//! The servers come from `scripts/test` (which runs every test) or, by hand, from
//! `scripts/test-servers`; see the crate README. Without them, these tests fail and say so.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use chatty_email::{
    EmailConfig, EmailSession, Handled, ImapConfig, InboundConfig, Pop3Config, SmtpConfig, TlsMode,
};

/// How long tests wait for what must come.
pub const WAIT: Duration = Duration::from_secs(15);

/// Where the test servers are.
#[derive(Debug, Clone)]
pub struct Server {
    pub host: String,
    pub domain: String,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub submission_port: u16,
    pub submissions_port: u16,
    pub smtp_plain_port: u16,
    pub bounce_domain: String,
    pub dovecot_ctl: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the chatty-email tests need the test mail servers (Dovecot and \
             Postfix). `scripts/test` starts them itself; to run these tests alone, start them with \
             `scripts/test-servers` and, in another shell, run `eval \"$(scripts/test-servers env)\"` \
             before `cargo test -p chatty-email`."
        )
    })
}

/// The test servers, from the environment `scripts/test` and `scripts/test-servers` export.
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
        host: var("CHATTY_TEST_MAIL_HOST"),
        domain: var("CHATTY_TEST_MAIL_DOMAIN"),
        imap_port: port("CHATTY_TEST_MAIL_IMAP_PORT"),
        imaps_port: port("CHATTY_TEST_MAIL_IMAPS_PORT"),
        pop3_port: port("CHATTY_TEST_MAIL_POP3_PORT"),
        pop3s_port: port("CHATTY_TEST_MAIL_POP3S_PORT"),
        submission_port: port("CHATTY_TEST_MAIL_SUBMISSION_PORT"),
        submissions_port: port("CHATTY_TEST_MAIL_SUBMISSIONS_PORT"),
        smtp_plain_port: port("CHATTY_TEST_MAIL_SMTP_PLAIN_PORT"),
        bounce_domain: var("CHATTY_TEST_MAIL_BOUNCE_DOMAIN"),
        dovecot_ctl: var("CHATTY_TEST_MAIL_DOVECOT_CTL"),
    }
}

/// A test account: its login, mail address and password.
pub use chatty_test::servers::MailAccount as Account;

/// An account of the server's pool (m00, m01, …) that no other test, in this process or
/// another, is using, with an empty INBOX (see `chatty_test::servers::mail_account`).
pub async fn account() -> Account {
    chatty_test::servers::mail_account().await
}

/// SMTP submission with STARTTLS and AUTH.
pub fn smtp() -> SmtpConfig {
    let server = server();
    SmtpConfig {
        host: server.host,
        port: Some(server.submission_port),
        tls: TlsMode::Starttls,
        auth: true,
    }
}

/// IMAP with STARTTLS, IDLE, mails flagged seen.
pub fn imap() -> ImapConfig {
    let server = server();
    ImapConfig {
        host: server.host,
        port: Some(server.imap_port),
        tls: TlsMode::Starttls,
        folder: "INBOX".into(),
        idle: true,
        poll_interval_ms: 1_000,
        handled: Handled::Seen,
        history: false,
    }
}

/// POP3 with STLS, polled every 200 ms, mails kept.
pub fn pop3() -> Pop3Config {
    let server = server();
    Pop3Config {
        host: server.host,
        port: Some(server.pop3_port),
        tls: TlsMode::Starttls,
        poll_interval_ms: 200,
        delete: false,
    }
}

/// A configuration for `account` reading `inbound`, with short timeouts.
pub fn config(account: &Account, inbound: InboundConfig) -> EmailConfig {
    EmailConfig::new(&account.address, account.password.as_str(), smtp(), inbound)
        .with_user(&account.user)
        .with_connect_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2))
}

#[allow(unused_imports)] // empty_inbox: for the benchmark
pub use chatty_test::servers::{bare_imap, empty_inbox};

/// The raw mails in `account`'s INBOX, seen or not, in order.
pub async fn raw_mails(account: &Account) -> Vec<String> {
    use chatty_core::reexports::futures::TryStreamExt as _;
    let mut session = bare_imap(account).await;
    let fetched: Vec<_> = session
        .fetch("1:*", "BODY.PEEK[]")
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("fetch");
    let _ = session.logout().await;
    fetched
        .iter()
        .filter_map(|f| f.body())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// The raw mails in `account`'s INBOX once there are at least `count`.
///
/// # Panics
/// If they do not arrive within [`WAIT`].
pub async fn wait_for_mails(account: &Account, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mails = raw_mails(account).await;
        if mails.len() >= count {
            return mails;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} has {} mails, not {count}",
            account.address,
            mails.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends a raw mail as a mail client would, over the test Postfix's plain SMTP port (no TLS, no
/// AUTH: loopback only), from the envelope sender `from` (`None`: the null reverse path `<>`
/// of bounces and other reports) to `to`.
///
/// # Panics
/// If Postfix refuses it.
pub async fn smtp_send(from: Option<&str>, to: &[&str], raw: &[u8]) {
    use lettre::AsyncTransport as _;
    let server = server();
    let transport =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(&server.host)
            .port(server.smtp_plain_port)
            .build();
    let envelope = lettre::address::Envelope::new(
        from.map(|f| f.parse().expect("a mail address")),
        to.iter()
            .map(|t| t.parse().expect("a mail address"))
            .collect(),
    )
    .expect("an envelope");
    transport
        .send_raw(&envelope, raw)
        .await
        .expect("Postfix accepts the mail");
}

/// Appends a raw mail to `account`'s INBOX.
pub async fn append(account: &Account, raw: &[u8]) {
    let mut session = bare_imap(account).await;
    session
        .append("INBOX", None, None, raw)
        .await
        .expect("APPEND");
    let _ = session.logout().await;
}

/// A bot (a probe) on a session of its own, through a router.
pub type Bot = chatty_test::TestBot<EmailSession>;

/// Starts a bot on `config` and waits for its `SessionStarted`.
pub async fn bot(config: EmailConfig) -> Bot {
    let session = EmailSession::new(config).expect("a valid config");
    let address = session.address().clone();
    chatty_test::run_bot(session, address, WAIT).await
}

/// An IMAP inbound config.
pub fn imap_inbound() -> InboundConfig {
    InboundConfig::Imap(imap())
}

/// A POP3 inbound config.
pub fn pop3_inbound() -> InboundConfig {
    InboundConfig::Pop3(pop3())
}
