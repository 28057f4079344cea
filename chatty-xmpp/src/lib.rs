#![doc = include_str!("../README.md")]

mod address_id;
mod archive;
mod automatic;
mod caps;
mod command;
mod config;
mod connect;
mod connection;
mod discovery;
mod failure;
mod files;
mod guard;
#[cfg(test)]
mod hostile_tests;
mod inbound;
mod iq;
mod login;
mod mapper;
mod ns;
mod outbound;
mod presence;
mod queries;
mod rooms;
mod session;
mod transfer;
mod unacked;

pub use chatty_core::Secret;
pub use config::{ClientType, ConfigError, RoomConfig, TlsMode, XmppConfig};
pub use ns::{NS_REPLY, NS_SIGNAL};
pub use session::XmppSession;

/// The platform name: the scheme of the session's addresses (`xmpp:alice@example.org`).
pub const PLATFORM: &str = "xmpp";
