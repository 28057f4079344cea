//! The Socket Mode connection (api.slack.com/apis/socket-mode): `apps.connections.open` with
//! the app-level token, the WebSocket, an acknowledgement for every envelope as soon as it is
//! read, and reconnection.
//!
//! - A dropped or silent connection (no frame for three ping intervals), a failed
//!   `apps.connections.open` and a missing `hello` are tried again after a capped, jittered,
//!   exponential backoff (from `reconnect_min_ms` to `reconnect_max_ms`, reset by each `hello`),
//!   and at least as long as Slack's `Retry-After` on HTTP 429.
//! - `disconnect` with `warning` or `refresh_requested` reconnects at once (Slack announces the
//!   connection's end); `link_disabled` (Socket Mode turned off for the app) stops for good
//!   with an error; any other reason reconnects after the backoff.
//! - A wrong, revoked or under-scoped app token stops for good with an authentication error.

use std::time::Duration;

use chatty_core::reexports::futures::{SinkExt as _, StreamExt as _};
use chatty_core::reexports::serde_json::{Map, Value};
use chatty_core::{ConnectionErrorKind, jittered};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::api::WebApi;
use crate::envelope::{self, Frame};
use crate::net::{self, Socket};

/// What the connection hands to the session.
#[derive(Debug)]
pub(crate) enum Pushed {
    /// A connection said `hello`: the session is (again) connected.
    Hello,
    /// An `events_api` payload, acknowledged already.
    Event(Value),
    /// A frame that cannot be read (acknowledged if it had an `envelope_id`).
    Malformed(String),
    /// The connection was lost or could not be made; the next attempt comes after `retry_in`.
    Lost {
        kind: ConnectionErrorKind,
        cause: String,
        retry_in: Duration,
    },
    /// The connection stopped for good.
    Fatal {
        kind: ConnectionErrorKind,
        cause: String,
    },
}

/// Capped exponential backoff with jitter (chatty-core's [`jittered`]): each wait is between
/// half of and the whole current step; steps double from `min` up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    /// A backoff from `min` to `max`.
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            step: min,
        }
    }

    /// The next wait.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = jittered(self.step);
        self.step = (self.step * 2).min(self.max);
        wait
    }

    /// Back to the first step (after a success).
    pub(crate) fn reset(&mut self) {
        self.step = self.min;
    }
}

/// The Socket Mode side of a session.
#[derive(Debug)]
pub(crate) struct SocketMode {
    /// The Web API with the app-level token.
    pub(crate) app: WebApi,
    /// The reconnection backoff.
    pub(crate) backoff: Backoff,
    /// How long connecting and the `hello` may take.
    pub(crate) connect_timeout: Duration,
    /// How often a ping goes out; three without any frame back drop the connection.
    pub(crate) ping_interval: Duration,
}

/// What to do after a connection ended.
enum Next {
    /// Connect again after this wait.
    Reconnect(Duration),
    /// Stop (for good, or because the session stopped).
    Stop,
}

impl SocketMode {
    /// Connects, and reconnects, until `stop` fires, the session stops listening, or the
    /// connection stops for good.
    pub(crate) async fn run(
        mut self,
        tx: mpsc::UnboundedSender<Pushed>,
        stop: oneshot::Receiver<()>,
    ) {
        let mut stop = stop;
        loop {
            let next = tokio::select! {
                next = self.connection(&tx) => next,
                _ = &mut stop => Next::Stop,
            };
            match next {
                Next::Stop => return,
                Next::Reconnect(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = &mut stop => return,
                        () = tx.closed() => return,
                    }
                }
            }
        }
    }

    /// Reports a lost connection and says when to try again.
    fn lost(
        &mut self,
        tx: &mpsc::UnboundedSender<Pushed>,
        kind: ConnectionErrorKind,
        cause: String,
        at_least: Option<Duration>,
    ) -> Next {
        let retry_in = self.backoff.next_wait().max(at_least.unwrap_or_default());
        tracing::warn!(?kind, ?retry_in, "Socket Mode: {cause}");
        let _ = tx.send(Pushed::Lost {
            kind,
            cause,
            retry_in,
        });
        Next::Reconnect(retry_in)
    }

    /// One connection: open, serve until it ends.
    async fn connection(&mut self, tx: &mpsc::UnboundedSender<Pushed>) -> Next {
        let method = "apps.connections.open";
        let url = match self.app.call_once(method, &Map::new(), true).await {
            Ok(answer) => match answer.get("url").and_then(Value::as_str) {
                Some(url) => url.to_owned(),
                None => {
                    let cause = format!("Slack's {method} answered no url");
                    return self.lost(tx, ConnectionErrorKind::Protocol, cause, None);
                }
            },
            Err(e) => {
                let (kind, retry) = e.connection();
                let cause = e.describe(method);
                if !retry {
                    tracing::warn!(?kind, "Socket Mode stops: {cause}");
                    let _ = tx.send(Pushed::Fatal { kind, cause });
                    return Next::Stop;
                }
                return self.lost(tx, kind, cause, e.retry_after());
            }
        };
        let socket = match tokio::time::timeout(self.connect_timeout, net::connect(&url)).await {
            Ok(Ok(socket)) => socket,
            Ok(Err(cause)) => return self.lost(tx, ConnectionErrorKind::Unreachable, cause, None),
            Err(_) => {
                let cause = format!("connecting took longer than {:?}", self.connect_timeout);
                return self.lost(tx, ConnectionErrorKind::Unreachable, cause, None);
            }
        };
        self.serve(socket, tx).await
    }

    /// Reads one connection's frames until it ends.
    async fn serve(&mut self, mut socket: Socket, tx: &mpsc::UnboundedSender<Pushed>) -> Next {
        let unreachable = ConnectionErrorKind::Unreachable;
        let mut hello_deadline = Some(Instant::now() + self.connect_timeout);
        let mut last_seen = Instant::now();
        let mut ping = tokio::time::interval(self.ping_interval);
        ping.tick().await;
        loop {
            let deadline = hello_deadline.unwrap_or_else(|| Instant::now() + self.ping_interval);
            tokio::select! {
                frame = socket.next() => {
                    last_seen = Instant::now();
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(close))) => {
                            let why = close.map(|c| format!(" ({} {})", c.code, c.reason)).unwrap_or_default();
                            let cause = format!("Slack closed the connection{why}");
                            return self.lost(tx, unreachable, cause, None);
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            return self.lost(tx, unreachable, format!("the connection failed: {e}"), None);
                        }
                        None => return self.lost(tx, unreachable, "the connection dropped".into(), None),
                    };
                    match envelope::parse(text.as_str()) {
                        Frame::Hello => {
                            hello_deadline = None;
                            self.backoff.reset();
                            let _ = tx.send(Pushed::Hello);
                        }
                        Frame::Disconnect { reason } => return self.disconnect(socket, tx, &reason).await,
                        Frame::EventsApi { envelope_id, payload } => {
                            if let Err(e) = socket.send(Message::text(envelope::ack(&envelope_id))).await {
                                // Unacknowledged: Slack sends it again on the next connection.
                                return self.lost(tx, unreachable, format!("acknowledging failed: {e}"), None);
                            }
                            let _ = tx.send(Pushed::Event(payload));
                        }
                        Frame::Other { kind, envelope_id } => {
                            tracing::debug!(%kind, "Socket Mode: an envelope the session does not map");
                            if let Some(id) = envelope_id {
                                let _ = socket.send(Message::text(envelope::ack(&id))).await;
                            }
                        }
                        Frame::Malformed { envelope_id, reason } => {
                            tracing::warn!("Socket Mode: {reason}");
                            if let Some(id) = envelope_id {
                                let _ = socket.send(Message::text(envelope::ack(&id))).await;
                            }
                            let _ = tx.send(Pushed::Malformed(reason));
                        }
                    }
                }
                _ = ping.tick() => {
                    let silent = last_seen.elapsed();
                    if silent > self.ping_interval * 3 {
                        let _ = socket.close(None).await;
                        let cause = format!("no answer from Slack for {} s", silent.as_secs());
                        return self.lost(tx, unreachable, cause, None);
                    }
                    if let Err(e) = socket.send(Message::Ping(Vec::new().into())).await {
                        return self.lost(tx, unreachable, format!("the connection failed: {e}"), None);
                    }
                }
                () = tokio::time::sleep_until(deadline), if hello_deadline.is_some() => {
                    let _ = socket.close(None).await;
                    let cause = format!("no Socket Mode hello within {:?}", self.connect_timeout);
                    return self.lost(tx, unreachable, cause, None);
                }
                () = tx.closed() => {
                    let _ = socket.close(None).await;
                    return Next::Stop;
                }
            }
        }
    }

    /// A `disconnect` frame (api.slack.com/apis/socket-mode#disconnect).
    async fn disconnect(
        &mut self,
        mut socket: Socket,
        tx: &mpsc::UnboundedSender<Pushed>,
        reason: &str,
    ) -> Next {
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
        match reason {
            "warning" | "refresh_requested" => {
                tracing::debug!(reason, "Socket Mode: Slack refreshes the connection");
                Next::Reconnect(Duration::ZERO)
            }
            "link_disabled" => {
                let cause = "Slack turned Socket Mode off for this app (disconnect: \
                             link_disabled): turn it on in the app's settings"
                    .to_owned();
                tracing::warn!("Socket Mode stops: {cause}");
                let _ = tx.send(Pushed::Fatal {
                    kind: ConnectionErrorKind::Other,
                    cause,
                });
                Next::Stop
            }
            other => {
                let cause = format!("Slack disconnected the connection (reason `{other}`)");
                self.lost(tx, ConnectionErrorKind::Unreachable, cause, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        let mut backoff = Backoff::new(min, max);
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next_wait()).collect();
        let steps = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (wait, step) in waits.iter().zip(steps) {
            let step = Duration::from_millis(step);
            assert!(
                *wait >= step / 2 && *wait <= step,
                "{wait:?} for a step of {step:?}"
            );
        }
        // Jittered: many sessions do not come back at the same moment.
        let mut spread = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
        let many: Vec<Duration> = (0..50).map(|_| spread.next_wait()).collect();
        assert!(many.iter().any(|w| *w != many[0]), "{many:?}");
        backoff.reset();
        assert!(backoff.next_wait() <= min);
    }
}
