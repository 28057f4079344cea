//! Socket Mode (api.slack.com/apis/socket-mode): `hello`, `events_api` envelopes, acks,
//! redelivery with `retry_attempt` / `retry_reason`, and `disconnect`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::control::Control;
use crate::shared::Inner;

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
        let Some(a) = ws_state.apps.get_mut(&app) else {
            return;
        };
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
        if closing_at.is_none() {
            for frame in due(&inner, &app, id) {
                if ws.send(Message::Text(frame.into())).await.is_err() {
                    alive = false;
                    break;
                }
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
    if let Some(a) = state.apps.get_mut(&app) {
        a.sockets.remove(&id);
        for p in a.pending.iter_mut() {
            if p.in_flight.is_some_and(|(s, _)| s == id) {
                // Unacknowledged on a socket that is gone: due again at once (on another socket).
                p.in_flight = Some((id, Instant::now()));
            }
        }
        for control in a.sockets.values() {
            let _ = control.send(Control::Wake);
        }
    }
}

/// The envelopes due on socket `id` now: new events, and events whose ack is overdue (sent
/// again with `retry_attempt` incremented and `retry_reason: "timeout"`). Events past the last
/// attempt are dropped, as Slack gives up on them.
fn due(inner: &Inner, app: &str, id: u64) -> Vec<String> {
    let mut state = inner.lock();
    let ack_timeout = state.ack_timeout;
    let max_attempts = state.max_attempts;
    let mut envelope_ids = Vec::new();
    let count = state.apps.get(app).map_or(0, |a| {
        a.pending
            .iter()
            .filter(|p| match p.in_flight {
                None => true,
                Some((_, deadline)) => Instant::now() >= deadline,
            })
            .count()
    });
    for _ in 0..count {
        envelope_ids.push(state.id("E"));
    }
    let Some(a) = state.apps.get_mut(app) else {
        return Vec::new();
    };
    let now = Instant::now();
    a.pending
        .retain(|p| p.attempts < max_attempts || p.in_flight.is_none_or(|(_, d)| now < d));
    let mut frames = Vec::new();
    let mut fresh = envelope_ids.into_iter();
    for p in a.pending.iter_mut() {
        let overdue = match p.in_flight {
            None => true,
            Some((_, deadline)) => now >= deadline,
        };
        if !overdue {
            continue;
        }
        let Some(envelope_id) = fresh.next() else {
            break;
        };
        // api.slack.com/apis/socket-mode#events: the `events_api` envelope.
        let envelope = json!({
            "envelope_id": envelope_id,
            "payload": p.payload,
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": p.attempts,
            "retry_reason": if p.attempts == 0 { "" } else { "timeout" },
        });
        p.envelopes.push(envelope_id);
        p.in_flight = Some((id, now + ack_timeout));
        a.delivered.push((p.event_id.clone(), p.attempts));
        p.attempts += 1;
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
