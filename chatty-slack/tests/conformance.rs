//! The session conformance suite against the local Slack: two apps of one workspace talking
//! in their DM. Slack keeps the sender's ids of messages, files and user-defined signals
//! (message metadata, block ids), but not of reactions: a reaction event carries the emoji's
//! name only, and the receiver names it `reaction/CHANNEL/TS/USER/NAME`.

mod common;

use std::sync::{Arc, Mutex};

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_slack::SlackSession;
use chatty_test::{Pair, Side};

/// Two apps of a fresh local Slack, one session each.
struct SlackPair {
    team: Mutex<Option<String>>,
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

    fn reaction_ids_kept(&self) -> bool {
        false
    }
}

chatty_test::session_conformance_tests!(SlackPair {
    team: Mutex::new(None)
});
