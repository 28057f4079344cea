//! The support desk with the Harness (an in-process network), and its configs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chatty::direct::Harness;
use chatty::dispatch::{Dispatcher, Minutes};
use chatty::state::{MemoryStore, State};
use chatty_support_desk::{Desk, support_desk};

/// The desk with reminders `after` a ticket is opened, keeping what it knows in `state`.
fn desk(after: Duration, state: State) -> Dispatcher {
    support_desk(Desk {
        remind_after_minutes: Minutes(after),
    })
    .state(state)
}

async fn text(harness: &Harness) -> String {
    harness.expect_message().await.1.text
}

#[tokio::test]
async fn tickets_are_opened_listed_and_closed_per_person() {
    let state = State::new(MemoryStore::new(), "desk");
    let harness = Harness::start(desk(Duration::from_secs(3600), state)).await;
    harness.say("!ticket open printer on fire").await;
    let (_, asked) = harness.expect_message().await;
    assert_eq!(asked.text, "Opened #1. How urgent is it?");
    let labels: Vec<String> = asked
        .choice
        .unwrap()
        .options
        .into_iter()
        .map(|o| o.label)
        .collect();
    assert_eq!(labels, ["Low", "Normal", "Urgent"]);
    // The direct connection shows options as they are; a person may still answer by text.
    harness.say("3").await;
    assert_eq!(text(&harness).await, "#1 is Urgent.");
    harness.say("!ticket open no paper").await;
    text(&harness).await;
    harness.say("!ticket list").await;
    assert_eq!(text(&harness).await, "#1 printer on fire\n#2 no paper");
    harness.say("!ticket close 1").await;
    assert_eq!(text(&harness).await, "Closed #1.");
    harness.say("!ticket close 1").await;
    assert_eq!(text(&harness).await, "You have no open ticket #1.");

    let bob = harness.person("bob").await;
    bob.say(harness.bot(), "!ticket list").await;
    assert_eq!(bob.expect_message().await.1.text, "No open tickets.");
    bob.say(harness.bot(), "!ticket close x").await;
    let error = bob.expect_message().await.1.text;
    assert!(error.contains("invalid value 'x' for '<N>'"), "{error}");
    bob.say(harness.bot(), "!help").await;
    let help = bob.expect_message().await.1.text;
    assert!(
        help.contains("!ticket  Tickets for the support desk"),
        "{help}"
    );
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_ticket_still_open_is_reminded_once_across_a_restart() {
    let state = State::new(MemoryStore::new(), "desk");
    let after = Duration::from_millis(300);
    let harness = Harness::start(desk(after, state.clone())).await;
    harness.say("!ticket open kept").await;
    text(&harness).await;
    harness.say("!ticket open closed soon").await;
    text(&harness).await;
    harness.say("!ticket close 2").await;
    assert_eq!(text(&harness).await, "Closed #2.");
    // The bot stops before the reminders are due, and starts again on the same state.
    harness.stop().await.unwrap();
    let harness = Harness::start(desk(after, state)).await;
    assert_eq!(text(&harness).await, "Still open: #1 kept");
    // Ticket 2 was closed: no reminder for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(harness.tester().try_next().is_none());
    harness.stop().await.unwrap();
}

#[test]
fn every_config_passes_check() {
    for config in ["xmpp", "email", "slack", "irc", "matrix", "all"] {
        let path = format!("{}/config/{config}.toml", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(env!("CARGO_BIN_EXE_chatty-support-desk"))
            .args(["check", &path])
            .env("BOT_PASSWORD", "x")
            .env("MAIL_PASSWORD", "x")
            .env("IRC_PASSWORD", "x")
            .env("MATRIX_PASSWORD", "x")
            .env("SLACK_BOT_TOKEN", "xoxb-1")
            .env("SLACK_APP_TOKEN", "xapp-1")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{config}: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("ok ("), "{config}: {said}");
    }
}

/// The first Rust code block after the heading `section` of docs/writing-bots.md.
fn shown_in_guide(section: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("../../docs/writing-bots.md")).unwrap();
    let after = guide
        .split_once(section)
        .unwrap_or_else(|| panic!("the guide's section {section}"))
        .1;
    let block = after
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .unwrap_or_else(|| panic!("the code block of {section}"));
    block.0.to_owned()
}

#[test]
fn the_guide_shows_the_desk_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    assert_eq!(
        shown_in_guide("### The bot: `src/lib.rs`"),
        source,
        "docs/writing-bots.md shows another desk than src/lib.rs"
    );
    // The guide's project is called `desk`.
    let source = std::fs::read_to_string(root.join("src/main.rs"))
        .unwrap()
        .replace("chatty_support_desk", "desk")
        .replace("chatty-support-desk", "desk");
    assert_eq!(
        shown_in_guide("### The program: `src/main.rs`"),
        source,
        "docs/writing-bots.md shows another program than src/main.rs"
    );
}
