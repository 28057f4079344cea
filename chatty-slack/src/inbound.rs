//! Serving a Socket Mode connection: every envelope read, its event mapped ([`event`]) and
//! deduplicated ([`intake`]), or its click or slash command mapped and deduplicated
//! ([`interaction`]), pushed to the bot in order, and acknowledged once its push returned
//! ([`pipeline`]), until the session stops or the connection is lost.
//!
//! - An envelope is acknowledged only once what it carries was taken by the bot's inbound
//!   queue (under a router with a journal: once it is durable), so a crash of the bot's process
//!   loses nothing: Slack sends what was not acknowledged again, on its retry timetable, and
//!   what the journal holds already is not given to the bot twice. An event delivered twice
//!   (same `event_id`) reaches the bot once.
//! - The connection is pinged every [`PING_INTERVAL`]; no frame for three intervals loses it
//!   (while the bot keeps the pushes waiting, the reader does not read, and that is no silence).
//! - `disconnect` with `warning` or `refresh_requested` (Slack announces the connection's
//!   end) opens a new connection at once, quietly; `link_disabled` ends the session; any other
//!   reason loses the connection (the driver reconnects). Either way what was read is pushed
//!   first, and acknowledged while the old connection still takes acks.

mod event;
mod intake;
mod interaction;
mod pipeline;
mod reaction;

use std::collections::VecDeque;
use std::time::Duration;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::{Failure, Link, lock};
use chatty_core::reexports::futures::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use intake::Marks;
pub(crate) use intake::Outcome;
use pipeline::{Job, Push, QUEUED, push_in_order};

use crate::connect::open_socket;
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
        match read(state, &conn, link, &mut socket, early).await? {
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

/// The failure of a connection that was lost.
fn lost(state: &State, cause: String) -> Failure {
    let kind = ConnectionErrorKind::Unreachable;
    // The driver logs the failure, with when it tries again.
    tracing::debug!(session = %state.config.name, ?kind, "Slack connection lost: {cause}");
    Failure::new(kind, cause)
}

/// Reads frames (the `early` ones first) until the session stops, Slack asks for a new
/// connection, or the connection is lost; pushes what they carry in order, and acknowledges
/// each envelope once its push returned. What was read is pushed before it returns (unless
/// the session stops), so that nothing the intake has seen is left unpushed.
async fn read(
    state: &State,
    conn: &Conn,
    link: &Link,
    socket: &mut Socket,
    early: Vec<Frame>,
) -> Result<Ending, Failure> {
    let (jobs, queue) = mpsc::channel(QUEUED);
    let (acks_tx, mut acks) = mpsc::unbounded_channel();
    let mut pusher = Box::pin(push_in_order(state, conn, link, queue, acks_tx));
    let mut early = VecDeque::from(early);
    let mut last_seen = Instant::now();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    // Whether the socket still takes acks once reading ended.
    let mut acks_open = true;
    let ending = loop {
        tokio::select! {
            biased;
            () = link.stopping() => {
                // What was pushed is acknowledged still, so that Slack does not send it again.
                flush(socket, &mut acks, acks_open).await;
                return Ok(Ending::Stop);
            }
            Some(envelope_id) = acks.recv() => {
                if let Err(failure) = socket::ack(socket, &envelope_id).await {
                    acks_open = false;
                    break Err(failure);
                }
            }
            // The pusher ends while the reader holds the queue only when a push failed.
            _ = &mut pusher => {
                flush(socket, &mut acks, acks_open).await;
                return Ok(Ending::Stop);
            }
            frame = next_frame(socket, &mut early), if jobs.capacity() > 0 => {
                last_seen = Instant::now();
                let frame = match frame {
                    Ok(Some(frame)) => frame,
                    Ok(None) => continue,
                    Err(cause) => {
                        acks_open = false;
                        break Err(lost(state, cause));
                    }
                };
                match read_frame(state, conn, frame) {
                    Read::Job(job) => {
                        if let Err(refused) = jobs.try_send(job) {
                            // The pusher stopped at a failed push: this one is not pushed.
                            lock(&state.intake).forget(&refused.into_inner().marks);
                        }
                    }
                    Read::Nothing => {}
                    Read::End(ending) => break ending,
                }
            }
            _ = ping.tick() => {
                if jobs.capacity() == 0 {
                    // The bot keeps the pushes waiting, and the reader with them: not a silent
                    // Slack.
                    last_seen = Instant::now();
                }
                let silent = last_seen.elapsed();
                if silent > PING_INTERVAL * 3 {
                    acks_open = false;
                    break Err(lost(state, format!("no answer from Slack for {} s", silent.as_secs())));
                }
                if let Err(e) = socket.send(Message::Ping(Vec::new().into())).await {
                    acks_open = false;
                    break Err(lost(state, format!("the connection failed: {e}")));
                }
            }
        }
    };
    // What was read is pushed, and acknowledged while the socket takes acks.
    drop(jobs);
    let pushed = loop {
        tokio::select! {
            biased;
            () = link.stopping() => break false,
            Some(envelope_id) = acks.recv() => {
                if acks_open && socket::ack(socket, &envelope_id).await.is_err() {
                    acks_open = false;
                }
            }
            pushed = &mut pusher => break pushed,
        }
    };
    drop(pusher);
    flush(socket, &mut acks, acks_open).await;
    if pushed { ending } else { Ok(Ending::Stop) }
}

/// Acknowledges the envelopes whose push returned and whose ack is not sent yet, while the
/// socket takes acks.
async fn flush(socket: &mut Socket, acks: &mut mpsc::UnboundedReceiver<String>, open: bool) {
    while let Ok(envelope_id) = acks.try_recv() {
        if !open || socket::ack(socket, &envelope_id).await.is_err() {
            return;
        }
    }
}

/// The next frame: an early one, else one from the socket (`None` for a frame that is not
/// text: a pong); `Err` with the cause when the connection is lost.
async fn next_frame(
    socket: &mut Socket,
    early: &mut VecDeque<Frame>,
) -> Result<Option<Frame>, String> {
    if let Some(frame) = early.pop_front() {
        return Ok(Some(frame));
    }
    match socket.next().await {
        Some(Ok(Message::Text(text))) => Ok(Some(crate::envelope::parse(text.as_str()))),
        Some(Ok(Message::Close(close))) => Err(socket::closed(close.as_ref()).cause().to_owned()),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(format!("the connection failed: {e}")),
        None => Err("the connection dropped".into()),
    }
}

/// What one frame means for the reader.
enum Read {
    /// An envelope to push and acknowledge in order.
    Job(Job),
    /// Nothing to do (`hello`).
    Nothing,
    /// Reading ends: Slack refreshes the connection, or ends it.
    End(Result<Ending, Failure>),
}

/// Reads one frame: an envelope is mapped (and remembered by the intake) into a job.
fn read_frame(state: &State, conn: &Conn, frame: Frame) -> Read {
    let job = |envelope_id, push| {
        Read::Job(Job {
            envelope_id,
            push,
            marks: Default::default(),
        })
    };
    match frame {
        Frame::Hello => {
            tracing::debug!(session = %state.config.name, "Socket Mode: hello");
            Read::Nothing
        }
        Frame::Disconnect { reason } => Read::End(match socket::disconnected(&reason) {
            None => Ok(Ending::Refresh),
            Some(failure) => {
                tracing::debug!(session = %state.config.name, "Slack: {failure}");
                Err(failure)
            }
        }),
        Frame::EventsApi {
            envelope_id,
            payload,
        } => {
            let (outcome, marks) = {
                let mut ids = lock(&state.ids);
                lock(&state.intake).payload(&conn.mapper, &mut ids, &payload)
            };
            envelope_job(state, envelope_id, outcome, marks)
        }
        Frame::Interactive {
            envelope_id,
            payload,
        } => {
            let (outcome, marks) = {
                let mut ids = lock(&state.ids);
                lock(&state.intake).interactive(&conn.mapper, &mut ids, &payload, &envelope_id)
            };
            if let Outcome::Skip(why) = &outcome {
                tracing::debug!(session = %state.config.name, "Socket Mode interactive: {why}");
            }
            envelope_job(state, envelope_id, outcome, marks)
        }
        Frame::SlashCommand {
            envelope_id,
            payload,
        } => {
            let (outcome, marks) =
                lock(&state.intake).slash_command(&conn.mapper, &payload, &envelope_id);
            envelope_job(state, envelope_id, outcome, marks)
        }
        Frame::Other { kind, envelope_id } => {
            tracing::debug!(%kind, "Socket Mode: an envelope the session does not map");
            job(envelope_id, Push::Nothing)
        }
        // It will never read better when Slack sends it again: acknowledged once the bot was
        // told.
        Frame::Malformed {
            envelope_id,
            reason,
        } => job(envelope_id, Push::Error(reason)),
    }
}

/// The job of an envelope whose payload the intake read.
fn envelope_job(state: &State, envelope_id: String, outcome: Outcome, marks: Marks) -> Read {
    let push = match outcome {
        Outcome::Signal(signal) => Push::Signal(signal),
        Outcome::Error(message) => Push::Error(message),
        Outcome::Skip(why) => {
            tracing::trace!(session = %state.config.name, "skipped: {why}");
            Push::Nothing
        }
    };
    Read::Job(Job {
        envelope_id: Some(envelope_id),
        push,
        marks,
    })
}
