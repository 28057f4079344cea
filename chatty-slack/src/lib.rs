#![doc = include_str!("../README.md")]

mod config;
mod convert;
mod session;

pub use chatty_core::Secret;
pub use config::{ConfigError, SlackConfig};
pub use convert::{BLOCK_ID_PREFIX, EVENT_TYPE_MESSAGE};
pub use session::SlackSession;

/// The platform name: the scheme of the session's addresses (`slack:T0123/U0456`).
pub const PLATFORM: &str = "slack";
