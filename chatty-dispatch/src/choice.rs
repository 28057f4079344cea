//! Questions with options: asking one, remembering it per conversation, and recognising its
//! answer, whether the platform sends a click or a form ([`Message::chosen`]) or the person
//! types a number or a label where the platform showed numbered lines.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chatty_core::state::{State, StateError};
use chatty_core::{
    Address, Answer, Body, Choice, Chosen, File, Handle, Message, Outlet, Query, QueryError,
    SendError, Signal, SignalId,
};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::{address_key, conversation_key};

/// Where open questions are kept in the bot's state, by conversation.
const QUESTIONS: &str = "dispatch/question/";

/// A question with options, as a message: its text is the question, each option a value and
/// a label. Send it as a handler's answer, or with [`Context::reply`](crate::Context::reply);
/// the answer comes to the handler registered with [`Dispatcher::choice`](crate::Dispatcher::choice)
/// for `id` (or for the part of `id` before a `/`: `priority/17` asks about ticket 17), as
/// [`Picked<T>`](crate::Picked) with the value as a `T`.
///
/// An option is a label that is its own value (`"Low"`), or a typed value with its label
/// (`(Priority::Low, "Low")`). Each platform shows the question as it can (see
/// [`Choice`]): buttons, a form, or numbered lines answered by text, never silently dropped.
///
/// ```
/// use chatty_dispatch::question;
/// use serde::{Deserialize, Serialize};
///
/// let ask = question("colour", "Which colour?", ["Red", "Green"]);
/// assert_eq!(ask.choice.as_ref().unwrap().options[1].value, "Green");
///
/// #[derive(Serialize, Deserialize)]
/// #[serde(rename_all = "lowercase")]
/// enum Priority { Low, High }
///
/// let ask = question("priority/17", "How urgent is ticket 17?", [(Priority::Low, "Low"), (Priority::High, "High")]);
/// assert_eq!(ask.choice.as_ref().unwrap().options[1].value, "high");
/// ```
pub fn question<O: QuestionOption>(
    id: impl Into<String>,
    text: impl Into<String>,
    options: impl IntoIterator<Item = O>,
) -> Message {
    let mut choice = Choice::new(id);
    for option in options {
        let (value, label) = option.value_and_label();
        choice = choice.option(value, label);
    }
    Message::text(text).with_choice(choice)
}

/// An option of a [`question`]: a label that is its own value, or a typed value and its label.
pub trait QuestionOption {
    /// The value the answer carries, and the label the person sees.
    fn value_and_label(self) -> (String, String);
}

impl QuestionOption for &str {
    fn value_and_label(self) -> (String, String) {
        (self.to_owned(), self.to_owned())
    }
}

impl QuestionOption for String {
    fn value_and_label(self) -> (String, String) {
        (self.clone(), self)
    }
}

impl<V: Serialize, L: Into<String>> QuestionOption for (V, L) {
    fn value_and_label(self) -> (String, String) {
        (encode_value(&self.0), self.1.into())
    }
}

/// A typed option value as the text a choice carries: a string as it is, anything else as JSON.
pub(crate) fn encode_value<V: Serialize>(value: &V) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => {
            tracing::warn!("a question's option does not serialize: {e}");
            String::new()
        }
    }
}

/// The text a choice carries as a typed value: a string, else JSON.
pub(crate) fn decode_value<T: DeserializeOwned>(value: &str) -> Result<T, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .or_else(|_| serde_json::from_str(value))
}

/// An open question, as kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Open {
    choice: Choice,
    /// The message that asked it.
    asked: SignalId,
    /// Whom it asks (the key of the address whose signal the handler that asked was
    /// handling): in a room, only their text answers it. `None`: anyone's.
    #[serde(default)]
    person: Option<String>,
}

/// The open questions: the last asked in each conversation, until answered.
#[derive(Clone)]
pub(crate) struct Questions {
    state: State,
    /// The conversations with an open question (a cache of the store's keys).
    open: Arc<Mutex<HashSet<String>>>,
}

impl fmt::Debug for Questions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Questions").finish_non_exhaustive()
    }
}

impl Questions {
    pub(crate) fn new(state: State) -> Self {
        Questions {
            state,
            open: Arc::default(),
        }
    }

    /// Reads which conversations have an open question (at start).
    pub(crate) async fn load(&self) -> Result<(), StateError> {
        let keys = self.state.keys(QUESTIONS).await?;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.extend(
            keys.iter()
                .filter_map(|k| k.strip_prefix(QUESTIONS))
                .map(str::to_owned),
        );
        Ok(())
    }

    async fn asked(
        &self,
        conversation: &[Address],
        person: Option<&Address>,
        choice: &Choice,
        asked: SignalId,
    ) {
        let key = conversation_key(conversation);
        let open = Open {
            choice: choice.clone(),
            asked,
            person: person.map(address_key),
        };
        match self.state.put(&format!("{QUESTIONS}{key}"), &open).await {
            Ok(()) => {
                self.lock().insert(key);
            }
            Err(e) => tracing::warn!("a question asked in {key} is not remembered: {e}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer a message gives to the question open in its conversation, if any: a click or
    /// form the platform marked, or a text naming an option. The question is then closed, and
    /// the answer carries the asking message's id as `response_to` if the signal has none.
    pub(crate) async fn answer(&self, signal: &mut Signal) -> Option<Chosen> {
        let Body::Message(message) = &signal.body else {
            return None;
        };
        let key = conversation_key(&signal.reply_addresses());
        if let Some(chosen) = message.chosen.clone() {
            if self.lock().contains(&key) {
                self.close(&key).await;
            }
            return Some(chosen);
        }
        if !self.lock().contains(&key) {
            return None;
        }
        let open: Open = match self.state.get(&format!("{QUESTIONS}{key}")).await {
            Ok(Some(open)) => open,
            Ok(None) => {
                self.lock().remove(&key);
                return None;
            }
            Err(e) => {
                tracing::warn!("the question open in {key} cannot be read: {e}");
                return None;
            }
        };
        let from = signal.meta.origin.as_ref().map(address_key);
        if open.person.is_some() && open.person != from {
            // Someone else in the room: their `2` is theirs, not the answer.
            return None;
        }
        let chosen = open.choice.answer_in(&message.text)?;
        self.close(&key).await;
        signal.meta.response_to.get_or_insert(open.asked);
        Some(chosen)
    }

    async fn close(&self, key: &str) {
        self.lock().remove(key);
        if let Err(e) = self.state.delete(&format!("{QUESTIONS}{key}")).await {
            tracing::warn!("the question open in {key} is not forgotten: {e}");
        }
    }
}

/// The outlet a handler sends through: the dispatcher's handle, remembering each question
/// asked, and whom (the person whose signal the handler handles).
pub(crate) struct AskingOutlet {
    inner: Handle,
    questions: Questions,
    person: Option<Address>,
}

impl AskingOutlet {
    pub(crate) fn new(inner: Handle, questions: Questions, person: Option<Address>) -> Self {
        AskingOutlet {
            inner,
            questions,
            person,
        }
    }
}

impl Outlet for AskingOutlet {
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        Box::pin(async move {
            let choice = match &signal.body {
                Body::Message(m) => m.choice.clone(),
                _ => None,
            };
            let conversation = signal.meta.addressees.clone();
            let id = self.inner.send(signal).await?;
            if let Some(choice) = choice {
                let person = self.person.as_ref();
                self.questions
                    .asked(&conversation, person, &choice, id.clone())
                    .await;
            }
            Ok(id)
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(self.inner.query(query))
    }

    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
        Box::pin(async move {
            match via {
                Some(via) => self.inner.download_via(&file, &via).await,
                None => self.inner.download(&file).await,
            }
        })
    }

    fn ack(&self, id: &SignalId) {
        self.inner.ack(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Priority {
        Low,
        High,
    }

    #[test]
    fn typed_values_round_trip() {
        assert_eq!(encode_value(&Priority::High), "high");
        assert_eq!(decode_value::<Priority>("high").unwrap(), Priority::High);
        assert_eq!(encode_value(&17u32), "17");
        assert_eq!(decode_value::<u32>("17").unwrap(), 17);
        assert_eq!(decode_value::<String>("17").unwrap(), "17");
        assert!(decode_value::<Priority>("urgent").is_err());
    }

    #[tokio::test]
    async fn a_text_answer_closes_the_open_question() {
        let questions = Questions::new(State::in_memory("t"));
        let alice: Address = "direct:alice".parse().unwrap();
        let ask = question("p", "?", [(Priority::Low, "Low"), (Priority::High, "High")]);
        questions
            .asked(
                std::slice::from_ref(&alice),
                Some(&alice),
                ask.choice.as_ref().unwrap(),
                "q1".into(),
            )
            .await;
        let mut other = Signal::message("hello");
        other.meta.origin = Some(alice.clone());
        assert_eq!(questions.answer(&mut other).await, None);
        let mut answer = Signal::message("2");
        answer.meta.origin = Some(alice.clone());
        assert_eq!(
            questions.answer(&mut answer).await,
            Some(Chosen::new("p", "high"))
        );
        assert_eq!(answer.meta.response_to, Some("q1".into()));
        let mut again = Signal::message("2");
        again.meta.origin = Some(alice);
        assert_eq!(questions.answer(&mut again).await, None, "answered once");
    }
}
