//! Outbound mapping: a signal becomes lines (messages split to fit, typing and reactions as
//! `TAGMSG`, joining and leaving as `JOIN`/`PART`), queued in order for the connection's
//! writer.

#[cfg(test)]
mod tests;

use chatty_core::driver::Driver;
use chatty_core::session::{Confirmation, Refusal};
use chatty_core::{AddressKind, Body, DeliveryStatus, FailureKind, Signal, Status, TypingState};
use tokio::sync::oneshot;

use crate::caps;
use crate::config::valid_nick;
use crate::history::ID_TAG;
use crate::proto::{Line, REPLY_TAG, encode_line, relay_prefix_len, split_text, text_budget};
use crate::react;
use crate::state::{Outgoing, Shared};

/// Bytes a CTCP ACTION adds around its text: `\x01ACTION ` and `\x01`.
const ACTION_OVERHEAD: usize = 9;

/// The longest id a reply tag carries: longer ones are no server's `msgid` (and would eat the
/// client tags' 4094 bytes).
const MAX_REPLY_ID: usize = 512;

/// Maps `signal` and queues its lines; it is `Pending` until the server echoes the last line
/// (with echo-message) or the writer wrote it (without).
pub(crate) async fn send(shared: &Shared, driver: &Driver, signal: Signal) -> Result<(), Refusal> {
    react::settle(shared, &signal).await;
    queue(shared, driver, signal, None)
}

/// [`send`], with a confirmation that resolves once the last line is with the server (echoed,
/// or written without echo-message; or written when the connection ended before its echo):
/// under a journal, an answer counts as gone only then, so that one still queued when the
/// process dies is sent after the restart. Lines still queued when the session ends are
/// refused as `Unreachable` (the journal gives their signal again after a restart).
pub(crate) async fn hand_on(
    shared: &Shared,
    driver: &Driver,
    signal: Signal,
) -> Result<Confirmation, Refusal> {
    react::settle(shared, &signal).await;
    let (done, confirmed) = oneshot::channel();
    queue(shared, driver, signal, Some(done))?;
    Ok(Box::pin(async move {
        // Dropped untold: the session ended before the line was written (or a write failed).
        confirmed.await.map_err(|_| {
            Refusal::new(
                FailureKind::Unreachable,
                "the IRC session ended before the message was sent",
            )
        })
    }))
}

fn queue(
    shared: &Shared,
    driver: &Driver,
    signal: Signal,
    done: Option<oneshot::Sender<()>>,
) -> Result<(), Refusal> {
    if driver.end_requested() && !shared.live().connected {
        return Err(Refusal::new(
            FailureKind::Unreachable,
            "the IRC session has ended",
        ));
    }
    let mut lines = lines(shared, &signal)?;
    // The bot leaving a channel it was kicked from: it is not to join again by itself.
    if let Body::StatusChange(change) = &signal.body
        && let Status::InRoom {
            room,
            present: false,
            ..
        } = &change.status
    {
        shared.cancel_rejoin(room.id());
    }
    if let Some(last) = lines.last_mut() {
        last.done = done;
    }
    // A message whose echo will bring its msgid, which a reaction to it names.
    if let Body::Message(message) = &signal.body
        && !message.is_reaction()
        && shared.live().has("echo-message")
    {
        shared.msgids().queued(&signal.meta.id);
    }
    driver
        .deliveries()
        .advance(&signal.meta.id, DeliveryStatus::Pending);
    for out in lines {
        shared
            .outgoing
            .send(out)
            .map_err(|_| Refusal::new(FailureKind::Unreachable, "the IRC session has ended"))?;
    }
    Ok(())
}

/// The lines carrying `signal`, the last one confirming it; refuses what IRC cannot carry.
pub(crate) fn lines(shared: &Shared, signal: &Signal) -> Result<Vec<Outgoing>, Refusal> {
    let rejected = |reason: String| Refusal::new(FailureKind::Rejected, reason);
    let targets = targets(shared, signal)?;
    {
        let live = shared.live();
        for target in &targets {
            let address = shared.address(&target.0, target.1);
            caps::capabilities(&live, address.as_ref())
                .check(signal)
                .map_err(rejected)?;
        }
    }
    let mut lines = Vec::new();
    match &signal.body {
        Body::Message(message) if message.is_reaction() => {
            lines = react::lines(shared, message, &targets)?;
        }
        Body::Message(message) => {
            let text = message.text_with_choice();
            let (text, action) = match text.strip_prefix("/me ") {
                Some(action) => (action.to_owned(), true),
                None => (text, false),
            };
            // What a bot sends by itself goes as NOTICE, which no client answers automatically.
            let command = if signal.meta.automatic.is_some() {
                "NOTICE"
            } else {
                "PRIVMSG"
            };
            let live = shared.live();
            // Where the server relays client tags, a reply names what it answers, on its first
            // line (each line is a message of its own to the people reading).
            let reply_to = signal
                .meta
                .response_to
                .as_ref()
                .map(chatty_core::SignalId::as_str)
                .filter(|id| {
                    live.has("message-tags") && !id.is_empty() && id.len() <= MAX_REPLY_ID
                });
            for (target, _) in &targets {
                let prefix = relay_prefix_len(
                    &live.nick,
                    live.user.as_deref(),
                    live.host.as_deref(),
                    command,
                    target,
                );
                let overhead = if action { ACTION_OVERHEAD } else { 0 };
                let parts = split_text(&text, text_budget(prefix + overhead));
                if parts.is_empty() {
                    return Err(rejected("IRC cannot send an empty message".into()));
                }
                let last = parts.len() - 1;
                for (i, part) in parts.into_iter().enumerate() {
                    let part = if action {
                        format!("\u{1}ACTION {part}\u{1}")
                    } else {
                        part
                    };
                    let mut line = Line::new(command, [target.clone(), part]);
                    if i == 0
                        && let Some(id) = reply_to
                    {
                        line = line.with_tag(REPLY_TAG, Some(id));
                    }
                    // The signal's id on its last line, where the server relays client tags:
                    // it comes back in the channel's history, which tells after a restart
                    // whether the message left ([`crate::sent`]).
                    if i == last && live.has("message-tags") {
                        line = line.with_tag(ID_TAG, Some(signal.meta.id.as_str()));
                    }
                    lines.push(line);
                }
            }
        }
        Body::StatusChange(change) => match &change.status {
            Status::Typing { state, .. } => {
                let value = match state {
                    TypingState::Composing => "active",
                    TypingState::Paused => "paused",
                    _ => "done",
                };
                for (target, _) in &targets {
                    let line = Line::new("TAGMSG", [target.as_str()]);
                    lines.push(line.with_tag("+typing", Some(value)));
                }
            }
            Status::InRoom { room, present, .. } => {
                let name = room.id().to_owned();
                if !shared.live().is_channel(&name) {
                    return Err(rejected(format!("`{name}` is not an IRC channel")));
                }
                lines.push(match (present, &change.message) {
                    (true, _) => Line::new("JOIN", [name]),
                    (false, Some(reason)) => Line::new("PART", [name, reason.clone()]),
                    (false, None) => Line::new("PART", [name]),
                });
            }
            _ => return Err(rejected("IRC sessions carry no presence".into())),
        },
        other => {
            return Err(rejected(format!(
                "IRC sessions cannot carry {:?} signals",
                other.kind()
            )));
        }
    }
    for line in &lines {
        encode_line(line).map_err(|e| rejected(e.to_string()))?;
    }
    let count = lines.len();
    Ok(lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| Outgoing {
            line,
            confirms: (i + 1 == count).then(|| signal.meta.id.clone()),
            done: None,
        })
        .collect())
}

/// Where `signal` goes: channels and nicks (an address `nick!user@host` names the nick), each
/// once, with the kind of address it is.
fn targets(shared: &Shared, signal: &Signal) -> Result<Vec<(String, AddressKind)>, Refusal> {
    let unknown = |reason: String| Refusal::new(FailureKind::UnknownAddressee, reason);
    let mut out: Vec<(String, AddressKind)> = Vec::new();
    let addresses = match &signal.body {
        Body::StatusChange(change) => match &change.status {
            Status::Typing { conversation, .. } => vec![conversation],
            Status::InRoom { room, .. } => vec![room],
            Status::Presence { .. } => vec![],
            _ => vec![],
        },
        _ => signal
            .meta
            .addressees
            .iter()
            .chain(&signal.meta.visible_to)
            .collect(),
    };
    let live = shared.live();
    for address in addresses {
        let id = address.id();
        let (target, kind) = if live.is_channel(id) {
            (id.to_owned(), AddressKind::Channel)
        } else {
            let nick = id.split('!').next().unwrap_or(id);
            if !valid_nick(nick) {
                return Err(unknown(format!("`{id}` is neither a nick nor a channel")));
            }
            (nick.to_owned(), AddressKind::Individual)
        };
        if !out.iter().any(|(t, _)| live.casemapping.same(t, &target)) {
            out.push((target, kind));
        }
    }
    if out.is_empty() && !matches!(signal.body, Body::StatusChange(_)) {
        return Err(unknown("the signal names no nick or channel".into()));
    }
    Ok(out)
}
