#![doc = include_str!("../README.md")]

mod caps;
mod config;
mod connect;
mod history;
#[cfg(test)]
mod hostile_tests;
mod inbound;
mod kicks;
mod marker;
mod msgids;
mod net;
mod outbound;
mod parts;
pub mod proto;
mod query;
mod react;
mod sent;
mod session;
mod state;
mod writer;

pub use chatty_core::Secret;
pub use config::{ChannelConfig, ConfigError, IrcConfig, PLATFORM, SaslConfig, TlsMode};
pub use session::IrcSession;
