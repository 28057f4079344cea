//! Catching up on a channel's history after the bot was away (a lost connection, a restart of
//! its process), without giving anything twice.
//!
//! A channel's **position** is the `msgid` and `time` of the last of its messages the bot was
//! given. It is kept in memory (so a reconnection catches up from it) and as the journal mark
//! `history:<channel>` ([`mark_name`]) when the router has a journal (so a restarted process
//! does).
//!
//! History comes in a `chathistory` batch (IRCv3 `batch`): the one a server replays on join
//! (InspIRCd's `chanhistory` with mode `+H`), or the answer to `CHATHISTORY AFTER` where the
//! server offers `draft/chathistory`. The batch's lines are held until the batch ends, then
//! [`History::select`] picks what came after the position: the lines after the one with the
//! position's `msgid`, else (that line no longer in the history) those sent in the position's
//! second or later (history times may be cut to whole seconds). Every `msgid` given is
//! remembered, so a line given live or in an earlier batch is not given again (and the journal
//! drops a signal id it has seen, across restarts). Without a position (the channel's first
//! join), the history is the channel's past: nothing of it is given, and its newest line
//! becomes the position.

use std::collections::{HashMap, HashSet};

use chatty_core::driver::Recent;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::proto::{CaseMapping, Line};

/// How many message ids are remembered for deduplication.
const SEEN: usize = 10_000;

/// The client tag carrying the id of the signal a message of the bot is the last line of
/// (`+` and a vendor's DNS name, as IRCv3 message-tags asks).
pub(crate) const ID_TAG: &str = "+chatty-rs.github.io/id";

/// The prefix of a channel's (or a private conversation's) journal mark.
pub(crate) const MARK_PREFIX: &str = "history:";

/// The journal mark of the private conversations as a whole: the time of the newest private
/// message given, from which `CHATHISTORY TARGETS` asks who wrote since (no nick or channel
/// has this name).
pub(crate) const PRIVATE_MARK: &str = "history-private";

/// The journal mark of `channel` (its folded name), or of the private conversation with a nick
/// (folded).
pub(crate) fn mark_name(channel: &str) -> String {
    format!("{MARK_PREFIX}{channel}")
}

/// Where a channel's history was given up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    /// When the last message given was sent (server-time), if the server said.
    pub(crate) time: Option<OffsetDateTime>,
    /// Its `msgid`, if it had one.
    pub(crate) msgid: Option<String>,
}

impl Position {
    /// The position of `line`, when it carries a `msgid` or `time`.
    pub(crate) fn of(line: &Line) -> Option<Position> {
        let position = Position {
            time: line.tag("time").and_then(parse_time),
            msgid: line.tag("msgid").map(str::to_owned),
        };
        (position.time.is_some() || position.msgid.is_some()).then_some(position)
    }

    /// The mark's text: the time (RFC 3339, or `-`), a space, the `msgid` (possibly empty).
    pub(crate) fn to_mark(&self) -> String {
        let time = self
            .time
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "-".to_owned());
        format!("{time} {}", self.msgid.as_deref().unwrap_or_default())
    }

    /// Reads a mark written by [`to_mark`](Position::to_mark); `None` if it is not one.
    pub(crate) fn from_mark(mark: &str) -> Option<Position> {
        let (time, msgid) = mark.split_once(' ')?;
        let time = match time {
            "-" => None,
            time => Some(parse_time(time)?),
        };
        let msgid = (!msgid.is_empty()).then(|| msgid.to_owned());
        Some(Position { time, msgid })
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// A `chathistory` batch being read.
#[derive(Debug)]
struct Replay {
    /// The channel it is the history of (folded), when the batch names one.
    channel: Option<String>,
    /// Its messages, in order.
    lines: Vec<Line>,
    /// The channel's live messages that came while it was read, in order.
    live: Vec<Line>,
}

/// What a batch of history brings.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Selected {
    /// The channel (folded).
    pub(crate) channel: String,
    /// The lines to give the bot, in order.
    pub(crate) new: Vec<Line>,
    /// The channel's position after them (to keep and mark), when it moved.
    pub(crate) position: Option<Position>,
    /// Messages may be missing: the position's message is no longer in the history, and the
    /// oldest line the server still has came after it.
    pub(crate) gap: bool,
    /// The channel's live messages that came while the history was read: to be mapped after
    /// it, as live ones.
    pub(crate) live: Vec<Line>,
    /// How many messages the batch held.
    pub(crate) count: usize,
}

/// What the session knows of its channels' histories: their positions, the message ids given
/// and the history batches being read. Kept across connections.
#[derive(Debug)]
pub(crate) struct History {
    /// Each channel's position (folded name); `None`: known to have none (no mark).
    positions: HashMap<String, Option<Position>>,
    /// The message ids given lately.
    seen: Recent<String, ()>,
    /// Open `chathistory` batches by reference.
    replays: HashMap<String, Replay>,
    /// The ids of the bot's own messages seen in histories or echoed (their id tag): they
    /// left.
    left: Recent<String, ()>,
    /// The channels whose history was read on this connection.
    read: HashSet<String>,
    /// How the server compares names (ISUPPORT `CASEMAPPING`).
    pub(crate) casemapping: CaseMapping,
    /// Where the private conversations as a whole were given up to: `None` until read from the
    /// journal, then `Some(None)` when there is no mark.
    private: Option<Option<Position>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            positions: HashMap::new(),
            seen: Recent::new(SEEN),
            replays: HashMap::new(),
            left: Recent::new(SEEN),
            read: HashSet::new(),
            casemapping: CaseMapping::default(),
            private: None,
        }
    }
}

impl History {
    /// Whether the position of `channel` is known (in memory, or read from the journal).
    pub(crate) fn knows(&self, channel: &str) -> bool {
        self.positions.contains_key(channel)
    }

    /// The position of `channel`, if it has one.
    pub(crate) fn position(&self, channel: &str) -> Option<&Position> {
        self.positions.get(channel).and_then(Option::as_ref)
    }

    /// Sets what the journal says of `channel` (`None`: no mark), unless it is known already.
    pub(crate) fn learn(&mut self, channel: &str, position: Option<Position>) {
        self.positions.entry(channel.to_owned()).or_insert(position);
    }

    /// Notes that a message of `channel` (folded) was given live: its id is seen and it is the
    /// channel's position. `false` (and nothing changes) when its id was given already.
    pub(crate) fn given(&mut self, channel: Option<&str>, line: &Line) -> bool {
        if let Some(id) = line.tag("msgid")
            && !self.seen.first_time(id.to_owned())
        {
            return false;
        }
        if let (Some(channel), Some(position)) = (channel, Position::of(line)) {
            self.positions.insert(channel.to_owned(), Some(position));
        }
        true
    }

    /// Whether the private conversations' position is known (read from the journal).
    pub(crate) fn knows_private(&self) -> bool {
        self.private.is_some()
    }

    /// The private conversations' position, if known and there is one.
    pub(crate) fn private_position(&self) -> Option<&Position> {
        self.private.as_ref().and_then(Option::as_ref)
    }

    /// Sets what the journal says of the private conversations, unless known already.
    pub(crate) fn learn_private(&mut self, position: Option<Position>) {
        self.private.get_or_insert(position);
    }

    /// A private message at `position` was given: whether it moved the private conversations'
    /// position on (a later time than the one kept, or none kept).
    pub(crate) fn private_given(&mut self, position: &Position) -> bool {
        let newer = match (self.private_position().and_then(|p| p.time), position.time) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(kept), Some(time)) => time > kept,
        };
        if newer {
            self.private = Some(Some(position.clone()));
        }
        newer
    }

    /// A batch opened: `kind` and, for `chathistory`, the target it is the history of.
    pub(crate) fn open(&mut self, reference: &str, kind: &str, target: Option<String>) {
        if is_history(kind) {
            let replay = Replay {
                channel: target,
                lines: Vec::new(),
                live: Vec::new(),
            };
            self.replays.insert(reference.to_owned(), replay);
        }
    }

    /// Holds `line`, a message, if it belongs to an open history batch, or is a live message
    /// to a channel whose history is being read (so that it comes after the history, and does
    /// not move the position before the history is read), or a private message from `sender`
    /// (folded; `None` for a channel's message) whose conversation's history is being read;
    /// whether it did.
    pub(crate) fn hold(&mut self, line: &Line, sender: Option<&str>) -> bool {
        if let Some(replay) = line.tag("batch").and_then(|b| self.replays.get_mut(b)) {
            replay.lines.push(line.clone());
            return true;
        }
        let Some(target) = line.param(0) else {
            return false;
        };
        // The channel, or the channel of a STATUSMSG (`@#chat`).
        let fold = |name: &str| self.casemapping.fold(name);
        let names = [
            Some(fold(target)),
            target.get(1..).map(fold),
            sender.map(str::to_owned),
        ];
        let reading = self
            .replays
            .values_mut()
            .find(|r| r.channel.is_some() && names.contains(&r.channel));
        match reading {
            Some(replay) => {
                replay.live.push(line.clone());
                true
            }
            None => false,
        }
    }

    /// A batch closed: for a history batch of a channel, what it brings. The bot's own
    /// messages in it (from `own`, the bot's nick) with an id tag (`id_tag`) are noted as
    /// left.
    pub(crate) fn close(&mut self, reference: &str, own: &str, id_tag: &str) -> Option<Selected> {
        let replay = self.replays.remove(reference)?;
        let channel = replay.channel?;
        for line in &replay.lines {
            if let (Some(nick), Some(id)) = (line.nick(), line.tag(id_tag))
                && self.casemapping.same(nick, own)
            {
                self.left.first_time(id.to_owned());
            }
        }
        self.read.insert(channel.clone());
        let position = self.positions.get(&channel).cloned().flatten();
        let count = replay.lines.len();
        let mut selected = select(position.as_ref(), replay.lines);
        selected.count = count;
        selected.live = replay.live;
        selected.new.retain(|line| match line.tag("msgid") {
            Some(id) => self.seen.first_time(id.to_owned()),
            None => true,
        });
        if let Some(position) = &selected.position {
            self.positions
                .insert(channel.clone(), Some(position.clone()));
        }
        selected.channel = channel;
        Some(selected)
    }

    /// Forgets the batches of a connection that ended.
    pub(crate) fn connection_lost(&mut self) {
        self.replays.clear();
        self.read.clear();
    }

    /// Notes that the bot's own message with this id reached the server (echoed).
    pub(crate) fn left(&mut self, id: &str) {
        self.left.first_time(id.to_owned());
    }

    /// Whether the bot's message with this id was seen in a history or echoed.
    pub(crate) fn has_left(&self, id: &str) -> bool {
        self.left.contains(id)
    }

    /// Whether the history of `channel` was read on this connection.
    pub(crate) fn was_read(&self, channel: &str) -> bool {
        self.read.contains(channel)
    }
}

/// Whether a batch of type `kind` carries history (`chathistory`, or a vendor's
/// `draft/chathistory`, `znc.in/playback` style names ending so).
fn is_history(kind: &str) -> bool {
    kind.ends_with("chathistory")
}

/// The lines of `history` (oldest first) that came after `position`, and the new position.
fn select(position: Option<&Position>, history: Vec<Line>) -> Selected {
    let newest = history.iter().rev().find_map(Position::of);
    let Some(position) = position else {
        // The channel's past, from before the bot first joined.
        return Selected {
            position: newest,
            ..Selected::default()
        };
    };
    let at = position.msgid.as_deref().and_then(|id| {
        history
            .iter()
            .position(|line| line.tag("msgid") == Some(id))
    });
    let (new, gap): (Vec<Line>, bool) = match (at, position.time) {
        (Some(at), _) => (history.into_iter().skip(at + 1).collect(), false),
        (None, Some(since)) => {
            // History times may be whole seconds: everything from the position's second on
            // (what was given already is dropped by its id).
            let since = since.replace_nanosecond(0).unwrap_or(since);
            let oldest = history
                .first()
                .and_then(|l| l.tag("time"))
                .and_then(parse_time);
            let gap = position.msgid.is_some() && oldest.is_some_and(|oldest| oldest > since);
            let new = history
                .into_iter()
                .filter(|line| {
                    line.tag("time")
                        .and_then(parse_time)
                        .is_none_or(|time| time >= since)
                })
                .collect();
            (new, gap)
        }
        // Neither: everything not given already.
        (None, None) => (history, false),
    };
    Selected {
        position: new.iter().rev().find_map(Position::of),
        new,
        gap,
        ..Selected::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, time: &str, text: &str) -> Line {
        format!("@batch=h;msgid={id};time={time} :alice!a@h PRIVMSG #chat :{text}")
            .parse()
            .unwrap()
    }

    fn texts(selected: &Selected) -> Vec<&str> {
        selected
            .new
            .iter()
            .map(|l| l.param(1).unwrap_or_default())
            .collect()
    }

    fn replay(history: &mut History, lines: &[Line]) -> Selected {
        history.open("h", "chathistory", Some("#chat".into()));
        for l in lines {
            assert!(history.hold(l, None));
        }
        history.close("h", "bot", "+id").unwrap()
    }

    fn three() -> Vec<Line> {
        vec![
            line("a", "2026-12-07T08:00:01.000Z", "one"),
            line("b", "2026-12-07T08:00:02.000Z", "two"),
            line("c", "2026-12-07T08:00:03.000Z", "three"),
        ]
    }

    #[test]
    fn marks_round_trip() {
        let position = Position::of(&line("x\\sy", "2026-12-07T08:00:01.5Z", "t")).unwrap();
        assert_eq!(position.msgid.as_deref(), Some("x y"));
        assert_eq!(Position::from_mark(&position.to_mark()), Some(position));
        let bare = Position {
            time: None,
            msgid: None,
        };
        assert_eq!(bare.to_mark(), "- ");
        assert_eq!(Position::from_mark("- "), Some(bare));
        assert_eq!(Position::from_mark("garbage"), None);
        assert_eq!(Position::from_mark("notatime id"), None);
    }

    #[test]
    fn a_first_join_gives_nothing_of_the_past_and_starts_at_its_newest() {
        let mut history = History::default();
        history.learn("#chat", None);
        let selected = replay(&mut history, &three());
        assert!(selected.new.is_empty());
        assert_eq!(
            history.position("#chat").unwrap().msgid.as_deref(),
            Some("c")
        );
    }

    #[test]
    fn after_the_position_by_msgid_and_never_twice() {
        let mut history = History::default();
        history.learn("#chat", None);
        let first = three();
        assert!(history.given(Some("#chat"), &first[0]));
        let selected = replay(&mut history, &first);
        assert_eq!(texts(&selected), ["two", "three"]);
        assert!(!selected.gap);
        // Replayed again (another reconnection): nothing new.
        assert!(replay(&mut history, &first).new.is_empty());
        // A live line given in a batch already is not given again.
        assert!(!history.given(Some("#chat"), &first[2]));
    }

    #[test]
    fn by_time_when_the_position_is_no_longer_in_the_history() {
        let mut history = History::default();
        // From a mark: a msgid the history no longer has, at 08:00:02.4.
        let mark = Position::from_mark("2026-12-07T08:00:02.4Z gone").unwrap();
        history.learn("#chat", Some(mark));
        let selected = replay(&mut history, &three());
        // From 08:00:02 on (whole seconds): two and three; no gap (08:00:01 is older).
        assert_eq!(texts(&selected), ["two", "three"]);
        assert!(!selected.gap);
        // A history that starts after the position: messages may be missing.
        let mut history = History::default();
        let mark = Position::from_mark("2026-12-07T07:00:00Z gone").unwrap();
        history.learn("#chat", Some(mark));
        let selected = replay(&mut history, &three());
        assert_eq!(texts(&selected).len(), 3);
        assert!(selected.gap);
    }

    #[test]
    fn a_known_position_is_not_replaced_by_an_older_mark() {
        let mut history = History::default();
        let first = three();
        assert!(history.given(Some("#chat"), &first[2]));
        history.learn("#chat", None);
        assert_eq!(
            history.position("#chat").unwrap().msgid.as_deref(),
            Some("c")
        );
        assert!(history.knows("#chat"));
        assert!(!history.knows("#other"));
    }

    #[test]
    fn live_lines_of_a_channel_whose_history_is_read_come_after_it() {
        let mut history = History::default();
        history.learn("#chat", Some(Position::from_mark("- a").unwrap()));
        history.open("h", "chathistory", Some("#chat".into()));
        let live: Line = "@msgid=d :bob!b@h PRIVMSG #Chat :live".parse().unwrap();
        let other: Line = "@msgid=e :bob!b@h PRIVMSG #other :elsewhere"
            .parse()
            .unwrap();
        assert!(history.hold(&live, None));
        assert!(!history.hold(&other, None));
        for l in three() {
            assert!(history.hold(&l, None));
        }
        let selected = history.close("h", "bot", "+id").unwrap();
        assert_eq!(texts(&selected), ["two", "three"]);
        assert_eq!(selected.live, std::slice::from_ref(&live));
        // Once read, the channel's lines are live again.
        assert!(!history.hold(&live, None));
    }

    #[test]
    fn the_bots_own_messages_in_a_history_left() {
        let mut history = History::default();
        history.learn("#chat", None);
        assert!(!history.was_read("#chat"));
        let own: Line = "@batch=h;msgid=o;+id=answer-1 :Bot!b@h PRIVMSG #chat :answer"
            .parse()
            .unwrap();
        let other: Line = "@batch=h;msgid=p;+id=answer-2 :other!b@h PRIVMSG #chat :theirs"
            .parse()
            .unwrap();
        let mut lines = three();
        lines.extend([own, other]);
        replay(&mut history, &lines);
        assert!(history.has_left("answer-1"));
        assert!(!history.has_left("answer-2"), "another bot's id");
        assert!(history.was_read("#chat"));
        history.connection_lost();
        assert!(!history.was_read("#chat"));
        assert!(history.has_left("answer-1"));
    }

    #[test]
    fn other_batches_and_lines_outside_batches_are_not_held() {
        let mut history = History::default();
        history.open("n", "netjoin", None);
        let l: Line = "@batch=n :alice!a@h PRIVMSG #chat :x".parse().unwrap();
        assert!(!history.hold(&l, None));
        assert!(history.close("n", "bot", "+id").is_none());
        history.open("h", "chathistory", Some("#chat".into()));
        history.connection_lost();
        assert!(!history.hold(&three()[0], None));
    }
}
