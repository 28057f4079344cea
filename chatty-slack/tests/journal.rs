//! Under a router with a journal: an envelope is acknowledged only once what it carries is
//! durable, an event the journal could not keep is left with Slack (which sends it again), and
//! what the journal kept before a crash reaches the restarted bot once, though Slack sends it
//! again; a slash command is acknowledged like an event, once durable.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chatty_core::journal::MemoryJournal;
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{BotError, Handle, Inbound, Router, Signal, SignalKind};
use chatty_local_slack::{AppCredentials, LocalSlack};
use chatty_slack::SlackSession;
use chatty_test::journal::Watched;
use common::{
    Bot, WAIT, assert_all_acknowledged, assert_sockets, config, next_message, text,
    workspace_with_dm,
};
use tokio::sync::oneshot;

/// Starts a probe bot for `app` under a router whose journal is (a clone of) `journal`.
async fn start_journaled(slack: &LocalSlack, app: &AppCredentials, journal: &Watched) -> Bot {
    let shared = Arc::new(journal.clone());
    Bot::start_routed(slack, app.clone(), |c| c, |r| r.shared_journal(shared)).await
}

/// Polls `condition` every 20 ms for up to [`WAIT`].
async fn eventually(condition: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_is_acknowledged_once_its_signal_is_durable() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let journal = Watched::new().held();
    let bot = start_journaled(&slack, &app, &journal).await;

    slack.post(&alice, &dm, "kept");
    assert!(eventually(|| journal.appends() == 1).await, "appended");
    // The journal holds the append: the signal is not durable, the envelope not acknowledged.
    assert_eq!(slack.deliveries(&app.app_id).len(), 1);
    assert!(slack.acks_received(&app.app_id).is_empty());
    assert_eq!(slack.pending_events(&app.app_id), 1);

    journal.release(1);
    assert_eq!(text(&next_message(&bot).await), "kept");
    assert_all_acknowledged(&slack, &app).await;
    assert_eq!(slack.acks_received(&app.app_id).len(), 1);
    assert_eq!(journal.memory().len(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_is_acknowledged_once_durable() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    assert!(slack.add_slash_command(&app.app_id, "/ticket"));
    let journal = Watched::new().held();
    let bot = start_journaled(&slack, &app, &journal).await;

    slack.slash_command(&alice, &dm, "/ticket", "list").unwrap();
    assert!(eventually(|| journal.appends() == 1).await, "appended");
    assert!(slack.acks_received(&app.app_id).is_empty());
    assert_eq!(slack.pending_events(&app.app_id), 1);

    journal.release(1);
    assert_eq!(text(&next_message(&bot).await), "/ticket list");
    assert_all_acknowledged(&slack, &app).await;
    assert_eq!(slack.acks_received(&app.app_id).len(), 1);
    assert!(slack.failed_interactions(&app.app_id).is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_journal_could_not_keep_is_left_with_slack() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let journal = Watched::new().failing(0..1);
    let bot = start_journaled(&slack, &app, &journal).await;

    slack.post(&alice, &dm, "kept");
    // The bot hears that the journal failed; Slack, not having the ack, sends the event again
    // (to the connection the session opens anew), and then the journal keeps it.
    let mut told = false;
    let message = loop {
        let signal = bot.next_io().await.expect("a signal");
        match signal.kind() {
            SignalKind::SystemError => told = true,
            SignalKind::Message => break signal,
            _ => {}
        }
    };
    assert!(told, "the bot was told the journal failed");
    assert_eq!(text(&message), "kept");
    assert_all_acknowledged(&slack, &app).await;
    assert!(slack.dropped_events(&app.app_id).is_empty());
    assert!(slack.deliveries(&app.app_id).len() >= 2);
    assert_eq!(journal.appends(), 2);
    bot.assert_no_message_arrives().await;
    bot.stop().await;
}

/// A bot whose process dies with the first message in hand: it never asks for the next.
struct Dies(oneshot::Sender<Signal>);

impl chatty_core::Bot for Dies {
    async fn run(self, mut inbound: Inbound, _handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if signal.kind() == SignalKind::Message {
                let _ = self.0.send(signal);
                return Ok(());
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_journal_kept_reaches_the_restarted_bot_once_though_slack_sends_it_again() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    // Slack's retries after 1 and 5 minutes, shortened.
    slack.set_retry_schedule(&[
        Duration::ZERO,
        Duration::from_secs(2),
        Duration::from_secs(8),
    ]);
    let journal = MemoryJournal::new();
    // The first process's ack gets lost: Slack will send the event again.
    slack.ignore_acks(&app.app_id, 1);

    let session = SlackSession::new(config(&slack, &app)).expect("a valid config");
    let (taken, first) = oneshot::channel();
    let router = Router::new().session(session).journal(journal.clone());
    let run = tokio::spawn(router.run(Dies(taken)));
    assert_sockets(&slack, &app, 1).await;
    slack.post(&alice, &dm, "kept");
    let first = tokio::time::timeout(WAIT, first)
        .await
        .expect("in time")
        .expect("the message");
    assert!(!first.meta.redelivered);
    let _ = tokio::time::timeout(WAIT, run).await.expect("the run ends");
    assert_sockets(&slack, &app, 0).await;
    assert_eq!(slack.pending_events(&app.app_id), 1, "Slack has it still");
    let sent_before = slack.deliveries(&app.app_id).len();

    // The next process: the journal gives the bot what it had not finished; what Slack sends
    // again is known to the journal and not given twice.
    let bot = Bot::start_routed(&slack, app.clone(), |c| c, |r| r.journal(journal)).await;
    let again = next_message(&bot).await;
    assert_eq!(text(&again), "kept");
    assert!(again.meta.redelivered);
    assert_eq!(again.meta.id, first.meta.id);
    assert_all_acknowledged(&slack, &app).await;
    assert!(slack.dropped_events(&app.app_id).is_empty());
    assert!(
        slack.deliveries(&app.app_id).len() > sent_before,
        "Slack sent it again after the restart: {:?}",
        slack.deliveries(&app.app_id)
    );
    bot.assert_no_message_arrives().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_acknowledged_late_come_again_and_reach_the_bot_once_in_order() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    // A slow journal: the later envelopes of a burst are acknowledged after Slack's deadline.
    slack.set_ack_timeout(Duration::from_millis(300));
    let journal = Watched::new().slow(Duration::from_millis(5));
    let bot = start_journaled(&slack, &app, &journal).await;

    const BURST: usize = 200;
    for i in 0..BURST {
        slack.post(&alice, &dm, &format!("m{i}"));
    }
    let mut texts = Vec::new();
    while texts.len() < BURST {
        texts.push(text(&next_message(&bot).await).to_owned());
    }
    assert_eq!(
        texts,
        (0..BURST).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_all_acknowledged(&slack, &app).await;
    assert!(slack.dropped_events(&app.app_id).is_empty());
    let sent = slack.deliveries(&app.app_id).len();
    assert!(
        sent > BURST,
        "some envelopes were acknowledged late: {sent} sent"
    );
    bot.assert_no_message_arrives().await;
    bot.stop().await;
}
