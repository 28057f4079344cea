#![doc = include_str!("../README.md")]

mod harness;
mod network;
mod session;
mod state;

pub use harness::{DEFAULT_WAIT, Harness, Person};
pub use network::Network;
pub use session::DirectSession;
pub use state::{DELIVERY_MEMORY, PLATFORM};
