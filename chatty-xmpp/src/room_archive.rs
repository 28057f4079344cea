//! Where a connection's catch-ups from the rooms' archives (MAM in a MUC, XEP-0313) are: one for
//! each room the bot (re)joined, each with the live messages of its room it holds back meanwhile
//! (see `inbound::room_catch_up`).

use std::collections::HashMap;

use tokio::time::Instant;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::iq::Iq;

use crate::archive::CatchUp;

/// The rooms' catch-ups in progress, by room.
#[derive(Debug, Default)]
pub(crate) struct RoomCatchUps(HashMap<BareJid, CatchUp>);

impl RoomCatchUps {
    /// The catch-up of `room`, made when there is none (the live messages an earlier one held
    /// back are kept: they go to the bot after the new one).
    pub(crate) fn entry(&mut self, room: BareJid) -> &mut CatchUp {
        self.0.entry(room).or_default()
    }

    /// The catch-up of `room`, if one is in progress.
    pub(crate) fn get_mut(&mut self, room: &BareJid) -> Option<&mut CatchUp> {
        self.0.get_mut(room).filter(|c| c.holds())
    }

    /// Ends the catch-up of `room`: the live messages it held back, for the bot.
    pub(crate) fn remove(&mut self, room: &BareJid) -> Option<CatchUp> {
        self.0.remove(room)
    }

    /// The room whose catch-up asked it whether it keeps an archive with `iq`'s id.
    pub(crate) fn discovery(&self, iq: &Iq) -> Option<BareJid> {
        self.0
            .iter()
            .find(|(_, c)| c.is_discovery(iq))
            .map(|(room, _)| room.clone())
    }

    /// When the first step of a room's catch-up in progress is given up.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.0.values().filter_map(|c| c.deadline).min()
    }

    /// The rooms whose catch-ups' steps were not answered by `now`.
    pub(crate) fn expired(&self, now: Instant) -> Vec<BareJid> {
        self.0
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(room, _)| room.clone())
            .collect()
    }
}

/// The earlier of two deadlines (either may be none).
pub(crate) fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::archive::Phase;

    #[test]
    fn catch_ups_are_found_by_their_discovery_and_expire_by_their_deadlines() {
        let mut rooms = RoomCatchUps::default();
        let (one, two) = (
            BareJid::new("one@rooms.example.org").unwrap(),
            BareJid::new("two@rooms.example.org").unwrap(),
        );
        let now = Instant::now();
        let first = rooms.entry(one.clone());
        first.phase = Phase::Discovering("d-1".into());
        first.deadline = Some(now);
        let second = rooms.entry(two.clone());
        second.phase = Phase::Paging;
        second.deadline = Some(now + Duration::from_secs(5));
        let answer = Iq::Result {
            from: None,
            to: None,
            id: "d-1".into(),
            payload: None,
        };
        assert_eq!(rooms.discovery(&answer), Some(one.clone()));
        assert_eq!(rooms.deadline(), Some(now));
        assert_eq!(rooms.expired(now), vec![one.clone()]);
        assert!(rooms.get_mut(&two).is_some());
        rooms.entry(two.clone()).phase = Phase::Live;
        assert!(rooms.get_mut(&two).is_none(), "not holding back any more");
        assert!(rooms.remove(&one).is_some());
        assert_eq!(earlier(None, Some(now)), Some(now));
        assert_eq!(earlier(Some(now), None), Some(now));
        assert_eq!(
            earlier(Some(now + Duration::from_secs(1)), Some(now)),
            Some(now)
        );
    }
}
