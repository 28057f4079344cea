//! What the tests against the local Slack share: a workspace with two bots and a person.
//!
//! No external server is needed: each test starts its own `chatty_local_slack::LocalSlack` on a
//! free port of 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::serde_json::Value;
use chatty_core::{
    Address, Body, ConnectionError, DeliveryStatus, FailureKind, Handle, Router, SendFailure,
    Signal, SignalId, SignalKind,
};
use chatty_local_slack::{AppCredentials, LocalSlack};
use chatty_slack::{Secret, SlackConfig, SlackSession};
use chatty_test::{Probe, ProbeRemote};
use tokio::task::JoinHandle;

/// How long a test waits for what the local Slack or the bot should do.
pub const WAIT: Duration = Duration::from_secs(15);

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

/// A fresh local Slack ([`local_slack`]) with a person, alice, and an app named "bot" whose
/// bot is not running yet: `(slack, alice's user id, app)`.
pub async fn workspace() -> (Arc<LocalSlack>, String, AppCredentials) {
    let slack = local_slack().await;
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    (slack, alice, app)
}

/// A [`workspace`] where alice and the app's bot user have a direct message (opened by the
/// local Slack itself: the bot makes no `conversations.open` call for it):
/// `(slack, alice's user id, app, the DM's id)`.
pub async fn workspace_with_dm() -> (Arc<LocalSlack>, String, AppCredentials, String) {
    let (slack, alice, app) = workspace().await;
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    (slack, alice, app, dm)
}

/// A [`workspace`] with a public channel, "general", that alice created and the bot is not in:
/// `(slack, alice's user id, app, the channel's id)`.
pub async fn workspace_with_general() -> (Arc<LocalSlack>, String, AppCredentials, String) {
    let (slack, alice, app) = workspace().await;
    let general = slack.create_channel("general", &alice, false);
    (slack, alice, app, general)
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

    /// Starts a probe bot on a session that joins `channel` at start (its join comes as its
    /// presence in the room).
    pub async fn start_in(slack: &LocalSlack, app: AppCredentials, channel: &str) -> Bot {
        Bot::start_with(slack, app, |c| c.with_channels([channel.to_owned()])).await
    }

    /// Starts a probe bot on a session that reconnects quickly: a backoff of 100 ms to 200 ms.
    pub async fn start_quick(slack: &LocalSlack, app: AppCredentials) -> Bot {
        Bot::start_with(slack, app, |c| {
            c.with_reconnect_backoff(Duration::from_millis(100), Duration::from_millis(200))
        })
        .await
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

    /// The next signal of `kind` within the probe's wait, skipping others.
    ///
    /// # Panics
    /// If none comes.
    pub async fn next_of(&self, kind: SignalKind) -> Signal {
        match self.remote.next_of(kind).await {
            Some(signal) => signal,
            None => panic!("no {kind:?} within {:?}", self.remote.wait),
        }
    }

    /// The next send failure within the probe's wait.
    pub async fn next_send_failure(&self) -> SendFailure {
        match self.next_of(SignalKind::SendFailure).await.body {
            Body::SendFailure(failure) => failure,
            other => panic!("not a send failure: {other:?}"),
        }
    }

    /// The next send failure, which must be the refusal ([`FailureKind::Rejected`]) of the
    /// signal `id`.
    pub async fn rejection_of(&self, id: &SignalId) -> SendFailure {
        let failure = self.next_send_failure().await;
        assert_eq!(&failure.failed, id, "{failure:?}");
        assert_eq!(failure.kind, FailureKind::Rejected, "{failure:?}");
        failure
    }

    /// Asserts that no signal of the kinds `kinds` arrives within `wait`; `what` says what one
    /// would mean.
    pub async fn assert_none_arrive(&self, wait: Duration, kinds: &[SignalKind], what: &str) {
        let arrived = self.arriving(wait, kinds).await;
        assert!(arrived.is_empty(), "{what}: {arrived:?}");
    }

    /// Asserts that no message arrives within 500 ms: none delivered twice, none of the bot's
    /// own.
    pub async fn assert_no_message_arrives(&self) {
        self.assert_none_arrive(
            Duration::from_millis(500),
            &[SignalKind::Message],
            "a message more (delivered twice?)",
        )
        .await;
    }

    /// Asserts that no send failure arrives within 300 ms.
    pub async fn assert_no_send_failure_arrives(&self) {
        self.assert_none_arrive(
            Duration::from_millis(300),
            &[SignalKind::SendFailure],
            "send failures",
        )
        .await;
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

/// The text of a message signal.
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

/// Waits until the bot of `app` has posted `count` messages in `channel`; returns them, oldest
/// first, and asserts that there are no more than `count`.
pub async fn bot_posts(
    slack: &LocalSlack,
    channel: &str,
    app: &AppCredentials,
    count: usize,
) -> Vec<Value> {
    let user = app.bot_user_id.as_str();
    assert!(
        slack
            .wait_until(WAIT, |s| posted_by(s, channel, user).len() >= count)
            .await,
        "{count} messages of the bot in {channel}: {:?}",
        slack.messages(channel)
    );
    let posted = posted_by(slack, channel, user);
    assert_eq!(posted.len(), count, "no more than {count}: {posted:?}");
    posted
}

/// Waits until one of the messages the bot of `app` posted in `channel` is `which`; returns the
/// first such.
pub async fn bot_post_where(
    slack: &LocalSlack,
    channel: &str,
    app: &AppCredentials,
    which: impl Fn(&Value) -> bool,
) -> Value {
    let user = app.bot_user_id.as_str();
    let found = |s: &LocalSlack| posted_by(s, channel, user).into_iter().find(|m| which(m));
    assert!(
        slack.wait_until(WAIT, |s| found(s).is_some()).await,
        "no such message of the bot in {channel}: {:?}",
        slack.messages(channel)
    );
    found(slack).expect("found above")
}

/// Asserts that the local Slack soon holds no event of `app` unacknowledged.
pub async fn assert_all_acknowledged(slack: &LocalSlack, app: &AppCredentials) {
    assert!(
        slack
            .wait_until(WAIT, |s| s.pending_events(&app.app_id) == 0)
            .await,
        "events not acknowledged: {}",
        slack.pending_events(&app.app_id)
    );
}

/// Asserts that `app` soon has `count` Socket Mode connections open.
pub async fn assert_sockets(slack: &LocalSlack, app: &AppCredentials, count: usize) {
    assert!(
        slack
            .wait_until(WAIT, |s| s.socket_count(&app.app_id) == count)
            .await,
        "{count} sockets of the app: {}",
        slack.socket_count(&app.app_id)
    );
}

/// Asserts that the session of `app` soon opens a connection after the `opened` it had opened.
pub async fn assert_reconnected(slack: &LocalSlack, app: &AppCredentials, opened: u32) {
    assert!(
        slack
            .wait_until(WAIT, |s| s.connections_opened(&app.app_id) > opened)
            .await,
        "the session reconnected"
    );
}

/// Asserts that the signal `id` sent through `handle` was sent.
pub async fn assert_sent(handle: &Handle, id: &SignalId) {
    assert_eq!(
        handle.delivery_status(id).await.unwrap(),
        DeliveryStatus::Sent
    );
}

/// The messages of the system errors among `signals`, in order.
pub fn system_errors(signals: &[Signal]) -> Vec<&str> {
    signals
        .iter()
        .filter_map(|s| match &s.body {
            Body::SystemError(e) => Some(e.message.as_str()),
            _ => None,
        })
        .collect()
}

/// Runs a probe on a session for `config` without waiting for it to start (one that may never
/// start); the remote waits [`WAIT`].
pub fn run_unstarted(config: SlackConfig) -> (ProbeRemote, JoinHandle<()>) {
    let session = Arc::new(SlackSession::new(config).expect("a valid config"));
    let (probe, mut remote) = Probe::new();
    remote.wait = WAIT;
    let router = Router::new().shared_session(session);
    let task = tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    (remote, task)
}

/// The first connection error that reaches `remote` within its wait.
pub async fn first_connection_error(remote: &ProbeRemote) -> ConnectionError {
    let signal = remote
        .next_of(SignalKind::ConnectionError)
        .await
        .expect("a connection error");
    match signal.body {
        Body::ConnectionError(e) => e,
        other => panic!("not a connection error: {other:?}"),
    }
}
