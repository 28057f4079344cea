//! Test support for Chatty: a [`Probe`] bot that hands its handle and inbound signals to a test,
//! and the [session conformance suite](conformance) that every session passes (the direct
//! connection here; email, XMPP and Slack against their real servers).
//!
//! Not published: protocol crates use it as a path dev-dependency.

pub mod conformance;
pub mod load;
mod probe;
pub mod servers;

pub use conformance::{Pair, Side};
pub use probe::{Probe, ProbeRemote};
