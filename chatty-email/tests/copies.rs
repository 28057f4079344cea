//! Copies of the bot's answers to its own mailbox, against the test mail servers: an answer
//! goes to the bot's own address too (in the envelope only), marked `X-Chatty-Copy`; the session
//! reads past the copy without handing it to the bot; after a restart `Protocol::sent` finds an
//! answer that left (`Some(true)`) and not one that never did (`Some(false)`), over IMAP and
//! over POP3; copies read past are deleted once kept long enough. See the crate README to run
//! them.

mod common;

use std::time::{Duration, Instant};

use chatty_core::driver::Protocol as _;
use chatty_core::{Body, Message, Signal};
use chatty_email::{EmailConfig, EmailSession, HEADER_COPY, InboundConfig, Pop3Config, wire_id};
use mail_parser::MessageParser;

/// A person's mail to the bot.
fn question(from: &str, to: &str, id: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {id}\r\nMessage-ID: <{id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nthe text of {id}\r\n"
    )
}

/// The copies of answers in `account`'s INBOX.
async fn copies_in(account: &common::Account) -> Vec<String> {
    common::raw_mails(account)
        .await
        .into_iter()
        .filter(|m| m.contains(HEADER_COPY))
        .collect()
}

/// Waits until `check` holds for `account`'s INBOX.
///
/// # Panics
/// If it does not within the tests' wait, with what the INBOX holds.
async fn wait_until(account: &common::Account, what: &str, check: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + common::WAIT;
    loop {
        let mails = common::raw_mails(account).await;
        if check(&mails) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {mails:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The bot answers a person's mail; a session made afterwards on the same mailbox (a restart)
/// is asked whether that answer left, right away (its copy may not be delivered yet), and about
/// an answer that never left; the copy is in the mailbox, seen by nobody but the mailbox; the
/// bot's next signal is the person's next mail, not the copy.
async fn an_answer_that_left_is_found(inbound: InboundConfig, delete: bool) {
    let (a, b) = (common::account().await, common::account().await);
    let config = common::config(&b, inbound);
    let mut bot = common::bot(config.clone()).await;
    let run = std::process::id();
    let first = format!("first-{run}@example.org");
    common::smtp_send(
        Some(&a.address),
        &[&b.address],
        question(&a.address, &b.address, &first).as_bytes(),
    )
    .await;
    let got = bot.next_io().await;
    assert_eq!(got.meta.id.as_str(), first);
    let answer = got.reply(Message::text("an answer"));
    assert_eq!(bot.send(answer.clone()).await, answer.meta.id);

    // The restart: a new session on the same mailbox, asked at once.
    let restarted = EmailSession::new(config.clone()).expect("a valid config");
    assert_eq!(restarted.sent(&answer).await, Some(true), "it left");
    let never = got.reply(Message::text("never sent"));
    assert_eq!(restarted.sent(&never).await, Some(false), "it never left");
    let not_an_answer = Signal::message("hello").to(got.meta.origin.clone().unwrap());
    assert_eq!(restarted.sent(&not_an_answer).await, None, "no copy made");
    let without = EmailSession::new(config.clone().with_answer_copies(false)).unwrap();
    assert_eq!(without.sent(&answer).await, None, "copies off: cannot tell");

    // The copy, as delivered: the bot's own mail, marked, the bot not in its header; the
    // person's answer is the same mail.
    let copies = copies_in(&b).await;
    assert_eq!(copies.len(), 1, "{copies:#?}");
    let copy = MessageParser::default()
        .parse(copies[0].as_bytes())
        .expect("a mail");
    let wire = wire_id(&answer.meta.id);
    assert_eq!(copy.message_id(), Some(wire.as_str()));
    let from = copy
        .from()
        .and_then(|f| f.first())
        .and_then(|f| f.address());
    assert_eq!(from, Some(b.address.as_str()));
    assert_eq!(copy.header_raw(HEADER_COPY).map(str::trim), Some("mailto"));
    let to: Vec<_> = copy
        .to()
        .into_iter()
        .flat_map(|t| t.iter())
        .filter_map(|t| t.address())
        .collect();
    assert_eq!(to, [a.address.as_str()]);
    let to_alice = common::wait_for_mails(&a, 1).await;
    assert!(to_alice[0].contains(&format!("Message-ID: <{wire}>")));

    // The copy came before the next mail: the bot gets that mail next, not the copy.
    let second = format!("second-{run}@example.org");
    common::smtp_send(
        Some(&a.address),
        &[&b.address],
        question(&a.address, &b.address, &second).as_bytes(),
    )
    .await;
    let next = bot.next_io().await;
    assert_eq!(next.meta.id.as_str(), second, "{:?}", next.body);
    assert!(matches!(next.body, Body::Message(_)));
    if delete {
        // POP3 with `delete`: the person's mails go, the copy stays until it is swept.
        wait_until(&b, "only the copy left", |mails| {
            mails.len() == 1 && mails[0].contains(HEADER_COPY)
        })
        .await;
    }
    // Read past and kept: still found.
    let again = EmailSession::new(config).unwrap();
    assert_eq!(again.sent(&answer).await, Some(true));
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_finds_an_answer_that_left_and_skips_its_copy() {
    an_answer_that_left_is_found(common::imap_inbound(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3_finds_an_answer_that_left_and_skips_its_copy() {
    let pop3 = Pop3Config {
        delete: true,
        ..common::pop3()
    };
    an_answer_that_left_is_found(InboundConfig::Pop3(pop3), true).await;
}

/// With copies kept only briefly, the copy of an answer goes once the session read past it,
/// and the person's mail stays (IMAP: flagged seen; POP3: kept).
async fn copies_are_swept(config: impl Fn(&common::Account) -> EmailConfig) {
    let (a, b) = (common::account().await, common::account().await);
    let uid_next = |account: common::Account| async move {
        let mut session = common::bare_imap(&account).await;
        let inbox = session.select("INBOX").await.expect("SELECT");
        let _ = session.logout().await;
        inbox.uid_next.expect("UIDNEXT")
    };
    let before = uid_next(b.clone()).await;
    let mut bot = common::bot(config(&b).with_answer_copies_kept(Duration::from_millis(300))).await;
    let id = format!("swept-{}@example.org", std::process::id());
    common::smtp_send(
        Some(&a.address),
        &[&b.address],
        question(&a.address, &b.address, &id).as_bytes(),
    )
    .await;
    let got = bot.next_io().await;
    bot.send(got.reply(Message::text("an answer"))).await;
    let to_alice = common::wait_for_mails(&a, 1).await;
    assert!(to_alice[0].contains(HEADER_COPY), "sent with a copy");
    // The copy arrives, is read past, and is deleted at a later sweep (it may be gone before
    // it is seen here: that two mails came is told by the UIDs they took).
    wait_until(&b, "the copy swept, the person's mail kept", |mails| {
        mails.len() == 1 && mails[0].contains(&id)
    })
    .await;
    assert_eq!(
        uid_next(b.clone()).await,
        before + 2,
        "the person's mail and the copy were delivered"
    );
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_sweeps_copies_read_past() {
    copies_are_swept(|b| common::config(b, common::imap_inbound())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3_sweeps_copies_read_past() {
    copies_are_swept(|b| common::config(b, common::pop3_inbound())).await;
}
