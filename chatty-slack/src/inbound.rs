//! Serving a Socket Mode connection: every envelope acknowledged as soon as it is read, then
//! its event mapped ([`event`]), deduplicated ([`intake`]) and pushed to the bot, until the
//! session stops or the connection is lost.
//!
//! - The connection is pinged every [`PING_INTERVAL`]; no frame for three intervals loses it.
//! - `disconnect` with `warning` or `refresh_requested` (Slack announces the connection's
//!   end) opens a new connection at once, quietly; `link_disabled` ends the session; any other
//!   reason loses the connection (the driver reconnects).
//! - Since the mapping comes after the ack, a slow bot never makes Slack redeliver; an envelope
//!   the session could not acknowledge is sent again by Slack on the next connection, and an
//!   event delivered twice (same `event_id`) reaches the bot once.

mod event;
mod intake;

use std::time::Duration;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::{Failure, Link, lock};
use chatty_core::reexports::futures::{SinkExt as _, StreamExt as _};
use chatty_core::reexports::serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

pub(crate) use intake::Outcome;

use crate::connect::{open_socket, system_error};
use crate::envelope::Frame;
use crate::socket::{self, Connection, Socket};
use crate::state::{Conn, State};

/// How often the connection is pinged; three intervals without a frame lose it.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(5);

/// Why reading a connection ended (when it was not lost).
enum Ending {
    /// Slack is about to close it: open a new one.
    Refresh,
    /// Stop serving: the session is stopping, or the bot stopped listening.
    Stop,
}

/// Serves `connection` until [`Link::stopping`] (`Ok`) or until it is lost (`Err`).
pub(crate) async fn serve(
    state: &State,
    mut connection: Connection,
    link: &Link,
) -> Result<(), Failure> {
    let Some(conn) = state.conn() else {
        return Err(Failure::new(
            ConnectionErrorKind::Other,
            "serving a connection that never logged in",
        ));
    };
    loop {
        let Connection { mut socket, early } = connection;
        let mut ending = None;
        for frame in early {
            ending = handle(state, &conn, link, &mut socket, frame).await?;
            if ending.is_some() {
                break;
            }
        }
        let ending = match ending {
            Some(ending) => ending,
            None => read(state, &conn, link, &mut socket).await?,
        };
        match ending {
            Ending::Stop => {
                socket::close(socket).await;
                // Sends in progress finish before the session ends.
                drop(state.sending.lock().await);
                return Ok(());
            }
            Ending::Refresh => {
                tracing::debug!(session = %state.config.name, "Slack refreshes the connection");
                socket::close(socket).await;
                connection = open_socket(state).await?;
            }
        }
    }
}

/// Reads frames until the session stops, Slack asks for a new connection, or the
/// connection is lost.
async fn read(
    state: &State,
    conn: &Conn,
    link: &Link,
    socket: &mut Socket,
) -> Result<Ending, Failure> {
    let lost = |cause: String| {
        let kind = ConnectionErrorKind::Unreachable;
        // The driver logs the failure, with when it tries again.
        tracing::debug!(session = %state.config.name, ?kind, "Slack connection lost: {cause}");
        Failure::new(kind, cause)
    };
    let mut last_seen = Instant::now();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        tokio::select! {
            biased;
            () = link.stopping() => return Ok(Ending::Stop),
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(close))) => {
                        let failure = socket::closed(close.as_ref());
                        return Err(lost(failure.cause().to_owned()));
                    }
                    Some(Ok(_)) => {
                        last_seen = Instant::now();
                        continue;
                    }
                    Some(Err(e)) => return Err(lost(format!("the connection failed: {e}"))),
                    None => return Err(lost("the connection dropped".into())),
                };
                let frame = crate::envelope::parse(text.as_str());
                if let Some(ending) = handle(state, conn, link, socket, frame).await? {
                    return Ok(ending);
                }
                // After the bot took the signal: a slow bot is not a silent Slack.
                last_seen = Instant::now();
            }
            _ = ping.tick() => {
                let silent = last_seen.elapsed();
                if silent > PING_INTERVAL * 3 {
                    return Err(lost(format!("no answer from Slack for {} s", silent.as_secs())));
                }
                if let Err(e) = socket.send(Message::Ping(Vec::new().into())).await {
                    return Err(lost(format!("the connection failed: {e}")));
                }
            }
        }
    }
}

/// Handles one frame: acknowledges it, and pushes what it carries to the bot; `Some` when
/// reading is to end.
async fn handle(
    state: &State,
    conn: &Conn,
    link: &Link,
    socket: &mut Socket,
    frame: Frame,
) -> Result<Option<Ending>, Failure> {
    let delivered = match frame {
        Frame::Hello => {
            tracing::debug!(session = %state.config.name, "Socket Mode: hello");
            true
        }
        Frame::Disconnect { reason } => {
            return match socket::disconnected(&reason) {
                None => Ok(Some(Ending::Refresh)),
                Some(failure) => {
                    tracing::debug!(session = %state.config.name, "Slack: {failure}");
                    Err(failure)
                }
            };
        }
        Frame::EventsApi {
            envelope_id,
            payload,
        } => {
            socket::ack(socket, &envelope_id).await?;
            deliver(state, conn, link, &payload).await
        }
        Frame::Other { kind, envelope_id } => {
            tracing::debug!(%kind, "Socket Mode: an envelope the session does not map");
            if let Some(id) = envelope_id {
                socket::ack(socket, &id).await?;
            }
            true
        }
        Frame::Malformed {
            envelope_id,
            reason,
        } => {
            if let Some(id) = envelope_id {
                socket::ack(socket, &id).await?;
            }
            system_error(state, conn, link, reason).await
        }
    };
    Ok((!delivered).then_some(Ending::Stop))
}

/// Maps one Events API payload and pushes what it becomes; `false` when the bot stopped
/// listening.
async fn deliver(state: &State, conn: &Conn, link: &Link, payload: &Value) -> bool {
    let outcome = {
        let mut ids = lock(&state.ids);
        lock(&state.intake).payload(&conn.mapper, &mut ids, payload)
    };
    match outcome {
        Outcome::Signal(signal) => link.push(*signal).await.is_ok(),
        Outcome::Error(message) => system_error(state, conn, link, message).await,
        Outcome::Skip(why) => {
            tracing::trace!(session = %state.config.name, "skipped: {why}");
            true
        }
    }
}
