//! The driver's run: connect, serve, reconnect, end; and the [`Session`] every [`Protocol`] is.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::future::{self, BoxFuture};
use tokio::sync::watch;

use super::{Failure, Link, Protocol};
use crate::address::Address;
use crate::capability::Capabilities;
use crate::limit::AnswerLimit;
use crate::query::{Answer, Query, QueryError};
use crate::session::{Confirmation, InboundSink, Refusal, Session, SessionError, confirmed};
use crate::signal::{Body, ConnectionErrorKind, File, SessionEnd, Signal};

/// A connection that served at least this long was a good one: the next is tried at once and
/// the backoff starts over. One that dropped sooner waits like a failed attempt, so that a
/// server that accepts and drops at once is not hammered.
const GOOD_CONNECTION: Duration = Duration::from_secs(10);

impl<P: Protocol> Session for P {
    fn name(&self) -> &str {
        Protocol::name(self)
    }

    fn platform(&self) -> &str {
        Protocol::platform(self)
    }

    fn capabilities(&self, address: Option<&Address>) -> Capabilities {
        Protocol::capabilities(self, address)
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        Box::pin(drive(self, inbound))
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        if let Body::InitiateSessionEnd(end) = &signal.body {
            self.driver().request_end(end.clone());
            return Box::pin(future::ready(Ok(())));
        }
        Box::pin(Protocol::send(self, signal))
    }

    fn hand_on(&self, signal: Signal) -> BoxFuture<'_, Result<Confirmation, Refusal>> {
        if let Body::InitiateSessionEnd(end) = &signal.body {
            self.driver().request_end(end.clone());
            return Box::pin(future::ready(Ok(confirmed())));
        }
        Box::pin(Protocol::hand_on(self, signal))
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        if let Query::DeliveryStatus { id } = &query
            && self.keeps_deliveries()
        {
            let status = self.driver().deliveries().get(id);
            return Box::pin(future::ready(Ok(Answer::DeliveryStatus(status))));
        }
        Box::pin(Protocol::query(self, query))
    }

    fn download(&self, file: File) -> BoxFuture<'_, Result<File, Refusal>> {
        Box::pin(Protocol::download(self, file))
    }

    fn sent<'a>(&'a self, signal: &'a Signal) -> BoxFuture<'a, Option<bool>> {
        Box::pin(Protocol::sent(self, signal))
    }

    fn answer_limit(&self) -> Option<AnswerLimit> {
        Protocol::answer_limit(self)
    }

    fn relays(&self, address: &Address) -> bool {
        Protocol::relays(self, address)
    }
}

/// How the connection loop ended.
enum Outcome {
    /// Asked to end; `announced`: `SessionAboutToEnd` went out already.
    Ended { end: SessionEnd, announced: bool },
    /// The bot stopped listening: nothing more to push.
    BotGone,
    /// A failure trying again cannot help.
    Failed(Failure),
}

/// How serving one connection ended.
enum Served {
    Ended(SessionEnd),
    BotGone,
    Lost(Failure),
}

/// Runs a session: once, until it is asked to end, the bot stops listening, or a permanent
/// failure.
async fn drive<P: Protocol>(protocol: Arc<P>, sink: InboundSink) -> Result<(), SessionError> {
    let driver = protocol.driver();
    let error = |message: String| SessionError::new(Protocol::name(&*protocol), message);
    if driver.ran.swap(true, Ordering::AcqRel) {
        return Err(error("the session is running already, or has run".into()));
    }
    let mut ends = driver.end.subscribe();
    let (stop_tx, stop_rx) = watch::channel(false);
    let own: super::link::Own = {
        // Weak: a link kept by the session itself must not keep the session alive.
        let session = Arc::downgrade(&protocol);
        Arc::new(move || session.upgrade().and_then(|session| session.own()))
    };
    let link = Link {
        sink: sink.clone(),
        stop: stop_rx,
        own,
        gate: Arc::default(),
    };
    let mut backoff = driver.backoff;
    let outcome = loop {
        let connected = tokio::select! {
            biased;
            end = requested(&mut ends) => break Outcome::Ended { end, announced: false },
            () = sink.closed() => break Outcome::BotGone,
            result = protocol.clone().connect(link.clone()) => result,
        };
        let (failure, good) = match connected {
            Ok(connection) => {
                if !sink.has_started()
                    && sink
                        .started(Protocol::platform(&*protocol), protocol.own())
                        .await
                        .is_err()
                {
                    break Outcome::BotGone;
                }
                let since = Instant::now();
                let serving = protocol.clone().serve(connection, link.clone());
                match serve(serving, &link, &mut ends, &stop_tx, driver.stop_timeout).await {
                    Served::Ended(end) => {
                        break Outcome::Ended {
                            end,
                            announced: true,
                        };
                    }
                    Served::BotGone => break Outcome::BotGone,
                    Served::Lost(failure) => (failure, since.elapsed() >= GOOD_CONNECTION),
                }
            }
            Err(failure) => (failure, false),
        };
        let session = Protocol::name(&*protocol);
        if failure.is_permanent() {
            tracing::error!(session, kind = ?failure.kind(), cause = failure.cause(), "connection failed for good; the session ends");
            let _ = link.connection_error(&failure, None).await;
            break Outcome::Failed(failure);
        }
        let wait = if good {
            backoff.reset();
            Duration::ZERO
        } else {
            backoff.next_wait()
        };
        let wait = wait.max(failure.retry_after_hint().unwrap_or_default());
        tracing::warn!(session, kind = ?failure.kind(), cause = failure.cause(), retry_in = ?wait, "connection failed; trying again");
        if link.connection_error(&failure, Some(wait)).await.is_err() {
            break Outcome::BotGone;
        }
        tokio::select! {
            biased;
            end = requested(&mut ends) => break Outcome::Ended { end, announced: false },
            () = sink.closed() => break Outcome::BotGone,
            () = tokio::time::sleep(wait) => {}
        }
    };
    let own = protocol.own();
    match outcome {
        Outcome::Ended { end, announced } => {
            link.shut().await;
            if !announced {
                let about = Signal::internal(own.clone(), Body::SessionAboutToEnd(end.clone()));
                let _ = sink.send(about).await;
            }
            let _ = sink
                .send(Signal::internal(own, Body::SessionEnded(end)))
                .await;
            Ok(())
        }
        Outcome::BotGone => Ok(()),
        Outcome::Failed(failure) => Err(error(failure.cause().to_owned()).with_source(failure)),
    }
}

/// Serves one connection until it is lost, the session is asked to end, or the bot stops
/// listening.
async fn serve(
    serving: impl Future<Output = Result<(), Failure>> + Send,
    link: &Link,
    ends: &mut watch::Receiver<Option<SessionEnd>>,
    stop: &watch::Sender<bool>,
    stop_timeout: Duration,
) -> Served {
    tokio::pin!(serving);
    let lost = |result: Result<(), Failure>| {
        Served::Lost(result.err().unwrap_or_else(|| {
            Failure::new(ConnectionErrorKind::Unreachable, "the connection ended")
        }))
    };
    tokio::select! {
        biased;
        end = requested(ends) => {
            // The last chance to send: the connection still serves while the bot handles
            // `SessionAboutToEnd`; only then is `serve` told to stop.
            let about = Signal::internal(link.own(), Body::SessionAboutToEnd(end.clone()));
            let closing = async move {
                // Nothing the session reads from now on reaches the bot behind the end.
                link.shut().await;
                let _ = link.sink.send(about).await;
                let _ = stop.send(true);
            };
            tokio::pin!(closing);
            tokio::select! {
                _ = &mut serving => closing.await,
                () = &mut closing => {
                    let _ = tokio::time::timeout(stop_timeout, serving).await;
                }
            }
            Served::Ended(end)
        }
        () = link.sink.closed() => {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(stop_timeout, serving).await;
            Served::BotGone
        }
        result = &mut serving => lost(result),
    }
}

/// Resolves with the first end request.
async fn requested(ends: &mut watch::Receiver<Option<SessionEnd>>) -> SessionEnd {
    let end = ends.wait_for(Option::is_some).await.map(|end| end.clone());
    match end {
        Ok(end) => end.unwrap_or_default(),
        // The driver holds the sender as long as the session lives.
        Err(_) => std::future::pending().await,
    }
}
