//! Gaps: a room's timeline in a sync that says `limited` holds only its newest events; the
//! ones before them, back to the previous sync, are fetched backwards with
//! `/rooms/{id}/messages` and given first, in order.

use std::time::Duration;

use ruma::OwnedRoomId;
use ruma::api::client::message::get_message_events;
use ruma::events::AnySyncTimelineEvent;
use ruma::serde::Raw;
use ruma::uint;

use crate::http::CallError;
use crate::state::Shared;

/// The most events one gap is filled with (a bot away for days in a busy room gets the last
/// 10 000, and a system error says what is missing).
pub(crate) const GAP_LIMIT: usize = 10_000;

/// How long one page may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The events of `room` before `prev_batch` back to the position `since` or to the event
/// `last_seen` (whichever comes first), oldest first; `true` with them when the limit cut the
/// gap short.
pub(crate) async fn fill(
    shared: &Shared,
    token: &str,
    room: &str,
    prev_batch: &str,
    since: &str,
    last_seen: Option<&str>,
) -> Result<(Vec<Raw<AnySyncTimelineEvent>>, bool), CallError> {
    let room_id = OwnedRoomId::try_from(room)
        .map_err(|e| CallError::Decode(format!("{room} is not a room ID: {e}")))?;
    let mut events = Vec::new();
    let mut from = prev_batch.to_owned();
    loop {
        let mut request = get_message_events::v3::Request::backward(room_id.clone()).from(from);
        request.to = Some(since.to_owned());
        request.limit = uint!(100);
        let page = shared.http.call(request, Some(token), PAGE_TIMEOUT).await?;
        let empty = page.chunk.is_empty();
        for raw in page.chunk {
            let raw: Raw<AnySyncTimelineEvent> = raw.cast_unchecked();
            let id = raw.get_field::<String>("event_id").ok().flatten();
            if id.is_some() && id.as_deref() == last_seen {
                events.reverse();
                return Ok((events, false));
            }
            events.push(raw);
            if events.len() >= GAP_LIMIT {
                events.reverse();
                return Ok((events, true));
            }
        }
        match page.end {
            Some(end) if !empty => from = end,
            _ => break,
        }
    }
    events.reverse();
    Ok((events, false))
}
