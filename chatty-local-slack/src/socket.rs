//! Socket Mode (api.slack.com/apis/socket-mode): `hello`, `events_api`, `interactive` and
//! `slash_commands` envelopes, acks,
//! redelivery with `retry_attempt` / `retry_reason` on Slack's timetable ([`crate::redelivery`]),
//! and `disconnect`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::control::Control;
use crate::redelivery::{Envelope, Step};
use crate::shared::Inner;
use crate::workspace::give_up;

/// How long a socket that was told to disconnect stays open for the client to reconnect.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);
/// How often a socket looks for acks that are overdue.
const TICK: Duration = Duration::from_millis(50);

/// Serves one Socket Mode connection of `app`.
pub(crate) async fn serve(inner: Arc<Inner>, app: String, mut ws: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = inner
        .sockets
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let count = {
        let mut ws_state = inner.lock();
        let table = ws_state.timetable.clone();
        let Some(a) = ws_state.apps.get_mut(&app) else {
            return;
        };
        // What fell due while no socket was open failed then, not now.
        a.sweep(Instant::now(), &table);
        a.sockets.insert(id, tx);
        a.sockets.len()
    };
    // api.slack.com/apis/socket-mode#connect: the `hello` message.
    let hello = json!({
        "type": "hello",
        "num_connections": count,
        "debug_info": {
            "host": "applink-local",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": app},
    });
    let mut alive = ws
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_ok();
    let mut closing_at: Option<Instant> = None;
    let mut tick = tokio::time::interval(TICK);
    let mut killed = false;
    while alive {
        for frame in due(&inner, &app, id) {
            if ws.send(Message::Text(frame.into())).await.is_err() {
                alive = false;
                break;
            }
        }
        if !alive {
            break;
        }
        tokio::select! {
            control = rx.recv() => match control {
                Some(Control::Wake) => {}
                Some(Control::Disconnect(reason)) => {
                    // api.slack.com/apis/socket-mode#disconnect
                    let message = json!({
                        "type": "disconnect",
                        "reason": reason,
                        "debug_info": {"host": "applink-local"},
                    });
                    if let Some(a) = inner.lock().apps.get_mut(&app) {
                        a.closing.insert(id);
                    }
                    if ws.send(Message::Text(message.to_string().into())).await.is_err() {
                        break;
                    }
                    closing_at = Some(Instant::now() + DISCONNECT_GRACE);
                }
                Some(Control::Raw(text)) => {
                    if ws.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Control::Kill) | None => {
                    killed = true;
                    break;
                }
            },
            message = ws.recv() => match message {
                Some(Ok(Message::Text(text))) => acknowledge(&inner, &app, text.as_str()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = tick.tick() => {
                if closing_at.is_some_and(|t| Instant::now() >= t) {
                    break;
                }
            }
        }
    }
    if !killed {
        let _ = ws.send(Message::Close(None)).await;
    }
    // Without a close frame on a kill: the TCP connection is simply dropped.
    drop(ws);
    let mut state = inner.lock();
    let table = state.timetable.clone();
    if let Some(a) = state.apps.get_mut(&app) {
        a.sockets.remove(&id);
        a.closing.remove(&id);
        // Unacknowledged on a socket that is gone: that attempt failed now; the next is due
        // on Slack's timetable, on whichever socket is open then.
        let now = Instant::now();
        let (dropped, failed) = (&mut a.dropped, &mut a.failed_interactions);
        a.pending.retain_mut(|p| {
            let again = p.socket_closed(id, now, &table);
            if !again {
                give_up(p, dropped, failed);
            }
            again
        });
        a.sweep(now, &table);
        for control in a.sockets.values() {
            let _ = control.send(Control::Wake);
        }
    }
    drop(state);
    inner.changed.notify_waiters();
}

/// The envelopes due on socket `id` now, on Slack's timetable ([`crate::redelivery`]): new
/// events, and events whose last attempt failed and whose retry is due (`retry_attempt`
/// counting the attempts before, `retry_reason: "timeout"`). Events past their last attempt
/// are dropped, as Slack gives up on them. A socket told to disconnect takes nothing more.
fn due(inner: &Inner, app: &str, id: u64) -> Vec<String> {
    let mut state = inner.lock();
    let table = state.timetable.clone();
    let now = Instant::now();
    let Some(a) = state.apps.get_mut(app) else {
        return Vec::new();
    };
    a.sweep(now, &table);
    if a.closing.contains(&id) {
        return Vec::new();
    }
    let count = a
        .pending
        .iter_mut()
        .map(|p| p.advance(now, true, &table))
        .filter(|step| *step == Step::Send)
        .count();
    let envelope_ids: Vec<String> = (0..count).map(|_| state.id("E")).collect();
    let Some(a) = state.apps.get_mut(app) else {
        return Vec::new();
    };
    let mut fresh = envelope_ids.into_iter();
    let mut frames = Vec::new();
    for p in a.pending.iter_mut() {
        if p.advance(now, true, &table) != Step::Send {
            continue;
        }
        let Some(envelope_id) = fresh.next() else {
            break;
        };
        let retry_attempt = p.sent(envelope_id.clone(), id, now, &table);
        // api.slack.com/apis/socket-mode#events: the envelope; only `events_api` ones carry
        // the retry fields (interactions and slash commands are not retried).
        let mut envelope = json!({
            "envelope_id": envelope_id,
            "payload": p.payload,
            "type": p.kind.name(),
            "accepts_response_payload": p.kind.accepts_response_payload(),
        });
        if p.kind == Envelope::EventsApi {
            envelope["retry_attempt"] = retry_attempt.into();
            envelope["retry_reason"] = if retry_attempt == 0 { "" } else { "timeout" }.into();
        }
        a.delivered.push((p.event_id.clone(), retry_attempt));
        frames.push(envelope.to_string());
    }
    frames
}

/// Handles `{"envelope_id": …}` from the client.
fn acknowledge(inner: &Inner, app: &str, text: &str) {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        tracing::debug!("not JSON from a socket client: {text}");
        return;
    };
    let Some(envelope) = value.get("envelope_id").and_then(Value::as_str) else {
        return;
    };
    let mut state = inner.lock();
    let Some(a) = state.apps.get_mut(app) else {
        return;
    };
    a.acked.push(envelope.to_owned());
    if a.ignore_acks > 0 {
        a.ignore_acks -= 1;
        return;
    }
    a.pending
        .retain(|p| !p.envelopes.iter().any(|e| e == envelope));
    drop(state);
    inner.changed.notify_waiters();
}
