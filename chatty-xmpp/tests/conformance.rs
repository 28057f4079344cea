//! The session conformance suite against the test Prosody (see the crate README to run it).

mod common;

use std::sync::Arc;

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_test::{Pair, Side};
use chatty_xmpp::XmppSession;

/// Two fresh pool accounts, one session each.
struct XmppPair;

fn side() -> Side {
    let session = XmppSession::new(common::config(&common::account())).expect("a valid config");
    Side {
        address: session.address().clone(),
        session: Arc::new(session),
    }
}

impl Pair for XmppPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async { (side(), side()) })
    }

    /// No such user on the server: Prosody answers with a `service-unavailable` error.
    fn unknown_address(&self) -> Option<Address> {
        let domain = common::server().domain;
        Some(
            format!("xmpp:nobody@{domain}")
                .parse()
                .expect("a valid address"),
        )
    }
}

chatty_test::session_conformance_tests!(XmppPair);
