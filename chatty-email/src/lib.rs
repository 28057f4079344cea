#![doc = include_str!("../README.md")]

mod automatic;
mod caps;
mod config;
mod connect;
mod copies;
#[cfg(test)]
mod hostile;
mod ids;
mod imap;
mod inbound;
mod mapper;
mod net;
mod outbound;
mod pop3;
mod query;
mod session;
mod state;
mod store;
mod sweep;

pub use chatty_core::Secret;
pub use config::{
    ConfigError, EmailConfig, Handled, ImapConfig, InboundConfig, PLATFORM, Pop3Config, SmtpConfig,
    TlsMode,
};
pub use copies::HEADER_COPY;
pub use ids::{ID_DOMAIN, signal_id, wire_id};
pub use mapper::{HEADER_BODY, HEADER_FILE_NAME, HEADER_SIGNAL};
pub use session::EmailSession;
