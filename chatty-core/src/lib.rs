#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod address;
mod bot;
mod capability;
pub mod driver;
pub mod journal;
mod layer;
mod limit;
mod metadata;
mod query;
mod router;
mod secret;
pub mod session;
mod signal;
pub mod state;
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use address::{Address, AddressError, AddressKind};
pub use bot::{
    Bot, BotError, BoxBot, DynBot, FnBot, Handle, Inbound, Outlet, SendError, from_fn,
    unexpected_answer,
};
pub use capability::{Capabilities, Features, Signals};
pub use layer::{Identity, Layer, LayerExt, Stack};
pub use limit::AnswerLimit;
pub use metadata::{Automatic, Metadata, SignalId, Timestamp, now, writable_time};
pub use query::{
    Answer, DeliveryStatus, History, MemberStatus, Page, Presence, Query, QueryError, QueryKind,
};
pub use router::{DEFAULT_CAPACITY, Router};
pub use secret::{Revealed, Secret, SecretError};
pub use signal::{
    Availability, Body, Choice, ChoiceOption, Chosen, ConnectionError, ConnectionErrorKind,
    Content, DownloadFile, Edit, EditKind, FailureKind, File, Media, Message, SendFailure,
    SessionEnd, SessionStarted, Signal, SignalKind, Status, StatusChange, SystemError, TypingState,
    Unsupported, UserDefined,
};

/// Re-exported so that sessions and bots name the same versions.
pub mod reexports {
    pub use async_channel;
    pub use bytes;
    pub use futures;
    pub use serde_json;
    pub use time;
}

/// What a bot author writes most: `use chatty_core::prelude::*;`.
///
/// ```
/// use chatty_core::prelude::*;
///
/// /// Answers every message with its text, reversed.
/// struct Reverser;
///
/// impl Bot for Reverser {
///     async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
///         while let Some(signal) = inbound.next().await {
///             if let Body::Message(m) = &signal.body {
///                 let text: String = m.text.chars().rev().collect();
///                 if let Err(e) = handle.send(signal.reply(Message::text(text))).await {
///                     if e.is_closed() {
///                         break;
///                     }
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
pub mod prelude {
    pub use crate::{
        Address, Body, Bot, BotError, File, Handle, Inbound, Layer, LayerExt, Message, SendError,
        Signal, SignalId, Status, StatusChange, from_fn,
    };
    pub use futures::StreamExt as _;
}
