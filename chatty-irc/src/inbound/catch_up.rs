//! Catching up on a channel when the bot joins it (see [`history`](crate::history)): its
//! position is read from the journal's mark once per process, and where the server offers
//! `draft/chathistory`, what came after the position is asked for with `CHATHISTORY AFTER`
//! (a server replaying history on join, as InspIRCd's `chanhistory` does, needs no request).

use chatty_core::driver::Link;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::connect;
use crate::history::{Position, mark_name};
use crate::proto::Line;
use crate::state::Shared;

/// The bot joined `channel` (folded): learns its position and returns the `CHATHISTORY`
/// request to send, if the server takes one.
pub(crate) async fn joined(shared: &Shared, link: &Link, channel: &str) -> Option<Line> {
    if !shared.history().knows(channel) {
        let position = match link.mark(&mark_name(channel)).await {
            Ok(Some(mark)) => Position::from_mark(&mark).or_else(|| {
                tracing::warn!(channel, mark, "a history mark that is not one: ignored");
                None
            }),
            Ok(None) => None,
            Err(e) => {
                let cause = format!(
                    "reading where the history of {channel} was given up to failed ({e}): its \
                     messages from while the bot was away are not caught up"
                );
                connect::report(link, &cause).await;
                None
            }
        };
        shared.history().learn(channel, position);
    }
    let position = shared.history().position(channel).cloned()?;
    request(shared, channel, &position)
}

/// `CHATHISTORY AFTER channel <position> <limit>`, where the server offers it.
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
    time.to_offset(UtcOffset::UTC).format(format).ok()
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
    }
}
