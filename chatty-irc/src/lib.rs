#![doc = include_str!("../README.md")]

mod config;
#[cfg(test)]
mod hostile_tests;
pub mod proto;

pub use chatty_core::Secret;
pub use config::{ChannelConfig, ConfigError, IrcConfig, PLATFORM, SaslConfig, TlsMode};
