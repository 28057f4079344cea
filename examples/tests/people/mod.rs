//! People on the test servers for the example programs' tests: a person on XMPP and on email
//! (a probe on a pool account), the environment pointing a config's email session at a pool
//! account, and asking until answered. Shared by `demo_bot.rs` and the support desk's tests
//! (through `#[path]`); each uses some of them.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use chatty_core::{Address, Body, Handle, Router};
use chatty_email::{EmailConfig, EmailSession, ImapConfig, InboundConfig, SmtpConfig};
use chatty_test::servers::{mail_account, mail_server, xmpp_account, xmpp_server};
use chatty_test::{Probe, ProbeRemote};
use chatty_xmpp::{Secret, TlsMode, XmppConfig, XmppSession};
use tokio::process::Command;

/// A person on XMPP: a probe on a pool account, with its handle.
pub(crate) async fn xmpp_person() -> (ProbeRemote, Handle) {
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let config = XmppConfig::new(&jid, Secret::inline(password))
        .with_server(server.host, server.port)
        .with_tls(TlsMode::Starttls)
        .with_connect_timeout(Duration::from_secs(5));
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(XmppSession::new(config).unwrap());
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

/// A person on IRC: a probe on a session with a nick of its own on the test InspIRCd (plain
/// text, unpaced), with its handle.
pub(crate) async fn irc_person() -> (ProbeRemote, Handle) {
    let server = chatty_test::servers::irc_server();
    let nick = format!("person{}", std::process::id());
    let config = chatty_irc::IrcConfig::new(&server.host, &nick)
        .with_tls(chatty_irc::TlsMode::Plaintext)
        .with_port(server.port)
        .with_pacing(50, Duration::ZERO);
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(chatty_irc::IrcSession::new(config).unwrap());
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

/// A person on Matrix: a probe on a session with a pool account of the test Synapse, with its
/// handle.
pub(crate) async fn matrix_person() -> (ProbeRemote, Handle) {
    let server = chatty_test::servers::matrix_server();
    let account = chatty_test::servers::matrix_account();
    let config = chatty_matrix::MatrixConfig::new(
        &server.url,
        &account.user,
        chatty_matrix::Secret::inline(account.password),
    );
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(chatty_matrix::MatrixSession::new(config).unwrap());
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

/// Points the config's Matrix session `key` at the test Synapse with a pool account, its
/// password in `password_var`; the bot's address.
pub(crate) fn matrix_env(command: &mut Command, key: &str, password_var: &str) -> Address {
    let server = chatty_test::servers::matrix_server();
    let account = chatty_test::servers::matrix_account();
    let upper = key.to_uppercase();
    let var = |name: &str| format!("CHATTY_SESSIONS__{upper}__MATRIX__{name}");
    command
        .env(var("HOMESERVER"), &server.url)
        .env(var("USER"), &account.user)
        .env(var("ROOMS"), "[]")
        .env(password_var, account.password);
    format!("matrix:{};kind=individual", account.user_id)
        .parse()
        .unwrap()
}

/// Points the config's IRC session `key` at the test InspIRCd (plain text, unpaced) with a
/// services account as its nick and SASL login, its password in `password_var`; the bot's
/// address.
pub(crate) fn irc_env(command: &mut Command, key: &str, password_var: &str) -> Address {
    let server = chatty_test::servers::irc_server();
    let (account, password) = chatty_test::servers::irc_account();
    let upper = key.to_uppercase();
    let var = |name: &str| format!("CHATTY_SESSIONS__{upper}__IRC__{name}");
    command
        .env(var("SERVER"), &server.host)
        .env(var("PORT"), server.port.to_string())
        .env(var("TLS"), "plaintext")
        .env(var("NICK"), &account)
        .env(var("SASL__ACCOUNT"), &account)
        .env(var("PACE_INTERVAL_MS"), "0")
        .env(password_var, password);
    format!("irc:{account};kind=individual").parse().unwrap()
}

/// A person on email: a probe on a pool mail account (SMTP out, IMAP in).
pub(crate) async fn email_person() -> (ProbeRemote, Handle) {
    let server = mail_server();
    let account = mail_account().await;
    let config = EmailConfig::new(
        &account.address,
        Secret::inline(account.password.clone()),
        SmtpConfig {
            host: server.host.clone(),
            port: Some(server.submission_port),
            tls: chatty_email::TlsMode::Starttls,
            auth: true,
        },
        InboundConfig::Imap(ImapConfig {
            host: server.host.clone(),
            port: Some(server.imap_port),
            tls: chatty_email::TlsMode::Starttls,
            folder: "INBOX".into(),
            idle: true,
            poll_interval_ms: 1_000,
            handled: chatty_email::Handled::Seen,
            history: false,
        }),
    )
    .with_user(&account.user);
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(EmailSession::new(config).unwrap());
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

/// The environment that points the example config's email session `mail` at a pool account of
/// the test servers; returns the bot's address.
pub(crate) async fn email_env(command: &mut Command, db_dir: &Path, password_var: &str) -> Address {
    let server = mail_server();
    let account = mail_account().await;
    command
        .env("CHATTY_SESSIONS__MAIL__EMAIL__ADDRESS", &account.address)
        .env("CHATTY_SESSIONS__MAIL__EMAIL__USER", &account.user)
        .env("CHATTY_SESSIONS__MAIL__EMAIL__SMTP__HOST", &server.host)
        .env(
            "CHATTY_SESSIONS__MAIL__EMAIL__SMTP__PORT",
            server.submission_port.to_string(),
        )
        .env("CHATTY_SESSIONS__MAIL__EMAIL__INBOUND__HOST", &server.host)
        .env(
            "CHATTY_SESSIONS__MAIL__EMAIL__INBOUND__PORT",
            server.imap_port.to_string(),
        )
        .env(
            "CHATTY_SESSIONS__MAIL__EMAIL__STATE_PATH",
            db_dir.join("mail-state.json").display().to_string(),
        )
        .env(password_var, &account.password);
    format!("mailto:{}", account.address).parse().unwrap()
}

/// Says `text` to `to` until a message comes back (the bot may still be logging in), and
/// returns the first answer that echoes it.
pub(crate) async fn ask(probe: &ProbeRemote, handle: &Handle, to: &Address, text: &str) -> String {
    ask_until(probe, handle, to, text, |answer| answer.contains(text)).await
}

/// Says `text` to `to` until an answer that `wanted` accepts comes back (the bot may still be
/// logging in: say only what may be said more than once), and returns it.
pub(crate) async fn ask_until(
    probe: &ProbeRemote,
    handle: &Handle,
    to: &Address,
    text: &str,
    wanted: impl Fn(&str) -> bool,
) -> String {
    for _ in 0..6 {
        handle.say(to, text).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Some(signal) = probe
            .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if let Body::Message(m) = signal.body
                && wanted(&m.text)
            {
                return m.text;
            }
        }
    }
    panic!("no answer from {to} within 30 s");
}

/// The text of the next message `probe` gets within `wait`.
pub(crate) async fn next_text(probe: &ProbeRemote, wait: Duration) -> String {
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(signal) = probe
        .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if let Body::Message(m) = signal.body {
            return m.text;
        }
    }
    panic!("no message within {wait:?}");
}
