#![doc = include_str!("../README.md")]

mod client;
mod render;
mod state;
pub mod web;

pub use client::{ChatWindow, Flow, TICK, TerminalClient, perform};
pub use render::{Areas, SIDE_MIN_TOTAL_WIDTH, SIDE_WIDTH, max_scroll, render, wrap};
pub use state::{
    Action, ChatState, Connection, Conversation, Entry, EntryKind, FileRef, HISTORY_LIMIT,
    Question, SCROLL_PAGE, TYPING_EXPIRY, TYPING_PAUSE, TYPING_REFRESH,
};
pub use web::{WebClient, WebError};
