//! The router's side of the bot's [`Handle`](crate::Handle): where each outbound signal and
//! query goes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::{self, BoxFuture};
use tokio::sync::oneshot;

use super::feedback::{self, Feedback};
use super::lane::{Answer as LaneAnswer, Job};
use super::memory::DeliveredFiles;
use crate::address::Address;
use crate::bot::{Outlet, SendError};
use crate::journal::{AnswerPlan, Tap};
use crate::limit::AnswerCounter;
use crate::metadata::{SignalId, now};
use crate::query::{Answer, DeliveryStatus, Query, QueryError};
use crate::session::{Refusal, Session};
use crate::signal::{Body, Content, DownloadFile, FailureKind, File, SessionEnd, Signal};

/// One session as the outlet sees it: the session, and the count of answers per correspondent
/// when its answer limit is on.
pub(super) struct Served {
    pub(super) session: Arc<dyn Session>,
    pub(super) answers: Option<Mutex<AnswerCounter>>,
}

/// The router's side of the bot's [`Handle`](crate::Handle).
pub(super) struct RouterOutlet {
    pub(super) sessions: Arc<[Served]>,
    pub(super) feedback: Feedback,
    pub(super) files: Arc<DeliveredFiles>,
    /// The journal, when the router has one: answers are numbered, sent at most once, and
    /// leave through each session's lane.
    pub(super) journaled: Option<Journaled>,
}

/// The outlet's side of the router's journal.
pub(super) struct Journaled {
    pub(super) tap: Arc<Tap>,
    /// Each session's lane ([`super::lane`]), by the session's index.
    pub(super) lanes: Vec<async_channel::Sender<Job>>,
    /// Each session's name in the journal (scoped), by the session's index.
    pub(super) names: Vec<Arc<str>>,
}

impl RouterOutlet {
    /// The index of the session serving `address`: of the sessions of its platform, the one
    /// named by its `+session` qualifier; else the one named after the platform; else the
    /// platform's only session. With no session of that platform, the first that relays to it
    /// ([`Session::relays`](crate::session::Session::relays): its `+session` qualifier then names a session elsewhere).
    fn resolve(&self, address: &Address) -> Option<usize> {
        let mut same = self
            .sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| s.session.platform() == address.platform())
            .peekable();
        if same.peek().is_none() {
            return self.sessions.iter().position(|s| s.session.relays(address));
        }
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

    /// Whether session `index` may carry `signal` to `to` under its answer limit; counts it if
    /// so.
    fn within_answer_limit(
        &self,
        index: usize,
        signal: &Signal,
        to: &[Address],
    ) -> Result<(), SendError> {
        let is_answer = signal.meta.response_to.is_some()
            && matches!(
                signal.body,
                Body::Message(_) | Body::File(_) | Body::UserDefined(_)
            );
        let Some(counter) = &self.sessions[index].answers else {
            return Ok(());
        };
        if !is_answer {
            return Ok(());
        }
        let mut counter = counter.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for address in to {
            if !counter.admit(address, now) {
                let limit = counter.limit();
                let message = format!(
                    "not sent: {address} had {} answers in the last {} s, the answer limit of \
                     session `{}` (a loop with another automatic responder?)",
                    limit.answers(),
                    limit.per().as_secs(),
                    self.sessions[index].session.name(),
                );
                return Err(Refusal::new(FailureKind::RateLimited, message)
                    .with_code("answer-limit")
                    .into());
            }
        }
        Ok(())
    }

    /// Tells the bot that a session refused the signal `id`.
    fn refused(&self, id: SignalId, refusal: Refusal) {
        feedback::refused(&self.feedback, id, refusal);
    }

    /// Hands `signal` to session `index`; returns the id it left with. With a journal, an
    /// answer gets its deterministic id, is not sent again if it left before a restart, and
    /// joins the session's lane: the bot goes on while the lane records it as about to leave,
    /// sends it once that is durable, and records that it left.
    async fn deliver(&self, index: usize, mut signal: Signal) -> SignalId {
        let Some(journaled) = &self.journaled else {
            let id = signal.meta.id.clone();
            let session = &self.sessions[index].session;
            // A signal that may have left already (see `Metadata::redelivered`).
            if signal.meta.redelivered && session.sent(&signal).await == Some(true) {
                return id;
            }
            if let Err(refusal) = session.send(signal).await {
                self.refused(id.clone(), refusal);
            }
            return id;
        };
        let name = &journaled.names[index];
        let plan = journaled.tap.number(name, &mut signal);
        let id = signal.meta.id.clone();
        let (of, number, unsure) = match plan {
            None => {
                if let Err(refusal) = self.plain(index, signal).await {
                    self.refused(id.clone(), refusal);
                }
                return id;
            }
            Some(AnswerPlan::LeftAlready) => return id,
            Some(AnswerPlan::Unsure { of, number }) => (of, number, true),
            Some(AnswerPlan::Send { of, number }) => (of, number, false),
        };
        // Counted before the bot can acknowledge the signal: the acknowledgement waits for it.
        journaled.tap.launched(&of);
        let answer = LaneAnswer {
            signal,
            name: name.clone(),
            of,
            number,
            unsure,
        };
        // A lane closed (the sessions ended) keeps the answer counted: its signal stays
        // unacknowledged, and is given again after a restart, when the answer is sent.
        if journaled.lanes[index]
            .send(Job::Answer(answer))
            .await
            .is_err()
        {
            self.refused(id.clone(), Self::lane_closed());
        }
        id
    }

    /// Sends `signal` through session `index`: in its lane's turn, with a journal; straight to
    /// the session without one.
    async fn plain(&self, index: usize, signal: Signal) -> Result<(), Refusal> {
        let Some(journaled) = &self.journaled else {
            return self.sessions[index].session.send(signal).await;
        };
        let (done, result) = oneshot::channel();
        let job = Job::Plain { signal, done };
        if journaled.lanes[index].send(job).await.is_err() {
            return Err(Self::lane_closed());
        }
        result.await.unwrap_or_else(|_| Err(Self::lane_closed()))
    }

    /// What a send after the sessions ended meets.
    fn lane_closed() -> Refusal {
        Refusal::new(FailureKind::Unreachable, "the session has ended")
    }

    pub(super) async fn end_all(&self, reason: &str) {
        let requests = (0..self.sessions.len()).map(|index| {
            let request = Signal::new(Body::InitiateSessionEnd(SessionEnd {
                reason: Some(reason.to_owned()),
            }));
            self.plain(index, request)
        });
        future::join_all(requests).await;
    }

    /// Sends a signal to each session serving one of its addressees. Every addressee is checked
    /// first (a session serves it, and can carry the signal to it): a refusal sends nothing.
    async fn route(&self, signal: Signal) -> Result<SignalId, SendError> {
        let targets: Vec<Address> = signal.route_addresses().into_iter().cloned().collect();
        let id = signal.meta.id.clone();
        if targets.is_empty() {
            return match &signal.body {
                Body::DownloadFile(_) => self.download_signal(signal).await,
                _ => self.broadcast(signal).await,
            }
            .map(|()| id);
        }
        let mut groups: Vec<(usize, Vec<Address>)> = Vec::new();
        for target in targets {
            let index = self.resolve(&target).ok_or_else(|| SendError::NoRoute {
                address: target.clone(),
            })?;
            let session = &self.sessions[index].session;
            checked(session.as_ref(), &target, &signal)
                .map_err(|reason| SendError::Unsupported { reason })?;
            match groups.iter_mut().find(|(i, _)| *i == index) {
                Some((_, addresses)) => addresses.push(target),
                None => groups.push((index, vec![target])),
            }
        }
        if let Body::DownloadFile(_) = &signal.body {
            return self.download_signal(signal).await.map(|()| id);
        }
        for (index, addresses) in &groups {
            self.within_answer_limit(*index, &signal, addresses)?;
        }
        let split = groups.len() > 1;
        let mut sent = id;
        if let Some(((index, _), rest)) = groups.split_last() {
            for (other, _) in rest {
                self.deliver(*other, self.part(*other, signal.clone(), split))
                    .await;
            }
            sent = self.deliver(*index, self.part(*index, signal, split)).await;
        }
        Ok(sent)
    }

    /// `signal` as session `index` gets it: with `split`, only the addressees it serves.
    fn part(&self, index: usize, mut signal: Signal, split: bool) -> Signal {
        if split {
            signal
                .meta
                .addressees
                .retain(|a| self.resolve(a) == Some(index));
        }
        signal
    }

    /// The session to fetch `file` with: the one serving `via`; else the one that delivered
    /// the file, only (another would fetch the URL without the right credentials, or with
    /// credentials the URL's host must never see); else, for a URL no session delivered, the
    /// one session that can download, if there is exactly one.
    fn downloader(&self, file: &File, via: Option<&Address>) -> Result<usize, SendError> {
        let url = match &file.content {
            Content::Url { url, .. } => url,
            Content::Bytes { .. } => {
                return Err(SendError::Unsupported {
                    reason: "the file already holds its bytes: there is nothing to download".into(),
                });
            }
        };
        if let Some(via) = via {
            return self.resolve(via).ok_or_else(|| SendError::NoRoute {
                address: via.clone(),
            });
        }
        let request = Signal::new(DownloadFile { file: file.clone() });
        let able: Vec<usize> = (0..self.sessions.len())
            .filter(|i| {
                self.sessions[*i]
                    .session
                    .capabilities(None)
                    .check(&request)
                    .is_ok()
            })
            .collect();
        match (self.files.source(url), able.as_slice()) {
            (Some(index), _) => Ok(index),
            (None, [only]) => Ok(*only),
            (None, _) => Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!(
                    "no session delivered a file at {url}, and {} sessions could fetch it: say \
                     which session to fetch it with (for example the file's origin)",
                    able.len()
                ),
            )
            .into()),
        }
    }

    /// Fetches `file` through the session [`downloader`](Self::downloader) chooses.
    async fn fetch(&self, file: File, via: Option<&Address>) -> Result<File, SendError> {
        let index = self.downloader(&file, via)?;
        let session = &self.sessions[index].session;
        let request = Signal::new(DownloadFile { file: file.clone() });
        session
            .capabilities(via)
            .check(&request)
            .map_err(|reason| SendError::Unsupported { reason })?;
        Ok(session.download(file).await?)
    }

    /// A download requested as a signal: the file comes back as a file signal in response to
    /// it, or a send failure.
    async fn download_signal(&self, signal: Signal) -> Result<(), SendError> {
        let Body::DownloadFile(request) = &signal.body else {
            return Ok(());
        };
        let via = signal.meta.addressees.first();
        // What cannot even be tried is an error of the send itself.
        self.downloader(&request.file, via)?;
        let id = signal.meta.id.clone();
        match self.fetch(request.file.clone(), via).await {
            Ok(file) => {
                let mut answer = Signal::internal(None, file);
                answer.meta.response_to = Some(id);
                answer.meta.received = Some(now());
                let _ = self.feedback.try_send(answer);
                Ok(())
            }
            Err(SendError::Refused(refusal)) => {
                self.refused(id, refusal);
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// A signal with no addressee (the bot's own presence, an end request): to every session
    /// that carries it.
    async fn broadcast(&self, signal: Signal) -> Result<(), SendError> {
        if matches!(signal.body, Body::InitiateSessionEnd(_)) {
            let sends = (0..self.sessions.len()).map(|index| self.plain(index, signal.clone()));
            future::join_all(sends).await;
            return Ok(());
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
        if carried {
            return Ok(());
        }
        Err(SendError::Unsupported {
            reason: reason.unwrap_or_else(|| "no session serves this bot".to_owned()),
        })
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
            matches!(signal.body, Body::StatusChange(_) | Body::DownloadFile(_)),
        ) {
            let Some(index) = self.resolve(to) else {
                let address = to.clone();
                return Box::pin(future::ready(Err(SendError::NoRoute { address })));
            };
            let session = &self.sessions[index].session;
            if let Err(reason) = checked(session.as_ref(), to, &signal) {
                return Box::pin(future::ready(Err(SendError::Unsupported { reason })));
            }
            if let Err(refused) = self.within_answer_limit(index, &signal, std::slice::from_ref(to))
            {
                return Box::pin(future::ready(Err(refused)));
            }
            if self.journaled.is_some() || signal.meta.redelivered {
                return Box::pin(async move { Ok(self.deliver(index, signal).await) });
            }
            let sending = session.send(signal);
            return Box::pin(async move {
                if let Err(refusal) = sending.await {
                    self.refused(id.clone(), refusal);
                }
                Ok(id)
            });
        }
        Box::pin(self.route(signal))
    }

    fn ack(&self, id: &SignalId) {
        if let Some(journaled) = &self.journaled {
            journaled.tap.ack(id);
        }
    }

    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
        Box::pin(async move {
            if self.feedback.is_closed() {
                return Err(SendError::Closed);
            }
            self.fetch(file, via.as_ref()).await
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

/// Whether `session` can carry `signal` to `to` (why not, in words); what it carries only by a
/// nearest equivalent (a question as numbered lines, …) is logged, never silent.
fn checked(session: &dyn Session, to: &Address, signal: &Signal) -> Result<(), String> {
    let capabilities = session.capabilities(Some(to));
    capabilities.check(signal)?;
    let degraded = capabilities.degraded_in(signal);
    if !degraded.is_empty() {
        tracing::debug!(
            session = session.name(),
            %to,
            signal = %signal.meta.id,
            ?degraded,
            "carried by the nearest equivalent the addressee's platform has"
        );
    }
    Ok(())
}
