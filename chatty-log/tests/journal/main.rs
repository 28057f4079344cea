//! Integration tests of the journal and of the one writer it shares with the Logger, against
//! SQLite and PostgreSQL (`each_backend!`).

#[macro_use]
#[path = "../backends/mod.rs"]
mod backends;
mod support;

mod crash;
mod errors;
mod methods;
mod order;
mod postgres;
mod pruning;
mod shared;
