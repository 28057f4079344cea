//! What the tests against the local Slack share: a workspace with two bots and a person.
//!
//! No external server is needed: each test starts its own `chatty_local_slack::LocalSlack` on a
//! free port of 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::serde_json::Value;
use chatty_core::{Address, Body, Router, Signal, SignalKind};
use chatty_local_slack::{AppCredentials, LocalSlack};
use chatty_slack::{Secret, SlackConfig, SlackSession};
use chatty_test::{Probe, ProbeRemote};
use tokio::task::JoinHandle;

/// Local Slacks kept alive until the test process ends (the conformance pairs own none).
static KEPT: Mutex<Vec<Arc<LocalSlack>>> = Mutex::new(Vec::new());

/// Slack's retry timetable for events not acknowledged (at once, after 1 minute, after 5
/// minutes), shortened: what finds no socket while a session reconnects comes within seconds.
pub const RETRIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// Starts a local Slack that lives until the process ends, with Slack's retry timetable
/// shortened ([`RETRIES`]).
pub async fn local_slack() -> Arc<LocalSlack> {
    let slack = Arc::new(LocalSlack::start().await.expect("the local Slack starts"));
    slack.set_retry_schedule(&RETRIES);
    KEPT.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(slack.clone());
    slack
}

/// A session config for an app of the local Slack, with short timeouts.
pub fn config(slack: &LocalSlack, app: &AppCredentials) -> SlackConfig {
    SlackConfig::new(
        Secret::inline(app.bot_token.as_str()),
        Secret::inline(app.app_token.as_str()),
    )
    .with_api_url(slack.api_url())
    .with_connect_timeout(Duration::from_secs(5))
    .with_reconnect_backoff(Duration::from_millis(1000), Duration::from_secs(2))
}

/// The address of a user or conversation id of the local Slack.
pub fn address(slack: &LocalSlack, id: &str) -> Address {
    let kind = match id.chars().next() {
        Some('C') => ";kind=channel",
        Some('G') => ";kind=group",
        _ => ";kind=individual",
    };
    format!("slack:{}/{id}{kind}", slack.team_id())
        .parse()
        .expect("a valid address")
}

/// A bot (a probe) running on a session of the local Slack.
pub struct Bot {
    pub app: AppCredentials,
    pub remote: ProbeRemote,
    pub session: Arc<SlackSession>,
    pub address: Address,
    /// The `SessionStarted` signal.
    pub started: Signal,
    task: JoinHandle<()>,
}

impl Bot {
    /// Starts a probe bot on a session for `app`, and waits for SessionStarted.
    pub async fn start(slack: &LocalSlack, app: AppCredentials) -> Bot {
        Bot::start_with(slack, app, |c| c).await
    }

    /// Starts a probe bot on a session whose config `adjust` changes.
    pub async fn start_with(
        slack: &LocalSlack,
        app: AppCredentials,
        adjust: impl FnOnce(SlackConfig) -> SlackConfig,
    ) -> Bot {
        Bot::start_routed(slack, app, adjust, |router| router).await
    }

    /// Starts a probe bot on a session whose config `adjust` changes, under a router that
    /// `route` changes (a journal, say).
    pub async fn start_routed(
        slack: &LocalSlack,
        app: AppCredentials,
        adjust: impl FnOnce(SlackConfig) -> SlackConfig,
        route: impl FnOnce(Router) -> Router,
    ) -> Bot {
        let session =
            Arc::new(SlackSession::new(adjust(config(slack, &app))).expect("a valid config"));
        let (probe, mut remote) = Probe::new();
        remote.wait = Duration::from_secs(15);
        let router = route(Router::new().shared_session(session.clone()));
        let task = tokio::spawn(async move {
            let _ = router.run(probe).await;
        });
        let started = remote.started().await;
        let address = address(slack, &app.bot_user_id);
        Bot {
            app,
            remote,
            session,
            address,
            started,
            task,
        }
    }

    /// The next signal that is not lifecycle, a connection error or a presence change, within
    /// the probe's wait (endless connection errors end it too).
    pub async fn next_io(&self) -> Option<Signal> {
        let deadline = tokio::time::Instant::now() + self.remote.wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let signal = self.remote.next_within(left).await?;
            if ProbeRemote::is_lifecycle(&signal) || signal.kind() == SignalKind::ConnectionError {
                continue;
            }
            return Some(signal);
        }
    }

    /// The signals of the kinds `kinds` that arrive within `wait` (the rest are dropped).
    pub async fn arriving(&self, wait: Duration, kinds: &[SignalKind]) -> Vec<Signal> {
        self.remote
            .drain_for(wait)
            .await
            .into_iter()
            .filter(|s| kinds.contains(&s.kind()))
            .collect()
    }

    /// Ends the session and waits for the router.
    pub async fn stop(mut self) {
        let handle = self.remote.handle().await;
        let _ = handle
            .send(Signal::new(chatty_core::Body::InitiateSessionEnd(
                chatty_core::SessionEnd::default(),
            )))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

/// The next message (or file) the bot receives, skipping status changes.
pub async fn next_message(bot: &Bot) -> Signal {
    loop {
        let signal = bot.next_io().await.expect("a signal arrives");
        if signal.kind() != SignalKind::StatusChange {
            return signal;
        }
    }
}

pub fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

/// The bot's messages in a conversation, as the local Slack stored them.
pub fn posted_by(slack: &chatty_local_slack::LocalSlack, channel: &str, user: &str) -> Vec<Value> {
    slack
        .messages(channel)
        .into_iter()
        .filter(|m| m["user"] == user)
        .collect()
}
