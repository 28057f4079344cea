//! The session conformance suite, run against the direct connection.

use std::sync::Arc;

use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{Address, Capabilities, Features, Signals};
use chatty_direct::Network;
use chatty_test::{Pair, Side};

/// Two endpoints of one network, carrying everything.
struct DirectPair;

impl Pair for DirectPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async {
            let network = Network::new();
            let a = network.endpoint("a");
            let b = network.endpoint("b");
            let (a_address, b_address) = (a.address().clone(), b.address().clone());
            (
                Side {
                    session: Arc::new(a),
                    address: a_address,
                },
                Side {
                    session: Arc::new(b),
                    address: b_address,
                },
            )
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
            let a = network.endpoint("a");
            let b = network.endpoint_with(
                "b",
                Capabilities::new(Signals::MESSAGE | Signals::FILE, Features::REPLIES),
            );
            let (a_address, b_address) = (a.address().clone(), b.address().clone());
            (
                Side {
                    session: Arc::new(a),
                    address: a_address,
                },
                Side {
                    session: Arc::new(b),
                    address: b_address,
                },
            )
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
