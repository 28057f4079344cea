#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_debug_implementations,
    missing_docs,
    rust_2018_idioms,
    unreachable_pub
)]

mod config;
mod error;
mod logger;
pub mod store;

pub use config::LoggerConfig;
pub use error::LogError;
pub use logger::{Logger, LoggerLayer};
pub use store::{Direction, LogStore, SqliteStore};
