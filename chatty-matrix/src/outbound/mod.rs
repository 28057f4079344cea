//! Outbound: a signal becomes requests to the homeserver (a message per room, typing, joining
//! or leaving), sent at once; the signal is `Sent` once the server accepted every event.

mod map;
mod media;

use std::time::Duration;

use chatty_core::driver::Driver;
use chatty_core::session::Refusal;
use chatty_core::{
    Address, Body, DeliveryStatus, EditKind, FailureKind, Signal, Status, TypingState,
};
use ruma::api::client::membership::{join_room_by_id_or_alias, leave_room};
use ruma::api::client::message::send_message_event;
use ruma::api::client::presence::set_presence;
use ruma::api::client::profile::get_profile;
use ruma::api::client::redact::redact_event;
use ruma::api::client::room::create_room;
use ruma::api::client::typing::create_typing_event::{self, v3::Typing};
use ruma::events::reaction::ReactionEventContent;
use ruma::events::relation::Annotation;
use ruma::events::room::message::RoomMessageEventContent;
use ruma::events::{AnyMessageLikeEventContent, MessageLikeEventType};
use ruma::serde::Raw;
use ruma::{OwnedEventId, OwnedRoomId, OwnedRoomOrAliasId, OwnedTransactionId, OwnedUserId};

use crate::caps;
use crate::http::CallError;
use crate::state::Shared;

pub(crate) use map::txn_id;
pub(crate) use media::download;

/// How long one request of a send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a send rate-limited by the server is tried again.
const RATE_LIMIT_TRIES: usize = 5;
/// How long a typing notification lasts on the server unless renewed.
const TYPING_FOR: Duration = Duration::from_secs(30);

/// Sends `signal`; it is `Pending` until the server accepted it, then `Sent`.
pub(crate) async fn send(shared: &Shared, driver: &Driver, signal: Signal) -> Result<(), Refusal> {
    caps::capabilities()
        .check(&signal)
        .map_err(|reason| Refusal::new(FailureKind::Rejected, reason))?;
    let id = signal.meta.id.clone();
    driver.deliveries().advance(&id, DeliveryStatus::Pending);
    let token = match logged_in(shared).await {
        Some(token) => token,
        None => {
            let refusal = Refusal::new(FailureKind::Unreachable, "not logged in (yet)");
            let failed = DeliveryStatus::Failed {
                kind: refusal.kind,
                message: refusal.message.clone(),
            };
            driver.deliveries().advance(&id, failed);
            return Err(refusal);
        }
    };
    let status = match deliver(shared, &token, signal).await {
        Ok(()) => DeliveryStatus::Sent,
        Err(refusal) => {
            let failed = DeliveryStatus::Failed {
                kind: refusal.kind,
                message: refusal.message.clone(),
            };
            driver.deliveries().advance(&id, failed);
            return Err(refusal);
        }
    };
    driver.deliveries().advance(&id, status);
    Ok(())
}

/// The access token, waiting for the session's login (as long as a send keeps trying): a
/// send right at the start goes once the session has logged in.
async fn logged_in(shared: &Shared) -> Option<String> {
    let give_up = tokio::time::Instant::now() + shared.config.send_retry();
    loop {
        if let Some(token) = shared.live().token.clone() {
            return Some(token);
        }
        if tokio::time::Instant::now() >= give_up {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Carries `signal` to the server.
async fn deliver(shared: &Shared, token: &str, signal: Signal) -> Result<(), Refusal> {
    let token = token.to_owned();
    match &signal.body {
        Body::Message(message) => {
            let rooms = targets(shared, &token, &signal).await?;
            let reply_to = signal
                .meta
                .response_to
                .as_ref()
                .and_then(|id| OwnedEventId::try_from(id.as_str()).ok());
            let thread = reply_to.as_ref().and_then(|event| {
                let live = shared.live();
                let root = live.threads.get(event.as_str())?;
                OwnedEventId::try_from(root.as_str()).ok()
            });
            let automatic = signal.meta.automatic.is_some();
            if let Some(edit) = &message.edit {
                return change(shared, &token, &signal, message, edit, rooms).await;
            }
            let content = map::content(message, automatic, reply_to, thread);
            let files = media::files_of(message);
            if files.is_empty() {
                post(shared, &token, &signal, rooms, &[raw(&content)?]).await?;
                return Ok(());
            }
            // One event per file, the first with the message's text as its caption and the
            // reply.
            let relates_to = serde_json::to_value(&content)
                .ok()
                .and_then(|c| c.get("m.relates_to").cloned());
            let text = message.text_with_choice();
            let mut contents = Vec::new();
            for (n, outgoing) in files.iter().enumerate() {
                let (url, size) = media::upload(shared, &token, outgoing.file).await?;
                let caption = (n == 0).then_some((text.as_str(), message.html.as_deref()));
                let relates = relates_to.as_ref().filter(|_| n == 0);
                contents.push(media::content(outgoing, &url, size, caption, relates)?);
            }
            // A caption the first file could not carry (its name as the text) goes first.
            if !text.is_empty() && text == files[0].file.name {
                contents.insert(0, raw(&content)?);
            }
            post(shared, &token, &signal, rooms, &contents).await?;
        }
        Body::File(file) => {
            let rooms = targets(shared, &token, &signal).await?;
            let outgoing = media::Outgoing {
                file,
                inline: false,
            };
            let (url, size) = media::upload(shared, &token, file).await?;
            let content = media::content(&outgoing, &url, size, None, None)?;
            post(shared, &token, &signal, rooms, &[content]).await?;
        }
        Body::StatusChange(change) => match &change.status {
            Status::Presence { availability } => {
                let user = own_user(shared)?;
                let state = crate::presence::state(*availability);
                let mut request = set_presence::v3::Request::new(user, state.clone());
                request.status_msg = change.message.clone();
                call(shared, request, &token).await?;
                // Each sync keeps it (see `connect::sync`), starting with a new one now.
                shared.live().own_presence = Some(state);
                shared.resync.notify_one();
            }
            Status::Typing {
                conversation,
                state,
            } => {
                // Typing alone does not open a direct chat.
                let room = room_of(shared, &token, conversation, false).await?;
                let user = own_user(shared)?;
                let typing = match state {
                    TypingState::Composing => {
                        Typing::Yes(create_typing_event::v3::TypingInfo::new(TYPING_FOR))
                    }
                    _ => Typing::No,
                };
                let request = create_typing_event::v3::Request::new(user, room, typing);
                call(shared, request, &token).await?;
            }
            Status::InRoom { room, present, .. } => {
                let id = room.id();
                if *present {
                    let target = OwnedRoomOrAliasId::try_from(id)
                        .map_err(|e| unknown(format!("{id}: {e}")))?;
                    let request = join_room_by_id_or_alias::v3::Request::new(target);
                    call(shared, request, &token).await?;
                } else {
                    let target =
                        OwnedRoomId::try_from(id).map_err(|e| unknown(format!("{id}: {e}")))?;
                    let mut request = leave_room::v3::Request::new(target);
                    request.reason = change.message.clone();
                    call(shared, request, &token).await?;
                }
            }
            _ => {
                return Err(Refusal::new(
                    FailureKind::Rejected,
                    "the Matrix session does not set presence yet",
                ));
            }
        },
        _ => {
            return Err(Refusal::new(
                FailureKind::Rejected,
                format!("the Matrix session cannot send a {:?}", signal.kind()),
            ));
        }
    }
    Ok(())
}

/// A message content as raw JSON.
fn raw(content: &RoomMessageEventContent) -> Result<Raw<AnyMessageLikeEventContent>, Refusal> {
    let json = serde_json::value::to_raw_value(content)
        .map_err(|e| Refusal::new(FailureKind::Other, e.to_string()))?;
    Ok(Raw::from_json(json))
}

/// Posts `contents` (`m.room.message`s, in order) to each of `rooms`, one transaction each
/// (numbered room by room, so that the one content of a message keeps the room's number); the
/// events are remembered as what `signal` became (for an edit of it).
async fn post(
    shared: &Shared,
    token: &str,
    signal: &Signal,
    rooms: Vec<OwnedRoomId>,
    contents: &[Raw<AnyMessageLikeEventContent>],
) -> Result<(), Refusal> {
    let mut events = Vec::new();
    let each = contents.len();
    let mut sends = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        for (c, content) in contents.iter().enumerate() {
            sends.push((r * each + c, room, content));
        }
    }
    for (n, room, content) in sends {
        let room = room.clone();
        let txn = OwnedTransactionId::from(txn_id(&signal.meta.id, n));
        let request = send_message_event::v3::Request::new_raw(
            room.clone(),
            txn,
            MessageLikeEventType::RoomMessage,
            content.clone(),
        );
        let response = call(shared, request, token).await?;
        let event = response.event_id.to_string();
        {
            let mut live = shared.live();
            live.seen.insert(event.clone(), ());
            live.sent_unread(room.as_str(), event.clone(), signal.meta.id.clone());
        }
        events.push((room.to_string(), event));
    }
    shared
        .live()
        .sent
        .insert(signal.meta.id.as_str().to_owned(), events);
    Ok(())
}

/// An edit: each event the message `edit.of` became (one the bot sent lately, or an event ID
/// in the rooms addressed) is replaced (`m.replace`) or redacted. A correction of a message
/// without a known event is posted as a new message that names what it corrects
/// ([`CORRECTS`](crate::CORRECTS)); a retraction of one, or a reaction to one, is refused. A
/// reaction is an `m.reaction` annotating the event.
async fn change(
    shared: &Shared,
    token: &str,
    signal: &Signal,
    message: &chatty_core::Message,
    edit: &chatty_core::Edit,
    rooms: Vec<OwnedRoomId>,
) -> Result<(), Refusal> {
    let of = edit.of.as_str();
    let known = shared.live().sent.get(of).cloned();
    let events: Vec<(String, String)> = match known {
        Some(events) => events,
        None if of.starts_with('$') => rooms
            .iter()
            .map(|room| (room.to_string(), of.to_owned()))
            .collect(),
        None if edit.kind == EditKind::Reaction => {
            return Err(Refusal::new(
                FailureKind::Rejected,
                format!("cannot react to {of}: not a message this session knows on Matrix"),
            ));
        }
        None if edit.kind == EditKind::Correction => {
            let automatic = signal.meta.automatic.is_some();
            let content = map::unrelated_correction(message, automatic, of)
                .map_err(|e| Refusal::new(FailureKind::Other, e.to_string()))?;
            return post(shared, token, signal, rooms, &[content]).await;
        }
        None => {
            return Err(Refusal::new(
                FailureKind::Rejected,
                format!("{of} is not a message this session sent lately: its event is not known"),
            ));
        }
    };
    let automatic = signal.meta.automatic.is_some();
    let mut reactions = Vec::new();
    for (n, (room, event)) in events.into_iter().enumerate() {
        let room = OwnedRoomId::try_from(room).map_err(|e| unknown(e.to_string()))?;
        let event = OwnedEventId::try_from(event).map_err(|e| unknown(e.to_string()))?;
        let txn = OwnedTransactionId::from(txn_id(&signal.meta.id, n));
        match edit.kind {
            EditKind::Retraction => {
                let request = redact_event::v3::Request::new(room, event, txn);
                call(shared, request, token).await?;
            }
            EditKind::Reaction => {
                let content =
                    ReactionEventContent::new(Annotation::new(event, message.text.clone()));
                let request = send_message_event::v3::Request::new(room.clone(), txn, &content)
                    .map_err(|e| Refusal::new(FailureKind::Other, e.to_string()))?;
                let reaction = call(shared, request, token).await?.event_id.to_string();
                // A retraction of the reaction's id redacts it.
                shared.live().seen.insert(reaction.clone(), ());
                reactions.push((room.to_string(), reaction));
            }
            _ => {
                let content = map::replacement(message, automatic, event);
                let request = send_message_event::v3::Request::new(room, txn, &content)
                    .map_err(|e| Refusal::new(FailureKind::Other, e.to_string()))?;
                call(shared, request, token).await?;
            }
        }
    }
    if !reactions.is_empty() {
        shared
            .live()
            .sent
            .insert(signal.meta.id.as_str().to_owned(), reactions);
    }
    Ok(())
}

/// The rooms a message goes to: its rooms, and the direct chat of each person (each once;
/// never the bot itself).
async fn targets(
    shared: &Shared,
    token: &str,
    signal: &Signal,
) -> Result<Vec<OwnedRoomId>, Refusal> {
    let own = shared.own();
    let mut rooms: Vec<OwnedRoomId> = Vec::new();
    for address in signal.meta.addressees.iter().chain(&signal.meta.visible_to) {
        if own.as_ref() == Some(address) {
            continue;
        }
        let room = room_of(shared, token, address, true).await?;
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    if rooms.is_empty() {
        return Err(unknown("the message has no addressee".to_owned()));
    }
    Ok(rooms)
}

/// The room `address` names: a room ID, or a person's direct chat with the bot (with `open`,
/// created with the person invited when there is none yet).
async fn room_of(
    shared: &Shared,
    token: &str,
    address: &Address,
    open: bool,
) -> Result<OwnedRoomId, Refusal> {
    let id = address.id();
    if !id.starts_with('@') {
        return OwnedRoomId::try_from(id)
            .map_err(|e| unknown(format!("{id} is not a room ID: {e}")));
    }
    let known = shared.live().direct_room(id).map(str::to_owned);
    if let Some(room) = known {
        return OwnedRoomId::try_from(room).map_err(|e| unknown(e.to_string()));
    }
    if !open {
        return Err(unknown(format!("the bot has no direct chat with {id}")));
    }
    // One at a time: a send that waited here finds the chat the one before it opened.
    let _opening = shared.opening.lock().await;
    let known = shared.live().direct_room(id).map(str::to_owned);
    if let Some(room) = known {
        return OwnedRoomId::try_from(room).map_err(|e| unknown(e.to_string()));
    }
    let person = OwnedUserId::try_from(id).map_err(|e| unknown(format!("{id}: {e}")))?;
    // Synapse makes the room, and "invites", also for a user it does not have: ask for the
    // person's profile first. Only a 404 refuses; another failure (a remote server out of
    // reach over federation) leaves it to the invitation.
    let profile = get_profile::v3::Request::new(person.clone());
    if let Err(refusal) = call(shared, profile, token).await
        && refusal.kind == FailureKind::UnknownAddressee
    {
        return Err(unknown(format!("{id}: no such user ({})", refusal.message)));
    }
    let mut request = create_room::v3::Request::new();
    request.invite = vec![person];
    request.is_direct = true;
    request.preset = Some(create_room::v3::RoomPreset::TrustedPrivateChat);
    let room = call(shared, request, token).await?.room_id;
    // Known at once, so that the next message goes to the same room.
    {
        let mut live = shared.live();
        live.rooms.entry(room.to_string()).or_default();
        live.last_direct.insert(id.to_owned(), room.to_string());
    }
    if let Err(e) = crate::direct::record(shared, token, room.as_str(), id, SEND_TIMEOUT).await {
        tracing::warn!(%room, error = %e, "cannot record a direct chat in m.direct");
    }
    Ok(room)
}

/// The bot's user ID.
fn own_user(shared: &Shared) -> Result<OwnedUserId, Refusal> {
    let user = shared.live().user_id.clone();
    user.and_then(|u| OwnedUserId::try_from(u).ok())
        .ok_or_else(|| Refusal::new(FailureKind::Unreachable, "not logged in (yet)"))
}

fn unknown(reason: String) -> Refusal {
    Refusal::new(FailureKind::UnknownAddressee, reason)
}

/// Calls the server, waiting out rate limits a few times and, for the session's
/// `send_retry` (30 s by default), a server out of reach or failing (a transport error,
/// a 5xx: a restart); a failure as a refusal.
async fn call<R>(shared: &Shared, request: R, token: &str) -> Result<R::IncomingResponse, Refusal>
where
    R: ruma::api::OutgoingRequest<PathBuilder = ruma::api::path_builder::VersionHistory>,
    for<'a> R::Authentication:
        ruma::api::auth_scheme::AuthScheme<Input<'a> = ruma::api::auth_scheme::SendAccessToken<'a>>,
{
    let mut tries = 0;
    let give_up = tokio::time::Instant::now() + shared.config.send_retry();
    let mut wait = Duration::from_millis(200);
    loop {
        tries += 1;
        match shared
            .http
            .call(request.clone(), Some(token), SEND_TIMEOUT)
            .await
        {
            Ok(response) => return Ok(response),
            Err(error) if unreachable(&error) && tokio::time::Instant::now() + wait < give_up => {
                tracing::debug!(error = %error, "the homeserver is out of reach, again in {wait:?}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(CallError::Status {
                status: 429,
                retry_after,
                ..
            }) if tries < RATE_LIMIT_TRIES => {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
            }
            Err(error) => return Err(refusal(&error)),
        }
    }
}

/// Whether `error` says the server is out of reach or failing for now (not a rate limit,
/// which has its own tries).
fn unreachable(error: &CallError) -> bool {
    match error {
        CallError::Transport(_) => true,
        CallError::Status { status, .. } => *status >= 500,
        CallError::Decode(_) => false,
    }
}

/// A failed request as a refusal of the signal.
fn refusal(error: &CallError) -> Refusal {
    let kind = match error {
        CallError::Transport(_) => FailureKind::Unreachable,
        CallError::Status { status: 429, .. } => FailureKind::RateLimited,
        CallError::Status { status: 413, .. } => FailureKind::TooLarge,
        CallError::Status { status: 403, .. } => FailureKind::Rejected,
        CallError::Status { status: 404, .. } => FailureKind::UnknownAddressee,
        _ if error.is_transient() => FailureKind::Unreachable,
        _ => FailureKind::Other,
    };
    Refusal::new(kind, error.to_string())
}
