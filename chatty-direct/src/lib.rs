#![doc = include_str!("../README.md")]

mod harness;
mod network;
mod session;

pub use harness::{DEFAULT_WAIT, Harness, Person};
pub use network::{DELIVERY_MEMORY, Network, PLATFORM};
pub use session::DirectSession;
