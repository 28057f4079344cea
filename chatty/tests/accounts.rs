//! Two accounts of one platform serving one bot, through the runner: every answer leaves through
//! the account that received what it answers, and a new conversation through the account its
//! address names. Two XMPP accounts, two mailboxes and two Slack workspaces.

mod common;

use std::path::Path;
use std::time::Duration;

use chatty::prelude::*;
use chatty::{BotContext, Runner};
use chatty_test::servers::{mail_account, xmpp_account};
use common::{ask, email_person, email_session_toml, next_message, xmpp_person, xmpp_session_toml};

/// Echoes every message; on `new NAME`, starts a new conversation with the sender through the
/// session `NAME` instead (`platform+NAME:sender`).
struct EchoOrIntroduce;

impl Bot for EchoOrIntroduce {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            let (Body::Message(m), Some(from)) = (&signal.body, &signal.meta.origin) else {
                continue;
            };
            match m.text.strip_prefix("new ") {
                Some(session) => {
                    let to = from.in_session(Some(session));
                    handle.say(&to, format!("hello through {session}")).await?;
                }
                None => {
                    handle
                        .send(signal.reply(Message::text(m.text.clone())))
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `config` (written to a file in `dir`) with [`EchoOrIntroduce`] registered as `echo`.
fn run_config(
    dir: &Path,
    config: String,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), chatty::RunError>>,
) {
    let path = dir.join("accounts.toml");
    std::fs::write(&path, config).unwrap();
    let runner = Runner::new().bot("echo", |_: &BotContext<'_>| Ok(EchoOrIntroduce));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        runner
            .run_file(&path, async move {
                let _ = stopped.await;
            })
            .await
    });
    (stop, run)
}

async fn stop(
    stop: tokio::sync::oneshot::Sender<()>,
    run: tokio::task::JoinHandle<Result<(), chatty::RunError>>,
) {
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(40), run)
        .await
        .expect("the runner ends")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_xmpp_accounts_answer_each_through_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (bob, bob_password) = xmpp_account();
    let (carol, carol_password) = xmpp_account();
    let config = format!(
        "{}{}\n[bots.echo]\nrust = \"echo\"\nsessions = [\"one\", \"two\"]\n",
        xmpp_session_toml("one", &bob, &bob_password),
        xmpp_session_toml("two", &carol, &carol_password),
    );
    let (stop_tx, run) = run_config(dir.path(), config);
    let (alice, handle, _) = xmpp_person().await;
    let bob: Address = format!("xmpp:{bob}").parse().unwrap();
    let carol: Address = format!("xmpp:{carol}").parse().unwrap();
    assert_eq!(ask(&alice, &handle, &bob, "warm-up").await.0, bob);
    assert_eq!(ask(&alice, &handle, &carol, "warm-up").await.0, carol);

    // Each of 10 messages to each account is answered by that account.
    for i in 0..10 {
        for account in [&bob, &carol] {
            let text = format!("{i} to {}", account.id());
            handle.say(account, &text).await.unwrap();
        }
    }
    let mut answered = Vec::new();
    while answered.len() < 20 {
        let (signal, text) = next_message(&alice, Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("only {} of 20 answered: {answered:?}", answered.len()));
        let origin = signal.meta.origin.unwrap();
        assert!(
            text.ends_with(&format!("to {}", origin.id())),
            "{text:?} came from {origin}"
        );
        answered.push(text);
    }

    // A new conversation leaves through the account its address names.
    handle.say(&bob, "new two").await.unwrap();
    let (signal, text) = next_message(&alice, Duration::from_secs(20)).await.unwrap();
    assert_eq!(
        (signal.meta.origin.unwrap(), text.as_str()),
        (carol.clone(), "hello through two")
    );
    handle.say(&carol, "new one").await.unwrap();
    let (signal, text) = next_message(&alice, Duration::from_secs(20)).await.unwrap();
    assert_eq!(
        (signal.meta.origin.unwrap(), text.as_str()),
        (bob, "hello through one")
    );
    stop(stop_tx, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_mailboxes_answer_each_through_itself() {
    let dir = tempfile::tempdir().unwrap();
    let one = mail_account().await;
    let two = mail_account().await;
    let config = format!(
        "{}{}\n[bots.echo]\nrust = \"echo\"\nsessions = [\"one\", \"two\"]\n",
        email_session_toml("one", &one, dir.path()),
        email_session_toml("two", &two, dir.path()),
    );
    let (stop_tx, run) = run_config(dir.path(), config);
    let (alice, handle) = email_person().await;
    let one: Address = format!("mailto:{}", one.address).parse().unwrap();
    let two: Address = format!("mailto:{}", two.address).parse().unwrap();
    assert_eq!(ask(&alice, &handle, &one, "warm-up").await.0, one);
    assert_eq!(ask(&alice, &handle, &two, "warm-up").await.0, two);
    for i in 0..5 {
        for mailbox in [&one, &two] {
            handle
                .say(mailbox, format!("{i} to {}", mailbox.id()))
                .await
                .unwrap();
        }
    }
    let mut answered = Vec::new();
    while answered.len() < 10 {
        let (signal, text) = next_message(&alice, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("only {} of 10 answered: {answered:?}", answered.len()));
        let origin = signal.meta.origin.unwrap();
        assert!(
            text.ends_with(&format!("to {}", origin.id())),
            "{text:?} came from {origin}"
        );
        answered.push(text);
    }
    handle.say(&one, "new two").await.unwrap();
    let (signal, text) = next_message(&alice, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        (signal.meta.origin.unwrap(), text.as_str()),
        (two, "hello through two")
    );
    stop(stop_tx, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_slack_workspaces_answer_each_in_itself() {
    let dir = tempfile::tempdir().unwrap();
    let first = chatty_local_slack::LocalSlack::start().await.unwrap();
    let second = chatty_local_slack::LocalSlack::start().await.unwrap();
    let mut sessions = String::new();
    let mut people = Vec::new();
    for (key, slack) in [("one", &first), ("two", &second)] {
        let app = slack.add_app("echo");
        let person = slack.add_user(&format!("person-{key}"));
        let dm = slack.open_conversation(&[&person, &app.bot_user_id]);
        sessions.push_str(&format!(
            "[sessions.{key}.slack]\nbot_token = {{ inline = \"{}\" }}\napp_token = {{ inline = \"{}\" }}\napi_url = \"{}\"\n",
            app.bot_token,
            app.app_token,
            slack.api_url()
        ));
        people.push((slack, app, person, dm));
    }
    let config =
        format!("{sessions}\n[bots.echo]\nrust = \"echo\"\nsessions = [\"one\", \"two\"]\n");
    let (stop_tx, run) = run_config(dir.path(), config);
    for (slack, app, _, _) in &people {
        slack
            .wait_until(Duration::from_secs(30), |s| {
                s.socket_count(&app.app_id) == 1
            })
            .await;
    }
    for i in 0..5 {
        for (slack, _, person, dm) in &people {
            slack.post(person, dm, &format!("{i} from {person}"));
        }
    }
    for (slack, app, person, dm) in &people {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let answers: Vec<String> = slack
                .messages_from(&app.bot_user_id)
                .into_iter()
                .filter(|(channel, _)| channel == dm)
                .filter_map(|(_, m)| m.get("text").and_then(|t| t.as_str()).map(str::to_owned))
                .collect();
            let expected: Vec<String> = (0..5).map(|i| format!("{i} from {person}")).collect();
            if expected.iter().all(|e| answers.contains(e)) {
                assert_eq!(answers.len(), 5, "{answers:?}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not every message answered in its own workspace: {answers:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    stop(stop_tx, run).await;
}
