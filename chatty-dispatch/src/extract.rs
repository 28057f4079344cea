//! Extractors: what a handler's arguments are made from, as in axum. Each argument's type
//! implements [`FromContext`]; a handler is called once all of them are made.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use chatty_core::{Address, Body, BotError, File, Handle, Message, Signal, StatusChange};
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::timers::{ConversationTimers, TimerId};

/// Why an argument could not be made: the handler is then not called.
#[derive(Debug)]
pub enum Rejection {
    /// The signal is not what this argument needs (a `Message` argument for a file, a
    /// `PersonState` for a schedule's signal, which has no origin): the handler is skipped,
    /// with a warning in the log.
    Skip(String),
    /// Making it failed (the state store, a payload of the wrong type): the handler is skipped
    /// and the error logged, as a handler's own error is.
    Failed(BotError),
}

impl Rejection {
    /// A [`Rejection::Skip`] saying why.
    pub fn skip(why: impl Into<String>) -> Self {
        Rejection::Skip(why.into())
    }

    /// A [`Rejection::Failed`].
    pub fn failed(error: impl Into<BotError>) -> Self {
        Rejection::Failed(error.into())
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Skip(why) => write!(f, "skipped: {why}"),
            Rejection::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// A handler argument made from the [`Context`].
///
/// ```
/// use chatty_dispatch::{Context, FromContext, Rejection};
///
/// /// The sender's platform, as an argument.
/// struct Platform(String);
///
/// impl FromContext for Platform {
///     async fn from_context(cx: &Context) -> Result<Self, Rejection> {
///         cx.origin()
///             .map(|a| Platform(a.platform().to_owned()))
///             .ok_or_else(|| Rejection::skip("no origin"))
///     }
/// }
/// ```
pub trait FromContext: Sized + Send {
    /// Makes the argument.
    fn from_context(cx: &Context) -> impl Future<Output = Result<Self, Rejection>> + Send;
}

impl FromContext for Context {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        Ok(cx.clone())
    }
}

impl FromContext for Signal {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        Ok(cx.signal().clone())
    }
}

impl FromContext for Handle {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        Ok(cx.handle().clone())
    }
}

impl FromContext for Message {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        match &cx.signal().body {
            Body::Message(m) => Ok(m.clone()),
            other => Err(Rejection::skip(format!(
                "Message: the signal is a {:?}",
                other.kind()
            ))),
        }
    }
}

impl FromContext for File {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        match &cx.signal().body {
            Body::File(f) => Ok(f.clone()),
            other => Err(Rejection::skip(format!(
                "File: the signal is a {:?}",
                other.kind()
            ))),
        }
    }
}

impl FromContext for StatusChange {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        match &cx.signal().body {
            Body::StatusChange(s) => Ok(s.clone()),
            other => Err(Rejection::skip(format!(
                "StatusChange: the signal is a {:?}",
                other.kind()
            ))),
        }
    }
}

/// Who sent the signal.
#[derive(Debug, Clone)]
pub struct Origin(pub Address);

impl FromContext for Origin {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        cx.origin()
            .cloned()
            .map(Origin)
            .ok_or_else(|| Rejection::skip("Origin: the signal has none"))
    }
}

/// Where answers go: the room the signal was said in, else its origin.
#[derive(Debug, Clone)]
pub struct Conversation(pub Vec<Address>);

impl FromContext for Conversation {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        Ok(Conversation(cx.conversation()))
    }
}

/// The bot's settings, as given to [`Dispatcher::settings`](crate::Dispatcher::settings)
/// (typically the `settings` table of its config).
#[derive(Debug)]
pub struct Settings<T>(pub Arc<T>);

impl<T> Clone for Settings<T> {
    fn clone(&self) -> Self {
        Settings(self.0.clone())
    }
}

impl<T> Deref for Settings<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static> Settings<T> {
    pub(crate) fn of(cx: &Context) -> Result<Self, BotError> {
        Self::make(cx).map_err(|r| match r {
            Rejection::Failed(e) => e,
            skip @ Rejection::Skip(_) => skip.to_string().into(),
        })
    }

    fn make(cx: &Context) -> Result<Self, Rejection> {
        let settings = cx.shared().settings.clone().ok_or_else(|| {
            Rejection::failed("Settings: the dispatcher has none (Dispatcher::settings sets them)")
        })?;
        settings.downcast::<T>().map(Settings).map_err(|_| {
            Rejection::failed(format!(
                "Settings: the dispatcher's settings are not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

impl<T: Send + Sync + 'static> FromContext for Settings<T> {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        Settings::make(cx)
    }
}

/// The command the message held, parsed into `T` (a type deriving [`clap::Parser`], registered
/// with [`Dispatcher::command`](crate::Dispatcher::command)).
#[derive(Debug, Clone)]
pub struct Command<T>(pub T);

impl<T: Send + 'static> FromContext for Command<T> {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        let parsed = cx.take_command().ok_or_else(|| {
            Rejection::skip("Command: the signal holds no command (or it was taken)")
        })?;
        parsed.downcast::<T>().map(|t| Command(*t)).map_err(|_| {
            Rejection::skip(format!(
                "Command: the command is not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// The option a person chose in answer to a question
/// ([`Dispatcher::choice`](crate::Dispatcher::choice)): its value as a `T`, and the question's
/// id.
#[derive(Debug, Clone)]
pub struct Picked<T> {
    /// The chosen value.
    pub value: T,
    /// The question's id ([`Choice::id`](chatty_core::Choice::id)), `NAME` or `NAME/TAG`.
    pub question: String,
}

impl<T> Picked<T> {
    /// What follows the question's name and a `/` in its id (`17` for `priority/17`): what the
    /// question was about.
    pub fn tag(&self) -> Option<&str> {
        self.question.split_once('/').map(|(_, tag)| tag)
    }
}

impl<T: DeserializeOwned + Send> FromContext for Picked<T> {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        let chosen = cx
            .chosen()
            .ok_or_else(|| Rejection::skip("Picked: the signal answers no question"))?;
        let value = crate::choice::decode_value::<T>(&chosen.value).map_err(|e| {
            Rejection::failed(format!(
                "Picked: the option {:?} is not a {}: {e}",
                chosen.value,
                std::any::type_name::<T>()
            ))
        })?;
        Ok(Picked {
            value,
            question: chosen.choice.clone(),
        })
    }
}

/// The payload of a timer that is due ([`Dispatcher::timer`](crate::Dispatcher::timer)).
#[derive(Debug, Clone)]
pub struct Fired<T>(pub T);

impl<T: DeserializeOwned + Send> FromContext for Fired<T> {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        let payload = cx
            .timer_payload()
            .ok_or_else(|| Rejection::skip("Fired: the signal is not a timer's"))?;
        serde_json::from_value(payload.clone())
            .map(Fired)
            .map_err(|e| Rejection::failed(format!("Fired: the timer's payload: {e}")))
    }
}

/// The payload of a user-defined signal, as a `T`.
#[derive(Debug, Clone)]
pub struct Payload<T>(pub T);

impl<T: DeserializeOwned + Send> FromContext for Payload<T> {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        match &cx.signal().body {
            Body::UserDefined(u) => u
                .decode()
                .map(Payload)
                .map_err(|e| Rejection::failed(format!("Payload: the signal `{}`: {e}", u.name))),
            other => Err(Rejection::skip(format!(
                "Payload: the signal is a {:?}",
                other.kind()
            ))),
        }
    }
}

impl FromContext for ConversationTimers {
    async fn from_context(cx: &Context) -> Result<Self, Rejection> {
        Ok(cx.timers())
    }
}

impl Context {
    /// The bot's settings ([`Settings`]), as given to
    /// [`Dispatcher::settings`](crate::Dispatcher::settings).
    ///
    /// # Errors
    /// When the dispatcher has no settings of type `T`.
    pub fn settings<T: Send + Sync + 'static>(&self) -> Result<Settings<T>, BotError> {
        Settings::of(self)
    }

    /// The timers, set from this conversation ([`ConversationTimers`]).
    pub fn timers(&self) -> ConversationTimers {
        self.shared().timers.set_from(self.signal())
    }

    /// Runs the handler of the timer `name` with `payload` after `delay`, in this conversation
    /// (see [`ConversationTimers::after`]).
    ///
    /// # Errors
    /// The state store's error, or a payload that does not serialize.
    pub async fn after<T: serde::Serialize + ?Sized>(
        &self,
        delay: std::time::Duration,
        name: &str,
        payload: &T,
    ) -> Result<TimerId, chatty_core::state::StateError> {
        self.timers().after(delay, name, payload).await
    }
}
