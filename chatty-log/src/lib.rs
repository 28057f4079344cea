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
mod key_values;
mod logger;
pub mod store;

pub use config::{
    DEFAULT_KEYS_KEPT, DEFAULT_SCHEMA, Durability, Location, LoggerConfig, PostgresConfig,
    StateConfig,
};
pub use db::{StateDb, WriteStats};
pub use error::LogError;
pub use journal::StateJournal;
pub use key_values::KeyValues;
/// The name [`StateJournal`] had when it was SQLite's alone.
pub type SqliteJournal = StateJournal;
pub use logger::{Logger, LoggerLayer};
pub use store::{Direction, LogStore, SqliteStore, StateStore};
