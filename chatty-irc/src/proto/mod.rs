//! The IRC protocol pieces, free of I/O: the line codec, messages with tags, splitting long
//! texts, pacing, and connection registration (CAP negotiation, SASL PLAIN, nick fallback).
//!
//! Public so that tests and tools can speak IRC the same way the session does.

mod casemap;
mod codec;
mod line;
mod pace;
mod register;
mod split;

pub use casemap::{CaseMapping, fold};
pub use codec::{IrcCodec, LineError, MAX_CLIENT_TAGS, MAX_MESSAGE, MAX_SERVER_TAGS, encode_line};
pub use line::{FormatError, Line, ParseError, Source, escape_tag_value, unescape_tag_value};
pub use pace::Pacer;
pub use register::{
    CHATHISTORY_CAP, Progress, Registered, Registration, RegistrationError, Sasl, WANTED_CAPS,
    sasl_plain_lines,
};
pub use split::{UNKNOWN_HOST_LEN, UNKNOWN_USER_LEN, relay_prefix_len, split_text, text_budget};

/// The client tag naming the message a message replies to (IRCv3 `+draft/reply`, by its
/// `msgid`).
pub(crate) const REPLY_TAG: &str = "+draft/reply";
