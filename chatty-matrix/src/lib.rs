#![doc = include_str!("../README.md")]

mod caps;
mod config;
mod connect;
mod direct;
mod history;
mod http;
mod inbound;
mod outbound;
mod presence;
mod query;
mod session;
mod state;

/// The component name of the session's system errors.
const COMPONENT: &str = "chatty-matrix";

/// The content key that marks a message as the correction of a message Matrix has no event for
/// (an id of another platform, or a message sent before the session's memory): such a
/// correction is posted as a new message (as on Slack), and a chatty receiver takes it as the
/// correction of the id it names.
const CORRECTS: &str = "io.github.chatty-rs.corrects";

pub use chatty_core::Secret;
pub use config::{ConfigError, MatrixConfig, PLATFORM};
pub use connect::Connection;
pub use session::MatrixSession;
