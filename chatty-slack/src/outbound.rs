//! Outbound: carrying one signal through the Web API, one at a time and in order (the
//! mapping to Web API arguments is [`plan`]).
//!
//! - **Where**: a signal to a person goes to the DM with them: the DM they wrote to the bot in
//!   (learnt from their messages), else one `conversations.open` opens (`im:write`); a signal
//!   to a conversation goes there. `visible_to` is not carried: on Slack whoever is in a
//!   conversation sees what is posted there, and nothing can be copied to anyone else, so the
//!   addresses in it (the bot's own, which `Signal::reply_all` puts there, included) are
//!   neither posted to nor checked.
//! - **Threads**: an answer goes into the thread of the message it answers when that message
//!   is a thread reply, else to the top level of the conversation; a `response_to` made with
//!   [`thread_of`](crate::thread_of) goes into the thread under the message it names.

mod plan;

use chatty_core::driver::{Deliveries, lock};
use chatty_core::reexports::serde_json::{self, Map, Value, json};
use chatty_core::{
    Address, AddressKind, Availability, Body, DeliveryStatus, FailureKind, Refusal, Signal, Status,
};
use slack_morphism::prelude::SlackApiFilesGetUploadUrlExternalResponse;
use slack_morphism::prelude::ValueStruct as _;

use crate::api::ApiError;
use crate::ids::{Ids, Place, response_target};
use crate::mapper::Mapper;
use crate::state::{Conn, State};
use plan::{Plan, describe, plan};

/// Sends one signal: pending while it goes out, sent on Slack's `ok`, failed (logged at warn)
/// with Slack's refusal.
pub(crate) async fn send(
    state: &State,
    deliveries: &Deliveries,
    signal: Signal,
) -> Result<(), Refusal> {
    let Some(conn) = state.conn() else {
        return Err(Refusal::new(
            FailureKind::Unreachable,
            "the Slack session is not connected yet",
        ));
    };
    deliveries.advance(&signal.meta.id, DeliveryStatus::Pending);
    let result = {
        let _order = state.sending.lock().await;
        carry(state, &conn, deliveries, &signal).await
    };
    if let Err(refusal) = &result {
        tracing::warn!(
            session = %state.config.name, signal = %signal.meta.id,
            kind = ?refusal.kind, code = ?refusal.code,
            "Slack refused a signal: {}", refusal.message
        );
        let failed = DeliveryStatus::Failed {
            kind: refusal.kind,
            message: refusal.message.clone(),
        };
        deliveries.advance(&signal.meta.id, failed);
    }
    result
}

/// Carries one signal (the caller holds the send lock, so signals go out in order).
async fn carry(
    state: &State,
    conn: &Conn,
    deliveries: &Deliveries,
    signal: &Signal,
) -> Result<(), Refusal> {
    match &signal.body {
        Body::StatusChange(change) => return status(conn, &change.status).await,
        Body::Message(_) | Body::File(_) | Body::UserDefined(_) => {}
        other => {
            return Err(Refusal::new(
                FailureKind::Other,
                format!("a {:?} signal cannot be sent to Slack", other.kind()),
            ));
        }
    }
    if signal.meta.addressees.is_empty() {
        return Err(Refusal::new(
            FailureKind::UnknownAddressee,
            "the signal has no addressee",
        ));
    }
    let edited = match &signal.body {
        Body::Message(m) => m.edit.as_ref().and_then(|e| lock(&state.ids).place(&e.of)),
        _ => None,
    };
    let plan = plan(signal, edited).map_err(|m| Refusal::new(FailureKind::Rejected, m))?;
    for address in &signal.meta.addressees {
        let channel = channel_for(state, conn, address).await?;
        let thread_ts = signal
            .meta
            .response_to
            .as_ref()
            .and_then(|r| thread_for(&lock(&state.ids), r, &channel));
        match execute(conn, &plan, &channel, thread_ts.as_deref()).await {
            Ok(Some(ts)) => {
                deliveries.advance(&signal.meta.id, DeliveryStatus::Sent);
                let place = Place::new(&channel, &ts, thread_ts.as_deref());
                lock(&state.ids).remember(signal.meta.id.clone(), place);
            }
            Ok(None) => deliveries.advance(&signal.meta.id, DeliveryStatus::Sent),
            Err((method, e)) => return Err(e.refusal(method)),
        }
    }
    Ok(())
}

/// The `thread_ts` of an answer to `response_to` posted in `channel`: the thread of the
/// answered message if it is a thread reply; with [`thread_of`](crate::thread_of), the thread
/// under it; nothing for a message elsewhere or unknown.
pub(crate) fn thread_for(
    ids: &Ids,
    response_to: &chatty_core::SignalId,
    channel: &str,
) -> Option<String> {
    let (answered, explicit) = response_target(response_to);
    let place = ids.place(&answered).filter(|p| p.channel == channel)?;
    match (place.thread, explicit) {
        (Some(thread), _) => Some(thread),
        (None, true) => Some(place.ts),
        (None, false) => None,
    }
}

/// The conversation an address names: the DM for a person (learnt, or opened once and then
/// remembered), the channel for a conversation id.
pub(crate) async fn channel_for(
    state: &State,
    conn: &Conn,
    address: &Address,
) -> Result<String, Refusal> {
    let id = conn
        .mapper
        .slack_id(address)
        .map_err(|m| Refusal::new(FailureKind::UnknownAddressee, m))?;
    if Mapper::kind_of_id(id) != AddressKind::Individual || id.starts_with('D') {
        return Ok(id.to_owned());
    }
    if let Some(dm) = lock(&state.ids).dm_with(id) {
        return Ok(dm);
    }
    let mut args = Map::new();
    args.insert("users".into(), id.into());
    let answer = conn
        .web
        .api
        .call("conversations.open", args, true)
        .await
        .map_err(|e| e.refusal("conversations.open"))?;
    let dm = answer["channel"]["id"]
        .as_str()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            Refusal::new(
                FailureKind::Other,
                "conversations.open answered no channel id",
            )
        })?
        .to_owned();
    lock(&state.ids).learn_dm(id, &dm);
    Ok(dm)
}

/// Runs a plan in `channel`; the `ts` of the new message where there is one.
async fn execute(
    conn: &Conn,
    plan: &Plan,
    channel: &str,
    thread_ts: Option<&str>,
) -> Result<Option<String>, (&'static str, ApiError)> {
    let api = &conn.web.api;
    match plan {
        Plan::Post(args) => {
            let mut args = args.clone();
            args.insert("channel".into(), channel.into());
            if let Some(t) = thread_ts {
                args.insert("thread_ts".into(), t.into());
            }
            tracing::debug!(channel, text = %describe(&args), "chat.postMessage");
            let answer = api
                .call("chat.postMessage", args, true)
                .await
                .map_err(|e| ("chat.postMessage", e))?;
            Ok(answer["ts"].as_str().map(str::to_owned))
        }
        Plan::Update(place, args) => {
            let mut args = args.clone();
            args.insert("channel".into(), place.channel.clone().into());
            args.insert("ts".into(), place.ts.clone().into());
            api.call("chat.update", args, true)
                .await
                .map_err(|e| ("chat.update", e))?;
            Ok(None)
        }
        Plan::Delete(place) => {
            let mut args = Map::new();
            args.insert("channel".into(), place.channel.clone().into());
            args.insert("ts".into(), place.ts.clone().into());
            api.call("chat.delete", args, true)
                .await
                .map_err(|e| ("chat.delete", e))?;
            Ok(None)
        }
        Plan::Upload { files, blocks } => {
            let mut ids = Vec::new();
            for (name, media_type, data) in files {
                ids.push(upload(conn, name, media_type.as_deref(), data).await?);
            }
            let mut args = Map::new();
            args.insert(
                "files".into(),
                Value::Array(
                    ids.iter()
                        .zip(files)
                        .map(|(id, (name, _, _))| json!({"id": id, "title": name}))
                        .collect(),
                ),
            );
            args.insert("channel_id".into(), channel.into());
            args.insert("blocks".into(), blocks.clone());
            if let Some(t) = thread_ts {
                args.insert("thread_ts".into(), t.into());
            }
            api.call("files.completeUploadExternal", args, true)
                .await
                .map_err(|e| ("files.completeUploadExternal", e))?;
            // The share's ts comes with its event (the session's own, skipped), not here.
            Ok(None)
        }
    }
}

/// Files v2: `files.getUploadURLExternal`, then the bytes to the upload URL.
async fn upload(
    conn: &Conn,
    name: &str,
    media_type: Option<&str>,
    data: &[u8],
) -> Result<String, (&'static str, ApiError)> {
    let method = "files.getUploadURLExternal";
    let mut args = Map::new();
    args.insert("filename".into(), name.into());
    args.insert("length".into(), data.len().to_string().into());
    let answer = conn
        .web
        .api
        .call(method, args, false)
        .await
        .map_err(|e| (method, e))?;
    let typed: SlackApiFilesGetUploadUrlExternalResponse =
        serde_json::from_value(answer).map_err(|e| {
            let cause = format!("{method} answered no usable upload_url and file_id: {e}");
            (method, ApiError::Transport(cause))
        })?;
    let url = typed.upload_url.value().to_string();
    conn.web
        .api
        .upload(&url, media_type.unwrap_or("application/octet-stream"), data)
        .await
        .map_err(|e| ("files upload", e))?;
    Ok(typed.file_id.value().clone())
}

/// The bot's own presence (`users.setPresence`), or joining / leaving a channel.
async fn status(conn: &Conn, status: &Status) -> Result<(), Refusal> {
    match status {
        Status::Presence { availability } => {
            let presence = match availability {
                Availability::Available | Availability::Chatty => "auto",
                _ => "away",
            };
            let mut args = Map::new();
            args.insert("presence".into(), presence.into());
            conn.web
                .api
                .call("users.setPresence", args, false)
                .await
                .map(drop)
                .map_err(|e| e.refusal("users.setPresence"))
        }
        Status::InRoom { room, present, .. } => {
            let channel = conn
                .mapper
                .slack_id(room)
                .map_err(|m| Refusal::new(FailureKind::UnknownAddressee, m))?;
            let method = if *present {
                "conversations.join"
            } else {
                "conversations.leave"
            };
            let mut args = Map::new();
            args.insert("channel".into(), channel.into());
            conn.web
                .api
                .call(method, args, true)
                .await
                .map(drop)
                .map_err(|e| e.refusal(method))
        }
        Status::Typing { .. } => Err(Refusal::new(
            FailureKind::Other,
            "typing indicators are not in the Events API (RTM only)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::thread_of;

    #[test]
    fn answers_go_into_a_thread_only_where_the_original_was_in_one() {
        let mut ids = Ids::default();
        ids.remember("top".into(), Place::new("C1", "1.000001", None));
        ids.remember(
            "root".into(),
            Place::new("C1", "2.000001", Some("2.000001")),
        );
        ids.remember(
            "reply".into(),
            Place::new("C1", "3.000001", Some("2.000001")),
        );
        // A top-level message (a thread's root too) is answered at the top level.
        assert_eq!(thread_for(&ids, &"top".into(), "C1"), None);
        assert_eq!(thread_for(&ids, &"root".into(), "C1"), None);
        assert_eq!(thread_for(&ids, &"C1/9.000001".into(), "C1"), None);
        // A thread reply is answered in its thread.
        assert_eq!(
            thread_for(&ids, &"reply".into(), "C1").as_deref(),
            Some("2.000001")
        );
        // Asked for, a thread under any message; in its own thread for a thread reply.
        assert_eq!(
            thread_for(&ids, &thread_of(&"top".into()), "C1").as_deref(),
            Some("1.000001")
        );
        assert_eq!(
            thread_for(&ids, &thread_of(&"C1/9.000001".into()), "C1").as_deref(),
            Some("9.000001")
        );
        assert_eq!(
            thread_for(&ids, &thread_of(&"reply".into()), "C1").as_deref(),
            Some("2.000001")
        );
        // Never in another conversation's thread, never for an unknown id.
        assert_eq!(thread_for(&ids, &thread_of(&"top".into()), "C2"), None);
        assert_eq!(thread_for(&ids, &thread_of(&"nothing".into()), "C1"), None);
    }
}
