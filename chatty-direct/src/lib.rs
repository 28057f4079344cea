#![doc = include_str!("../README.md")]

mod connect;
mod files;
mod harness;
mod inbound;
mod network;
mod outbound;
mod query;
mod session;
mod state;

pub use harness::{DEFAULT_WAIT, Harness, Person};
pub use network::Network;
pub use session::DirectSession;
pub use state::PLATFORM;
