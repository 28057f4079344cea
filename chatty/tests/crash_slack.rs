//! The `chatty` program killed in the middle of a burst of 1 000 Slack messages: the echo bot with
//! the Logger, on a Slack session, its journal on by default, against the local Slack of
//! `chatty-local-slack` running in the test's process (which keeps Slack's rules: an envelope not
//! acknowledged within 3 s is sent again on Slack's retry timetable, on a later connection too).
//! A person posts the burst in a DM and keeps posting while the bot is dead; the bot process is
//! SIGKILLed once some answers arrived and started again a second later with the same config.
//! Once Slack has settled every event (acknowledged, or given up on) and nothing more comes, each
//! message must have exactly one answer: none lost, none twice.
//!
//! An answer the platform took just before the kill, whose leaving the journal had not recorded
//! yet, is sent again after the restart unless the session can tell that it left: the kill,
//! which follows an answer, often falls in that window. The Slack session answers
//! `Protocol::sent` by looking the answer up in the DM's history; what it found is in the
//! second run's log (`chatty_slack::sent` at debug), which the test prints.
//!
//! The local Slack's retry timetable is Slack's shortened (at once, 5 s, 20 s after the first
//! attempt instead of at once, 1 minute, 5 minutes): the same sequence, sooner. The bot is back
//! within a few seconds, well inside either.

use std::collections::BTreeMap;
use std::time::Duration;

use chatty_local_slack::{AppCredentials, LocalSlack};
use common::crash::{Chatty, lost, twice};
use tokio::time::Instant;

mod common;

/// How many messages the person posts.
const BURST: usize = 1000;
/// How many answers must have arrived before the kill.
const KILL_AFTER: usize = 200;
/// How long the bot stays dead.
const DEAD_FOR: Duration = Duration::from_secs(1);
/// The time between two messages of the burst.
const PACE: Duration = Duration::from_millis(5);
/// Slack's retry timetable (at once, after 1 minute, after 5 minutes), shortened.
const RETRIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(20),
];
/// How long nothing must come, once Slack has settled every event, to count.
const QUIET: Duration = Duration::from_secs(5);
/// The longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_and_repeats_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    slack.set_retry_schedule(&RETRIES);
    let alice = slack.add_user("alice");
    let app = slack.add_app("echo");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let config = config(&slack, &app);
    let mut chatty = Chatty::start(dir.path(), &config, "info,chatty_slack::sent=debug");
    connected(&slack, &app, &mut chatty).await;

    let run = format!("s{}", std::process::id());
    let text = |i: usize| format!("{run}-{i:04}");
    let answers = |slack: &LocalSlack| -> BTreeMap<usize, usize> {
        let mut counts = BTreeMap::new();
        for (channel, message) in slack.messages_from(&app.bot_user_id) {
            let Some(body) = message.get("text").and_then(|t| t.as_str()) else {
                continue;
            };
            if let Some(i) = (channel == dm && body.len() == run.len() + 5)
                .then(|| {
                    body.strip_prefix(&run)?
                        .strip_prefix('-')?
                        .parse::<usize>()
                        .ok()
                })
                .flatten()
                .filter(|i| *i < BURST)
            {
                *counts.entry(i).or_default() += 1;
            }
        }
        counts
    };
    let mut sent = 0;
    let started = Instant::now();
    let mut last_change = Instant::now();
    let mut last_total = 0;
    let mut pace = tokio::time::interval(PACE);
    loop {
        if sent < BURST {
            pace.tick().await;
            slack.post(&alice, &dm, &text(sent));
            sent += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if sent < BURST && sent % 25 != 0 {
            continue;
        }
        let total: usize = answers(&slack).values().sum();
        if total != last_total {
            last_total = total;
            last_change = Instant::now();
        }
        chatty.step(total, sent, KILL_AFTER, DEAD_FOR);
        let settled = chatty.restarted() && sent == BURST && slack.pending_events(&app.app_id) == 0;
        let done = settled && last_change.elapsed() >= QUIET;
        if done || started.elapsed() > DEADLINE {
            break;
        }
    }
    chatty.stop();

    let counts = answers(&slack);
    let (at_kill, sent_at_kill) = chatty.at_kill();
    let lost = lost(BURST, &counts);
    let twice = twice(&counts);
    let deliveries = slack.deliveries(&app.app_id);
    let retried = deliveries
        .iter()
        .filter(|(_, attempt)| *attempt > 0)
        .count();
    let dropped = slack.dropped_events(&app.app_id);
    let asked = chatty.second_run_lines("chatty_slack::sent");
    eprintln!("asked of Slack after the restart: {asked:#?}");
    eprintln!(
        "{BURST} posted; killed with {at_kill} answers and {sent_at_kill} posted, restarted \
         {DEAD_FOR:?} later; {} answers for {} messages, lost {}, answered twice {}; Slack sent \
         {} envelopes ({retried} retries), gave up on {}, {} still pending",
        counts.values().sum::<usize>(),
        counts.len(),
        lost.len(),
        twice.len(),
        deliveries.len(),
        dropped.len(),
        slack.pending_events(&app.app_id),
    );
    let report = || {
        format!(
            "lost {lost:?}; twice {twice:?}; Slack gave up on {dropped:?}\n{}",
            chatty.logs()
        )
    };
    chatty.assert_once_each(BURST, counts.len(), &lost, &twice, report);
}

/// The config file of the echo bot on the app `app` of `slack`.
fn config(slack: &LocalSlack, app: &AppCredentials) -> String {
    format!(
        r#"
[sessions.work]
answer_limit = false

[sessions.work.slack]
bot_token = {{ inline = "{bot}" }}
app_token = {{ inline = "{app_token}" }}
api_url = "{api}"
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000

[bots.echo]
sessions = ["work"]
echo = {{}}
logger = {{}}
"#,
        bot = app.bot_token,
        app_token = app.app_token,
        api = slack.api_url(),
    )
}

/// Waits (up to a minute) until the bot's Socket Mode connection is open: what is posted from
/// then on reaches it.
async fn connected(slack: &LocalSlack, app: &AppCredentials, chatty: &mut Chatty) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while slack.socket_count(&app.app_id) == 0 {
        assert!(
            Instant::now() < deadline,
            "no Socket Mode connection within a minute:\n{}",
            chatty.tail()
        );
        chatty.check();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
