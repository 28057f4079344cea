//! History queries ([`Query::ReceivedFrom`], [`Query::SentTo`]): a room's past messages read
//! backwards from the homeserver (`/rooms/{id}/messages`), a page after an event found through
//! `/rooms/{id}/context/{event}`.
//!
//! A room's address asks about the room (received: everyone's but the bot's; sent: the
//! bot's); a person's asks about the direct chat with them (received: theirs; sent: the
//! bot's). Messages only: joins, reactions and redactions are not history here.

use std::time::Duration;

use chatty_core::{Address, Answer, History, Page, Query, QueryError, Signal, SignalId};
use ruma::api::client::context::get_context;
use ruma::api::client::message::get_message_events;
use ruma::events::AnySyncTimelineEvent;
use ruma::serde::Raw;
use ruma::{OwnedEventId, OwnedRoomId, UInt, uint};

use crate::inbound::map;
use crate::state::Shared;

/// How long one request may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many pages of events a query reads at most to fill its page of signals.
const MAX_PAGES: usize = 20;

/// Answers a history query: `sent` for [`Query::SentTo`].
pub(crate) async fn answer(
    shared: &Shared,
    query: &Query,
    address: &Address,
    page: &Page,
    sent: bool,
) -> Result<Answer, QueryError> {
    let failed = |message: String| QueryError::Failed { message };
    let token = shared
        .live()
        .token
        .clone()
        .ok_or_else(|| QueryError::not_supported(query, "not logged in (yet)"))?;
    let own = shared.live().user_id.clone().unwrap_or_default();
    let id = address.id();
    let (room, from_person) = if id.starts_with('@') {
        let room = shared.live().direct_room(id).map(str::to_owned);
        match room {
            Some(room) => (room, Some(id.to_owned())),
            // No direct chat with them: nothing was said there.
            None => return Ok(Answer::History(History::new(Vec::new(), None))),
        }
    } else {
        (id.to_owned(), None)
    };
    let room_id = OwnedRoomId::try_from(room.as_str())
        .map_err(|_| QueryError::not_supported(query, "a room ID (!…) or a person (@…)"))?;
    let wanted = |sender: &str| {
        if sent {
            sender == own
        } else {
            sender != own && from_person.as_deref().is_none_or(|p| p == sender)
        }
    };
    // Where to start: the newest, or just before the event `before`.
    let mut from = match &page.before {
        None => None,
        Some(before) => {
            let event = OwnedEventId::try_from(before.as_str())
                .map_err(|_| failed(format!("{before} is not a Matrix event ID")))?;
            let mut request = get_context::v3::Request::new(room_id.clone(), event);
            request.limit = uint!(0);
            let context = shared
                .http
                .call(request, Some(&token), PAGE_TIMEOUT)
                .await
                .map_err(|e| failed(e.to_string()))?;
            Some(
                context
                    .start
                    .ok_or_else(|| failed(format!("no position before {before}")))?,
            )
        }
    };
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX).max(1);
    let mut signals: Vec<Signal> = Vec::new();
    let mut more = true;
    for _ in 0..MAX_PAGES {
        let mut request = get_message_events::v3::Request::backward(room_id.clone());
        request.from = from.clone();
        request.limit = UInt::try_from(limit.min(100)).unwrap_or(uint!(100));
        let answer = shared
            .http
            .call(request, Some(&token), PAGE_TIMEOUT)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let empty = answer.chunk.is_empty();
        for raw in answer.chunk {
            let raw: Raw<AnySyncTimelineEvent> = raw.cast_unchecked();
            let sender = raw.get_field::<String>("sender").ok().flatten();
            if !sender.as_deref().is_some_and(wanted) {
                continue;
            }
            if let Some(mut signal) = map::past_message(shared, &room, &raw) {
                if sent {
                    // The bot's own: to whom it was said.
                    signal.meta.addressees = vec![address.clone()];
                }
                signals.push(signal);
                if signals.len() == limit {
                    break;
                }
            }
        }
        match answer.end {
            Some(end) if !empty && signals.len() < limit => from = Some(end),
            Some(_) if !empty => break,
            _ => {
                more = false;
                break;
            }
        }
    }
    let next = match signals.last() {
        Some(last) if more && signals.len() == limit => {
            Some(Page::first(page.limit).with_before(SignalId::from(last.meta.id.as_str())))
        }
        _ => None,
    };
    Ok(Answer::History(History::new(signals, next)))
}
