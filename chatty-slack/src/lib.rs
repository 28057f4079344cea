#![doc = include_str!("../README.md")]

mod api;
mod caps;
mod choice;
mod config;
mod connect;
mod download;
mod emoji;
mod envelope;
mod history;
mod ids;
mod inbound;
mod mapper;
mod outbound;
mod query;
mod sent;
mod session;
mod socket;
mod state;
mod text;

#[cfg(test)]
mod hostile;

pub use chatty_core::Secret;
pub use config::{ConfigError, SlackConfig};
pub use ids::{BLOCK_ID_PREFIX, EVENT_TYPE_MESSAGE, THREAD_PREFIX, thread_of};
pub use session::SlackSession;

/// The platform name: the scheme of the session's addresses (`slack:T0123/U0456`).
pub const PLATFORM: &str = "slack";
