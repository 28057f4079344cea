//! Helpers: signals from a sender, and their texts. The databases are `crate::backends`'.

use chatty_core::journal::Pending;
use chatty_core::{Address, Body, Signal};

pub(crate) use crate::backends::IDENTITY;

pub(crate) fn addr(text: &str) -> Address {
    text.parse().unwrap()
}

/// A message `text` from `origin`, with the id `id`.
pub(crate) fn from(origin: &str, id: &str, text: &str) -> Signal {
    let mut signal = Signal::message(text).to(addr("xmpp:bot@example.org"));
    signal.meta.id = id.into();
    signal.meta.origin = Some(addr(origin));
    signal
}

/// A message from alice with the id `id` and the text `id`.
pub(crate) fn alice(id: &str) -> Signal {
    from("xmpp:alice@example.org", id, id)
}

/// The text of a message signal.
pub(crate) fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

/// The texts of pending signals, in order.
pub(crate) fn texts(pending: &[Pending]) -> Vec<String> {
    pending.iter().map(|p| text(&p.signal).to_owned()).collect()
}
