//! Serving a connection: reading lines, mapping them ([`map`]), answering `PING`, keeping the
//! connection alive, and quitting politely when the session ends.

mod catch_up;
mod effect;
mod map;
mod rejoin;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatty_core::DeliveryStatus;
use chatty_core::driver::{Failure, Link};
use chatty_core::reexports::futures::StreamExt as _;

use crate::connect::{self, Connection};
use crate::history::PRIVATE_MARK;
use crate::marker::Markers;
use crate::net::lost;
use crate::parts::SessionParts;
use crate::proto::Line;
use crate::state::Outgoing;

pub(crate) use map::{Effect, handle};

/// With nothing read for this long, the session sends a `PING` to the server.
const IDLE: Duration = Duration::from_secs(120);
/// With nothing read for this long, the connection counts as lost.
const DEAD: Duration = Duration::from_secs(240);
/// How long the session waits for the server to close after its `QUIT`.
pub(crate) const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `connection` until it is lost or the session is to stop.
pub(crate) async fn serve(
    session: Arc<SessionParts>,
    connection: Connection,
    link: &Link,
) -> Result<(), Failure> {
    let Connection {
        mut reader,
        mut writer,
        urgent,
        quick,
    } = connection;
    let shared = &session.shared;
    // QUIT goes behind what the bot sent last; PING and PONG ahead of it.
    let send = |line: Line| {
        let _ = shared.outgoing.send(Outgoing::line(line));
    };
    let send_now = |line: Line| {
        let _ = urgent.send(line);
    };
    let mut last_read = Instant::now();
    let mut pinged = false;
    let mut quitting: Option<tokio::time::Instant> = None;
    let mut closing: Option<String> = None;
    let mut ticks = tokio::time::interval(Duration::from_secs(10));
    let mut markers = Markers::new(link.clone());
    // `JOIN`s after a kick, each with its time.
    let mut rejoins: Vec<(tokio::time::Instant, Line)> = Vec::new();
    let result = loop {
        let quit_deadline = quitting.unwrap_or_else(|| tokio::time::Instant::now() + DEAD);
        let next_rejoin = rejoins.iter().map(|(at, _)| *at).min();
        tokio::select! {
            biased;
            () = link.stopping(), if quitting.is_none() => {
                send(Line::new("QUIT", ["Chatty session ending"]));
                quitting = Some(tokio::time::Instant::now() + QUIT_TIMEOUT);
            }
            () = tokio::time::sleep_until(quit_deadline), if quitting.is_some() => break Ok(()),
            written = &mut writer.0 => {
                if quitting.is_some() {
                    // QUIT written: wait for the server to close, briefly.
                    let _ = tokio::time::timeout(QUIT_TIMEOUT, async {
                        while reader.next().await.is_some() {}
                    }).await;
                    break Ok(());
                }
                let cause = match written {
                    Ok(Err(cause)) => cause,
                    _ => "the writer stopped".to_owned(),
                };
                break Err(lost(&cause));
            }
            () = tokio::time::sleep_until(next_rejoin.unwrap_or(quit_deadline)),
                if next_rejoin.is_some() && quitting.is_none() =>
            {
                let now = tokio::time::Instant::now();
                for (_, line) in rejoins.extract_if(.., |(at, _)| *at <= now) {
                    if rejoin::wanted(shared, &line) {
                        send(line);
                    }
                }
            }
            _ = ticks.tick() => {
                let idle = last_read.elapsed();
                if idle >= DEAD {
                    break Err(lost(&format!("nothing from the server for {idle:?}")));
                }
                if idle >= IDLE && !pinged {
                    pinged = true;
                    send_now(Line::new("PING", ["chatty"]));
                }
            }
            item = reader.next() => {
                let line = match item {
                    None if quitting.is_some() => break Ok(()),
                    None => {
                        let cause = closing.take().map_or_else(
                            || "the server closed the connection".to_owned(),
                            |c| format!("the server closed the connection: {c}"),
                        );
                        break Err(lost(&cause));
                    }
                    Some(Err(e)) => break Err(lost(&e.to_string())),
                    Some(Ok(Err(e))) => {
                        connect::report(link, &e.to_string()).await;
                        continue;
                    }
                    Some(Ok(Ok(line))) => line,
                };
                last_read = Instant::now();
                pinged = false;
                quick.again();
                for effect in handle(shared, &line) {
                    match effect {
                        Effect::Push(signal) => {
                            // Into the journal with the others (IRC is told of nothing
                            // received). Refused once the session ends or the bot is gone:
                            // the driver stops serving then.
                            let _ = link.feed(*signal).await;
                        }
                        Effect::Send(line) => send_now(line),
                        Effect::Confirmed(id) => {
                            session.driver.deliveries().advance(&id, DeliveryStatus::Sent);
                        }
                        Effect::Failed(id, status) => {
                            session.driver.deliveries().advance(&id, status);
                        }
                        Effect::Closing(text) => closing = Some(text),
                        Effect::Joined(channel) => {
                            if let Some(ask) = catch_up::joined(shared, link, &channel).await {
                                send_now(ask);
                            }
                        }
                        Effect::Targets => {
                            let (ask, mark) = catch_up::targets(shared, link).await;
                            if let Some(mark) = mark {
                                markers.advance(PRIVATE_MARK.to_owned(), mark);
                            }
                            if let Some(ask) = ask {
                                send_now(ask);
                            }
                        }
                        Effect::Target(nick) => {
                            // Paced: an answer to TARGETS may name up to its limit of nicks.
                            if let Some(ask) = catch_up::target(shared, link, &nick).await {
                                send(ask);
                            }
                        }
                        Effect::Mark(name, value) => markers.advance(name, value),
                        Effect::Report(text) => connect::report(link, &text).await,
                        Effect::Rejoin(after, line) => {
                            rejoins.push((tokio::time::Instant::now() + after, line));
                        }
                    }
                }
            }
        }
    };
    shared.live().connected = false;
    shared.history().connection_lost();
    if result.is_ok() {
        // The session ends: what is still queued will not be sent (its confirmations are
        // refused as unreachable).
        drop(writer);
        let mut queue = shared.queue.lock().await;
        while queue.try_recv().is_ok() {}
    }
    result
}
