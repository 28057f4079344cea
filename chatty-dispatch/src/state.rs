//! Typed state per person, per conversation and for the whole bot: extractors over the bot's
//! [`State`], each a prefix of its keys.
//!
//! The values are serde values kept as JSON in the store the dispatcher was given
//! ([`Dispatcher::state`](crate::Dispatcher::state)): the journal's database (SQLite or
//! PostgreSQL) under the runner, or memory.

use std::fmt;

use chatty_core::state::{State, StateError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::extract::{FromContext, Rejection};
use crate::keys::{conversation_key, person_prefix};

/// Values under one prefix of the bot's state, with a lock per key for [`update`](Scoped::update).
#[derive(Clone)]
pub struct Scoped {
    cx: Context,
    prefix: String,
}

impl fmt::Debug for Scoped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Scoped {
    fn new(cx: &Context, prefix: String) -> Self {
        Scoped {
            cx: cx.clone(),
            prefix,
        }
    }

    fn state(&self) -> &State {
        self.cx.state()
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The prefix of this scope's keys in the bot's state.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The value of `key`, if there is one.
    ///
    /// # Errors
    /// The store's error, or a stored value that is not a `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StateError> {
        self.state().get(&self.key(key)).await
    }

    /// The value of `key`, or `T`'s default.
    ///
    /// # Errors
    /// The store's error, or a stored value that is not a `T`.
    pub async fn get_or_default<T: DeserializeOwned + Default>(
        &self,
        key: &str,
    ) -> Result<T, StateError> {
        Ok(self.get(key).await?.unwrap_or_default())
    }

    /// Sets the value of `key`; returns once it is durable.
    ///
    /// # Errors
    /// The store's error, or a value that does not serialize.
    pub async fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StateError> {
        self.state().put(&self.key(key), value).await
    }

    /// Removes `key`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.state().delete(&self.key(key)).await
    }

    /// The keys of this scope that start with `prefix`, without the scope's own prefix.
    ///
    /// # Errors
    /// The store's error.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let keys = self.state().keys(&self.key(prefix)).await?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
            .collect())
    }

    /// Adds one to the number kept under `key` (0 when missing) and returns it: ticket numbers.
    ///
    /// # Errors
    /// The store's error, or a stored value that is not a number.
    pub async fn increment(&self, key: &str) -> Result<u64, StateError> {
        self.update(key, |n: &mut u64| {
            *n += 1;
            *n
        })
        .await
    }

    /// Reads `key` (its default when missing), lets `change` modify it, and stores it; returns
    /// what `change` returned. No update is lost: updates of one key in this process run one at
    /// a time, and the value is stored only if it is still the one read (a swap,
    /// [`State::swap_bytes`]), so that workers sharing the store (a scale-out's `[state]`
    /// database) never hand out one ticket number twice. When another process changed the key
    /// meanwhile, `change` runs again on what it stored.
    ///
    /// ```
    /// # use chatty_dispatch::PersonState;
    /// async fn count(person: PersonState) -> Result<String, chatty_core::BotError> {
    ///     let n = person.update("messages", |n: &mut u64| { *n += 1; *n }).await?;
    ///     Ok(format!("message number {n}"))
    /// }
    /// ```
    ///
    /// # Errors
    /// The store's error, or a value that does not (de)serialize.
    pub async fn update<T, R>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut T) -> R + Send,
    ) -> Result<R, StateError>
    where
        T: Serialize + DeserializeOwned + Default + Send,
    {
        let full = self.key(key);
        let _guard = self.cx.shared().locks.lock(&full).await;
        loop {
            let stored = self.state().get_bytes(&full).await?;
            let mut value: T = match &stored {
                Some(bytes) => serde_json::from_slice(bytes).map_err(|e| StateError::Value {
                    key: full.clone(),
                    message: e.to_string(),
                })?,
                None => T::default(),
            };
            let out = change(&mut value);
            let stored = stored.as_deref();
            if self.state().swap_bytes(&full, stored, Some(&value)).await? {
                return Ok(out);
            }
        }
    }
}

macro_rules! scope {
    ($(#[$doc:meta])* $name:ident, |$cx:ident| $prefix:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub Scoped);

        impl std::ops::Deref for $name {
            type Target = Scoped;
            fn deref(&self) -> &Scoped {
                &self.0
            }
        }

        impl $name {
            fn make($cx: &Context) -> Result<Self, Rejection> {
                let prefix: Option<String> = $prefix;
                match prefix {
                    Some(p) => Ok($name(Scoped::new($cx, p))),
                    None => Err(Rejection::skip(concat!(
                        stringify!($name),
                        ": the signal has no origin"
                    ))),
                }
            }

            #[allow(dead_code)]
            pub(crate) fn of(cx: &Context) -> Result<Self, chatty_core::BotError> {
                Self::make(cx).map_err(|r| r.to_string().into())
            }
        }

        impl FromContext for $name {
            async fn from_context($cx: &Context) -> Result<Self, Rejection> {
                $name::make($cx)
            }
        }
    };
}

scope!(
    /// The values of the person who sent the signal: by their address, with the session it
    /// came through (under `person/ADDRESS/` in the bot's state), or by the name
    /// [`Dispatcher::people`](crate::Dispatcher::people) gives it (under `person/=NAME/`: one
    /// person's values whichever of their addresses they write from).
    ///
    /// ```
    /// use chatty_dispatch::PersonState;
    ///
    /// async fn remember(person: PersonState) -> Result<(), chatty_core::BotError> {
    ///     person.put("seen", &true).await?;
    ///     Ok(())
    /// }
    /// ```
    PersonState,
    |cx| cx.origin().map(|a| person_prefix(cx.shared().people.as_ref(), a))
);

scope!(
    /// The values of the conversation the signal was said in (the room, or the person for a
    /// one-to-one chat), under `conversation/KEY/` in the bot's state.
    ConversationState,
    |cx| {
        let conversation = cx.conversation();
        (!conversation.is_empty())
            .then(|| format!("conversation/{}/", conversation_key(&conversation)))
    }
);

scope!(
    /// The bot's values shared by every conversation, under `global/` in the bot's state.
    BotState,
    |cx| Some("global/".to_owned())
);

impl Context {
    /// The values of the person who sent the signal ([`PersonState`]).
    ///
    /// # Errors
    /// When the signal has no origin.
    pub fn person(&self) -> Result<PersonState, chatty_core::BotError> {
        PersonState::of(self)
    }
}
