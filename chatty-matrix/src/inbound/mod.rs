//! Serving a connection: the long-poll `/sync` loop. Each sync's events are mapped ([`map`]),
//! gaps filled first ([`gaps`]), repeats dropped by event ID, and the signals fed to the
//! journal; then the sync's `next_batch` becomes the journal mark, so that a restarted process
//! goes on from there.

mod gaps;
#[cfg(test)]
mod hostile_tests;
pub(crate) mod map;
mod media;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chatty_core::driver::{Deliveries, Failure, Link};
use chatty_core::{ConnectionErrorKind, DeliveryStatus, Signal, SystemError};
use ruma::api::client::membership::join_room_by_id;
use ruma::api::client::sync::sync_events::v3::{self as sync, State};
use ruma::events::receipt::{ReceiptEventContent, ReceiptType};
use ruma::events::{AnySyncEphemeralRoomEvent, AnySyncTimelineEvent};
use ruma::serde::Raw;

use crate::COMPONENT;
use crate::connect::{self, Connection, MARK};
use crate::state::Shared;

/// Serves `connection`: its first sync, then one long-poll sync after the other, until the
/// connection is lost or the session is to stop.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    connection: Connection,
    link: &Link,
    deliveries: &Deliveries,
) -> Result<(), Failure> {
    let result = run(&shared, connection, link, deliveries).await;
    shared.live().connected = false;
    result
}

async fn run(
    shared: &Shared,
    connection: Connection,
    link: &Link,
    deliveries: &Deliveries,
) -> Result<(), Failure> {
    let Connection { first, since } = connection;
    // Without a position, the first sync is the past: taken in, not given.
    let give = since.is_some();
    handle(shared, link, deliveries, *first, since.as_deref(), give).await?;
    let config = &shared.config;
    loop {
        let (token, since) = {
            let live = shared.live();
            (live.token.clone(), live.since.clone())
        };
        let token =
            token.ok_or_else(|| Failure::new(ConnectionErrorKind::Authentication, "logged out"))?;
        tokio::select! {
            () = link.stopping() => return Ok(()),
            // The same sync again, from the same position, with what changed.
            () = shared.resync.notified() => {}
            synced = connect::sync(
                shared,
                &token,
                since.as_deref(),
                config.sync_timeout(),
                config.connect_timeout(),
            ) => {
                let response = synced.map_err(|e| connect::lost_token(shared, &e))?;
                handle(shared, link, deliveries, response, since.as_deref(), true).await?;
            }
        }
    }
}

/// Takes in one sync's answer: direct chats, invitations (accepted), each room's events (a gap
/// filled first), typing, read receipts and presence (the bot's messages read, into `deliveries`); `give`: feed the signals to the bot (not for the past). Then the
/// position moves on, in memory and in the journal.
pub(crate) async fn handle(
    shared: &Shared,
    link: &Link,
    deliveries: &Deliveries,
    response: sync::Response,
    since: Option<&str>,
    give: bool,
) -> Result<(), Failure> {
    let token = shared
        .live()
        .token
        .clone()
        .ok_or_else(|| Failure::new(ConnectionErrorKind::Authentication, "logged out"))?;
    let timeout = shared.config.connect_timeout();
    for raw in &response.account_data.events {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(raw.json().get())
            && value.get("type").and_then(|t| t.as_str()) == Some("m.direct")
            && let Some(content) = value.get("content")
        {
            crate::direct::apply_json(shared, &content.to_string());
        }
    }
    let own = shared.live().user_id.clone().unwrap_or_default();
    // Whether every signal reached the journal (or the bot): else the position stays.
    let mut fed = true;
    for (room, invited) in &response.rooms.invite {
        // Invitations are accepted: a bot is where it is asked to be.
        let request = join_room_by_id::v3::Request::new(room.clone());
        if let Err(e) = shared.http.call(request, Some(&token), timeout).await {
            if e.is_transient() {
                return Err(e.failure());
            }
            report(
                link,
                &format!("cannot accept the invitation to {room}: {e}"),
            )
            .await;
            continue;
        }
        // The room becomes known with the bot's join in the next sync's timeline: what came
        // before it there is the past.
        if let Some(person) = map::direct_inviter(&own, &invited.invite_state.events)
            && let Err(e) =
                crate::direct::record(shared, &token, room.as_str(), &person, timeout).await
        {
            tracing::warn!(%room, error = %e, "cannot record a direct chat in m.direct");
        }
    }
    for (room_id, joined) in response.rooms.join {
        let room = room_id.as_str();
        let state = match &joined.state {
            State::Before(state) | State::After(state) => &state.events,
            _ => &Vec::new(),
        };
        let known = shared.live().rooms.contains_key(room);
        for raw in state {
            map::state_event(shared, room, raw);
        }
        let timeline = joined.timeline;
        // A room joined in this sync: its events before the bot was invited (or, without an
        // invitation in the timeline, before its join) are the past. What was said between the
        // invitation and the join is for the bot: the first message of a person opening a
        // direct chat comes before the bot has joined it.
        let mut past = if known || !give {
            0
        } else {
            let at = |membership: &str| {
                timeline
                    .events
                    .iter()
                    .position(|raw| is_own_membership(raw, &own, membership))
            };
            // A cut timeline starts after the invitation: the gap below is filled back to the
            // previous sync (after the invitation), and all of the timeline is given.
            let join = if timeline.limited { None } else { at("join") };
            at("invite").or(join).unwrap_or(0)
        };
        // A gap: the timeline was cut. Filled back to the last event seen or the previous sync
        // (for a room joined in this sync: what came after the invitation, before the cut).
        if let (true, Some(since), Some(prev)) = (give, since, timeline.prev_batch.as_deref())
            && timeline.limited
        {
            let last_seen = shared.live().last_event.get(room).cloned();
            let (events, cut) = gaps::fill(shared, &token, room, prev, since, last_seen.as_deref())
                .await
                .map_err(|e| connect::lost_token(shared, &e))?;
            tracing::debug!(room, events = events.len(), "gap filled");
            if cut {
                let text = format!(
                    "more than {} events were missed in {room}: only the last ones are given",
                    gaps::GAP_LIMIT
                );
                report(link, &text).await;
            }
            for raw in &events {
                fed &= take(shared, link, room, raw, true).await;
            }
        }
        for raw in &timeline.events {
            fed &= take(shared, link, room, raw, give && past == 0).await;
            past = past.saturating_sub(1);
        }
        for raw in &joined.ephemeral.events {
            match raw.deserialize() {
                Ok(AnySyncEphemeralRoomEvent::Typing(typing)) => {
                    for signal in map::typing(shared, room, &typing.content.user_ids) {
                        if give {
                            fed &= link.feed(signal).await.is_ok();
                        }
                    }
                }
                Ok(AnySyncEphemeralRoomEvent::Receipt(receipt)) => {
                    read(shared, deliveries, room, &own, &receipt.content);
                }
                _ => {}
            }
        }
    }
    for raw in &response.presence.events {
        if let Some(signal) = crate::presence::change(shared, raw)
            && give
        {
            fed &= link.feed(signal).await.is_ok();
        }
    }
    for (room_id, left) in response.rooms.leave {
        for raw in &left.timeline.events {
            fed &= take(shared, link, room_id.as_str(), raw, give).await;
        }
        shared.live().rooms.remove(room_id.as_str());
    }
    if !fed {
        // The session is ending or the bot stopped listening: what was not fed is given by
        // the next process, from the position before this sync.
        return Ok(());
    }
    shared.live().since = Some(response.next_batch.clone());
    if let Err(e) = link.set_mark(MARK, &response.next_batch).await {
        tracing::warn!(error = %e, "cannot keep the sync position in the journal");
    }
    Ok(())
}

/// One timeline event of `room`: dropped when seen already, else mapped and (with `give`)
/// fed to the bot; `false` when it could not be fed.
async fn take(
    shared: &Shared,
    link: &Link,
    room: &str,
    raw: &Raw<AnySyncTimelineEvent>,
    give: bool,
) -> bool {
    if let Ok(Some(id)) = raw.get_field::<String>("event_id") {
        let mut live = shared.live();
        if !live.seen.first_time(id.clone()) {
            return true;
        }
        live.last_event.insert(room.to_owned(), id);
    }
    let signal = map::timeline_event(shared, room, raw);
    match (give, signal) {
        // Into the journal with the others (Matrix is told of nothing received). Refused once
        // the session ends or the bot is gone: the driver stops serving then, and the position
        // is not moved past it.
        (true, Some(signal)) => link.feed(signal).await.is_ok(),
        _ => true,
    }
}

/// Public read receipts (`m.read`) of other members of `room`: the bot's messages they mark
/// read become `Read`.
fn read(
    shared: &Shared,
    deliveries: &Deliveries,
    room: &str,
    own: &str,
    receipts: &ReceiptEventContent,
) {
    for (event, by_type) in receipts.iter() {
        let Some(readers) = by_type.get(&ReceiptType::Read) else {
            continue;
        };
        if readers.keys().any(|user| user.as_str() != own) {
            for signal in shared.live().read_up_to(room, event.as_str()) {
                deliveries.advance(&signal, DeliveryStatus::Read);
            }
        }
    }
}

/// Whether `raw` is the bot's own membership event of `membership` (`invite`, `join`).
fn is_own_membership(raw: &Raw<AnySyncTimelineEvent>, own: &str, membership: &str) -> bool {
    let field = |name: &str| raw.get_field::<String>(name).ok().flatten();
    field("type").as_deref() == Some("m.room.member")
        && field("state_key").as_deref() == Some(own)
        && raw
            .get_field::<serde_json::Value>("content")
            .ok()
            .flatten()
            .and_then(|c| {
                c.get("membership")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .as_deref()
            == Some(membership)
}

/// Tells the bot about something the session could not do (the connection goes on).
pub(crate) async fn report(link: &Link, error: &str) {
    tracing::warn!(error, "chatty-matrix");
    let body = SystemError::new(COMPONENT, error);
    let _ = link.push(Signal::internal(link.own(), body)).await;
}
