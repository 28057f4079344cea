//! The email session under a router with a journal, against the test mail servers: the read
//! cursor is kept in the journal (no state file), moves only past mail the journal kept, and a
//! mail read again (the cursor lost, a restart) has the same id, so that the journal knows it
//! and the bot does not get it twice. See the crate README to run them.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chatty_core::journal::Journal;
use chatty_core::reexports::serde_json::{self, Value};
use chatty_core::{Body, Router, SessionEnd, Signal, SignalId, SignalKind};
use chatty_email::{EmailConfig, EmailSession, Handled, ImapConfig, InboundConfig};
use chatty_test::journal::{Failed, Watched};
use chatty_test::{Probe, ProbeRemote};

/// The session's mark that holds the read cursor (the state file's JSON).
const MARK: &str = "email.cursor";
/// The session's name (the default).
const SESSION: &str = "mailto";

/// The cursor in `journal` (hidden marks or not), as JSON.
async fn cursor(journal: &Watched) -> Option<Value> {
    let json = journal
        .memory()
        .mark(SESSION, MARK)
        .await
        .expect("a memory journal");
    json.map(|j| serde_json::from_str(&j).expect("the cursor is JSON"))
}

/// A probe bot on `config` through a router with `journal`, started.
struct Running {
    remote: ProbeRemote,
    task: tokio::task::JoinHandle<()>,
}

async fn start(config: EmailConfig, journal: &Watched) -> Running {
    let session = EmailSession::new(config).expect("a valid config");
    let (probe, mut remote) = Probe::new();
    remote.wait = common::WAIT;
    let router = Router::new().session(session).journal(journal.clone());
    let task = tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let _ = remote.handle().await;
    Running { remote, task }
}

impl Running {
    /// Every signal until `count` messages came (or the wait passed), then 1.5 s more.
    async fn collect(&self, count: usize) -> Vec<Signal> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got: Vec<Signal> = Vec::new();
        while messages(&got).values().sum::<usize>() < count && Instant::now() < deadline {
            if let Some(signal) = self.remote.next_within(Duration::from_secs(1)).await {
                got.push(signal);
            }
        }
        got.extend(self.remote.drain_for(Duration::from_millis(1500)).await);
        got
    }

    async fn finish(mut self) {
        let handle = self.remote.handle().await;
        handle
            .send(Signal::new(Body::InitiateSessionEnd(SessionEnd::default())))
            .await
            .expect("the end request is taken");
        tokio::time::timeout(common::WAIT, self.task)
            .await
            .expect("the router ends")
            .expect("no panic");
    }
}

/// How often each message id came.
fn messages(signals: &[Signal]) -> HashMap<SignalId, usize> {
    let mut counts = HashMap::new();
    for signal in signals {
        if signal.kind() == SignalKind::Message {
            *counts.entry(signal.meta.id.clone()).or_default() += 1;
        }
    }
    counts
}

/// A mail to `to` from `from`; `id`: its Message-ID, if any.
fn mail(from: &str, to: &str, id: Option<&str>, text: &str) -> Vec<u8> {
    let id = id
        .map(|id| format!("Message-ID: <{id}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {text}\r\n{id}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
    .into_bytes()
}

/// The inbound configs that must keep the cursor in the journal: IMAP with IDLE, IMAP polling
/// (both keep handled mail, so only the cursor keeps it from being read again), POP3.
fn inbounds() -> Vec<(&'static str, InboundConfig)> {
    let imap = ImapConfig {
        handled: Handled::Keep,
        ..common::imap()
    };
    vec![
        ("imap-idle", InboundConfig::Imap(imap.clone())),
        (
            "imap-poll",
            InboundConfig::Imap(ImapConfig {
                idle: false,
                poll_interval_ms: 200,
                ..imap
            }),
        ),
        ("pop3", InboundConfig::Pop3(common::pop3())),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cursor_is_kept_in_the_journal_and_a_restart_reads_on_from_it() {
    let (a, b) = (common::account().await, common::account().await);
    let run = std::process::id();
    for (name, inbound) in inbounds() {
        common::empty_inbox(&b).await;
        let journal = Watched::new();
        let config = || common::config(&b, inbound.clone());
        let bot = start(config(), &journal).await;
        let mut sent = Vec::new();
        for i in 0..3 {
            let id = format!("{name}-before-{i}-{run}@test");
            common::append(&b, &mail(&a.address, &b.address, Some(&id), &id)).await;
            sent.push(SignalId::from(id));
        }
        let got = bot.collect(3).await;
        bot.finish().await;
        let cursor = cursor(&journal).await;
        let cursor = cursor.unwrap_or_else(|| panic!("{name}: the cursor is in the journal"));
        match name {
            "pop3" => assert_eq!(
                cursor["pop3_seen"].as_array().map(Vec::len),
                Some(3),
                "{cursor}"
            ),
            _ => assert!(
                cursor["imap"]["INBOX"]["last_uid"].as_u64() > Some(0),
                "{cursor}"
            ),
        }
        // Arrived while the bot was down.
        for i in 0..3 {
            let id = format!("{name}-while-down-{i}-{run}@test");
            common::append(&b, &mail(&a.address, &b.address, Some(&id), &id)).await;
            sent.push(SignalId::from(id));
        }
        let seen_before = journal.seen();
        let bot = start(config(), &journal).await;
        let mut all = got;
        all.extend(bot.collect(3).await);
        bot.finish().await;
        let counts = messages(&all);
        for id in &sent {
            assert_eq!(counts.get(id), Some(&1), "{name}: {id} once: {counts:?}");
        }
        assert_eq!(counts.len(), sent.len(), "{name}: nothing else: {counts:?}");
        assert_eq!(
            journal.seen(),
            seen_before,
            "{name}: after the restart, the cursor from the journal: no old mail read again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_without_message_id_read_again_has_the_same_id_and_is_not_given_twice() {
    let (a, b) = (common::account().await, common::account().await);
    let run = std::process::id();
    for (name, inbound) in inbounds() {
        common::empty_inbox(&b).await;
        let journal = Watched::new();
        let config = || common::config(&b, inbound.clone());
        for i in 0..3 {
            let text = format!("{name} no id {i} {run}");
            common::append(&b, &mail(&a.address, &b.address, None, &text)).await;
        }
        let bot = start(config(), &journal).await;
        let first = bot.collect(3).await;
        bot.finish().await;
        let first = messages(&first);
        assert_eq!(first.len(), 3, "{name}: {first:?}");
        assert!(
            first
                .keys()
                .all(|id| id.as_str().starts_with("mail-sha256-")),
            "{name}: {first:?}"
        );
        // As if the process had died after the journal kept the mails and before the cursor
        // moved: the session reads them all again.
        journal.hide_marks(true);
        let text = format!("{name} no id 3 {run}");
        common::append(&b, &mail(&a.address, &b.address, None, &text)).await;
        let seen_before = journal.seen();
        let bot = start(config(), &journal).await;
        let second = messages(&bot.collect(1).await);
        bot.finish().await;
        assert_eq!(
            journal.seen() - seen_before,
            3,
            "{name}: the three were read again and known by their ids"
        );
        assert_eq!(second.len(), 1, "{name}: only the new mail: {second:?}");
        assert!(
            second.keys().all(|id| !first.contains_key(id)),
            "{name}: {second:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cursor_never_passes_a_mail_the_journal_did_not_keep() {
    const MAILS: usize = 6;
    let (a, b) = (common::account().await, common::account().await);
    let run = std::process::id();
    for (name, inbound) in inbounds() {
        common::empty_inbox(&b).await;
        let mut sent = Vec::new();
        for i in 0..MAILS {
            let id = format!("{name}-{i}-{run}@test");
            common::append(&b, &mail(&a.address, &b.address, Some(&id), &id)).await;
            sent.push(SignalId::from(id));
        }
        // The third and fourth appends fail: the session loses its connection, reads again
        // from its cursor, and the mail comes once the journal takes it.
        let journal = Watched::new().failing(2..4).noting_mark(MARK);
        let bot = start(common::config(&b, inbound.clone()), &journal).await;
        let got = bot.collect(MAILS).await;
        bot.finish().await;
        let counts = messages(&got);
        for id in &sent {
            assert_eq!(counts.get(id), Some(&1), "{name}: {id} once: {counts:?}");
        }
        let errors = got
            .iter()
            .filter(|s| s.kind() == SignalKind::SystemError)
            .count();
        assert_eq!(errors, 2, "{name}: the bot is told of each failure");
        let failed = journal.failed();
        assert_eq!(failed.len(), 2, "{name}: {failed:?}");
        for Failed { id, mark, kept } in failed {
            let mark: Option<Value> = mark.map(|m| serde_json::from_str(&m).unwrap());
            match name {
                "pop3" => {
                    let covered = mark
                        .as_ref()
                        .and_then(|m| m["pop3_seen"].as_array().map(Vec::len))
                        .unwrap_or(0);
                    assert!(
                        covered <= kept,
                        "{name}: the cursor covers {covered} mails, the journal kept {kept}"
                    );
                }
                _ => {
                    let last = mark
                        .as_ref()
                        .and_then(|m| m["imap"]["INBOX"]["last_uid"].as_u64())
                        .unwrap_or(0);
                    let uid = uid_of(&b, &id).await;
                    assert!(
                        last < u64::from(uid),
                        "{name}: the cursor ({last}) passed {id} (UID {uid}), which the journal did not keep"
                    );
                }
            }
        }
        let cursor = cursor(&journal).await.expect("a cursor at the end");
        match name {
            "pop3" => {
                assert_eq!(
                    cursor["pop3_seen"].as_array().map(Vec::len),
                    Some(MAILS),
                    "{cursor}"
                );
            }
            _ => {
                let last = uid_of(&b, &sent[MAILS - 1]).await;
                assert_eq!(
                    cursor["imap"]["INBOX"]["last_uid"].as_u64(),
                    Some(last.into())
                );
            }
        }
    }
}

/// The UID of the mail with Message-ID `id` in `account`'s INBOX.
async fn uid_of(account: &common::Account, id: &SignalId) -> u32 {
    let mut session = common::bare_imap(account).await;
    let uids = session
        .uid_search(format!("HEADER Message-ID \"{id}\""))
        .await
        .expect("SEARCH");
    let _ = session.logout().await;
    assert_eq!(uids.len(), 1, "one mail with Message-ID {id}");
    uids.into_iter().next().expect("one")
}
