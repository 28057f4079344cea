#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod choice;
mod command;
mod context;
mod dispatcher;
mod durations;
mod extract;
mod handler;
mod keys;
mod lanes;
mod lease;
mod routes;
mod shared;
mod state;
mod timers;
mod words;

pub use choice::{QuestionOption, question};
pub use context::Context;
pub use dispatcher::{CommandRoute, Dispatcher, HandlerService};
pub use durations::{Minutes, Seconds};
pub use extract::{
    Command, Conversation, Fired, FromContext, Origin, Payload, Picked, Rejection, Settings,
};
pub use handler::{Handler, IntoReply};
pub use state::{BotState, ConversationState, PersonState, Scoped};
pub use timers::{ConversationTimers, TimerId};
pub use words::words;

/// clap, whose derive makes command types: `use chatty_dispatch::clap;` lets `#[derive(clap::Parser)]`
/// work without a dependency of your own.
pub use clap;

/// tower, for middleware ([`Dispatcher::layer`]): its layers (`tower::timeout::TimeoutLayer`
/// with tower's `timeout` feature) and [`ServiceExt`](tower::ServiceExt).
pub use tower;

/// What a bot written with the dispatcher uses most: `use chatty_dispatch::prelude::*;`.
pub mod prelude {
    pub use crate::{
        BotState, Command, Context, Conversation, ConversationState, ConversationTimers,
        Dispatcher, Fired, Minutes, Origin, Payload, PersonState, Picked, Seconds, Settings, clap,
        question,
    };
    pub use chatty_core::{Body, Bot, BotError, File, Handle, Message, Signal, TypingState};
}
