//! Inbound mapping, without I/O: timeline events to signals (messages, room presence), typing
//! notifications to typing statuses, invitations to what to accept. The room's state (members,
//! threads) is updated on the way.

use std::collections::BTreeSet;

use chatty_core::{
    Automatic, Body, Edit, Message, Signal, SignalId, Status, StatusChange, SystemError,
    TypingState, now,
};
use ruma::events::room::member::{MembershipState, RoomMemberEventContent};
use ruma::events::room::message::{MessageType, OriginalSyncRoomMessageEvent, Relation};
use ruma::events::room::redaction::SyncRoomRedactionEvent;
use ruma::events::{
    AnyStrippedStateEvent, AnySyncMessageLikeEvent, AnySyncStateEvent, AnySyncTimelineEvent,
    SyncMessageLikeEvent, SyncStateEvent,
};
use ruma::serde::Raw;
use ruma::{MilliSecondsSinceUnixEpoch, OwnedEventId, UserId};
use time::OffsetDateTime;

use crate::COMPONENT;
use crate::state::Shared;

/// The HTML format of `formatted_body`.
const HTML_FORMAT: &str = "org.matrix.custom.html";

/// Maps one timeline event of `room` to the signals it carries (none for what is not mapped:
/// the bot's own messages and reactions, state other than membership, redacted events). Updates
/// the room's members and the threads remembered.
pub(crate) fn timeline_event(
    shared: &Shared,
    room: &str,
    raw: &Raw<AnySyncTimelineEvent>,
) -> Option<Signal> {
    let event = match raw.deserialize() {
        Ok(event) => event,
        Err(error) => return malformed(shared, room, raw, &error),
    };
    match event {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
            SyncMessageLikeEvent::Original(message),
        )) => {
            let file = raw
                .get_field::<serde_json::Value>("content")
                .ok()
                .flatten()
                .and_then(|content| super::media::body(&content));
            let mut signal = message_signal(shared, room, message, file, false)?;
            // A correction of a message Matrix has no event for (see `CORRECTS`).
            if let Body::Message(m) = &mut signal.body
                && m.edit.is_none()
                && let Some(of) = corrects(raw)
            {
                m.edit = Some(Edit::correction(SignalId::from(of.as_str())));
            }
            Some(signal)
        }
        AnySyncTimelineEvent::State(AnySyncStateEvent::RoomMember(SyncStateEvent::Original(
            member,
        ))) => membership(
            shared,
            room,
            member.state_key.as_str(),
            &member.content,
            member.unsigned.prev_content.as_ref().map(|c| &c.membership),
            member.origin_server_ts,
        ),
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::Reaction(
            SyncMessageLikeEvent::Original(reaction),
        )) => {
            if shared.live().user_id.as_deref() == Some(reaction.sender.as_str()) {
                return None;
            }
            let annotation = reaction.content.relates_to;
            let of = SignalId::from(annotation.event_id.as_str());
            let mut signal = Signal::new(Message::reaction(of, annotation.key));
            signal.meta.id = SignalId::from(reaction.event_id.as_str());
            signal.meta.sent = timestamp(reaction.origin_server_ts);
            signal.meta.received = Some(now());
            signal.meta.origin = Some(shared.person(reaction.sender.as_str())?);
            address(shared, room, &mut signal)?;
            Some(signal)
        }
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomRedaction(
            SyncRoomRedactionEvent::Original(redaction),
        )) => {
            let redacts = redaction.content.redacts.or(redaction.redacts)?;
            if shared.live().user_id.as_deref() == Some(redaction.sender.as_str()) {
                return None;
            }
            let retraction = Message::retraction(SignalId::from(redacts.as_str()));
            let mut signal = Signal::new(retraction);
            signal.meta.id = SignalId::from(redaction.event_id.as_str());
            signal.meta.sent = timestamp(redaction.origin_server_ts);
            signal.meta.received = Some(now());
            signal.meta.origin = Some(shared.person(redaction.sender.as_str())?);
            address(shared, room, &mut signal)?;
            Some(signal)
        }
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomEncrypted(encrypted)) => {
            // No end-to-end encryption here: the bot is told that a message could not be read.
            let text = format!(
                "an encrypted message ({}) from {} in {room} cannot be read: chatty-matrix has no \
                 end-to-end encryption",
                encrypted.event_id(),
                encrypted.sender()
            );
            let mut signal = Signal::internal(shared.own(), SystemError::new(COMPONENT, text));
            signal.meta.visible_to = shared.room(room).into_iter().collect();
            Some(signal)
        }
        _ => None,
    }
}

/// The event types [`timeline_event`] maps: one of these that ruma refuses is reported.
const MAPPED: [&str; 5] = [
    "m.room.message",
    "m.reaction",
    "m.room.redaction",
    "m.room.member",
    "m.room.encrypted",
];

/// How much of a value from the event a report quotes.
const QUOTED: usize = 200;

/// A timeline event of a type the session maps that ruma refuses (a file whose `info.size` is
/// a string, a reaction without its key: bridges and other clients send such events): a
/// system error naming it, not nothing. Events of other types, and the bot's own, are left
/// out as before.
fn malformed(
    shared: &Shared,
    room: &str,
    raw: &Raw<AnySyncTimelineEvent>,
    error: &serde_json::Error,
) -> Option<Signal> {
    let field = |name: &str| {
        let value: Option<String> = raw.get_field(name).ok().flatten();
        value.map(|v| v.chars().take(QUOTED).collect::<String>())
    };
    let kind = field("type")?;
    let sender = field("sender").unwrap_or_default();
    if !MAPPED.contains(&kind.as_str()) || shared.live().user_id.as_deref() == Some(&sender) {
        return None;
    }
    let id = field("event_id").unwrap_or_default();
    let why: String = error.to_string().chars().take(QUOTED).collect();
    let text = format!("a malformed {kind} event ({id}) from {sender} in {room}: {why}");
    let mut signal = Signal::internal(shared.own(), SystemError::new(COMPONENT, text));
    signal.meta.visible_to = shared.room(room).into_iter().collect();
    Some(signal)
}

/// The id a message names under [`CORRECTS`](crate::CORRECTS), if it does.
fn corrects(raw: &Raw<AnySyncTimelineEvent>) -> Option<String> {
    let content = raw.get_field::<serde_json::Value>("content").ok()??;
    content.get(crate::CORRECTS)?.as_str().map(str::to_owned)
}

/// A message of `room`'s past (a history page), the bot's own included, as a signal; `None`
/// for other events (they change nothing here: the room's state is the syncs').
pub(crate) fn past_message(
    shared: &Shared,
    room: &str,
    raw: &Raw<AnySyncTimelineEvent>,
) -> Option<Signal> {
    let AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
        SyncMessageLikeEvent::Original(message),
    )) = raw.deserialize().ok()?
    else {
        return None;
    };
    let file = raw
        .get_field::<serde_json::Value>("content")
        .ok()
        .flatten()
        .and_then(|content| super::media::body(&content));
    message_signal(shared, room, message, file, true)
}

/// Takes a state event of `room` (from a sync's `state` section) into the room's members,
/// without a signal: state before the timeline is not news.
pub(crate) fn state_event(shared: &Shared, room: &str, raw: &Raw<AnySyncStateEvent>) {
    if let Ok(AnySyncStateEvent::RoomMember(SyncStateEvent::Original(member))) = raw.deserialize() {
        let _ = member_update(
            shared,
            room,
            member.state_key.as_str(),
            &member.content.membership,
        );
    }
}

/// A message event, as a signal; `file`: the body of an event that carries a file (see
/// [`media`](super::media)), else the message is taken from the content.
fn message_signal(
    shared: &Shared,
    room: &str,
    message: OriginalSyncRoomMessageEvent,
    file: Option<Body>,
    keep_own: bool,
) -> Option<Signal> {
    let id = message.event_id.as_str();
    let sender: &UserId = &message.sender;
    let sent = message.origin_server_ts;
    let content = message.content;
    let own = shared.live().user_id.clone();
    let thread = match &content.relates_to {
        Some(Relation::Thread(thread)) => Some(thread.event_id.to_string()),
        _ => None,
    };
    if let Some(root) = &thread {
        shared.live().threads.insert(id.to_owned(), root.clone());
    }
    if own.as_deref() == Some(sender.as_str()) && !keep_own {
        // The bot's own messages come back in the sync: not news to it.
        return None;
    }
    let response_to = match &content.relates_to {
        Some(Relation::Reply(reply)) => Some(reply.in_reply_to.event_id.clone()),
        Some(Relation::Thread(thread)) => Some(
            thread
                .in_reply_to
                .as_ref()
                .filter(|_| !thread.is_falling_back)
                .map_or(thread.event_id.clone(), |r| r.event_id.clone()),
        ),
        _ => None,
    };
    // An edit (`m.replace`) carries the new message in `m.new_content`.
    let (msgtype, corrects) = match content.relates_to {
        Some(Relation::Replacement(replacement)) => {
            (replacement.new_content.msgtype, Some(replacement.event_id))
        }
        _ => (content.msgtype, None),
    };
    let (text, html, automatic) = match msgtype {
        MessageType::Text(text) => (text.body, html(text.formatted.as_ref()), false),
        MessageType::Notice(notice) => (notice.body, html(notice.formatted.as_ref()), true),
        MessageType::Emote(emote) => (
            format!("/me {}", emote.body),
            html(emote.formatted.as_ref()).map(|h| format!("/me {h}")),
            false,
        ),
        // Locations, encrypted files…: their body is the fallback text (a description, a
        // file name).
        other => (other.body().to_owned(), None, false),
    };
    let mut signal = match file {
        Some(file) if corrects.is_none() => Signal::new(file),
        _ => {
            let mut message = Message::text(text);
            message.html = html;
            if let Some(original) = corrects {
                message = message.correcting(SignalId::from(original.as_str()));
            }
            Signal::new(message)
        }
    };
    signal.meta.id = SignalId::from(id);
    signal.meta.sent = timestamp(sent);
    signal.meta.received = Some(now());
    signal.meta.origin = Some(shared.person(sender.as_str())?);
    signal.meta.response_to = response_to.map(|event: OwnedEventId| SignalId::from(event.as_str()));
    address(shared, room, &mut signal)?;
    if automatic {
        // m.notice is Matrix's automatic traffic: bots must not answer it (spec, m.notice).
        signal.meta.automatic = Some(Automatic::Generated);
    }
    Some(signal)
}

/// Addresses an inbound signal of `room`: to the bot in a direct chat, else to the room.
fn address(shared: &Shared, room: &str, signal: &mut Signal) -> Option<()> {
    let direct = shared.live().direct.contains_key(room);
    if direct {
        if let Some(person) = signal.meta.origin.as_ref() {
            let person = person.id().to_owned();
            shared.live().last_direct.insert(person, room.to_owned());
        }
        signal.meta.addressees = shared.own().into_iter().collect();
    } else {
        let room = shared.room(room)?;
        signal.meta.addressees = vec![room.clone()];
        signal.meta.visible_to = vec![room];
    }
    Some(())
}

/// The HTML of a `formatted_body`, when it is HTML.
fn html(formatted: Option<&ruma::events::room::message::FormattedBody>) -> Option<String> {
    formatted
        .filter(|f| f.format.as_str() == HTML_FORMAT)
        .map(|f| f.body.clone())
}

/// A server timestamp as a time.
fn timestamp(ts: MilliSecondsSinceUnixEpoch) -> Option<OffsetDateTime> {
    let millis = i128::from(u64::from(ts.0));
    OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).ok()
}

/// A membership event: the room's members change, and a join or a leave is an `InRoom`
/// status (a profile change, join after join, is not).
fn membership(
    shared: &Shared,
    room: &str,
    user: &str,
    content: &RoomMemberEventContent,
    before: Option<&MembershipState>,
    sent: MilliSecondsSinceUnixEpoch,
) -> Option<Signal> {
    let changed = member_update(shared, room, user, &content.membership);
    let present = match content.membership {
        MembershipState::Join => true,
        MembershipState::Leave | MembershipState::Ban => false,
        _ => return None,
    };
    let was_present = before.is_some_and(|m| *m == MembershipState::Join);
    if !changed && was_present == present {
        return None;
    }
    let room_address = shared.room(room)?;
    let status = Status::InRoom {
        room: room_address.clone(),
        present,
        role: None,
    };
    let mut change = StatusChange::new(status);
    change.message = content.reason.clone();
    let mut signal = Signal::new(Body::StatusChange(change));
    signal.meta.sent = timestamp(sent);
    signal.meta.received = Some(now());
    signal.meta.origin = Some(shared.person(user)?);
    signal.meta.visible_to = vec![room_address];
    Some(signal)
}

/// Applies a membership to the room's members; whether it changed them. The bot's own leave
/// forgets the room.
fn member_update(shared: &Shared, room: &str, user: &str, membership: &MembershipState) -> bool {
    let mut live = shared.live();
    let own = live.user_id.as_deref() == Some(user);
    match membership {
        MembershipState::Join => live
            .rooms
            .entry(room.to_owned())
            .or_default()
            .insert(user.to_owned()),
        MembershipState::Leave | MembershipState::Ban if own => {
            live.direct.remove(room);
            live.typing.remove(room);
            live.rooms.remove(room).is_some()
        }
        _ => live
            .rooms
            .get_mut(room)
            .is_some_and(|members| members.remove(user)),
    }
}

/// The typing statuses an `m.typing` of `room` means against what the last one said: who
/// started (composing) and who stopped (active). The bot itself is left out.
pub(crate) fn typing(shared: &Shared, room: &str, now_typing: &[ruma::OwnedUserId]) -> Vec<Signal> {
    let own = shared.live().user_id.clone();
    let current: BTreeSet<String> = now_typing
        .iter()
        .map(ToString::to_string)
        .filter(|u| Some(u) != own.as_ref())
        .collect();
    let before = shared
        .live()
        .typing
        .insert(room.to_owned(), current.clone())
        .unwrap_or_default();
    let direct = shared.live().direct.get(room).cloned();
    let started = current
        .difference(&before)
        .map(|u| (u, TypingState::Composing));
    let stopped = before
        .difference(&current)
        .map(|u| (u, TypingState::Active));
    let mut signals = Vec::new();
    for (user, state) in started.chain(stopped) {
        let Some(origin) = shared.person(user) else {
            continue;
        };
        // In a direct chat, the conversation is the person; else the room.
        let conversation = match &direct {
            Some(_) => origin.clone(),
            None => match shared.room(room) {
                Some(room) => room,
                None => continue,
            },
        };
        let status = Status::Typing {
            conversation: conversation.clone(),
            state,
        };
        let mut signal = Signal::new(Body::StatusChange(StatusChange::new(status)));
        signal.meta.received = Some(now());
        signal.meta.origin = Some(origin);
        if direct.is_some() {
            signal.meta.addressees = shared.own().into_iter().collect();
        } else {
            signal.meta.visible_to = vec![conversation];
        }
        signals.push(signal);
    }
    signals
}

/// Who invited the bot to a direct chat, from an invitation's stripped state: the sender of
/// the bot's own `invite` membership when it says `is_direct`.
pub(crate) fn direct_inviter(own: &str, state: &[Raw<AnyStrippedStateEvent>]) -> Option<String> {
    state.iter().find_map(|raw| match raw.deserialize().ok()? {
        AnyStrippedStateEvent::RoomMember(member)
            if member.state_key.as_str() == own
                && member.content.membership == MembershipState::Invite
                && member.content.is_direct == Some(true) =>
        {
            Some(member.sender.to_string())
        }
        _ => None,
    })
}
