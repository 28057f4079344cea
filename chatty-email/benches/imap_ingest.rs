//! IMAP ingest: mails fetched and parsed into signals through an `EmailSession`, against bare
//! async-imap + mail-parser reading the same mailbox in the same run.
//!
//! Needs the test mail servers (see the crate README):
//!
//! ```sh
//! eval "$(scripts/test-servers env)"
//! cargo bench -p chatty-email --bench imap_ingest
//! # CHATTY_BENCH_MAILS (default 2000), CHATTY_BENCH_ROUNDS (default 5)
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_imap::Client;
use chatty_core::Router;
use chatty_core::reexports::futures::TryStreamExt as _;
use chatty_email::{EmailSession, Handled, ImapConfig, InboundConfig, TlsMode};
use chatty_test::load::{Count, env_or};
use mail_parser::{MessageParser, MimeHeaders as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A mail like a bot gets: a subject, a text body, an HTML alternative and a small attachment.
fn mail(account: &common::Account, n: usize) -> Vec<u8> {
    format!(
        "From: sender@example.org\r\nTo: {to}\r\nSubject: mail {n}\r\nMessage-ID: <bench-{n}@example.org>\r\n\
         Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
         --mixed\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, this is mail number {n}.\r\nIt has a few lines of text.\r\n\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello, this is mail number <b>{n}</b>.</p>\r\n\r\n\
         --alt--\r\n\r\n\
         --mixed\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data-{n}.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\r\n\
         --mixed--\r\n",
        to = account.address,
    )
    .into_bytes()
}

/// Bare async-imap + mail-parser: log in, fetch every mail in chunks of 200 (as the session
/// does), parse each and read what a signal needs. Returns how many were read.
async fn bare(account: &common::Account, expected: usize) -> usize {
    let server = common::server();
    let tcp = TcpStream::connect((server.host.as_str(), server.imap_port))
        .await
        .expect("connect");
    let _ = tcp.set_nodelay(true);
    let mut client = Client::new(tcp);
    client.read_response().await.expect("greeting");
    let mut session = client
        .login(&account.user, &account.password)
        .await
        .map_err(|(e, _)| e)
        .expect("login");
    session.select("INBOX").await.expect("select");
    let mut uids: Vec<u32> = session
        .uid_search("UNSEEN")
        .await
        .expect("search")
        .into_iter()
        .collect();
    uids.sort_unstable();
    let parser = MessageParser::default();
    let mut read = 0;
    for chunk in uids.chunks(200) {
        let set = format!("{}:{}", chunk[0], chunk[chunk.len() - 1]);
        let fetched: Vec<_> = session
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetch");
        for fetch in &fetched {
            let mail = parser
                .parse(fetch.body().unwrap_or_default())
                .expect("a mail");
            std::hint::black_box((
                mail.message_id(),
                mail.subject(),
                mail.from(),
                mail.to(),
                mail.date(),
                mail.body_text(0),
                mail.body_html(0),
                mail.attachments()
                    .map(|a| (a.attachment_name(), a.contents().len()))
                    .collect::<Vec<_>>(),
            ));
            read += 1;
        }
    }
    let _ = session.logout().await;
    assert_eq!(read, expected, "the bare reader reads every mail");
    read
}

/// The same mailbox through an `EmailSession` (plaintext like the bare reader, mails kept, no
/// state file): the time until a counting bot behind a router has every message.
async fn through_session(account: &common::Account, expected: usize) -> Duration {
    let imap = ImapConfig {
        tls: TlsMode::Plaintext,
        handled: Handled::Keep,
        idle: false,
        ..common::imap()
    };
    let config = common::config(account, InboundConfig::Imap(imap));
    let session = Arc::new(EmailSession::new(config).expect("a valid config"));
    let (done_tx, done_rx) = oneshot::channel();
    let start = Instant::now();
    let router = Router::new().shared_session(session.clone());
    let bot = tokio::spawn(router.run(Count {
        n: expected,
        done: Some(done_tx),
    }));
    tokio::time::timeout(Duration::from_secs(300), done_rx)
        .await
        .expect("every mail arrives in time")
        .expect("the counter reports");
    let elapsed = start.elapsed();
    bot.abort();
    elapsed
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mails = env_or("CHATTY_BENCH_MAILS", 2000);
        let rounds = env_or("CHATTY_BENCH_ROUNDS", 5);
        let account = common::account().await;
        let appending = Instant::now();
        let mut session = common::bare_imap(&account).await;
        for n in 0..mails {
            session
                .append("INBOX", None, None, mail(&account, n))
                .await
                .expect("APPEND");
        }
        let _ = session.logout().await;
        println!(
            "appended {mails} mails to {} in {:.1} s",
            account.address,
            appending.elapsed().as_secs_f64()
        );
        // One warm-up of each (page cache, Dovecot's index), not counted.
        bare(&account, mails).await;
        through_session(&account, mails).await;
        let (mut bare_rates, mut session_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Which goes first alternates, so that neither always gets the warmer cache.
            let time_bare = async {
                let start = Instant::now();
                bare(&account, mails).await;
                mails as f64 / start.elapsed().as_secs_f64()
            };
            let (bare_rate, session_rate) = if round % 2 == 0 {
                let bare_rate = time_bare.await;
                let session = through_session(&account, mails).await;
                (bare_rate, mails as f64 / session.as_secs_f64())
            } else {
                let session = through_session(&account, mails).await;
                (time_bare.await, mails as f64 / session.as_secs_f64())
            };
            ratios.push(session_rate / bare_rate);
            println!(
                "round {round}: bare async-imap + mail-parser {bare_rate:.0} mails/s, EmailSession {session_rate:.0} mails/s, ratio {:.0} %",
                100.0 * session_rate / bare_rate
            );
            bare_rates.push(bare_rate);
            session_rates.push(session_rate);
        }
        let (bare_rate, session_rate) = (median(bare_rates), median(session_rates));
        println!(
            "median: bare {bare_rate:.0} mails/s, EmailSession {session_rate:.0} mails/s: {:.0} % of the bare rate (median of the rounds' ratios: {:.0} %)",
            100.0 * session_rate / bare_rate,
            100.0 * median(ratios)
        );
        common::empty_inbox(&account).await;
    });
}
