//! What a handler runs with: the signal, the handle, the bot's settings and state, and what the
//! dispatcher found in the signal (the command, the answer to a question, the timer).

use std::fmt;
use std::sync::{Arc, Mutex};

use chatty_core::state::State;
use chatty_core::{
    Address, Body, BotError, Chosen, Handle, SendError, Signal, SignalId, Status, StatusChange,
    TypingState,
};
use futures::future::BoxFuture;

use crate::command::Parsed;
use crate::shared::Shared;

/// A handler with its argument types forgotten: what the dispatcher calls.
pub(crate) type ErasedHandler =
    Arc<dyn Fn(Context) -> BoxFuture<'static, Result<(), BotError>> + Send + Sync>;

/// The context of one handler call: the signal it handles and everything the dispatcher knows
/// about it. Extractors read it; a handler may take it whole. Cheap to clone.
#[derive(Clone)]
pub struct Context(Arc<Inner>);

struct Inner {
    signal: Signal,
    handle: Handle,
    shared: Arc<Shared>,
    command: Mutex<Option<Parsed>>,
    prefix: String,
    chosen: Option<Chosen>,
    timer: Option<serde_json::Value>,
    handler: Option<ErasedHandler>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("signal", &self.0.signal.meta.id)
            .field("conversation", &self.conversation())
            .finish_non_exhaustive()
    }
}

/// What the dispatcher found in a signal, for [`Context::new`].
#[derive(Default)]
pub(crate) struct Found {
    pub(crate) command: Option<Parsed>,
    pub(crate) prefix: String,
    pub(crate) chosen: Option<Chosen>,
    pub(crate) timer: Option<serde_json::Value>,
}

impl Context {
    pub(crate) fn new(
        signal: Signal,
        handle: Handle,
        shared: Arc<Shared>,
        found: Found,
        handler: Option<ErasedHandler>,
    ) -> Self {
        Context(Arc::new(Inner {
            signal,
            handle,
            shared,
            command: Mutex::new(found.command),
            prefix: found.prefix,
            chosen: found.chosen,
            timer: found.timer,
            handler,
        }))
    }

    /// The signal being handled.
    pub fn signal(&self) -> &Signal {
        &self.0.signal
    }

    /// The handle to send and ask through.
    pub fn handle(&self) -> &Handle {
        &self.0.handle
    }

    /// Who sent the signal, if someone did.
    pub fn origin(&self) -> Option<&Address> {
        self.0.signal.meta.origin.as_ref()
    }

    /// Where answers go: the room or group the signal was said in, else its origin (see
    /// [`Signal::reply_addresses`]).
    pub fn conversation(&self) -> Vec<Address> {
        self.0.signal.reply_addresses()
    }

    /// The bot's whole state (every scope the dispatcher's extractors use is a prefix of it).
    pub fn state(&self) -> &State {
        &self.0.shared.state
    }

    /// The prefix the command was written with (`!`), empty when the signal is not a command.
    pub fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// Answers the signal: to the room it was said in, else to its origin, as an answer to it.
    ///
    /// # Errors
    /// What [`Handle::send`] refuses.
    pub async fn reply(&self, body: impl Into<Body>) -> Result<SignalId, SendError> {
        self.0.handle.send(self.answer(body, false)).await
    }

    /// Answers the signal to everyone who saw it (see [`Signal::reply_all`]).
    ///
    /// # Errors
    /// What [`Handle::send`] refuses.
    pub async fn reply_all(&self, body: impl Into<Body>) -> Result<SignalId, SendError> {
        self.0.handle.send(self.answer(body, true)).await
    }

    /// Shows the bot as typing (or stops it, with [`TypingState::Paused`] or
    /// [`TypingState::Active`]) in the conversation. Where the platform carries no typing
    /// notifications the router refuses it; that refusal is returned, and may be ignored.
    ///
    /// # Errors
    /// What [`Handle::send`] refuses.
    pub async fn typing(&self, state: TypingState) -> Result<(), SendError> {
        for conversation in self.conversation() {
            let status = Status::Typing {
                conversation,
                state,
            };
            self.0
                .handle
                .send(Signal::new(StatusChange::new(status)))
                .await?;
        }
        Ok(())
    }

    fn answer(&self, body: impl Into<Body>, all: bool) -> Signal {
        let signal = &self.0.signal;
        let mut answer = if all {
            signal.reply_all(body)
        } else {
            signal.reply(body)
        };
        // A timer's signal was made here; its answers answer the signal that set it.
        if self.0.timer.is_some() {
            answer.meta.response_to = signal.meta.response_to.clone();
        }
        answer
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0.shared
    }

    /// Takes the parsed command (once).
    pub(crate) fn take_command(&self) -> Option<Parsed> {
        self.0
            .command
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// The handler the dispatcher chose for this signal.
    pub(crate) fn handler(&self) -> Option<&ErasedHandler> {
        self.0.handler.as_ref()
    }

    pub(crate) fn chosen(&self) -> Option<&Chosen> {
        self.0.chosen.as_ref()
    }

    pub(crate) fn timer_payload(&self) -> Option<&serde_json::Value> {
        self.0.timer.as_ref()
    }
}
