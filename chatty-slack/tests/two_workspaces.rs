//! Two Slack workspaces serving one bot: two local Slacks (each its own team id) in one
//! process, one `SlackSession` per workspace with a session name of its own, one router.
//!
//! This is also the example to copy for such a test: `LocalSlack::start_named` for each
//! workspace, `SlackConfig::with_name` for each session, `Router::session` twice.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::{Body, Message, Router, SignalKind};
use chatty_local_slack::LocalSlack;
use chatty_slack::{Secret, SlackConfig, SlackSession};
use chatty_test::Probe;

const WAIT: Duration = Duration::from_secs(15);

/// A session named `name` for a new app of `slack`; the app's bot user id.
fn session(slack: &LocalSlack, name: &str) -> (SlackSession, String) {
    let app = slack.add_app("bot");
    let config = SlackConfig::new(
        Secret::inline(app.bot_token.as_str()),
        Secret::inline(app.app_token.as_str()),
    )
    .with_api_url(slack.api_url())
    .with_name(name);
    (
        SlackSession::new(config).expect("a valid config"),
        app.bot_user_id,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workspaces_serve_one_bot() {
    let acme = LocalSlack::start_named("Acme").await.unwrap();
    let globex = LocalSlack::start_named("Globex").await.unwrap();
    assert_ne!(acme.team_id(), globex.team_id());
    let (acme_session, acme_bot) = session(&acme, "acme");
    let (globex_session, globex_bot) = session(&globex, "globex");
    let alice = acme.add_user("alice");
    let bob = globex.add_user("bob");
    let alice_dm = acme.open_conversation(&[&alice, &acme_bot]);
    let bob_dm = globex.open_conversation(&[&bob, &globex_bot]);

    let (probe, mut remote) = Probe::new();
    remote.wait = WAIT;
    let router = Router::new()
        .shared_session(Arc::new(acme_session))
        .shared_session(Arc::new(globex_session));
    let task = tokio::spawn(async move { router.run(probe).await });
    let mut started = Vec::new();
    for _ in 0..2 {
        let signal = remote.started().await;
        started.push(signal.meta.origin.expect("the bot's address").to_string());
    }
    started.sort();
    assert_eq!(
        started,
        [
            format!("slack+acme:{}/{acme_bot};kind=individual", acme.team_id()),
            format!(
                "slack+globex:{}/{globex_bot};kind=individual",
                globex.team_id()
            ),
        ]
    );

    // A person in each workspace; each answer goes back through the session it came from.
    acme.post(&alice, &alice_dm, "hello from Acme");
    globex.post(&bob, &bob_dm, "hello from Globex");
    let handle = remote.handle().await;
    for _ in 0..2 {
        let got = remote
            .next_of(SignalKind::Message)
            .await
            .expect("a message");
        let Body::Message(m) = &got.body else {
            unreachable!()
        };
        let origin = got.meta.origin.clone().expect("an origin");
        let expected_session = if m.text.contains("Acme") {
            "acme"
        } else {
            "globex"
        };
        assert_eq!(origin.session(), Some(expected_session), "{origin}");
        handle
            .send(got.reply(Message::text(format!("echo: {}", m.text))))
            .await
            .unwrap();
    }
    let answered = |slack: &LocalSlack, dm: &str, bot: &str| {
        slack
            .messages(dm)
            .iter()
            .filter(|m| m["user"] == bot)
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(
        acme.wait_until(WAIT, |s| !answered(s, &alice_dm, &acme_bot).is_empty())
            .await
    );
    assert!(
        globex
            .wait_until(WAIT, |s| !answered(s, &bob_dm, &globex_bot).is_empty())
            .await
    );
    assert_eq!(
        answered(&acme, &alice_dm, &acme_bot),
        ["echo: hello from Acme"]
    );
    assert_eq!(
        answered(&globex, &bob_dm, &globex_bot),
        ["echo: hello from Globex"]
    );
    remote.stop();
    let _ = tokio::time::timeout(WAIT, task).await;
}
