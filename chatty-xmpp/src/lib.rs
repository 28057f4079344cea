#![doc = include_str!("../README.md")]

mod address_id;
mod archive;
mod automatic;
mod caps;
mod choice;
mod choice_forms;
mod command;
mod config;
mod connect;
mod discovery;
mod files;
mod guard;
#[cfg(test)]
mod hostile_tests;
mod inbound;
mod iq;
mod kept;
mod mapper;
mod marker;
mod ns;
mod outbound;
#[cfg(test)]
mod overflow_tests;
mod query;
mod reaction_marks;
#[cfg(test)]
mod reaction_tests;
mod reactions;
mod room_archive;
mod rooms;
mod sent;
mod session;
mod state;
mod tcp;
mod transfer;
mod unacked;

pub use chatty_core::Secret;
pub use config::{ClientType, ConfigError, PLATFORM, RoomConfig, TlsMode, XmppConfig};
pub use ns::{FORM_TYPE_CHOICE, NS_REPLY, NS_SIGNAL};
pub use session::XmppSession;
