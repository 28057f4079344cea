//! Test support for Chatty: a [`Probe`] bot that hands its handle and inbound signals to a test
//! (and [`run_bot`], which runs one on a session of its own),
//! and the [session conformance suite](conformance) that every session passes (the direct
//! connection here; email, XMPP and Slack against their real servers), the test servers' accounts,
//! and a [plain XMPP client](xmpp::PlainClient) for interop tests.
//!
//! Not published: protocol crates use it as a path dev-dependency.

pub mod bare;
mod bot;
pub mod conformance;
pub mod journal;
pub mod load;
mod probe;
mod room;
pub mod servers;
pub mod xmpp;

pub use bot::{TestBot, run_bot, run_journaled_bot};
pub use conformance::{Pair, Side};
pub use probe::{Probe, ProbeRemote};
