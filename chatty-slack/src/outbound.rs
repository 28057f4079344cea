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
//!   [`thread_of`](crate::thread_of) goes into the thread under the message it names. Whether
//!   a message the session has not seen is a thread reply (after a restart, the journal gives
//!   it again) is asked of Slack once, with `conversations.replies`.
//! - **Reactions** (`react`): `reactions.add` of the emoji's name on the message a reaction
//!   names, `reactions.remove` for a retraction of a reaction's id; carried once, whatever the
//!   addressees.

mod plan;
mod react;

use chatty_core::driver::{Deliveries, lock};
use chatty_core::session::Refusal;
use chatty_core::{
    Address, AddressKind, Availability, Body, DeliveryStatus, FailureKind, Signal, SignalId, Status,
};
use slack_morphism::prelude::*;

use crate::api::{ApiError, Named as _, Session};
use crate::history;
use crate::ids::{Ids, Place, response_target};
use crate::mapper::Mapper;
use crate::state::{Conn, State};
use plan::{Plan, plan};

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
    if let Body::Message(message) = &signal.body {
        let change = react::change(&lock(&state.ids), message);
        if let Some(change) = change {
            return react::carry(state, conn, deliveries, signal, change?).await;
        }
    }
    let edited = match &signal.body {
        Body::Message(m) => m.edit.as_ref().and_then(|e| lock(&state.ids).place(&e.of)),
        _ => None,
    };
    let plan = plan(signal, edited).map_err(|m| Refusal::new(FailureKind::Rejected, m))?;
    if let Some(response_to) = &signal.meta.response_to {
        // A message this session has not seen (the journal gave it again after a restart, or
        // it is older than what is remembered): whether it is a thread reply is asked of
        // Slack, so that the answer goes into its thread all the same.
        let (answered, _) = response_target(response_to);
        if let Err(why) = answered_place(state, conn, &answered).await {
            tracing::debug!(
                session = %state.config.name, signal = %signal.meta.id,
                "the thread of {answered} is unknown, the answer goes to the top level: {why}"
            );
        }
    }
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

/// Where the answered message is, its thread included: remembered, or read from a
/// `CHANNEL/TS` id with its thread asked of Slack (a restarted session has not seen the
/// message: the journal gave it again) and then remembered, so that the answer, sent again,
/// goes into that thread as the first one did. `None` for an id that names no place.
pub(crate) async fn answered_place(
    state: &State,
    conn: &Conn,
    answered: &SignalId,
) -> Result<Option<Place>, String> {
    let remembered = lock(&state.ids).remembered(answered);
    if remembered.is_some() {
        return Ok(remembered);
    }
    let Some(place) = lock(&state.ids).place(answered) else {
        return Ok(None);
    };
    let thread = history::thread_of_message(conn, &place.channel, &place.ts)
        .await
        .map_err(|(method, e)| e.describe(method))?;
    let place = Place::new(&place.channel, &place.ts, thread.as_deref());
    lock(&state.ids).remember(answered.clone(), place.clone());
    Ok(Some(place))
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
    let request = SlackApiConversationsOpenRequest::new().with_users(vec![id.into()]);
    let answer = conn
        .web
        .api
        .session()
        .conversations_open(&request)
        .await
        .named("conversations.open")
        .map_err(|(method, e)| e.refusal(method))?;
    let dm = answer.channel.id.to_string();
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
    let session = conn.web.api.session();
    let thread_ts = thread_ts.map(|t| SlackTs(t.to_owned()));
    match plan {
        Plan::Post(content) => {
            let method = "chat.postMessage";
            let request = SlackApiChatPostMessageRequest::new(channel.into(), content.clone())
                .opt_thread_ts(thread_ts);
            tracing::debug!(channel, text = ?content.text, "{method}");
            // Not `chat_post_message`: it would add slack-morphism's throttle of one message a
            // second per team (see `WebApi`); the request and answer are its types all the same.
            let answer: SlackApiChatPostMessageResponse = session
                .http_session_api
                .http_post(method, &request, None)
                .await
                .named(method)?;
            Ok(Some(answer.ts.to_string()))
        }
        Plan::Update(place, content) => {
            let request = SlackApiChatUpdateRequest::new(
                place.channel.as_str().into(),
                content.clone(),
                SlackTs(place.ts.clone()),
            );
            session.chat_update(&request).await.named("chat.update")?;
            Ok(None)
        }
        Plan::Delete(place) => {
            let request = SlackApiChatDeleteRequest::new(
                place.channel.as_str().into(),
                SlackTs(place.ts.clone()),
            );
            session.chat_delete(&request).await.named("chat.delete")?;
            Ok(None)
        }
        Plan::Upload { files, blocks } => {
            let mut shared = Vec::new();
            for (name, media_type, data) in files {
                let id = upload(&session, name, media_type.as_deref(), data).await?;
                shared.push(SlackApiFilesComplete::new(id).with_title(name.clone()));
            }
            let request = SlackApiFilesCompleteUploadExternalRequest::new(shared)
                .with_channel_id(channel.into())
                .with_blocks(blocks.clone())
                .opt_thread_ts(thread_ts);
            session
                .files_complete_upload_external(&request)
                .await
                .named("files.completeUploadExternal")?;
            // The share's ts comes with its event (the session's own, skipped), not here.
            Ok(None)
        }
    }
}

/// Files v2: `files.getUploadURLExternal`, then the bytes to the upload URL.
async fn upload(
    session: &Session<'_>,
    name: &str,
    media_type: Option<&str>,
    data: &[u8],
) -> Result<SlackFileId, (&'static str, ApiError)> {
    let request = SlackApiFilesGetUploadUrlExternalRequest::new(name.to_owned(), data.len());
    let target = session
        .get_upload_url_external(&request)
        .await
        .named("files.getUploadURLExternal")?;
    let media_type = media_type.unwrap_or("application/octet-stream").to_owned();
    // Not `files_upload_via_url`, whose request holds a copy of the bytes.
    let _: SlackApiFilesUploadViaUrlResponse = session
        .http_session_api
        .http_post_uri_binary(target.upload_url.value().clone(), media_type, data, None)
        .await
        .named("files upload")?;
    Ok(target.file_id)
}

/// The bot's own presence (`users.setPresence`), or joining / leaving a channel.
async fn status(conn: &Conn, status: &Status) -> Result<(), Refusal> {
    let session = conn.web.api.session();
    let refused = |(method, e): (&str, ApiError)| e.refusal(method);
    match status {
        Status::Presence { availability } => {
            let presence = match availability {
                Availability::Available | Availability::Chatty => "auto",
                _ => "away",
            };
            let request = SlackApiUsersSetPresenceRequest::new(presence.to_owned());
            session
                .users_set_presence(&request)
                .await
                .named("users.setPresence")
                .map(drop)
                .map_err(refused)
        }
        Status::InRoom { room, present, .. } => {
            let channel: SlackChannelId = conn
                .mapper
                .slack_id(room)
                .map_err(|m| Refusal::new(FailureKind::UnknownAddressee, m))?
                .into();
            if *present {
                let request = SlackApiConversationsJoinRequest::new(channel);
                let joined = session.conversations_join(&request).await;
                joined
                    .named("conversations.join")
                    .map(drop)
                    .map_err(refused)
            } else {
                let request = SlackApiConversationsLeaveRequest::new(channel);
                let left = session.conversations_leave(&request).await;
                left.named("conversations.leave").map(drop).map_err(refused)
            }
        }
        Status::Typing { .. } => Err(Refusal::new(
            FailureKind::Other,
            "typing indicators are not in the Events API (RTM only)",
        )),
        other => Err(Refusal::new(
            FailureKind::Rejected,
            format!("the Slack session cannot carry the status {other:?}"),
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
