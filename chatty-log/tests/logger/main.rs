//! Integration tests of the Logger, driven directly: an inbound channel in, a recording outlet
//! out, and a probe bot in between.

#[macro_use]
#[path = "../backends/mod.rs"]
mod backends;
mod support;

mod delivery;
mod errors;
mod failing_store;
mod history;
mod refusals;
mod restart;
mod signals;
mod stacking;
