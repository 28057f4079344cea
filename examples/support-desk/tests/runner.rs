//! The support desk under the runner, as `chatty-support-desk run` runs it: on a direct network,
//! with the journal (SQLite, in the state directory) holding its tickets and timers, and the
//! Logger around it. Tickets, answers and reminders survive a restart.

use std::path::Path;
use std::time::Duration;

use chatty::direct::{Network, Person};
use chatty::log::{Direction, LogStore};
use chatty::{Runner, Signal};
use chatty_support_desk::support_desk;

/// Runs the desk from `config` until `talk` is done.
async fn run_desk<F, Fut>(network: &Network, config: &Path, talk: F)
where
    F: FnOnce(Person, chatty::Address) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // As the program registers it: the settings from the config, the state from the journal.
    let runner = Runner::new()
        .network(network.clone())
        .dispatcher("support-desk", support_desk);
    let config = config.to_path_buf();
    let run = tokio::spawn(async move {
        runner
            .run_file(&config, async move {
                let _ = stopped.await;
            })
            .await
    });
    let alice = Person::join(network, "alice").await;
    let desk = network.address("desk");
    // The first message goes once the desk's session is up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while alice
        .send(Signal::message("hello").to(desk.clone()))
        .await
        .is_err()
    {
        assert!(!run.is_finished(), "{:?}", run.await);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the desk never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    talk(alice, desk).await;
    let _ = stop.send(());
    run.await.unwrap().unwrap();
}

async fn said(alice: &Person, desk: &chatty::Address, text: &str) -> String {
    alice.say(desk, text).await;
    alice.expect_message().await.1.text
}

#[tokio::test]
async fn tickets_and_reminders_survive_a_restart_in_the_journals_database() {
    let dir = tempfile::tempdir().unwrap();
    survive_a_restart(dir.path(), "desk-runner", "").await;
    assert!(dir.path().join("desk.state/journal.sqlite").is_file());
    // The Logger wrapped the whole desk: what alice said, and what the desk answered her, timer
    // and question included, across both runs.
    let store = chatty::log::SqliteStore::open(dir.path().join("desk-log.db"))
        .await
        .unwrap();
    let alice = Network::named("desk-runner").address("alice");
    let texts = |direction| {
        let (store, alice) = (&store, &alice);
        async move {
            let page = store
                .history(direction, alice, &chatty::Page::first(50))
                .await
                .unwrap();
            let texts = page.signals.iter().filter_map(|s| match &s.body {
                chatty::Body::Message(m) => Some(m.text.clone()),
                _ => None,
            });
            texts.collect::<Vec<String>>()
        }
    };
    let said = texts(Direction::In).await;
    assert!(
        said.contains(&"!ticket open printer on fire".to_owned()),
        "{said:?}"
    );
    assert!(said.contains(&"urgent".to_owned()), "{said:?}");
    let answered = texts(Direction::Out).await;
    for answer in ["#1 is Urgent.", "Still open: #1 printer on fire"] {
        assert!(answered.contains(&answer.to_owned()), "{answered:?}");
    }
    store.close().await;
}

#[tokio::test]
async fn tickets_and_reminders_survive_a_restart_in_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = chatty_test::servers::var("CHATTY_TEST_POSTGRES_URL");
    let schema = format!("desk_{}", std::process::id());
    let journal = format!("[journal]\nurl = \"{url}\"\nschema = \"{schema}\"\n");
    survive_a_restart(dir.path(), "desk-runner-pg", &journal).await;
    assert!(!dir.path().join("desk.state").exists());
}

/// Opens a ticket and answers its question, stops, starts again after the reminder was due:
/// the reminder comes, and the ticket is still there.
async fn survive_a_restart(dir: &Path, network_name: &str, extra: &str) {
    let config = dir.join("desk.toml");
    std::fs::write(
        &config,
        format!(
            "{extra}\n[sessions.desk.direct]\nnetwork = \"{network_name}\"\nendpoint = \"desk\"\n\n\
             [bots.desk]\nrust = \"support-desk\"\nsessions = [\"desk\"]\n\
             settings = {{ remind_after_minutes = 0.025 }}\nlogger = {{ path = \"desk-log.db\" }}\n"
        ),
    )
    .unwrap();
    let network = Network::named(network_name);
    run_desk(&network, &config, |alice, desk| async move {
        let asked = said(&alice, &desk, "!ticket open printer on fire").await;
        assert_eq!(asked, "Opened #1. How urgent is it?");
        assert_eq!(said(&alice, &desk, "urgent").await, "#1 is Urgent.");
    })
    .await;

    // Started again after the reminder was due: it comes, and the ticket is still there.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let network = Network::named(network_name);
    run_desk(&network, &config, |alice, desk| async move {
        let reminder = alice.expect_message().await.1.text;
        assert_eq!(reminder, "Still open: #1 printer on fire");
        assert_eq!(
            said(&alice, &desk, "!ticket list").await,
            "#1 printer on fire"
        );
        assert_eq!(
            said(&alice, &desk, "!ticket open second").await,
            "Opened #2. How urgent is it?"
        );
    })
    .await;
}

#[tokio::test]
async fn settings_that_do_not_fit_the_desk_are_a_config_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("desk.toml");
    let bot = "[bots.desk]\nrust = \"support-desk\"\nsessions = [\"desk\"]\n";
    let session = "[sessions.desk.direct]\nnetwork = \"desk-check\"\nendpoint = \"desk\"\n";
    let runner = Runner::new().dispatcher("support-desk", support_desk);
    for (settings, expected) in [
        (
            "settings = { remind_after_minutes = \"soon\" }",
            "invalid type",
        ),
        ("", "remind_after_minutes"),
        (
            "settings = { remind_after_minutes = -1 }",
            "a number of minutes, 0 or more",
        ),
        (
            "settings = { remind_after_minutes = nan }",
            "a number of minutes, 0 or more",
        ),
        (
            "settings = { remind_after_minutes = 1e300 }",
            "that a duration can hold",
        ),
        (
            "settings = { remind_after_minutes = inf }",
            "that a duration can hold",
        ),
    ] {
        std::fs::write(&config, format!("{session}\n{bot}{settings}\n")).unwrap();
        let error = runner.check(&config).await.unwrap_err().to_string();
        assert!(error.contains("bots.desk.settings"), "{error}");
        assert!(error.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn a_sessions_command_prefix_in_the_config_is_the_desks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("desk.toml");
    std::fs::write(
        &config,
        "[journal]\nenabled = false\n\n\
         [sessions.desk]\ncommand_prefix = \"?\"\n\n\
         [sessions.desk.direct]\nnetwork = \"desk-prefix\"\nendpoint = \"desk\"\n\n\
         [bots.desk]\nrust = \"support-desk\"\nsessions = [\"desk\"]\n\
         settings = { remind_after_minutes = 30 }\n",
    )
    .unwrap();
    let network = Network::named("desk-prefix");
    run_desk(&network, &config, |alice, desk| async move {
        // `!` is no longer the desk's prefix: that line is a plain message, left alone (had it
        // opened a ticket, its answer would come first, and the list would not be empty).
        alice.say(&desk, "!ticket open x").await;
        assert_eq!(
            said(&alice, &desk, "?ticket list").await,
            "No open tickets."
        );
    })
    .await;

    // A bot that does not read prefixes: the key is an error, not ignored.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("rust = \"support-desk\"", "echo = {}")
        .replace("settings = { remind_after_minutes = 30 }\n", "");
    std::fs::write(&config, text).unwrap();
    let error = Runner::new().check(&config).await.unwrap_err().to_string();
    assert!(
        error.contains("key `sessions.desk.command_prefix`: the bot `desk` does not read"),
        "{error}"
    );
}
