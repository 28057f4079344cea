//! One endpoint of a direct network, as a [`Session`].

use std::fmt;
use std::sync::Arc;

use chatty_core::reexports::async_channel;
use chatty_core::reexports::futures::future::{self, BoxFuture};
use chatty_core::{
    Address, AddressKind, Answer, Availability, Body, Capabilities, Content, DeliveryStatus,
    DownloadFile, FailureKind, File, InboundSink, MemberStatus, Presence, Query, QueryError,
    Refusal, Session, SessionEnd, SessionError, Signal, SignalId, Status, TrySendError,
};

use crate::state::{PLATFORM, Shared, State};

/// What the session's own run loop is asked to do.
enum Control {
    /// End the session.
    End(SessionEnd),
    /// Deliver a signal to this endpoint's own bot (an answer to its own request), from the run
    /// loop rather than from inside the bot's `send`, which would wait on the bot's own queue.
    Deliver(Box<Signal>),
}

/// One endpoint of a [`Network`](crate::Network): a session serving one bot.
///
/// A send waits while the addressee's inbound queue is full (backpressure, never loss); a signal
/// for an endpoint whose bot is not running waits for it. Messages to a channel reach every other
/// member (not the sender); a join or leave (`Status::InRoom`) reaches every member, the sender
/// included, as a server reflects it.
pub struct DirectSession {
    shared: Arc<Shared>,
    name: String,
    own: Address,
    control_tx: async_channel::Sender<Control>,
    control_rx: async_channel::Receiver<Control>,
}

impl fmt::Debug for DirectSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSession")
            .field("address", &self.own)
            .finish()
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

/// Where one delivery goes.
enum Target {
    Endpoint(String),
    Channel(String),
}

impl DirectSession {
    pub(crate) fn new(shared: Arc<Shared>, name: &str, own: Address) -> Self {
        let (control_tx, control_rx) = async_channel::unbounded();
        DirectSession {
            shared,
            name: name.to_owned(),
            own,
            control_tx,
            control_rx,
        }
    }

    /// This endpoint's own address.
    pub fn address(&self) -> &Address {
        &self.own
    }

    fn target(&self, address: &Address) -> Option<Target> {
        let state = self.shared.lock();
        self.target_in(&state, address)
    }

    fn target_in(&self, state: &State, address: &Address) -> Option<Target> {
        if !self.shared.owns(address) {
            return None;
        }
        let id = address.id();
        if state.endpoints.contains_key(id) {
            Some(Target::Endpoint(id.to_owned()))
        } else if state.channels.contains_key(id) {
            Some(Target::Channel(id.to_owned()))
        } else {
            None
        }
    }

    /// Pushes `signal` to the endpoint `name`'s bot, or keeps it until that bot runs.
    async fn push(&self, name: &str, signal: Signal) {
        let handover = self.shared.lock().hand_over(name, signal);
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
        self.shared.lock().set_delivery(
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
            let kind = match self.target_in(state, address) {
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

    /// The members of channel `name` other than `except`.
    fn members(&self, name: &str, except: Option<&str>) -> Vec<String> {
        let state = self.shared.lock();
        state
            .channels
            .get(name)
            .map(|c| {
                c.members
                    .keys()
                    .filter(|m| Some(m.as_str()) != except)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn is_member(&self, channel: &str) -> bool {
        let state = self.shared.lock();
        state
            .channels
            .get(channel)
            .is_some_and(|c| c.members.contains_key(&self.name))
    }

    /// Sends to one address: an endpoint, or every other member of a channel. Decided under
    /// one lock; the returned future waits only where the addressee's queue is full, so the
    /// common case allocates nothing but a small box.
    fn send_to(&self, address: Address, mut signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        let plan = {
            let mut state = self.shared.lock();
            match self.target_in(&state, &address) {
                Some(Target::Endpoint(name)) => {
                    self.stamp_in(&state, &mut signal, None);
                    Plan::Endpoint(state.hand_over(&name, signal))
                }
                Some(Target::Channel(name)) => Plan::Channel(name, signal),
                None => Plan::Unknown,
            }
        };
        match plan {
            Plan::Endpoint(None) => Box::pin(future::ready(Ok(()))),
            Plan::Endpoint(Some((sink, signal))) => {
                let id = signal.meta.id.clone();
                match sink.try_send(signal) {
                    Ok(()) => Box::pin(future::ready(Ok(()))),
                    Err(TrySendError::Full(signal)) => Box::pin(async move {
                        self.finish(sink, *signal).await;
                        Ok(())
                    }),
                    Err(TrySendError::Closed) => {
                        self.lost(&id);
                        Box::pin(future::ready(Ok(())))
                    }
                }
            }
            Plan::Channel(name, signal) => {
                Box::pin(async move { self.deliver_to_channel(&address, &name, signal).await })
            }
            Plan::Unknown => Box::pin(future::ready(Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("no endpoint or channel {address} on this direct network"),
            )
            .with_code("unknown_addressee")))),
        }
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
        for member in self.members(name, Some(&self.name)) {
            self.push(&member, signal.clone()).await;
        }
        Ok(())
    }

    /// Delivers to each of several addressees (or refuses a signal with none).
    async fn deliver_to_each(&self, signal: Signal) -> Result<(), Refusal> {
        let addressees = signal.meta.addressees.clone();
        match addressees.as_slice() {
            [] => Err(Refusal::new(
                FailureKind::UnknownAddressee,
                "the signal has no addressee",
            )),
            many => {
                let mut refusal = None;
                for address in many {
                    if let Err(e) = self.send_to(address.clone(), signal.clone()).await {
                        refusal = Some(e);
                    }
                }
                refusal.map_or(Ok(()), Err)
            }
        }
    }

    async fn status(&self, signal: Signal, status: &Status) -> Result<(), Refusal> {
        match status {
            Status::Presence { availability } => {
                let others: Vec<String> = {
                    let mut state = self.shared.lock();
                    if let Some(me) = state.endpoints.get_mut(&self.name) {
                        me.presence = Presence {
                            availability: *availability,
                            message: match &signal.body {
                                Body::StatusChange(c) => c.message.clone(),
                                _ => None,
                            },
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
                let Some(Target::Channel(name)) = self.target(room) else {
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
                for member in self.members(&name, Some(&self.name)) {
                    self.push(&member, signal.clone()).await;
                }
                // The server's reflection of one's own join or leave.
                let _ = self.control_tx.try_send(Control::Deliver(Box::new(signal)));
                Ok(())
            }
            Status::Typing { conversation, .. } => {
                let conversation = conversation.clone();
                self.send_to(conversation, signal).await
            }
        }
    }

    fn download(&self, request: &Signal, download: &DownloadFile) -> Result<(), Refusal> {
        let Content::Url { url, .. } = &download.file.content else {
            return Err(Refusal::new(
                FailureKind::Rejected,
                "the file has its bytes already; there is nothing to download",
            ));
        };
        let data = self.shared.lock().files.get(url).cloned().ok_or_else(|| {
            Refusal::new(FailureKind::UnknownAddressee, format!("no file at {url}"))
                .with_code("file_not_found")
        })?;
        let file = File {
            name: download.file.name.clone(),
            media_type: download.file.media_type.clone(),
            content: Content::Bytes { data },
        };
        let mut answer = Signal::new(file).in_response_to(request.meta.id.clone());
        answer.meta.origin = Some(self.own.clone());
        answer.meta.addressees = vec![self.own.clone()];
        let _ = self.control_tx.try_send(Control::Deliver(Box::new(answer)));
        Ok(())
    }

    /// Attaches the running bot's sink, first handing it what waited while it was away.
    async fn attach(&self, sink: &InboundSink) -> bool {
        loop {
            let waiting = {
                let mut state = self.shared.lock();
                let Some(me) = state.endpoints.get_mut(&self.name) else {
                    return false;
                };
                if me.waiting.is_empty() {
                    me.sink = Some(sink.clone());
                    if me.presence.availability == Availability::Offline {
                        me.presence.availability = Availability::Available;
                    }
                    return true;
                }
                std::mem::take(&mut me.waiting)
            };
            for signal in waiting {
                let id = signal.meta.id.clone();
                if sink.send(signal).await.is_err() {
                    return false;
                }
                self.shared
                    .lock()
                    .set_delivery(&id, DeliveryStatus::Delivered);
            }
        }
    }

    fn detach(&self) {
        let mut state = self.shared.lock();
        if let Some(me) = state.endpoints.get_mut(&self.name) {
            me.sink = None;
            me.presence.availability = Availability::Offline;
        }
    }

    fn answer(&self, query: &Query) -> Result<Answer, QueryError> {
        let unknown = |address: &Address| QueryError::Failed {
            message: format!("no endpoint or channel {address} on this direct network"),
        };
        let state = self.shared.lock();
        let channel_of = |address: &Address| {
            self.shared
                .owns(address)
                .then(|| state.channels.get(address.id()))
                .flatten()
                .ok_or_else(|| unknown(address))
        };
        let member_status = |member: &str, channel: &Address| -> Result<Answer, QueryError> {
            let c = channel_of(channel)?;
            Ok(Answer::MemberStatus(MemberStatus {
                present: c.members.contains_key(member),
                role: c.members.get(member).cloned().flatten(),
            }))
        };
        match query {
            Query::AddressKind { address } => match self.target_in(&state, address) {
                Some(Target::Endpoint(_)) => Ok(Answer::AddressKind {
                    kind: AddressKind::Individual,
                }),
                Some(Target::Channel(_)) => Ok(Answer::AddressKind {
                    kind: AddressKind::Channel,
                }),
                None => Err(unknown(address)),
            },
            Query::Members { address } => {
                let c = channel_of(address)?;
                Ok(Answer::Members {
                    members: c
                        .members
                        .keys()
                        .map(|m| self.shared.address(m, AddressKind::Individual))
                        .collect(),
                })
            }
            Query::Status { address } => state
                .endpoints
                .get(address.id())
                .filter(|_| self.shared.owns(address))
                .map(|e| Answer::Status(e.presence.clone()))
                .ok_or_else(|| unknown(address)),
            Query::ReceivedFrom { .. } | Query::SentTo { .. } => Err(QueryError::not_supported(
                query,
                "the direct connection keeps no history; wrap the bot in the Logger",
            )),
            Query::DeliveryStatus { id } => Ok(Answer::DeliveryStatus(state.delivery(id))),
            Query::MemberStatus { member, channel } => {
                if !self.shared.owns(member) {
                    return Err(unknown(member));
                }
                member_status(member.id(), channel)
            }
            Query::OwnStatus { channel } => member_status(&self.name, channel),
            Query::SupportedSignals { address } => {
                let caps = self.capabilities_locked(&state, Some(address));
                Ok(Answer::SupportedSignals {
                    signals: caps.signals,
                })
            }
            Query::SupportedFeatures { address } => {
                let caps = self.capabilities_locked(&state, Some(address));
                Ok(Answer::SupportedFeatures {
                    features: caps.features,
                    degraded: caps.degraded,
                })
            }
        }
    }

    fn capabilities_locked(&self, state: &State, address: Option<&Address>) -> Capabilities {
        address
            .filter(|a| self.shared.owns(a))
            .and_then(|a| state.endpoints.get(a.id()))
            .map_or(Capabilities::all(), |e| e.capabilities)
    }
}

impl Session for DirectSession {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        if !self.shared.is_limited() {
            return Capabilities::all();
        }
        let state = self.shared.lock();
        self.capabilities_locked(&state, address)
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        Box::pin(async move {
            if inbound
                .started(PLATFORM, Some(self.own.clone()))
                .await
                .is_err()
            {
                return Ok(());
            }
            if !self.attach(&inbound).await {
                self.detach();
                return Ok(());
            }
            let mut reason = None;
            while let Ok(control) = self.control_rx.recv().await {
                match control {
                    Control::End(end) => {
                        reason = end.reason;
                        break;
                    }
                    Control::Deliver(signal) => {
                        if inbound.send(*signal).await.is_err() {
                            break;
                        }
                    }
                }
            }
            self.detach();
            let _ = inbound.ending(Some(self.own.clone()), reason).await;
            Ok(())
        })
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        match &signal.body {
            Body::InitiateSessionEnd(end) => {
                let _ = self.control_tx.try_send(Control::End(end.clone()));
                Box::pin(future::ready(Ok(())))
            }
            Body::DownloadFile(download) => {
                Box::pin(future::ready(self.download(&signal, download)))
            }
            Body::StatusChange(change) => {
                let status = change.status.clone();
                Box::pin(async move { self.status(signal, &status).await })
            }
            _ => match signal.meta.addressees.as_slice() {
                [one] => {
                    let one = one.clone();
                    self.send_to(one, signal)
                }
                _ => Box::pin(self.deliver_to_each(signal)),
            },
        }
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move { self.answer(&query) })
    }
}
