//! An echo bot on Slack, run against the local Slack: no Slack account needed.
//!
//! ```sh
//! cargo run -p chatty-slack --example local_echo
//! ```
//!
//! The example starts a local Slack in-process (`chatty-local-slack`), installs an app, runs
//! the bot on a `SlackSession` (Socket Mode in, Web API out), posts as a person, and prints the
//! bot's answer. Against the real Slack, only the config changes: the app's real tokens and
//! no `api_url`.

use std::time::Duration;

use chatty_core::Router;
use chatty_core::prelude::*;
use chatty_local_slack::LocalSlack;
use chatty_slack::{Secret, SlackConfig, SlackSession};

/// Answers every message with "echo: " and its text, in the message's thread.
struct Echo;

impl Bot for Echo {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if let Body::Message(message) = &signal.body {
                let answer = Message::text(format!("echo: {}", message.text));
                handle.send(signal.reply(answer)).await?;
            }
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let slack = LocalSlack::start().await?;
    let alice = slack.add_user("alice");
    let app = slack.add_app("echo-bot");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);

    // What a config file would say: tokens (`{ inline = "…" }` here; `{ env = "…" }` or
    // `{ file = "…" }` in real life) and, for the local Slack only, the API URL.
    let config = SlackConfig::new(
        Secret::inline(app.bot_token.as_str()),
        Secret::inline(app.app_token.as_str()),
    )
    .with_api_url(slack.api_url());
    let session = SlackSession::new(config)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bot = tokio::spawn(Router::new().session(session).run_until(Echo, async {
        let _ = stopped.await;
    }));

    // Wait until the bot's socket is up, then talk to it as alice.
    slack
        .wait_until(Duration::from_secs(10), |s| {
            s.socket_count(&app.app_id) == 1
        })
        .await;
    slack.post(&alice, &dm, "hello, bot");
    let answered = slack
        .wait_until(Duration::from_secs(10), |s| {
            s.messages(&dm)
                .iter()
                .any(|m| m["user"] == app.bot_user_id.as_str())
        })
        .await;
    for message in slack.messages(&dm) {
        println!("{}: {}", message["user"], message["text"]);
    }
    let _ = stop.send(());
    bot.await?.map_err(|e| e.to_string())?;
    if answered {
        Ok(())
    } else {
        Err("the bot did not answer".into())
    }
}
