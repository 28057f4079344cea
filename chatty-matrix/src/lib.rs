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

/// The component name of the session's system errors.
const COMPONENT: &str = "chatty-matrix";

pub use chatty_core::Secret;
pub use config::{ConfigError, MatrixConfig, PLATFORM};
pub use connect::Connection;
pub use session::MatrixSession;
