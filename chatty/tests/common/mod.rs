//! What the runner's tests against the test servers share: session tables for the config file,
//! and people (probe bots on pool accounts) to talk to the runner's bots; for the SIGKILL crash
//! tests, the `chatty` program under test ([`crash`]) and a raw XMPP person ([`xmpp_person`]).
#![allow(dead_code)] // each test file uses its own part

#[cfg(feature = "runner")]
pub(crate) mod crash;
#[cfg(feature = "runner")]
pub(crate) mod running;
#[cfg(feature = "runner")]
pub(crate) mod xmpp_person;

use std::path::Path;
use std::time::Duration;

use chatty::prelude::*;
use chatty::{Router, Secret};
use chatty_test::{Probe, ProbeRemote};

/// Runs a probe on `session` until its session has started; the probe, its handle.
async fn probe_on(session: impl chatty::session::Session) -> (ProbeRemote, Handle) {
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(session);
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

/// An XMPP session table named `key` for the account `jid` on the test server.
#[cfg(feature = "xmpp")]
pub(crate) fn xmpp_session_toml(key: &str, jid: &str, password: &str) -> String {
    let server = chatty_test::servers::xmpp_server();
    format!(
        r#"
[sessions.{key}.xmpp]
jid = "{jid}"
password = {{ inline = "{password}" }}
server = "{host}"
port = {port}
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000
"#,
        host = server.host,
        port = server.port
    )
}

/// A person on XMPP: a probe on a pool account; the probe, its handle and its address.
#[cfg(feature = "xmpp")]
pub(crate) async fn xmpp_person() -> (ProbeRemote, Handle, Address) {
    use chatty::xmpp::{TlsMode, XmppConfig, XmppSession};
    let server = chatty_test::servers::xmpp_server();
    let (jid, password) = chatty_test::servers::xmpp_account();
    let config = XmppConfig::new(&jid, Secret::inline(password))
        .with_server(server.host, server.port)
        .with_tls(TlsMode::Starttls)
        .with_connect_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2));
    let (probe, handle) = probe_on(XmppSession::new(config).unwrap()).await;
    (probe, handle, format!("xmpp:{jid}").parse().unwrap())
}

/// An email session table named `key` for `account` on the test servers, its state file in
/// `dir`.
#[cfg(feature = "email")]
pub(crate) fn email_session_toml(
    key: &str,
    account: &chatty_test::servers::MailAccount,
    dir: &Path,
) -> String {
    let server = chatty_test::servers::mail_server();
    format!(
        r#"
[sessions.{key}.email]
address = "{address}"
user = "{user}"
password = {{ inline = "{password}" }}
state_path = "{state}"
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000
smtp = {{ host = "{host}", port = {submission} }}
inbound = {{ protocol = "imap", host = "{host}", port = {imap}, poll_interval_ms = 1000 }}
"#,
        address = account.address,
        user = account.user,
        password = account.password,
        state = dir.join(format!("{key}.json")).display(),
        host = server.host,
        submission = server.submission_port,
        imap = server.imap_port,
    )
}

/// A person on email: a probe on a pool mail account (SMTP out, IMAP in); the probe, its handle.
#[cfg(feature = "email")]
pub(crate) async fn email_person() -> (ProbeRemote, Handle) {
    use chatty::email::{EmailConfig, EmailSession, Handled, ImapConfig, InboundConfig};
    use chatty::email::{SmtpConfig, TlsMode};
    let server = chatty_test::servers::mail_server();
    let account = chatty_test::servers::mail_account().await;
    let config = EmailConfig::new(
        &account.address,
        Secret::inline(account.password.clone()),
        SmtpConfig {
            host: server.host.clone(),
            port: Some(server.submission_port),
            tls: TlsMode::Starttls,
            auth: true,
        },
        InboundConfig::Imap(ImapConfig {
            host: server.host.clone(),
            port: Some(server.imap_port),
            tls: TlsMode::Starttls,
            folder: "INBOX".into(),
            idle: true,
            poll_interval_ms: 1_000,
            handled: Handled::Seen,
            history: false,
        }),
    )
    .with_user(&account.user);
    probe_on(EmailSession::new(config).unwrap()).await
}

/// The next message the probe gets within `wait`, skipping everything else.
pub(crate) async fn next_message(probe: &ProbeRemote, wait: Duration) -> Option<(Signal, String)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let signal = probe.next_within(left).await?;
        if let Body::Message(m) = &signal.body {
            let text = m.text.clone();
            return Some((signal, text));
        }
    }
}

/// Says `text` to `to` until an answer comes (the runner may still be logging in); returns the
/// answer and who it came from.
pub(crate) async fn ask(
    probe: &ProbeRemote,
    handle: &Handle,
    to: &Address,
    text: &str,
) -> (Address, String) {
    for _ in 0..8 {
        handle.say(to, text).await.unwrap();
        if let Some((signal, answer)) = next_message(probe, Duration::from_secs(5)).await {
            return (signal.meta.origin.unwrap(), answer);
        }
    }
    panic!("no answer from {to} to {text:?} within 40 s");
}

/// A Rust bot that tells each person how many messages they sent, counted in its state.
pub(crate) struct Counter(pub(crate) chatty::state::State);

impl Bot for Counter {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            let (Body::Message(_), Some(from)) = (&signal.body, &signal.meta.origin) else {
                continue;
            };
            let key = format!("count/{from}");
            let count = self.0.get::<u64>(&key).await?.unwrap_or(0) + 1;
            self.0.put(&key, &count).await?;
            handle
                .send(signal.reply(Message::text(count.to_string())))
                .await?;
        }
        Ok(())
    }
}
