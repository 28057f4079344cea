//! Integration tests of the SQLite journal and of the one writer it shares with the Logger.

mod support;

mod crash;
mod errors;
mod methods;
mod order;
mod pruning;
mod shared;
