//! Sending: a signal from the endpoint's bot to an endpoint, to every other member of a
//! channel, or (a presence) to everyone online; joins and leaves change channel membership.

use chatty_core::reexports::futures::future::{BoxFuture, Either, Ready, ready};
use chatty_core::session::{InboundSink, Refusal, TrySendError};
use chatty_core::{
    Address, AddressKind, Body, DeliveryStatus, FailureKind, Presence, Signal, SignalId, Status,
};

use crate::state::{Port, State, Target};

/// A send in progress: decided at once where the addressee's queue has room (the common case,
/// which then allocates nothing more), else the wait.
pub(crate) type Sending<'a> =
    Either<Ready<Result<(), Refusal>>, BoxFuture<'a, Result<(), Refusal>>>;

fn done(result: Result<(), Refusal>) -> Sending<'static> {
    Either::Left(ready(result))
}

/// Carries one signal from the bot of `port`.
pub(crate) fn send(port: &Port, signal: Signal) -> Sending<'_> {
    match &signal.body {
        Body::DownloadFile(_) => done(Err(Refusal::new(
            FailureKind::Rejected,
            "a download is a call (Session::download), not a signal to send",
        ))),
        Body::StatusChange(change) => {
            let status = change.status.clone();
            Either::Right(Box::pin(async move { port.status(signal, &status).await }))
        }
        _ => match signal.meta.addressees.as_slice() {
            [one] => {
                let one = one.clone();
                port.send_to(one, signal)
            }
            _ => Either::Right(Box::pin(port.deliver_to_each(signal))),
        },
    }
}

/// What a delivery to one address comes to.
enum Plan {
    /// An endpoint: push to its running bot (outside the lock), or nothing more to do.
    Endpoint(Option<(InboundSink, Signal)>),
    /// Every other member of a channel.
    Channel(String, Signal),
    /// Nothing on this network.
    Unknown,
}

impl Port {
    /// Sends to one address: an endpoint, or every other member of a channel. Decided under
    /// one lock; the returned future waits only where the addressee's queue is full.
    fn send_to(&self, address: Address, mut signal: Signal) -> Sending<'_> {
        let plan = {
            let mut state = self.shared.lock();
            match self.shared.target_in(&state, &address) {
                Some(Target::Endpoint(name)) => {
                    self.stamp_in(&state, &mut signal, None);
                    Plan::Endpoint(state.hand_over(&name, signal, &self.driver))
                }
                Some(Target::Channel(name)) => Plan::Channel(name, signal),
                None => Plan::Unknown,
            }
        };
        match plan {
            Plan::Endpoint(None) => done(Ok(())),
            Plan::Endpoint(Some((sink, signal))) => {
                let id = signal.meta.id.clone();
                match sink.try_send(signal) {
                    Ok(()) => done(Ok(())),
                    Err(TrySendError::Full(signal)) => Either::Right(Box::pin(async move {
                        self.finish(sink, *signal).await;
                        Ok(())
                    })),
                    // Closed: the endpoint's bot stopped listening.
                    Err(_) => {
                        self.lost(&id);
                        done(Ok(()))
                    }
                }
            }
            Plan::Channel(name, signal) => Either::Right(Box::pin(async move {
                self.deliver_to_channel(&address, &name, signal).await
            })),
            Plan::Unknown => done(Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("no endpoint or channel {address} on this direct network"),
            )
            .with_code("unknown_addressee"))),
        }
    }

    /// Pushes `signal` to the endpoint `name`'s bot, or keeps it until that bot runs.
    async fn push(&self, name: &str, signal: Signal) {
        let handover = self.shared.lock().hand_over(name, signal, &self.driver);
        if let Some((sink, signal)) = handover {
            self.finish(sink, signal).await;
        }
    }

    /// Completes a hand-over outside the lock: waits for room in the addressee's queue.
    async fn finish(&self, sink: InboundSink, signal: Signal) {
        let id = signal.meta.id.clone();
        if sink.send(signal).await.is_err() {
            self.lost(&id);
        }
    }

    /// Records that the signal `id` was handed over but its bot stopped before taking it.
    fn lost(&self, id: &SignalId) {
        self.driver.deliveries().advance(
            id,
            DeliveryStatus::Failed {
                kind: FailureKind::Unreachable,
                message: "the addressee's bot stopped before it was delivered".into(),
            },
        );
    }

    /// Makes `signal` what the addressee receives: from this endpoint, its addresses described
    /// with the kinds this network knows, seen in `channel` if any.
    fn stamp_in(&self, state: &State, signal: &mut Signal, channel: Option<&Address>) {
        signal.meta.origin = Some(self.own.clone());
        signal.meta.received = None;
        for address in signal.meta.addressees.iter_mut() {
            let kind = match self.shared.target_in(state, address) {
                Some(Target::Endpoint(_)) => AddressKind::Individual,
                Some(Target::Channel(_)) => AddressKind::Channel,
                None => continue,
            };
            if address.kind() != kind {
                *address = address.with_kind(kind);
            }
        }
        if let Some(channel) = channel
            && !signal.meta.visible_to.contains(channel)
        {
            signal.meta.visible_to.push(channel.clone());
        }
    }

    fn stamped(&self, mut signal: Signal, channel: Option<&Address>) -> Signal {
        let state = self.shared.lock();
        self.stamp_in(&state, &mut signal, channel);
        signal
    }

    /// The members of channel `name` other than this endpoint.
    fn others_in(&self, name: &str) -> Vec<String> {
        self.shared.lock().members(name, Some(&self.name))
    }

    fn is_member(&self, channel: &str) -> bool {
        let state = self.shared.lock();
        state
            .channels
            .get(channel)
            .is_some_and(|c| c.members.contains_key(&self.name))
    }

    /// Delivers to every other member of the channel `name` (at `address`).
    async fn deliver_to_channel(
        &self,
        address: &Address,
        name: &str,
        signal: Signal,
    ) -> Result<(), Refusal> {
        if !self.is_member(name) {
            return Err(Refusal::new(
                FailureKind::Rejected,
                format!("{} is not a member of {address}", self.own),
            )
            .with_code("not_in_channel"));
        }
        let channel = self.shared.address(name, AddressKind::Channel);
        let signal = self.stamped(signal, Some(&channel));
        for member in self.others_in(name) {
            self.push(&member, signal.clone()).await;
        }
        Ok(())
    }

    /// Delivers to each of several addressees (or refuses a signal with none).
    async fn deliver_to_each(&self, signal: Signal) -> Result<(), Refusal> {
        let addressees = signal.meta.addressees.clone();
        if addressees.is_empty() {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                "the signal has no addressee",
            ));
        }
        let mut refusal = None;
        for address in addressees {
            if let Err(e) = self.send_to(address, signal.clone()).await {
                refusal = Some(e);
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    async fn status(&self, signal: Signal, status: &Status) -> Result<(), Refusal> {
        match status {
            Status::Presence { availability } => {
                let others: Vec<String> = {
                    let mut state = self.shared.lock();
                    if let Some(me) = state.endpoints.get_mut(&self.name) {
                        me.presence = Presence::new(*availability);
                        me.presence.message = match &signal.body {
                            Body::StatusChange(c) => c.message.clone(),
                            _ => None,
                        };
                    }
                    state
                        .endpoints
                        .iter()
                        .filter(|(n, e)| **n != self.name && e.sink.is_some())
                        .map(|(n, _)| n.clone())
                        .collect()
                };
                let signal = self.stamped(signal, None);
                for other in others {
                    self.push(&other, signal.clone()).await;
                }
                Ok(())
            }
            Status::InRoom {
                room,
                present,
                role,
            } => {
                let Some(Target::Channel(name)) = self.shared.target(room) else {
                    return Err(Refusal::new(
                        FailureKind::UnknownAddressee,
                        format!("no channel {room} on this direct network"),
                    ));
                };
                {
                    let mut state = self.shared.lock();
                    if let Some(channel) = state.channels.get_mut(&name) {
                        if *present {
                            channel.members.insert(self.name.clone(), role.clone());
                        } else {
                            channel.members.remove(&self.name);
                        }
                    }
                }
                let channel = self.shared.address(&name, AddressKind::Channel);
                let signal = self.stamped(signal, Some(&channel));
                for member in self.others_in(&name) {
                    self.push(&member, signal.clone()).await;
                }
                // The server's reflection of one's own join or leave.
                let _ = self.reflect.try_send(signal);
                Ok(())
            }
            Status::Typing { conversation, .. } => {
                let conversation = conversation.clone();
                self.send_to(conversation, signal).await
            }
            _ => Err(Refusal::new(
                FailureKind::Rejected,
                "this kind of status is not carried on a direct network",
            )),
        }
    }
}
