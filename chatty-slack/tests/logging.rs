//! Failures are logged at warn for operators (tracing), besides reaching the bot: a refused
//! signal, a lost connection, an unreadable envelope. Its own test binary, since it installs
//! the process-wide tracing subscriber.

mod common;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::{Signal, SignalKind};
use common::{Bot, WAIT, address, next_message, text, workspace_with_dm};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Every event at warn or above: its fields as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    /// Waits until a warning containing every one of `words` was logged.
    async fn expect(&self, words: &[&str]) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|line| line.starts_with("WARN") && words.iter().all(|w| line.contains(w)));
            if found {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no warning with {words:?} in {:#?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_logged_at_warn() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start_quick(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    // A refused signal: its id, Slack's code and what it means.
    slack.fail_next("chat.postMessage", "restricted_action");
    let id = handle
        .send(Signal::message("x").to(address(&slack, &alice)))
        .await
        .unwrap();
    bot.next_of(SignalKind::SendFailure).await;
    capture
        .expect(&[id.as_str(), "restricted_action", "chat.postMessage"])
        .await;

    // An unreadable envelope.
    slack.send_raw(&app.app_id, "{not json");
    bot.next_of(SignalKind::SystemError).await;
    capture.expect(&["not JSON"]).await;

    // A lost connection, and when the session tries again: chatty-core's driver logs it with
    // the same `retry_in` as the signal says.
    slack.kill_sockets(&app.app_id);
    let lost = bot.next_of(SignalKind::ConnectionError).await;
    let retry_in = match &lost.body {
        chatty_core::Body::ConnectionError(e) => e.retry_in.expect("it tries again"),
        other => panic!("a connection error: {other:?}"),
    };
    capture
        .expect(&[
            "connection failed; trying again",
            "session=\"slack\"",
            "kind=Unreachable",
            &format!("retry_in={retry_in:?}"),
        ])
        .await;
    slack.post(&alice, &dm, "back");
    assert_eq!(text(&next_message(&bot).await), "back");
    bot.stop().await;
}
