#![doc = include_str!("../README.md")]

mod ids;

use std::collections::VecDeque;

use chatty_core::{
    Address, AddressKind, Body, Bot, BotError, FailureKind, Handle, Inbound, SendError,
    SendFailure, Signal, SignalId, Status,
};
use futures::StreamExt;

use ids::IdTable;

/// How many id pairs (and waiting signals) a proxy keeps by default.
pub const DEFAULT_REMEMBER: usize = 10_000;

/// A remote bot or person, reached through a session, seen as a local bot.
///
/// See the [crate docs](crate) for what goes where.
///
/// ```
/// use chatty_proxy::Proxy;
///
/// let proxy = Proxy::new("xmpp:echo@example.org".parse().unwrap())
///     .local("direct:operator".parse().unwrap())
///     .remember(1_000);
/// assert_eq!(proxy.remote().to_string(), "xmpp:echo@example.org");
/// ```
#[derive(Debug, Clone)]
pub struct Proxy {
    remote: Address,
    local: Option<Address>,
    remember: usize,
}

impl Proxy {
    /// A proxy for `remote`: what anyone sends to the proxy goes there.
    pub fn new(remote: Address) -> Self {
        Proxy {
            remote,
            local: None,
            remember: DEFAULT_REMEMBER,
        }
    }

    /// Where the remote address's unprompted signals go (those that answer nothing the proxy
    /// forwarded). Without it, they go to whoever spoke to the proxy last.
    #[must_use]
    pub fn local(mut self, local: Address) -> Self {
        self.local = Some(local);
        self
    }

    /// How many id pairs to keep for translating `response_to` and edits, and how many of the
    /// remote address's signals may wait for a local party (at least 1).
    #[must_use]
    pub fn remember(mut self, remember: usize) -> Self {
        self.remember = remember.max(1);
        self
    }

    /// The remote address.
    pub fn remote(&self) -> &Address {
        &self.remote
    }
}

impl Bot for Proxy {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let mut state = State {
            ids: IdTable::new(self.remember),
            last_local: None,
            waiting: VecDeque::new(),
            proxy: self,
        };
        while let Some(signal) = inbound.next().await {
            let mut sends = VecDeque::from(state.handle(signal));
            while let Some(out) = sends.pop_front() {
                let id = out.signal.meta.id.clone();
                match handle.send(out.signal).await {
                    Ok(_) => {}
                    Err(e) if e.is_closed() => return Ok(()),
                    // Refused at once, nothing sent: the sender hears of it as of a failure
                    // that came back later.
                    Err(e) => sends.extend(state.refused(&id, &e)),
                }
            }
        }
        Ok(())
    }
}

/// A signal to send, and which side it goes to.
#[derive(Debug)]
struct Outgoing {
    signal: Signal,
}

/// What the proxy knows while it runs.
#[derive(Debug)]
struct State {
    proxy: Proxy,
    ids: IdTable,
    /// Who spoke to the proxy last: the default local party.
    last_local: Option<Address>,
    /// Signals from the remote address that had no local party to go to yet.
    waiting: VecDeque<Signal>,
}

impl State {
    /// Whether `signal` comes from the remote address (its origin, or the room it was said in).
    fn is_from_remote(&self, signal: &Signal) -> bool {
        let remote = &self.proxy.remote;
        signal
            .meta
            .origin
            .as_ref()
            .is_some_and(|o| remote.matches(o) || o.matches(remote))
            || signal
                .meta
                .visible_to
                .iter()
                .any(|v| remote.matches(v) || v.matches(remote))
    }

    /// The signals to send for one inbound signal.
    fn handle(&mut self, signal: Signal) -> Vec<Outgoing> {
        match &signal.body {
            Body::SendFailure(failure) => return self.failed(&signal, failure.clone()),
            Body::Unsupported(unsupported) => {
                let failure = SendFailure::new(
                    unsupported.refused.clone(),
                    FailureKind::Rejected,
                    unsupported.reason.clone(),
                );
                return self.failed(&signal, failure);
            }
            Body::Message(_) | Body::File(_) | Body::UserDefined(_) | Body::StatusChange(_) => {}
            other => {
                tracing::debug!(kind = ?other.kind(), "proxy: not passed on");
                return Vec::new();
            }
        }
        if self.is_from_remote(&signal) {
            self.inward(signal)
        } else {
            self.outward(signal)
        }
    }

    /// A signal from a local party: to the remote address.
    fn outward(&mut self, signal: Signal) -> Vec<Outgoing> {
        let Some(party) = signal.meta.origin.clone() else {
            tracing::debug!("proxy: a signal without origin is not passed on");
            return Vec::new();
        };
        let remote = self.proxy.remote.clone();
        let Some(body) = translate_body(signal.body, &remote, |id| self.ids.to_remote(id)) else {
            return Vec::new();
        };
        let mut out = Signal::new(body).to(remote);
        out.meta.response_to = signal
            .meta
            .response_to
            .as_ref()
            .map(|id| self.ids.to_remote(id));
        self.ids.pair(
            signal.meta.id.clone(),
            out.meta.id.clone(),
            Some(party.clone()),
        );
        self.last_local = Some(party);
        let mut sends = self.flush_waiting();
        sends.push(Outgoing { signal: out });
        sends
    }

    /// A signal from the remote address: to the local party it answers.
    fn inward(&mut self, signal: Signal) -> Vec<Outgoing> {
        let answered = signal
            .meta
            .response_to
            .as_ref()
            .and_then(|id| self.ids.by_remote(id));
        let party = answered
            .as_ref()
            .and_then(|(_, party)| party.clone())
            .or_else(|| self.proxy.local.clone())
            .or_else(|| self.last_local.clone());
        let Some(party) = party else {
            if self.waiting.len() >= self.proxy.remember {
                tracing::warn!(
                    "proxy: no local party yet and the waiting list is full: dropping the oldest"
                );
                self.waiting.pop_front();
            }
            self.waiting.push_back(signal);
            return Vec::new();
        };
        self.relay_inward(signal, answered.map(|(local, _)| local), party)
            .into_iter()
            .collect()
    }

    fn relay_inward(
        &mut self,
        signal: Signal,
        response_to: Option<SignalId>,
        party: Address,
    ) -> Option<Outgoing> {
        // The remote address's presence becomes the proxy's own, shown to the local party only
        // (addressed, so that the router does not broadcast it to every session).
        let body = translate_body(signal.body, &party, |id| self.ids.to_local(id))?;
        let mut out = Signal::new(body).to(party);
        out.meta.response_to = response_to;
        self.ids
            .pair(out.meta.id.clone(), signal.meta.id.clone(), None);
        Some(Outgoing { signal: out })
    }

    /// Signals that waited for a local party, now that there is one.
    fn flush_waiting(&mut self) -> Vec<Outgoing> {
        let Some(party) = self.proxy.local.clone().or_else(|| self.last_local.clone()) else {
            return Vec::new();
        };
        let waiting: Vec<Signal> = self.waiting.drain(..).collect();
        waiting
            .into_iter()
            .filter_map(|signal| self.relay_inward(signal, None, party.clone()))
            .collect()
    }

    /// The send of the signal `id` was refused at once: the same as a failure that came back
    /// for it (see [`failed`](Self::failed)).
    fn refused(&mut self, id: &SignalId, error: &SendError) -> Vec<Outgoing> {
        tracing::debug!(%id, %error, "proxy: send refused");
        match error.to_signal(id) {
            Some(notice) => self.handle(notice),
            None => Vec::new(),
        }
    }

    /// A failure of a signal the proxy sent, to whoever sent the original, naming their own
    /// id: the local party of a forwarded signal, the remote address of a relayed one.
    fn failed(&mut self, signal: &Signal, failure: SendFailure) -> Vec<Outgoing> {
        let remote = &self.proxy.remote;
        let to_room = matches!(remote.kind(), AddressKind::Group | AddressKind::Channel);
        let (original, sender) = match self.ids.by_remote(&failure.failed) {
            Some((local_id, Some(party))) => (local_id, party),
            _ => match self.ids.relayed(&failure.failed) {
                // A room is not told: the failure is of one member's signal.
                Some(remote_id) if !to_room => (remote_id, remote.clone()),
                _ => {
                    // A failure of a failure the proxy passed on, of something already
                    // forgotten, or of a room's signal: nobody to tell.
                    tracing::debug!(failed = %failure.failed, origin = ?signal.meta.origin, "proxy: send failure not passed on");
                    return Vec::new();
                }
            },
        };
        let mut failure = failure;
        failure.failed = original.clone();
        vec![Outgoing {
            signal: Signal::new(failure).to(sender).in_response_to(original),
        }]
    }
}

/// The body as the other side should see it: the ids edits refer to translated, and typing moved
/// to the conversation with `to`. `None` for what does not cross (joining or leaving a room is
/// the proxy's own business on each side).
fn translate_body(
    body: Body,
    to: &Address,
    translate: impl Fn(&SignalId) -> SignalId,
) -> Option<Body> {
    match body {
        Body::Message(mut message) => {
            if let Some(edit) = &mut message.edit {
                edit.of = translate(&edit.of);
            }
            Some(Body::Message(message))
        }
        Body::StatusChange(mut change) => {
            match &mut change.status {
                Status::Typing { conversation, .. } => *conversation = to.clone(),
                Status::Presence { .. } => {}
                // Rooms, and what the proxy does not know, stay on their side.
                _ => return None,
            }
            Some(Body::StatusChange(change))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests;
