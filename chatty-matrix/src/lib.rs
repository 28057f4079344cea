#![doc = include_str!("../README.md")]

mod caps;
mod config;
mod connect;
mod direct;
mod http;
mod inbound;
mod outbound;
mod query;
mod session;
mod state;

pub use chatty_core::Secret;
pub use config::{ConfigError, MatrixConfig, PLATFORM};
pub use connect::Connection;
pub use session::MatrixSession;
