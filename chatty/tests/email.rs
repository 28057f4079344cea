//! The runner against the test mail servers: a proxy, declared in the config file, reaches a
//! remote echo bot over email, with `response_to` kept on the local side; the echo bot answers a
//! person but no out-of-office or list mail; the answer limit ends a loop with a responder that
//! ignores every marker.

use std::time::Duration;

mod common;

use chatty::Runner;
use chatty::direct::{Network, Person};
use chatty_test::servers::{MailAccount, mail_account};
use common::email_session_toml;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_reaches_a_remote_echo_bot_over_email() {
    let dir = tempfile::tempdir().unwrap();
    let echo_account = mail_account().await;
    let proxy_account = mail_account().await;
    let path = dir.path().join("proxy.toml");
    std::fs::write(
        &path,
        format!(
            r#"{echo}
{proxy}
[sessions.proxy-near.direct]
network = "near-mail"
endpoint = "proxy"

[bots.echo]
sessions = ["echo-mail"]
echo = {{}}

[bots.proxy]
sessions = ["proxy-near", "proxy-mail"]
proxy = {{ remote = "mailto:{remote}" }}
"#,
            echo = email_session_toml("echo-mail", &echo_account, dir.path()),
            proxy = email_session_toml("proxy-mail", &proxy_account, dir.path()),
            remote = echo_account.address,
        ),
    )
    .unwrap();
    let near = Network::named("near-mail");
    let runner = Runner::new().network(near.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        runner
            .run_file(&path, async move {
                let _ = stopped.await;
            })
            .await
    });
    let mut alice = Person::join(&near, "alice").await;
    alice.set_wait(Duration::from_secs(30));
    let proxy = near.address("proxy");
    for i in 0..3 {
        // The runner builds its sessions first; until then the proxy's endpoint is not there.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let asked = loop {
            let said = chatty::Signal::message(format!("over email {i}")).to(proxy.clone());
            match alice.send(said).await {
                Ok(id) => break id,
                Err(refusal) => {
                    assert!(!run.is_finished(), "the run ended: {refusal:?}");
                    assert!(tokio::time::Instant::now() < deadline, "{refusal:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let (answer, message) = alice.expect_message().await;
        assert_eq!(message.text, format!("over email {i}"));
        assert_eq!(answer.meta.response_to, Some(asked));
    }
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

/// Every mail in `account`'s INBOX, raw.
async fn inbox(account: &MailAccount) -> Vec<String> {
    use chatty::reexports::futures::TryStreamExt as _;
    let mut session = chatty_test::servers::bare_imap(account).await;
    let fetched: Vec<_> = session
        .uid_fetch("1:*", "RFC822")
        .await
        .expect("fetch")
        .try_collect()
        .await
        .unwrap_or_default();
    let _ = session.logout().await;
    fetched
        .iter()
        .filter_map(|f| f.body().map(|b| String::from_utf8_lossy(b).into_owned()))
        .filter(|mail| !is_own_copy(account, mail))
        .collect()
}

/// Whether `mail` in `account`'s mailbox is the copy a Chatty session sends itself of each
/// answer (an extra envelope recipient, so that after a crash it can tell the answer left):
/// from the account itself and marked `X-Chatty-Copy`. Those are the session's, not mail.
fn is_own_copy(account: &MailAccount, mail: &str) -> bool {
    let headers = mail
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    headers.contains("\r\nx-chatty-copy:")
        && headers.contains(&format!(
            "\r\nfrom: <{}>",
            account.address.to_ascii_lowercase()
        ))
}

/// Puts a raw mail into `account`'s INBOX, as a delivery would.
async fn deliver(account: &MailAccount, raw: &str) {
    let mut session = chatty_test::servers::bare_imap(account).await;
    session
        .append("INBOX", None, None, raw.replace('\n', "\r\n"))
        .await
        .expect("append");
    let _ = session.logout().await;
}

/// Waits until `account`'s INBOX holds `count` mails (or 30 s), then `settle` more, and returns
/// them.
async fn inbox_with(account: &MailAccount, count: usize, settle: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while inbox(account).await.len() < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(settle).await;
    inbox(account).await
}

fn echo_config(bot: &MailAccount, dir: &std::path::Path, limit: &str) -> std::path::PathBuf {
    let path = dir.join("echo.toml");
    std::fs::write(
        &path,
        format!(
            "{session}\n[sessions.bot]\n{limit}\n[bots.echo]\nsessions = [\"bot\"]\necho = {{}}\n",
            session = email_session_toml("bot", bot, dir),
        ),
    )
    .unwrap();
    path
}

fn run_echo(
    path: std::path::PathBuf,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), chatty::RunError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        Runner::new()
            .run_file(&path, async move {
                let _ = stopped.await;
            })
            .await
    });
    (stop, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_a_person_but_not_an_out_of_office() {
    let dir = tempfile::tempdir().unwrap();
    let bot = mail_account().await;
    let person = mail_account().await;
    let (stop, run) = run_echo(echo_config(&bot, dir.path(), ""));
    let mail = |id: &str, extra: &str, text: &str| {
        format!(
            "From: <{from}>\nTo: <{to}>\nSubject: {text}\nMessage-ID: <{id}@test>\n\
             Date: Sun, 06 Dec 2026 10:00:00 +0000\n{extra}MIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\n{text}\n",
            from = person.address,
            to = bot.address,
        )
    };
    deliver(
        &bot,
        &mail(
            "ooo",
            "Auto-Submitted: auto-replied\n",
            "I am away until Monday",
        ),
    )
    .await;
    deliver(
        &bot,
        &mail("list", "List-Id: <news.example.org>\n", "Weekly news"),
    )
    .await;
    deliver(&bot, &mail("person", "", "Are you there?")).await;
    let answers = inbox_with(&person, 1, Duration::from_secs(5)).await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(answers[0].contains("Are you there?"), "{}", answers[0]);
    assert!(
        answers[0]
            .to_ascii_lowercase()
            .contains("auto-submitted: auto-replied"),
        "an answer is marked as automatic: {}",
        answers[0]
    );
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

/// A responder that ignores every marker: it answers each mail with a new mail (no
/// `In-Reply-To`, no `Auto-Submitted`), as a badly written autoresponder does.
struct Naive;

impl chatty::Bot for Naive {
    async fn run(
        self,
        mut inbound: chatty::Inbound,
        handle: chatty::Handle,
    ) -> Result<(), chatty::BotError> {
        use chatty::prelude::*;
        while let Some(signal) = inbound.next().await {
            if let (Body::Message(m), Some(from)) = (&signal.body, &signal.meta.origin) {
                handle.say(from, format!("got: {}", m.text)).await?;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_limit_ends_a_loop_with_a_responder_that_ignores_every_marker() {
    let dir = tempfile::tempdir().unwrap();
    let bot = mail_account().await;
    let naive = mail_account().await;
    let (stop, run) = run_echo(echo_config(
        &bot,
        dir.path(),
        "answer_limit = { answers = 3, per_secs = 3600 }",
    ));
    // The naive responder's own mailbox, read by a session that answers everything.
    let path = dir.path().join("naive.toml");
    std::fs::write(
        &path,
        format!(
            "{}\n[bots.naive]\nsessions = [\"naive\"]\nrust = \"naive\"\n",
            email_session_toml("naive", &naive, dir.path())
        ),
    )
    .unwrap();
    let (naive_stop, naive_stopped) = tokio::sync::oneshot::channel::<()>();
    let naive_run = tokio::spawn(async move {
        Runner::new()
            .bot("naive", |_: &chatty::BotContext<'_>| Ok(Naive))
            .run_file(&path, async move {
                let _ = naive_stopped.await;
            })
            .await
    });
    // The first mail, from the naive responder to the bot.
    deliver(
        &bot,
        &format!(
            "From: <{naive}>\nTo: <{bot}>\nSubject: hello\nMessage-ID: <start@test>\n\
             Date: Sun, 06 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\nhello\n",
            naive = naive.address,
            bot = bot.address,
        ),
    )
    .await;
    // The bot answers three times; its fourth answer is held back, and the loop ends.
    let echoes = inbox_with(&naive, 3, Duration::from_secs(10)).await;
    assert_eq!(echoes.len(), 3, "{echoes:#?}");
    let got = inbox_with(&bot, 4, Duration::from_secs(3)).await;
    assert_eq!(
        got.len(),
        4,
        "the first mail and three answers to the echoes: {got:#?}"
    );
    naive_stop.send(()).unwrap();
    naive_run.await.unwrap().unwrap();
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_a_mail_to_all_its_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let bot = mail_account().await;
    let alice = mail_account().await;
    let carol = mail_account().await;
    let dave = mail_account().await;
    let (stop, run) = run_echo(echo_config(&bot, dir.path(), ""));
    deliver(
        &bot,
        &format!(
            "From: <{alice}>\nTo: <{bot}>, <{dave}>\nCc: <{carol}>\nSubject: lunch\n\
             Message-ID: <lunch@test>\nDate: Sun, 06 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\nlunch at noon?\n",
            alice = alice.address,
            bot = bot.address,
            carol = carol.address,
            dave = dave.address,
        ),
    )
    .await;
    for person in [&alice, &carol, &dave] {
        let got = inbox_with(person, 1, Duration::from_secs(1)).await;
        assert_eq!(got.len(), 1, "{}: {got:#?}", person.address);
        assert!(got[0].contains("lunch at noon?"), "{}", got[0]);
        let headers = got[0]
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ")
            .to_ascii_lowercase();
        let field = |name: &str| -> String {
            headers
                .lines()
                .filter(|l| l.starts_with(name))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (to, cc) = (field("to:"), field("cc:"));
        assert!(
            to.contains(&alice.address),
            "alice is the addressee: {headers}"
        );
        for copied in [&carol, &dave] {
            assert!(
                cc.contains(&copied.address),
                "{} in Cc: {headers}",
                copied.address
            );
        }
        assert!(
            !to.contains(&bot.address) && !cc.contains(&bot.address),
            "the bot is no recipient of its own answer: {headers}"
        );
    }
    // The bot sent itself nothing but its answer's copy: its inbox holds the one mail it got.
    assert_eq!(inbox(&bot).await.len(), 1);
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_a_mail_with_its_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let bot = mail_account().await;
    let alice = mail_account().await;
    let (stop, run) = run_echo(echo_config(&bot, dir.path(), ""));
    deliver(
        &bot,
        &format!(
            "From: <{alice}>\nTo: <{bot}>\nSubject: the report\nMessage-ID: <report@test>\n\
             Date: Sun, 06 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\n\n\
             --b1\nContent-Type: text/plain; charset=utf-8\n\nhere it is\n\
             --b1\nContent-Type: application/pdf; name=\"report.pdf\"\n\
             Content-Disposition: attachment; filename=\"report.pdf\"\n\
             Content-Transfer-Encoding: base64\n\nJVBERi0xLjQgdGVzdA==\n--b1--\n",
            alice = alice.address,
            bot = bot.address,
        ),
    )
    .await;
    let got = inbox_with(&alice, 1, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let answer = &got[0];
    assert!(answer.contains("here it is"), "{answer}");
    assert!(
        answer.contains("report.pdf"),
        "the attachment is named: {answer}"
    );
    // The PDF's bytes, base64 ("%PDF-1.4 test"), possibly wrapped differently.
    let flat: String = answer.split_whitespace().collect();
    assert!(
        flat.contains("JVBERi0xLjQgdGVzdA"),
        "the attachment's bytes: {answer}"
    );
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}
