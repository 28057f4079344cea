//! Catching up on a channel when the bot joins it (see [`history`](crate::history)): its
//! position is read from the journal's mark once per process, and where the server offers
//! `draft/chathistory`, what came after the position is asked for with `CHATHISTORY AFTER`
//! (a server replaying history on join, as InspIRCd's `chanhistory` does, needs no request).
//!
//! Private messages the same way, where the server offers `draft/chathistory`: on each
//! connection `CHATHISTORY TARGETS` asks who wrote since the private conversations' position
//! (the journal mark [`PRIVATE_MARK`]: the newest private message given), and for each nick it
//! names, `CHATHISTORY AFTER` asks for what came after that conversation's position (its own
//! mark, else the private conversations' time). On the first connection ever (no mark), the
//! private messages from before are the past: nothing of them is given, and the position starts
//! at the connection's time.

use chatty_core::driver::Link;
use chatty_core::now;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::connect;
use crate::history::{PRIVATE_MARK, Position, mark_name};
use crate::proto::Line;
use crate::state::Shared;

/// The bot joined `channel` (folded): learns its position and returns the `CHATHISTORY`
/// request to send, if the server takes one.
pub(crate) async fn joined(shared: &Shared, link: &Link, channel: &str) -> Option<Line> {
    if !shared.history().knows(channel) {
        let position = read_mark(link, &mark_name(channel), channel).await;
        shared.history().learn(channel, position);
    }
    let position = shared.history().position(channel).cloned()?;
    request(shared, channel, &position)
}

/// The server takes `CHATHISTORY` requests: `CHATHISTORY TARGETS` from the private
/// conversations' position to now, or, without a position (the first connection ever), the
/// position to keep as the mark [`PRIVATE_MARK`] (now).
pub(crate) async fn targets(shared: &Shared, link: &Link) -> (Option<Line>, Option<String>) {
    let Some(limit) = shared.live().chathistory else {
        return (None, None);
    };
    if !shared.history().knows_private() {
        let position = read_mark(link, PRIVATE_MARK, "the private messages").await;
        shared.history().learn_private(position);
    }
    let since = shared.history().private_position().and_then(|p| p.time);
    let Some(since) = since else {
        // The private messages from before the bot first came are its past.
        let position = Position {
            time: Some(now()),
            msgid: None,
        };
        shared.history().private_given(&position);
        return (None, Some(position.to_mark()));
    };
    // Until a minute from now: the server's clock may be ahead of the bot's.
    let until = now() + time::Duration::minutes(1);
    let (Some(since), Some(until)) = (timestamp(since), timestamp(until)) else {
        return (None, None);
    };
    let ask = Line::new(
        "CHATHISTORY",
        [
            "TARGETS",
            &format!("timestamp={since}"),
            &format!("timestamp={until}"),
            &limit.to_string(),
        ],
    );
    (Some(ask), None)
}

/// `nick` (folded) wrote to the bot while it was away: learns its conversation's position (its
/// mark, else the private conversations' time) and returns the `CHATHISTORY AFTER` request.
pub(crate) async fn target(shared: &Shared, link: &Link, nick: &str) -> Option<Line> {
    if !shared.history().knows(nick) {
        let position = read_mark(link, &mark_name(nick), nick).await.or_else(|| {
            let time = shared.history().private_position()?.time?;
            Some(Position {
                time: Some(time),
                msgid: None,
            })
        });
        shared.history().learn(nick, position);
    }
    let position = shared.history().position(nick).cloned()?;
    request(shared, nick, &position)
}

/// The position the journal mark `name` holds (of `what`, for the words of a failure).
async fn read_mark(link: &Link, name: &str, what: &str) -> Option<Position> {
    match link.mark(name).await {
        Ok(Some(mark)) => Position::from_mark(&mark).or_else(|| {
            tracing::warn!(name, mark, "a history mark that is not one: ignored");
            None
        }),
        Ok(None) => None,
        Err(e) => {
            let cause = format!(
                "reading where the history of {what} was given up to failed ({e}): its \
                 messages from while the bot was away are not caught up"
            );
            connect::report(link, &cause).await;
            None
        }
    }
}

/// `CHATHISTORY AFTER <channel or nick> <position> <limit>`, where the server offers it.
pub(crate) fn request(shared: &Shared, channel: &str, position: &Position) -> Option<Line> {
    let limit = shared.live().chathistory?;
    let after = match (&position.msgid, position.time) {
        (Some(id), _) => format!("msgid={id}"),
        (None, Some(time)) => format!("timestamp={}", timestamp(time)?),
        (None, None) => return None,
    };
    Some(Line::new(
        "CHATHISTORY",
        ["AFTER", channel, &after, &limit.to_string()],
    ))
}

/// A time as CHATHISTORY's `timestamp=` takes it: `YYYY-MM-DDThh:mm:ss.sssZ`.
fn timestamp(time: OffsetDateTime) -> Option<String> {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    // `to_offset` panics past the year 9999 (a server's `time` tag can say so).
    time.checked_to_offset(UtcOffset::UTC)?.format(format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IrcConfig;

    #[test]
    fn requests_only_where_the_server_takes_them() {
        let shared = Shared::new(IrcConfig::new("s", "bot"));
        let by_id = Position::from_mark("2026-12-07T08:00:02.4Z abc").unwrap();
        assert_eq!(request(&shared, "#chat", &by_id), None);
        shared.live().chathistory = Some(50);
        assert_eq!(
            request(&shared, "#chat", &by_id).unwrap().format().unwrap(),
            "CHATHISTORY AFTER #chat msgid=abc 50"
        );
        let by_time = Position::from_mark("2026-12-07T09:00:02.4+01:00 ").unwrap();
        assert_eq!(
            request(&shared, "#chat", &by_time)
                .unwrap()
                .format()
                .unwrap(),
            "CHATHISTORY AFTER #chat timestamp=2026-12-07T08:00:02.400Z 50"
        );
        // A `time` tag at the end of the year 9999 west of UTC is past the year 9999 in UTC:
        // no request (and no panic).
        let past = Position::from_mark("9999-12-31T23:59:59.000-01:00 ").unwrap();
        assert_eq!(request(&shared, "#chat", &past), None);
    }
}
