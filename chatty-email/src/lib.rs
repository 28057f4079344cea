#![doc = include_str!("../README.md")]

mod config;
mod convert;
mod imap;
mod net;
mod pop3;
mod session;
mod state;

pub use chatty_core::Secret;
pub use config::{
    ConfigError, EmailConfig, Handled, ImapConfig, InboundConfig, Pop3Config, SmtpConfig, TlsMode,
};
pub use convert::ids::{ID_DOMAIN, signal_id, wire_id};
pub use convert::{HEADER_BODY, HEADER_FILE_NAME, HEADER_SIGNAL};
pub use session::EmailSession;

/// The platform name: the scheme of the session's addresses (`mailto:alice@example.org`).
pub const PLATFORM: &str = "mailto";
