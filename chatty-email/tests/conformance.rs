//! The session conformance suite against the test mail servers, once reading over IMAP (module
//! `imap`) and once over POP3 (module `pop3`); see the crate README to run it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_email::{EmailSession, InboundConfig};
use chatty_test::{Pair, Side};

/// Two fresh pool accounts, one session each, sending over SMTP and reading with `inbound`.
struct EmailPair {
    /// The inbound protocol's configuration.
    inbound: fn() -> InboundConfig,
}

impl EmailPair {
    async fn side(&self) -> Side {
        let account = common::account().await;
        let session =
            EmailSession::new(common::config(&account, (self.inbound)())).expect("a valid config");
        Side {
            address: session.address().clone(),
            session: Arc::new(session),
        }
    }
}

impl Pair for EmailPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async { (self.side().await, self.side().await) })
    }

    /// No such user on the server: Postfix refuses it at RCPT with 550 5.1.1.
    fn unknown_address(&self) -> Option<Address> {
        let domain = common::server().domain;
        Some(Address::new("mailto", &format!("nobody@{domain}")).expect("a valid address"))
    }

    fn wait(&self) -> Duration {
        common::WAIT
    }

    fn settle(&self) -> Duration {
        Duration::from_millis(1500)
    }
}

/// Reading over IMAP.
mod imap {
    use super::{EmailPair, common};

    chatty_test::session_conformance_tests!(EmailPair {
        inbound: common::imap_inbound
    });
}

/// Reading over POP3.
mod pop3 {
    use super::{EmailPair, common};

    chatty_test::session_conformance_tests!(EmailPair {
        inbound: common::pop3_inbound
    });
}
