//! The session conformance suite against the test mail servers, reading over POP3 (see the
//! crate README to run it).

mod common;

use std::sync::Arc;

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_email::EmailSession;
use chatty_test::{Pair, Side};

/// Two fresh pool accounts, one session each, sending over SMTP and reading over POP3.
struct Pop3Pair;

async fn side() -> Side {
    let account = common::account().await;
    let session = EmailSession::new(common::config(&account, common::pop3_inbound()))
        .expect("a valid config");
    Side {
        address: session.address().clone(),
        session: Arc::new(session),
    }
}

impl Pair for Pop3Pair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async { (side().await, side().await) })
    }

    /// No such user on the server: Postfix refuses it at RCPT with 550 5.1.1.
    fn unknown_address(&self) -> Option<chatty_core::Address> {
        let domain = common::server().domain;
        Some(Address::new("mailto", &format!("nobody@{domain}")).expect("a valid address"))
    }

    fn wait(&self) -> std::time::Duration {
        common::WAIT
    }

    fn settle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(1500)
    }
}

chatty_test::session_conformance_tests!(Pop3Pair);
