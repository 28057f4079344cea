//! Examples for Chatty: the bot that the demo (`cargo run -p chatty-examples`) runs, and how the
//! demo's line-based mode shows signals on a terminal.
//!
//! The bot is a plain [`chatty_core::Bot`], so it runs unchanged on any session; the demo runs it
//! on a [`chatty_direct::Network`] with the person in a chat window of `chatty-client` (the
//! terminal window, or the web window with `--web`), or, with piped input, as a
//! [`chatty_direct::Person`] reading lines; the tests run it in a [`chatty_direct::Harness`].

mod bot;
pub mod terminal;

pub use bot::{COMMANDS, DemoBot};

// Compiles and runs the code in the top-level README, so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
