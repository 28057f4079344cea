//! Signal ids and where their messages are on Slack: the memory that turns `response_to` into
//! `thread_ts`, edits into `chat.update`, and people into their DM channels.

use chatty_core::driver::Recent;
use chatty_core::{SignalId, Timestamp};

/// How many message ids the session remembers (to map `thread_ts` and edits to signal ids),
/// and how many DM channels.
const REMEMBERED: usize = 20_000;

/// The `event_type` of the metadata on messages the session posts: it carries the signal id
/// (and `response_to`) so that both ends name the same signal.
pub const EVENT_TYPE_MESSAGE: &str = "chatty_message";
/// The prefix of the `block_id` that carries the signal id on file shares (which take no
/// metadata): `chatty:m:ID` for a message with attachments, `chatty:f:ID` for a file.
pub const BLOCK_ID_PREFIX: &str = "chatty:";

/// The prefix of a `response_to` that asks for a thread: see [`thread_of`].
pub const THREAD_PREFIX: &str = "thread:";

/// The `response_to` of an answer that is to go into the thread under the message `id`,
/// whether or not that message is in a thread yet.
///
/// Without it, an answer goes where the message it answers is: into its thread when that
/// message is a thread reply, else to the top level of the channel or DM, as people answer on
/// Slack. With it, the bot chooses the thread root itself:
///
/// ```
/// use chatty_core::{Message, Signal};
///
/// let question = Signal::message("long discussion?");
/// let answer = question
///     .reply(Message::text("let's take it to a thread"))
///     .in_response_to(chatty_slack::thread_of(question.id()));
/// assert_eq!(
///     answer.meta.response_to.unwrap().as_str(),
///     format!("thread:{}", question.id())
/// );
/// ```
///
/// The other side sees `response_to` as the plain id of the message (the prefix is not carried).
pub fn thread_of(id: &SignalId) -> SignalId {
    SignalId::from(format!("{THREAD_PREFIX}{id}"))
}

/// The id a `response_to` names, and whether it asks for a thread ([`thread_of`]).
pub(crate) fn response_target(id: &SignalId) -> (SignalId, bool) {
    match id.as_str().strip_prefix(THREAD_PREFIX) {
        Some(rest) if !rest.is_empty() => (SignalId::from(rest), true),
        _ => (id.clone(), false),
    }
}

/// Where a message is on Slack: channel, `ts`, and the thread root if it is a thread reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) channel: String,
    pub(crate) ts: String,
    pub(crate) thread: Option<String>,
}

impl Place {
    /// A place; `thread_ts` equal to `ts` (a thread's root) is not a thread reply.
    pub(crate) fn new(channel: &str, ts: &str, thread_ts: Option<&str>) -> Self {
        Place {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            thread: thread_ts.filter(|t| *t != ts).map(str::to_owned),
        }
    }
}

/// A reaction on Slack: the message it annotates (channel and `ts`) and the emoji's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reacted {
    pub(crate) channel: String,
    pub(crate) ts: String,
    pub(crate) name: String,
}

/// The prefix of the ids of reactions made on Slack: `reaction/CHANNEL/TS/USER/NAME`.
const REACTION_PREFIX: &str = "reaction/";

/// The id of the reaction `name` of `user` to the message `channel`/`ts`: the same each time
/// (Slack gives reactions no id), so that its removal names it without memory.
pub(crate) fn reaction_id(channel: &str, ts: &str, user: &str, name: &str) -> SignalId {
    SignalId::from(format!("{REACTION_PREFIX}{channel}/{ts}/{user}/{name}"))
}

/// The reaction a [`reaction_id`] names.
pub(crate) fn parse_reaction_id(id: &SignalId) -> Option<Reacted> {
    let rest = id.as_str().strip_prefix(REACTION_PREFIX)?;
    let mut parts = rest.splitn(4, '/');
    let (channel, ts, user, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let id_like = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    let valid = id_like(channel)
        && id_like(user)
        && ts.contains('.')
        && ts.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !name.is_empty();
    valid.then(|| Reacted {
        channel: channel.to_owned(),
        ts: ts.to_owned(),
        name: name.to_owned(),
    })
}

/// Signal ids ↔ Slack places for the messages seen and sent lately, the DM channel of each
/// person who wrote to the bot, and the reactions the session made; each bounded to the last
/// `REMEMBERED`.
#[derive(Debug)]
pub(crate) struct Ids {
    by_id: Recent<SignalId, Place>,
    by_place: Recent<(String, String), SignalId>,
    dms: Recent<String, String>,
    reactions: Recent<SignalId, Reacted>,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            by_id: Recent::new(REMEMBERED),
            by_place: Recent::new(REMEMBERED),
            dms: Recent::new(REMEMBERED),
            reactions: Recent::new(REMEMBERED),
        }
    }
}

impl Ids {
    /// Remembers where the message `id` is. An id that names another message's place (an edit
    /// names the edited message) is remembered by id only.
    pub(crate) fn remember(&mut self, id: SignalId, place: Place) {
        let at = (place.channel.clone(), place.ts.clone());
        if !self.by_place.contains(&at) {
            self.by_place.insert(at, id.clone());
        }
        self.by_id.insert(id, place);
    }

    /// The place of a signal: remembered, or read from an id of the form `CHANNEL/TS`.
    pub(crate) fn place(&self, id: &SignalId) -> Option<Place> {
        if let Some(p) = self.by_id.get(id) {
            return Some(p.clone());
        }
        let (channel, ts) = id.as_str().split_once('/')?;
        let valid = !channel.is_empty()
            && channel.chars().all(|c| c.is_ascii_alphanumeric())
            && ts.contains('.')
            && ts.chars().all(|c| c.is_ascii_digit() || c == '.');
        valid.then(|| Place::new(channel, ts, None))
    }

    /// The place of a signal if it is remembered (not read from its id: a place read from a
    /// `CHANNEL/TS` id does not know its thread).
    pub(crate) fn remembered(&self, id: &SignalId) -> Option<Place> {
        self.by_id.get(id).cloned()
    }

    /// The signal id of the message at `channel`/`ts`: remembered, or `CHANNEL/TS`.
    pub(crate) fn id_at(&self, channel: &str, ts: &str) -> SignalId {
        self.by_place
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
            .unwrap_or_else(|| native_id(channel, ts))
    }

    /// The signal id remembered for the message at `channel`/`ts`, if any.
    pub(crate) fn known_at(&self, channel: &str, ts: &str) -> Option<SignalId> {
        self.by_place
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
    }

    /// Remembers that `user` (a user or bot id) wrote to the bot in the DM `channel`.
    pub(crate) fn learn_dm(&mut self, user: &str, channel: &str) {
        self.dms.insert(user.to_owned(), channel.to_owned());
    }

    /// The DM channel with `user`, if known.
    pub(crate) fn dm_with(&self, user: &str) -> Option<String> {
        self.dms.get(user).cloned()
    }

    /// Remembers the reaction the signal `id` made.
    pub(crate) fn remember_reaction(&mut self, id: SignalId, reacted: Reacted) {
        self.reactions.insert(id, reacted);
    }

    /// The reaction the signal `id` made (remembered), or the one a [`reaction_id`] names.
    pub(crate) fn reaction(&self, id: &SignalId) -> Option<Reacted> {
        self.reactions
            .get(id)
            .cloned()
            .or_else(|| parse_reaction_id(id))
    }

    /// Forgets the reaction the signal `id` made (it was removed).
    pub(crate) fn forget_reaction(&mut self, id: &SignalId) {
        self.reactions.remove(id);
    }
}

/// The id of a Slack message that carries no signal id of ours: `CHANNEL/TS`.
pub(crate) fn native_id(channel: &str, ts: &str) -> SignalId {
    SignalId::from(format!("{channel}/{ts}"))
}

/// A message `ts` (`"1700000000.000100"`, epoch seconds) as a time.
pub(crate) fn ts_time(ts: &str) -> Option<Timestamp> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    // Seconds since 1970, never negative; twelve digits reach the year 33658, beyond what JSON
    // times carry, which the check below refuses.
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if secs.is_empty() || secs.len() > 12 || !digits(secs) || !digits(micros) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let micros: i64 = format!("{micros:0<6}").get(..6)?.parse().ok()?;
    Timestamp::from_unix_timestamp_nanos(
        i128::from(secs) * 1_000_000_000 + i128::from(micros) * 1000,
    )
    .ok()
    .filter(|time| chatty_core::writable_time(*time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_remembered_or_read_from_native_ids() {
        let mut ids = Ids::default();
        assert_eq!(ids.place(&"C1/1.000002".into()).unwrap().ts, "1.000002");
        assert!(ids.place(&"not a place".into()).is_none());
        assert!(ids.place(&"C1/abc".into()).is_none());
        ids.remember(
            "mine".into(),
            Place::new("C1", "2.000001", Some("1.000001")),
        );
        assert_eq!(
            ids.place(&"mine".into()).unwrap().thread.as_deref(),
            Some("1.000001")
        );
        assert_eq!(ids.id_at("C1", "2.000001").as_str(), "mine");
        assert_eq!(ids.id_at("C1", "3.000001").as_str(), "C1/3.000001");
        // An edit names the edited message's place: the message keeps its id there.
        ids.remember("edit".into(), Place::new("C1", "2.000001", None));
        assert_eq!(ids.id_at("C1", "2.000001").as_str(), "mine");
        assert_eq!(ids.place(&"edit".into()).unwrap().ts, "2.000001");
    }

    #[test]
    fn a_thread_root_is_not_a_thread_reply() {
        assert_eq!(Place::new("C1", "1.1", Some("1.1")).thread, None);
        assert_eq!(
            Place::new("C1", "1.2", Some("1.1")).thread.as_deref(),
            Some("1.1")
        );
    }

    #[test]
    fn thread_requests_are_marked_and_read_back() {
        let id = SignalId::from("C1/1.000001");
        let asked = thread_of(&id);
        assert_eq!(asked.as_str(), "thread:C1/1.000001");
        assert_eq!(response_target(&asked), (id.clone(), true));
        assert_eq!(response_target(&id), (id, false));
        assert_eq!(
            response_target(&"thread:".into()),
            ("thread:".into(), false)
        );
    }

    #[test]
    fn reactions_are_remembered_or_read_from_their_ids() {
        let mut ids = Ids::default();
        let id = reaction_id("C1", "1.000001", "U1", "+1::skin-tone-2");
        assert_eq!(id.as_str(), "reaction/C1/1.000001/U1/+1::skin-tone-2");
        let named = Reacted {
            channel: "C1".into(),
            ts: "1.000001".into(),
            name: "+1::skin-tone-2".into(),
        };
        assert_eq!(ids.reaction(&id), Some(named.clone()));
        for bad in [
            "reaction/C1/1.000001/U1",
            "reaction/C1/x/U1/a",
            "reaction//1.1/U1/a",
            "C1/1.1",
        ] {
            assert_eq!(ids.reaction(&bad.into()), None, "{bad}");
        }
        ids.remember_reaction("mine".into(), named.clone());
        assert_eq!(ids.reaction(&"mine".into()), Some(named));
        ids.forget_reaction(&"mine".into());
        assert_eq!(ids.reaction(&"mine".into()), None);
    }

    #[test]
    fn dms_are_learnt() {
        let mut ids = Ids::default();
        assert_eq!(ids.dm_with("U1"), None);
        ids.learn_dm("U1", "D1");
        assert_eq!(ids.dm_with("U1").as_deref(), Some("D1"));
    }

    #[test]
    fn timestamps_parse_and_nonsense_does_not() {
        assert_eq!(ts_time("1.5").unwrap().nanosecond(), 500_000_000);
        assert_eq!(
            ts_time("1355517523.000005").unwrap().unix_timestamp(),
            1_355_517_523
        );
        assert!(ts_time("99999999999999999999.1").is_none());
        assert!(ts_time("1.x").is_none());
        assert!(ts_time("").is_none());
        // Never before 1970, nor past what a signal's JSON can carry (the year 9999).
        assert!(ts_time("-99999999999.000000").is_none());
        assert!(ts_time("-1.5").is_none());
        assert!(ts_time("999999999999.1").is_none());
        assert!(
            ts_time("253402300799.0").is_some(),
            "the last second of 9999"
        );
    }
}
