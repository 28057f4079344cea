//! The session conformance suite, run against the direct connection.

use std::sync::Arc;

use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{Address, Capabilities, Features, Signals};
use chatty_direct::{DirectSession, Network};
use chatty_test::{Pair, Side};

/// Two endpoints as the two sides of a pair.
fn sides(a: DirectSession, b: DirectSession) -> (Side, Side) {
    let side = |s: DirectSession| Side {
        address: s.address().clone(),
        session: Arc::new(s),
    };
    (side(a), side(b))
}

/// Two endpoints of one network, carrying everything.
struct DirectPair;

impl Pair for DirectPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async {
            let network = Network::new();
            sides(network.endpoint("a"), network.endpoint("b"))
        })
    }

    fn unknown_address(&self) -> Option<Address> {
        Some("direct:nobody".parse().expect("valid"))
    }
}

/// The same, with B able to receive only plain messages and files, so that the suite's
/// "delivered or unsupported" check sees both outcomes.
struct LimitedPair;

impl Pair for LimitedPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async {
            let network = Network::named("limited");
            let b = network.endpoint_with(
                "b",
                Capabilities::new(Signals::MESSAGE | Signals::FILE, Features::REPLIES),
            );
            sides(network.endpoint("a"), b)
        })
    }
}

mod direct {
    use super::*;
    chatty_test::session_conformance_tests!(DirectPair);
}

mod limited {
    use super::*;
    chatty_test::session_conformance_tests!(LimitedPair);
}
