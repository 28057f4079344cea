#![doc = include_str!("../README.md")]

mod archive;
mod caps;
mod config;
mod connect;
mod convert;
mod files;
mod rooms;
mod session;

pub use chatty_core::Secret;
pub use config::{ConfigError, RoomConfig, TlsMode, XmppConfig};
pub use convert::{NS_REPLY, NS_SIGNAL};
pub use session::XmppSession;

/// The platform name: the scheme of the session's addresses (`xmpp:alice@example.org`).
pub const PLATFORM: &str = "xmpp";
