//! The session conformance suite (`chatty_test::conformance`) against the test Synapse: two
//! sessions on pool accounts, talking in the direct chat the first message opens (the other side
//! accepts the invitation). See the crate README to run only this crate's tests.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_matrix::{MatrixConfig, MatrixSession, Secret};
use chatty_test::servers::{matrix_account, matrix_server};
use chatty_test::{Pair, Side};

/// Two sessions on pool accounts of the test Synapse.
struct MatrixPair;

/// A session on a fresh pool account, reconnecting quickly; and its address.
fn side() -> Side {
    let server = matrix_server();
    let account = matrix_account();
    let config = MatrixConfig::new(&server.url, &account.user, Secret::inline(account.password))
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2));
    let session = MatrixSession::new(config).expect("a valid config");
    Side {
        address: format!("matrix:{};kind=individual", account.user_id)
            .parse()
            .expect("a valid address"),
        session: Arc::new(session),
    }
}

impl Pair for MatrixPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async { (side(), side()) })
    }

    /// A user nobody registered: the server refuses to invite them into the direct chat.
    fn unknown_address(&self) -> Option<Address> {
        let server = matrix_server();
        let nobody = format!(
            "matrix:@nobody{}:{};kind=individual",
            std::process::id(),
            server.server_name
        );
        Some(nobody.parse().expect("a valid address"))
    }

    /// Matrix carries no id of the sender's: the receiver's id is the event ID.
    fn ids_kept(&self) -> bool {
        false
    }

    fn wait(&self) -> Duration {
        Duration::from_secs(20)
    }
}

chatty_test::session_conformance_tests!(MatrixPair);
