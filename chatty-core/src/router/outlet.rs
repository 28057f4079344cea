//! The router's side of the bot's [`Handle`](crate::Handle): where each outbound signal and
//! query goes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::{self, BoxFuture};

use super::memory::DeliveredFiles;
use crate::address::Address;
use crate::bot::{Outlet, SendError};
use crate::limit::AnswerCounter;
use crate::metadata::{SignalId, now};
use crate::query::{Answer, DeliveryStatus, Query, QueryError};
use crate::session::{Refusal, Session};
use crate::signal::{Body, FailureKind, SendFailure, SessionEnd, Signal, Unsupported};

/// One session as the outlet sees it: the session, and the count of answers per correspondent
/// when its answer limit is on.
pub(super) struct Served {
    pub(super) session: Arc<dyn Session>,
    pub(super) answers: Option<Mutex<AnswerCounter>>,
}

/// The router's side of the bot's [`Handle`](crate::Handle).
pub(super) struct RouterOutlet {
    pub(super) sessions: Arc<[Served]>,
    pub(super) feedback: async_channel::Sender<Signal>,
    pub(super) files: Arc<DeliveredFiles>,
}

impl RouterOutlet {
    /// The index of the session serving `address`: the one named by its `+session` qualifier;
    /// else the one named after the platform; else the platform's only session.
    fn resolve(&self, address: &Address) -> Option<usize> {
        let mut same = self
            .sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| s.session.platform() == address.platform());
        if let Some(name) = address.session() {
            return same.find(|(_, s)| s.session.name() == name).map(|(i, _)| i);
        }
        let mut only = None;
        for (count, (i, served)) in same.enumerate() {
            if served.session.name() == address.platform() {
                return Some(i);
            }
            only = (count == 0).then_some(i);
        }
        only
    }

    fn feed_back(&self, failed: &Signal, body: Body) {
        let mut signal = Signal::internal(None, body);
        signal.meta.response_to = Some(failed.meta.id.clone());
        // The feedback channel is unbounded so that a bot blocked in `send` can never deadlock
        // on its own full inbound queue; it only fails once the run is over.
        let _ = self.feedback.try_send(signal);
    }

    fn unsupported(&self, signal: Signal, reason: String) {
        let failed = signal.clone();
        self.feed_back(
            &failed,
            Unsupported {
                signal: Box::new(signal),
                reason,
            }
            .into(),
        );
    }

    fn failed(&self, signal: &Signal, kind: FailureKind, code: Option<&str>, message: String) {
        self.feed_back(
            signal,
            SendFailure {
                failed: signal.meta.id.clone(),
                kind,
                code: code.map(str::to_owned),
                message,
            }
            .into(),
        );
    }

    /// Whether session `index` may carry `signal` to `to` under its answer limit; counts it if
    /// so, and tells the bot if not.
    fn within_answer_limit(&self, index: usize, signal: &Signal, to: &[Address]) -> bool {
        let is_answer = signal.meta.response_to.is_some()
            && matches!(
                signal.body,
                Body::Message(_) | Body::File(_) | Body::UserDefined(_)
            );
        let Some(counter) = &self.sessions[index].answers else {
            return true;
        };
        if !is_answer {
            return true;
        }
        let mut counter = counter.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for address in to {
            if !counter.admit(address, now) {
                let limit = counter.limit();
                drop(counter);
                self.failed(
                    signal,
                    FailureKind::RateLimited,
                    Some("answer-limit"),
                    format!(
                        "not sent: {address} had {} answers in the last {} s, the answer limit \
                         of session `{}` (a loop with another automatic responder?)",
                        limit.answers(),
                        limit.per().as_secs(),
                        self.sessions[index].session.name(),
                    ),
                );
                return false;
            }
        }
        true
    }

    /// Tells the bot that the session refused the signal `id`.
    fn refused(&self, id: SignalId, refusal: Refusal) {
        let mut failure = Signal::internal(
            None,
            SendFailure {
                failed: id.clone(),
                kind: refusal.kind,
                code: refusal.code,
                message: refusal.message,
            },
        );
        failure.meta.response_to = Some(id);
        let _ = self.feedback.try_send(failure);
    }

    async fn deliver(&self, index: usize, signal: Signal) {
        let id = signal.meta.id.clone();
        if let Err(refusal) = self.sessions[index].session.send(signal).await {
            self.refused(id, refusal);
        }
    }

    pub(super) async fn end_all(&self, reason: &str) {
        let requests = self.sessions.iter().map(|s| {
            let request = Signal::new(Body::InitiateSessionEnd(SessionEnd {
                reason: Some(reason.to_owned()),
            }));
            s.session.send(request)
        });
        future::join_all(requests).await;
    }

    async fn route(&self, signal: Signal) {
        let targets: Vec<Address> = signal.route_addresses().into_iter().cloned().collect();
        if targets.is_empty() {
            return match &signal.body {
                Body::DownloadFile(_) => self.download(signal).await,
                _ => self.broadcast(signal).await,
            };
        }
        let mut groups: Vec<(usize, Vec<Address>)> = Vec::new();
        for target in targets {
            match self.resolve(&target) {
                Some(index) => match groups.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, addresses)) => addresses.push(target),
                    None => groups.push((index, vec![target])),
                },
                None => self.failed(
                    &signal,
                    FailureKind::UnknownAddressee,
                    None,
                    format!("no session serves {target}"),
                ),
            }
        }
        let split = groups.len() > 1;
        if let Some(((index, addresses), rest)) = groups.split_last() {
            for (other, other_addresses) in rest {
                self.send_part(*other, other_addresses, signal.clone(), split)
                    .await;
            }
            self.send_part(*index, addresses, signal, split).await;
        }
    }

    /// Sends `signal` through session `index`, to `addresses`; with `split`, only the addressees
    /// that session serves stay on the signal.
    async fn send_part(
        &self,
        index: usize,
        addresses: &[Address],
        mut signal: Signal,
        split: bool,
    ) {
        if split {
            signal
                .meta
                .addressees
                .retain(|a| self.resolve(a) == Some(index));
        }
        let session = &self.sessions[index].session;
        let refused = addresses
            .iter()
            .find_map(|a| session.capabilities(Some(a)).check(&signal).err());
        match refused {
            Some(reason) => self.unsupported(signal, reason),
            None if self.within_answer_limit(index, &signal, addresses) => {
                self.deliver(index, signal).await;
            }
            None => {}
        }
    }

    /// A download request without an addressee goes to the session that delivered the file,
    /// only: another session would fetch the URL without the right credentials (or with
    /// credentials the URL's host must never see). A URL no session delivered goes to the one
    /// session that can download, if there is exactly one.
    async fn download(&self, signal: Signal) {
        let Body::DownloadFile(request) = &signal.body else {
            return;
        };
        let url = match &request.file.content {
            crate::signal::Content::Url { url, .. } => url.clone(),
            crate::signal::Content::Bytes { .. } => {
                let reason = "the file already holds its bytes: there is nothing to download";
                return self.unsupported(signal, reason.to_owned());
            }
        };
        // The session that delivered it; else, for a URL the bot learnt elsewhere, the one
        // session that can download at all (several would be a guess).
        let able: Vec<usize> = (0..self.sessions.len())
            .filter(|i| {
                self.sessions[*i]
                    .session
                    .capabilities(None)
                    .check(&signal)
                    .is_ok()
            })
            .collect();
        let chosen = match (self.files.source(&url), able.as_slice()) {
            (Some(index), _) => Some(index),
            (None, [only]) => Some(*only),
            (None, _) => None,
        };
        match chosen {
            Some(index) => {
                let session = &self.sessions[index].session;
                match session.capabilities(None).check(&signal) {
                    Ok(()) => self.deliver(index, signal).await,
                    Err(reason) => self.unsupported(signal, reason),
                }
            }
            None => self.failed(
                &signal,
                FailureKind::UnknownAddressee,
                None,
                format!(
                    "no session delivered a file at {url}, and {} sessions could fetch it: \
                     address the download to the session to fetch it with (for example the \
                     file's origin)",
                    able.len()
                ),
            ),
        }
    }

    async fn broadcast(&self, signal: Signal) {
        if matches!(signal.body, Body::InitiateSessionEnd(_)) {
            let sends = self.sessions.iter().map(|s| s.session.send(signal.clone()));
            future::join_all(sends).await;
            return;
        }
        let mut reason = None;
        let mut carried = false;
        for (index, served) in self.sessions.iter().enumerate() {
            match served.session.capabilities(None).check(&signal) {
                Ok(()) => {
                    carried = true;
                    self.deliver(index, signal.clone()).await;
                }
                Err(why) => reason = Some(why),
            }
        }
        if !carried {
            let reason = reason.unwrap_or_else(|| "no session serves this bot".to_owned());
            self.unsupported(signal, reason);
        }
    }
}

impl Outlet for RouterOutlet {
    fn send(&self, mut signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        if self.feedback.is_closed() {
            return Box::pin(future::ready(Err(SendError::Closed)));
        }
        signal.meta.sent.get_or_insert_with(now);
        let id = signal.meta.id.clone();
        // The common case, one addressee of a message, file or user-defined signal, is decided
        // here without allocating, and the future only waits for the session.
        if let ([to], false) = (
            signal.meta.addressees.as_slice(),
            matches!(signal.body, Body::StatusChange(_)),
        ) && let Some(index) = self.resolve(to)
        {
            let session = &self.sessions[index].session;
            if let Err(reason) = session.capabilities(Some(to)).check(&signal) {
                self.unsupported(signal, reason);
                return Box::pin(future::ready(Ok(id)));
            }
            if !self.within_answer_limit(index, &signal, std::slice::from_ref(to)) {
                return Box::pin(future::ready(Ok(id)));
            }
            let sending = session.send(signal);
            return Box::pin(async move {
                if let Err(refusal) = sending.await {
                    self.refused(id.clone(), refusal);
                }
                Ok(id)
            });
        }
        Box::pin(async move {
            self.route(signal).await;
            Ok(id)
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move {
            let Some(address) = query.address() else {
                return self.query_everywhere(query).await;
            };
            let index = self.resolve(address).ok_or_else(|| QueryError::NoRoute {
                address: address.clone(),
            })?;
            let session = &self.sessions[index].session;
            match session.query(query.clone()).await {
                Err(e) if e.is_not_supported() => match &query {
                    Query::SupportedSignals { address } => Ok(Answer::SupportedSignals {
                        signals: session.capabilities(Some(address)).signals,
                    }),
                    Query::SupportedFeatures { address } => {
                        let caps = session.capabilities(Some(address));
                        Ok(Answer::SupportedFeatures {
                            features: caps.features,
                            degraded: caps.degraded,
                        })
                    }
                    _ => Err(e),
                },
                other => other,
            }
        })
    }
}

impl RouterOutlet {
    /// A delivery-status query: every session is asked; the furthest status wins.
    async fn query_everywhere(&self, query: Query) -> Result<Answer, QueryError> {
        let answers =
            future::join_all(self.sessions.iter().map(|s| s.session.query(query.clone()))).await;
        let mut best: Option<DeliveryStatus> = None;
        let mut error = None;
        for answer in answers {
            match answer {
                Ok(Answer::DeliveryStatus(status)) => {
                    if best.as_ref().is_none_or(|b| status.rank() > b.rank()) {
                        best = Some(status);
                    }
                }
                Ok(other) => {
                    error = Some(QueryError::Failed {
                        message: format!("unexpected answer {other:?}"),
                    })
                }
                Err(e) if e.is_not_supported() => {
                    error.get_or_insert(e);
                }
                Err(e) => error = Some(e),
            }
        }
        match (best, error) {
            (Some(status), _) => Ok(Answer::DeliveryStatus(status)),
            (None, Some(e)) => Err(e),
            (None, None) => Err(QueryError::not_supported(
                &query,
                "no session serves this bot",
            )),
        }
    }
}
