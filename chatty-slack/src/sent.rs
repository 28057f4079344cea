//! Whether an answer left before the bot's process stopped ([`Protocol::sent`]): the answer
//! is looked up where it would be on Slack, by the signal id the session puts on every message
//! it posts (metadata `chatty_id`, or a file share's `chatty:f:ID` / `chatty:m:ID` block id).
//!
//! The core asks this, after a restart, of an answer that was recorded as about to leave and
//! never as left: the process may have died after Slack took it (`chat.postMessage` answered
//! `ok`) but before the journal recorded it. `Some(true)` keeps it from being posted twice.
//!
//! Where: each addressee's conversation (the DM with a person, as `send` finds it), at the top
//! level (`conversations.history`) or in the thread the answer would go to
//! (`conversations.replies`), exactly as `send` would place it now (a restarted session asks
//! Slack, with one `conversations.replies` call, whether the answered message is a thread reply,
//! and remembers it, so that an answer sent again goes there too). From when: the `ts` of the
//! message it answers (an answer is posted after what it answers, on Slack's one clock; 2 s
//! earlier when the answer goes to another conversation), else, when that message's place is
//! unknown, the last [`LOOKBACK_SECS`]. How far: [`PAGES`] pages of
//! [`LIMIT`](crate::history::LIMIT) messages (1 000 messages, 5 tier-3 calls, newest first,
//! stopping at the answer), so the search is bounded; past that the session cannot tell.
//!
//! [`Protocol::sent`]: chatty_core::driver::Protocol::sent

use std::time::{SystemTime, UNIX_EPOCH};

use chatty_core::driver::lock;
use chatty_core::{Body, Signal, SignalId};

use crate::history::{self, LIMIT};
use crate::ids::response_target;
use crate::mapper::Mapper;
use crate::outbound::{answered_place, channel_for, thread_for};
use crate::state::{Conn, State};

/// How many pages of history the search reads at most, newest first.
pub(crate) const PAGES: usize = 5;
/// How far back the search goes when the answered message's time is unknown: an answer found
/// there left; one not found may be older, so the session cannot tell.
pub(crate) const LOOKBACK_SECS: u64 = 600;
/// How much earlier than the answered message the search starts when the answer goes to
/// another conversation (Slack's `ts` of two conversations come from different servers).
const ELSEWHERE_SECS: u64 = 2;

/// What the search of one conversation found.
enum Found {
    /// A message of the bot's with the answer's id, on this page (from 1).
    There(usize),
    /// The window was read to its end, in this many pages: not there.
    Absent(usize),
}

/// Whether `signal` (an answer, with the id it had the first time) is on Slack: `Some(true)`
/// if every addressee's conversation holds a message of the bot's with its id, `Some(false)`
/// if one of them was searched from before the answered message to now without it (an answer
/// that reached some addressees and not others is then sent again to all: twice rather than
/// lost), `None` when the session cannot tell (not connected, an edit, a Web API failure, more
/// than [`PAGES`] pages to read, the answered message's time unknown and the answer not in the
/// last [`LOOKBACK_SECS`]); each `None` says why in a debug log.
pub(crate) async fn sent(state: &State, signal: &Signal) -> Option<bool> {
    let name = &state.config.name;
    let id = &signal.meta.id;
    let unsure = |why: String| {
        tracing::debug!(session = %name, signal = %id, "cannot tell whether the answer left: {why}");
        None
    };
    match &signal.body {
        Body::Message(m) if m.edit.is_some() => {
            return unsure("an edit changes a message in place: its time says nothing".into());
        }
        Body::Message(_) | Body::File(_) | Body::UserDefined(_) => {}
        other => return unsure(format!("a {:?} signal is not posted", other.kind())),
    }
    let Some(conn) = state.conn() else {
        return unsure("the session is not connected".into());
    };
    if signal.meta.addressees.is_empty() {
        return unsure("the answer has no addressee".into());
    }
    let answered = signal
        .meta
        .response_to
        .as_ref()
        .map(|r| response_target(r).0);
    let original = match &answered {
        Some(answered) => match answered_place(state, &conn, answered).await {
            Ok(place) => place,
            Err(why) => return unsure(format!("where {answered} is: {why}")),
        },
        None => None,
    };
    for address in &signal.meta.addressees {
        let channel = match channel_for(state, &conn, address).await {
            Ok(channel) => channel,
            Err(refusal) => return unsure(format!("{address}: {}", refusal.message)),
        };
        let thread = signal
            .meta
            .response_to
            .as_ref()
            .and_then(|r| thread_for(&lock(&state.ids), r, &channel));
        let (oldest, bounded) = match &original {
            Some(place) if place.channel == channel => (place.ts.clone(), true),
            Some(place) => (earlier(&place.ts, ELSEWHERE_SECS), true),
            None => (ago(LOOKBACK_SECS), false),
        };
        let at = match &thread {
            Some(ts) => format!("the thread {ts} of {channel}"),
            None => channel.clone(),
        };
        match look(&conn, &channel, thread.as_deref(), &oldest, id).await {
            Err(why) => return unsure(format!("in {at}: {why}")),
            Ok(Found::There(page)) => {
                tracing::debug!(
                    session = %name, signal = %id,
                    "the answer is in {at} (page {page} since {oldest})"
                );
            }
            Ok(Found::Absent(pages)) if bounded => {
                tracing::debug!(
                    session = %name, signal = %id,
                    "the answer is not in {at} since {oldest} ({pages} pages): it did not leave"
                );
                return Some(false);
            }
            Ok(Found::Absent(_)) => {
                return unsure(format!(
                    "not in {at} in the last {LOOKBACK_SECS} s, and the answered message's time \
                     is unknown (it may be older)"
                ));
            }
        }
    }
    Some(true)
}

/// Reads `channel` (or `thread` in it) from `oldest` on, newest first, for a message of the
/// bot's carrying `id`; at most [`PAGES`] pages.
async fn look(
    conn: &Conn,
    channel: &str,
    thread: Option<&str>,
    oldest: &str,
    id: &SignalId,
) -> Result<Found, String> {
    let mut cursor: Option<String> = None;
    for page_number in 1..=PAGES {
        let page = history::since(conn, channel, thread, oldest, cursor.as_deref())
            .await
            .map_err(|(method, e)| e.describe(method))?;
        let there = page
            .messages
            .iter()
            .any(|m| conn.mapper.is_own(m) && Mapper::carried(m).0.as_ref() == Some(id));
        if there {
            return Ok(Found::There(page_number));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(Found::Absent(page_number)),
        }
    }
    Err(format!(
        "more than {} messages since {oldest}: the search stops there",
        PAGES * LIMIT
    ))
}

/// The `ts` `secs` seconds before `ts` (its fraction kept); `0` for a `ts` that is not one.
fn earlier(ts: &str, secs: u64) -> String {
    let (whole, fraction) = ts.split_once('.').unwrap_or((ts, "000000"));
    match whole.parse::<u64>() {
        Ok(whole) => format!("{}.{fraction}", whole.saturating_sub(secs)),
        Err(_) => "0".into(),
    }
}

/// The `ts` of `secs` seconds ago, by this machine's clock.
fn ago(secs: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("{}.000000", now.saturating_sub(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_before_the_answered_message() {
        assert_eq!(earlier("1700000010.000123", 2), "1700000008.000123");
        assert_eq!(earlier("1", 2), "0.000000");
        assert_eq!(earlier("x.1", 2), "0");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (whole, _) = ago(600)
            .split_once('.')
            .map(|(w, f)| (w.to_owned(), f.to_owned()))
            .unwrap();
        let whole: u64 = whole.parse().unwrap();
        assert!(whole + 600 >= now && whole + 600 <= now + 1, "{whole}");
    }
}
