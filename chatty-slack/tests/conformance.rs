//! The session conformance suite against the local Slack: two apps of one workspace talking
//! in their DM.
//!
//! Slack keeps the sender's ids of messages, files and user-defined signals (message metadata,
//! block ids), but not of reactions: a reaction carries nothing but the emoji's name, so the
//! receiver names it `reaction/CHANNEL/TS/USER/NAME`. The suite checks one id per pair, so
//! `every_signal_delivered_or_unsupported` (which sends a reaction among its samples) runs
//! with ids not kept: it still checks that each sample arrives as the same kind with the same
//! content (the reaction as a reaction with its key), and every other check keeps ids.

mod common;

use std::sync::{Arc, Mutex};

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_slack::SlackSession;
use chatty_test::{Pair, Side};

/// Two apps of a fresh local Slack, one session each.
struct SlackPair {
    team: Mutex<Option<String>>,
    /// Whether the checks may compare the receiver's ids with the sender's (see above).
    ids_kept: bool,
}

impl Pair for SlackPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async move {
            let slack = common::local_slack().await;
            *self.team.lock().unwrap() = Some(slack.team_id());
            let side = |name: &str| {
                let app = slack.add_app(name);
                let session =
                    SlackSession::new(common::config(&slack, &app)).expect("a valid config");
                Side {
                    address: common::address(&slack, &app.bot_user_id),
                    session: Arc::new(session),
                }
            };
            (side("alpha"), side("beta"))
        })
    }

    /// No such user in the workspace: conversations.open answers `user_not_found`.
    fn unknown_address(&self) -> Option<Address> {
        let team = self
            .team
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| "T00000001".into());
        Some(
            format!("slack:{team}/U0NOBODY0")
                .parse()
                .expect("a valid address"),
        )
    }

    fn ids_kept(&self) -> bool {
        self.ids_kept
    }
}

chatty_test::session_conformance_tests!(@tests SlackPair {
        team: Mutex::new(None),
        ids_kept: true,
    };
    lifecycle_in_order,
    ids_unique_and_kept,
    response_to_kept,
    addresses_and_times_right,
    nothing_delivered_twice,
    unknown_addressee_fails,
    queries_answered_or_refused,
);

/// Every sample, a reaction among them, delivered with its kind and content, or refused as
/// unsupported; ids are not compared (a reaction's is not carried: see above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_delivered_or_unsupported() {
    let pair = SlackPair {
        team: Mutex::new(None),
        ids_kept: false,
    };
    chatty_test::conformance::every_signal_delivered_or_unsupported(&pair).await;
}

/// The checks above are the whole suite: one the suite gains fails here until it is listed.
#[test]
fn every_check_of_the_suite_is_run() {
    let suite = include_str!("../../chatty-test/src/conformance.rs");
    let listed = suite
        .split("session_conformance_tests!(@tests $pair;")
        .nth(1)
        .and_then(|rest| rest.split(");").next())
        .expect("the suite's list of checks");
    let checks: Vec<&str> = listed
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert!(checks.len() >= 8, "the suite's checks: {checks:?}");
    let here = include_str!("conformance.rs");
    for check in checks {
        assert!(
            here.contains(&format!("    {check},"))
                || here.contains(&format!("async fn {check}()")),
            "the conformance check {check} is not run for Slack"
        );
    }
}
