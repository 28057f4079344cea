#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_debug_implementations,
    missing_docs,
    rust_2018_idioms,
    unreachable_pub
)]

mod config;
mod db;
mod error;
mod journal;
mod logger;
pub mod store;

pub use config::{DEFAULT_KEYS_KEPT, Durability, LoggerConfig, StateConfig};
pub use db::{StateDb, WriteStats};
pub use error::LogError;
pub use journal::SqliteJournal;
pub use logger::{Logger, LoggerLayer};
pub use store::{Direction, LogStore, SqliteStore};
