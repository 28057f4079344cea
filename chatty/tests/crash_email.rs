//! The `chatty` program killed in the middle of 200 mails: the echo bot with the Logger, on an
//! email session (IMAP in one test, POP3 in the other; SMTP out), its journal on by default.
//! Mails come to the bot's mailbox while it runs, while it is dead and after it is back (half
//! through Postfix with a Message-ID, half put into the mailbox directly without one); the
//! process is SIGKILLed once some answers arrived, started again with the same config, and once
//! every mail is answered and nothing more comes, the sender's mailbox (read over IMAP, apart
//! from the bot) must hold an answer to each mail (none lost) and no answer twice, not even the
//! one that was leaving at the kill. That answer (recorded in the journal as about to leave,
//! taken by the SMTP server, not yet recorded as gone) is asked of the session after the
//! restart (`Protocol::sent`), and the email session tells from the copy of the answer in the
//! bot's own mailbox (`answer_copies`, on by default: the bot's address is one more envelope
//! recipient of each answer, so the copy is there exactly when the server took the answer).
//! Before chatty-email had answer copies (bdb05b0) one kill could send it twice (one such
//! duplicate in 18 of 20 kills, which this test then allowed).
//!
//! Needs the test mail servers (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`).

use std::collections::BTreeMap;
use std::time::Duration;

use chatty::reexports::futures::TryStreamExt as _;
use chatty_test::servers::{MailAccount, bare_imap, mail_account, mail_server, var};
use common::crash::{Chatty, lost, twice};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::time::Instant;

mod common;

/// How many mails the bot gets.
const MAILS: usize = 200;
/// How many answers must have arrived before the kill.
const KILL_AFTER: usize = 50;
/// How long the sender's mailbox must stay unchanged, once every mail is answered, to count.
const QUIET: Duration = Duration::from_secs(6);
/// The longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_sigkill_mid_burst_loses_nothing_and_answers_nothing_twice() {
    crash_test("imap").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3_sigkill_mid_burst_loses_nothing_and_answers_nothing_twice() {
    crash_test("pop3").await;
}

/// The config file of the bot on `bot` reading over `protocol`.
fn config(bot: &MailAccount, protocol: &str) -> String {
    let server = mail_server();
    let (port, extra) = match protocol {
        "imap" => (server.imap_port.to_string(), ""),
        _ => (
            var("CHATTY_TEST_MAIL_POP3_PORT"),
            ", poll_interval_ms = 200",
        ),
    };
    format!(
        r#"
[sessions.mail]
answer_limit = false

[sessions.mail.email]
address = "{address}"
user = "{user}"
password = {{ inline = "{password}" }}
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000
smtp = {{ host = "{host}", port = {submission} }}
inbound = {{ protocol = "{protocol}", host = "{host}", port = {port}{extra} }}

[bots.echo]
sessions = ["mail"]
echo = {{}}
logger = {{ path = "echo.db" }}
"#,
        address = bot.address,
        user = bot.user,
        password = bot.password,
        host = server.host,
        submission = server.submission_port,
    )
}

/// The tag that names mail `i` of this run, in its subject and text and so in its answer.
fn tag(run: &str, i: usize) -> String {
    format!("[{run}-{i:03}]")
}

async fn crash_test(protocol: &str) {
    let dir = tempfile::tempdir().unwrap();
    let bot = mail_account().await;
    let person = mail_account().await;
    let run = format!("{protocol}{}", std::process::id());
    let config = config(&bot, protocol);
    let mut chatty = Chatty::start(dir.path(), &config, "info");

    let deliveries = tokio::spawn(deliver_all(bot.clone(), person.clone(), run.clone()));
    let started = Instant::now();
    // The kill, once enough answers came back.
    let answered_at_kill = loop {
        let n = count(&person).await;
        if n >= KILL_AFTER {
            chatty.kill();
            break n;
        }
        chatty.check();
        assert!(
            started.elapsed() < DEADLINE,
            "only {n} answers:\n{}",
            chatty.tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let killed_after = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    chatty.restart();
    deliveries.await.expect("every mail delivered");

    // Until every mail has an answer and the mailbox stayed unchanged for QUIET.
    let mut last = (count(&person).await, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let n = count(&person).await;
        if n != last.0 {
            last = (n, Instant::now());
        }
        if (n >= MAILS && last.1.elapsed() >= QUIET) || started.elapsed() > DEADLINE {
            break;
        }
        chatty.check();
    }
    chatty.stop();

    let answers = inbox(&person).await;
    let mut per_mail: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut strangers = Vec::new();
    for answer in &answers {
        match (0..MAILS).find(|i| answer.contains(&tag(&run, *i))) {
            Some(i) => per_mail.entry(i).or_default().push(message_id(answer)),
            None => strangers.push(answer.clone()),
        }
    }
    let lost = lost(MAILS, &per_mail);
    let twice = twice(&per_mail);
    eprintln!(
        "{protocol}: killed after {killed_after:?} with {answered_at_kill} answers; {} answers for {} mails, lost {}, answered twice {}",
        answers.len(),
        per_mail.len(),
        lost.len(),
        twice.len(),
    );
    // What the restarted session was asked about the answers that were leaving at the kill.
    let asked = chatty.second_run_lines("whether an answer left");
    eprintln!("{protocol}: asked whether it left: {asked:#?}");
    let report = || {
        format!(
            "answers at the kill {answered_at_kill}; lost {lost:?}; twice {twice:?}\n{}",
            chatty.logs()
        )
    };
    assert!(
        answered_at_kill < MAILS,
        "the kill came after the last answer: {}",
        report()
    );
    assert!(
        strangers.is_empty(),
        "mails that answer none: {strangers:#?}"
    );
    assert!(
        lost.is_empty(),
        "{protocol}: {} lost: {}",
        lost.len(),
        report()
    );
    // No answer twice, not even the one leaving at the kill (see the module docs).
    assert!(
        twice.is_empty(),
        "{protocol}: {} answered twice: {}",
        twice.len(),
        report()
    );
}

/// The mails to the bot: even ones through Postfix with a Message-ID, odd ones put into the
/// mailbox directly without one, a few milliseconds apart.
async fn deliver_all(bot: MailAccount, person: MailAccount, run: String) {
    let mut smtp = Smtp::connect().await;
    let mut imap = bare_imap(&bot).await;
    for i in 0..MAILS {
        let tag = tag(&run, i);
        let id = if i % 2 == 0 {
            format!("Message-ID: <crash-{run}-{i}@test>\r\n")
        } else {
            String::new()
        };
        let mail = format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: mail {tag}\r\n{id}\
             Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nthe text of mail {tag}\r\n",
            from = person.address,
            to = bot.address,
        );
        if i % 2 == 0 {
            smtp.send(&person.address, &bot.address, &mail).await;
        } else {
            imap.append("INBOX", None, None, &mail)
                .await
                .expect("APPEND");
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    smtp.quit().await;
    let _ = imap.logout().await;
}

/// How many mails `account`'s INBOX holds.
async fn count(account: &MailAccount) -> usize {
    let mut session = bare_imap(account).await;
    let n = session.uid_search("ALL").await.expect("SEARCH").len();
    let _ = session.logout().await;
    n
}

/// Every mail in `account`'s INBOX, raw.
async fn inbox(account: &MailAccount) -> Vec<String> {
    let mut session = bare_imap(account).await;
    let fetched: Vec<_> = session
        .uid_fetch("1:*", "BODY.PEEK[]")
        .await
        .expect("FETCH")
        .try_collect()
        .await
        .expect("FETCH");
    let _ = session.logout().await;
    fetched
        .iter()
        .filter_map(|f| f.body().map(|b| String::from_utf8_lossy(b).into_owned()))
        .collect()
}

/// A mail's Message-ID, for telling a second answer from the first.
fn message_id(raw: &str) -> String {
    raw.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map_or_else(|| "(none)".to_owned(), |l| l[11..].trim().to_owned())
}

/// A plain SMTP client for the test Postfix's loopback port (no TLS, no AUTH).
struct Smtp {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Smtp {
    async fn connect() -> Smtp {
        let host = var("CHATTY_TEST_MAIL_HOST");
        let port: u16 = var("CHATTY_TEST_MAIL_SMTP_PLAIN_PORT").parse().unwrap();
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .expect("Postfix answers");
        let (read, writer) = tcp.into_split();
        let mut smtp = Smtp {
            reader: BufReader::new(read),
            writer,
        };
        smtp.expect("220").await;
        smtp.command("EHLO crash.test", "250").await;
        smtp
    }

    /// Reads a reply (all its lines) and checks its code.
    async fn expect(&mut self, code: &str) {
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.expect("a reply");
            assert!(n > 0, "Postfix closed the connection");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }

    async fn command(&mut self, line: &str, code: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.expect(code).await;
    }

    async fn send(&mut self, from: &str, to: &str, mail: &str) {
        self.command(&format!("MAIL FROM:<{from}>"), "250").await;
        self.command(&format!("RCPT TO:<{to}>"), "250").await;
        self.command("DATA", "354").await;
        let mut data = String::new();
        for line in mail.trim_end_matches("\r\n").split("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        self.writer.write_all(data.as_bytes()).await.expect("write");
        self.expect("250").await;
    }

    async fn quit(mut self) {
        self.command("QUIT", "221").await;
    }
}
