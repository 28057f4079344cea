//! Helpers shared by the tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_client::{Action, ChatState, EntryKind, Flow, perform};
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::{
    Address, Answer, Body, File, Handle, Outlet, Query, QueryError, SendError, SessionStarted,
    Signal, SignalId, Status, StatusChange,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// A signal from `origin` sent at 08:05:09 UTC.
pub fn from(origin: &str, body: impl Into<Body>) -> Signal {
    let mut signal = Signal::new(body);
    signal.meta.origin = Some(addr(origin));
    signal.meta.sent = Some(time::macros::datetime!(2026-11-25 08:05:09 UTC));
    signal
}

/// A status change of `origin` (see [`from`]).
pub fn status_from(origin: &str, status: Status) -> Signal {
    from(origin, StatusChange::new(status))
}

/// A state connected as `direct:you`, talking to `direct:bot`.
pub fn connected() -> ChatState {
    let mut state = ChatState::new();
    state.open(addr("direct:bot;kind=individual"));
    state.apply(&Signal::internal(
        Some(addr("direct:you;kind=individual")),
        SessionStarted::new("direct", "direct"),
    ));
    state
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Types `text` (without Enter).
pub fn type_text(state: &mut ChatState, text: &str) -> Vec<Action> {
    text.chars()
        .flat_map(|c| state.input(key(KeyCode::Char(c))))
        .collect()
}

/// Types `line` and presses Enter.
pub fn enter(state: &mut ChatState, line: &str) -> Vec<Action> {
    let mut actions = type_text(state, line);
    actions.extend(state.input(key(KeyCode::Enter)));
    actions
}

/// A state connected as in [`connected`] in which `hello?` was entered for the bot and then the
/// conversation with `direct:other` opened; the actions of the enter, not performed yet.
pub fn hello_then_other() -> (ChatState, Vec<Action>) {
    let mut state = connected();
    let actions = enter(&mut state, "hello?");
    state.open(addr("direct:other"));
    (state, actions)
}

/// The signals among `actions`.
pub fn sent(actions: &[Action]) -> Vec<&Signal> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

/// The first message among the signals of `actions`.
pub fn sent_message(actions: &[Action]) -> Signal {
    sent(actions)
        .into_iter()
        .find(|s| matches!(s.body, Body::Message(_)))
        .unwrap()
        .clone()
}

/// The texts of the messages among the signals of `actions`.
pub fn message_texts(actions: &[Action]) -> Vec<&str> {
    sent(actions)
        .into_iter()
        .filter_map(|s| match &s.body {
            Body::Message(m) => Some(m.text.as_str()),
            _ => None,
        })
        .collect()
}

/// Performs `actions` in order, with `recorder` as the window's outlet; the flow of each.
pub async fn perform_all(
    state: &mut ChatState,
    recorder: &Recorder,
    actions: Vec<Action>,
) -> Vec<Flow> {
    let mut flows = Vec::new();
    for action in actions {
        flows.push(perform(state, &recorder.handle(), action).await);
    }
    flows
}

/// Types `line`, presses Enter and performs the actions with `recorder` as the window's outlet;
/// the flow of each.
pub async fn enter_and_perform(
    state: &mut ChatState,
    recorder: &Recorder,
    line: &str,
) -> Vec<Flow> {
    let actions = enter(state, line);
    perform_all(state, recorder, actions).await
}

/// Asserts that the last entry of the conversation with `address` is an error line whose text
/// ends with `ending`.
pub fn assert_error_line(state: &ChatState, address: &str, ending: &str) {
    let conversation = state.conversation(&addr(address)).unwrap();
    let line = conversation.entries().last().unwrap();
    assert!(matches!(line.kind, EntryKind::Error(_)), "{line:?}");
    assert!(line.text().ends_with(ending), "{}", line.text());
}

/// The texts of the shown conversation's entries.
pub fn texts(state: &ChatState) -> Vec<String> {
    state.shown_entries().iter().map(|e| e.text()).collect()
}

/// The last entry's text of the shown conversation.
pub fn last(state: &ChatState) -> String {
    texts(state).pop().unwrap_or_default()
}

/// An outlet that records what is sent; told to, it refuses every send as the router refuses
/// what it knows it cannot send.
#[derive(Clone, Default)]
pub struct Recorder {
    sent: Arc<Mutex<Vec<Signal>>>,
    refusal: Arc<Mutex<Option<SendError>>>,
}

impl Outlet for Recorder {
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        if let Some(error) = self.refusal.lock().unwrap().clone() {
            return Box::pin(async move { Err(error) });
        }
        let id = signal.meta.id.clone();
        self.sent.lock().unwrap().push(signal);
        Box::pin(async move { Ok(id) })
    }

    fn query(&self, _query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async { Err(QueryError::Closed) })
    }

    fn download(
        &self,
        _file: File,
        _via: Option<Address>,
    ) -> BoxFuture<'_, Result<File, SendError>> {
        Box::pin(async { Err(SendError::Closed) })
    }

    fn ack(&self, _id: &SignalId) {}
}

impl Recorder {
    pub fn handle(&self) -> Handle {
        Handle::new(self.clone())
    }

    pub fn signals(&self) -> Vec<Signal> {
        self.sent.lock().unwrap().clone()
    }

    /// From now on, refuse every send with `error` (`None`: send again).
    pub fn refuse(&self, error: Option<SendError>) {
        *self.refusal.lock().unwrap() = error;
    }
}

pub const WAIT: Duration = Duration::from_secs(10);

pub mod browser;
pub mod web;
