//! Catching up from a room's archive (MAM in a MUC: XEP-0313 queries addressed to the room) on
//! every fresh join of the room (the first of a run, and each after a lost stream): what was
//! said in the room while the bot was away, page after page from the room's archive id of the
//! last message of it the bot was given. That id is kept as the journal's mark `mam:<room>`
//! ([`room_mark`]) when the router has a journal, so a restarted process starts there; the
//! journal drops what it has seen. Without a mark (the first join), the catch-up starts from
//! now: the room's newest archive id becomes the mark, and the room's past is left alone.
//!
//! The room's live messages that arrive meanwhile are held back and given after the archived
//! ones, in their order; a message both archived and held is given once (the same id and
//! sender both ways: the mapper and the journal drop the second).
//!
//! Only where the room advertises an archive (disco#info `urn:xmpp:mam:2`); without one, the
//! room's messages from while the bot was away are not caught up.

use chatty_core::SignalId;
use chatty_core::driver::{Deliveries, Link};
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;

use super::catch_up::{STEP_TIMEOUT, report};
use super::deliver;
use crate::archive::{self, ArchiveAnswer, CatchUp, Phase, Waiter};
use crate::marker::{FROM_THE_START, room_mark};
use crate::state::{Connection, Shared};

/// Starts catching up from `room`'s archive on a fresh join (the room confirmed it): asks the
/// room whether it keeps an archive. The room's live messages are held back from now until the
/// catch-up ends.
pub(crate) async fn start(connection: &mut Connection, room: BareJid) {
    // An earlier join's queries: their answers are not needed any more.
    connection.archive.forget_room_catch_ups(Some(&room));
    let id = format!("room-catchup-disco-{}", SignalId::generate());
    let iq =
        Iq::from_get(id.clone(), DiscoInfoQuery { node: None }).with_to(Jid::from(room.clone()));
    let catch_up = connection.room_catch_ups.entry(room);
    catch_up.phase = Phase::Discovering(id);
    catch_up.deadline = Some(Instant::now() + STEP_TIMEOUT);
    connection.send(iq).await;
}

/// `room` said what it supports (`iq`): with an archive, the catch-up asks it for what came
/// after the last archive id of the room the bot was given (in memory, else the journal's
/// mark), or, on a first join, for the newest id; without one, the catch-up ends.
pub(crate) async fn discovered(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    room: BareJid,
    iq: Iq,
) {
    let archive = match iq {
        Iq::Result {
            payload: Some(payload),
            ..
        } => DiscoInfoResult::try_from(payload).is_ok_and(|info| info.features.contains(ns::MAM)),
        _ => false,
    };
    if !archive {
        tracing::info!(%room, "the room keeps no archive (MAM): what was said in it while the bot was away is not caught up");
        return finish(shared, deliveries, connection, link, &room).await;
    }
    let after = match connection.live.room_last_archived.get(&room).cloned() {
        Some(after) => Some(after),
        None => match link.mark(&room_mark(&room)).await {
            Ok(mark) => mark,
            Err(e) => {
                let cause = format!("reading where to catch up in room {room} from failed: {e}");
                report(shared, link, cause).await;
                return finish(shared, deliveries, connection, link, &room).await;
            }
        },
    };
    match after {
        Some(after) => {
            tracing::debug!(%room, after, "catching up from the room's archive");
            connection
                .live
                .room_last_archived
                .insert(room.clone(), after.clone());
            let after = (after != FROM_THE_START).then_some(after);
            let query = archive::catch_up(Some(&room), after);
            ask(connection, &room, Phase::Paging, query).await;
        }
        None => {
            let query = archive::newest(Some(&room));
            ask(connection, &room, Phase::Newest, query).await;
        }
    }
}

/// Sends the archive query `query` for `room`'s catch-up, now in `phase`.
async fn ask(
    connection: &mut Connection,
    room: &BareJid,
    phase: Phase,
    (query_id, iq): (String, Iq),
) {
    let catch_up = connection.room_catch_ups.entry(room.clone());
    catch_up.phase = phase;
    catch_up.deadline = Some(Instant::now() + STEP_TIMEOUT);
    connection
        .archive
        .insert(query_id, &iq, Waiter::RoomCatchUp(room.clone()));
    connection.send(iq).await;
}

/// An answer to a query of `room`'s catch-up came: a page's messages go to the bot as they came
/// live (then the next page is asked for, or the catch-up ends); the newest id becomes the
/// room's mark. A failed page is a system error (messages may be missing), and the catch-up goes
/// on from the newest id, so that a mark the archive does not know fails once.
pub(crate) async fn page(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    room: BareJid,
    answer: ArchiveAnswer,
) {
    let Some(catch_up) = connection.room_catch_ups.get_mut(&room) else {
        // The answer to a catch-up given up already.
        return;
    };
    let phase = std::mem::take(&mut catch_up.phase);
    match (phase, answer) {
        (Phase::Paging, Ok((found, fin))) => {
            connection.room_catch_ups.entry(room.clone()).phase = Phase::Paging;
            for item in found {
                if !deliver::room_archived(shared, deliveries, connection, link, &room, item).await
                {
                    return;
                }
            }
            match fin.set.last.filter(|_| !fin.complete) {
                Some(after) => {
                    let query = archive::catch_up(Some(&room), Some(after));
                    ask(connection, &room, Phase::Paging, query).await;
                }
                // Live messages were let go meanwhile (too many held): they come after the
                // last one given.
                None if connection
                    .room_catch_ups
                    .get_mut(&room)
                    .is_some_and(CatchUp::pages_on) =>
                {
                    let after = connection.live.room_last_archived.get(&room).cloned();
                    let after = after.filter(|a| a != FROM_THE_START);
                    let query = archive::catch_up(Some(&room), after);
                    ask(connection, &room, Phase::Paging, query).await;
                }
                None => finish(shared, deliveries, connection, link, &room).await,
            }
        }
        (Phase::Paging, Err(e)) => {
            tracing::warn!(%room, "catching up from the room's archive failed: {e}");
            let cause = format!(
                "catching up from the archive of room {room} failed: {e}; messages said there while the bot was away may be missing"
            );
            report(shared, link, cause).await;
            let query = archive::newest(Some(&room));
            ask(connection, &room, Phase::Newest, query).await;
        }
        (Phase::Newest, answer) => {
            let newest = match answer {
                Ok((found, fin)) => fin
                    .set
                    .last
                    .or_else(|| found.last().map(|i| i.archive_id.clone())),
                Err(e) => {
                    tracing::warn!(%room, "asking the room's archive for its newest id failed: {e}");
                    None
                }
            };
            // What arrived meanwhile was archived before the answer came: it goes first.
            finish(shared, deliveries, connection, link, &room).await;
            match newest {
                Some(id) => connection.live.archived_in_room(&room, &id),
                // An empty archive: everything it will hold comes after this join.
                None if !connection.live.room_last_archived.contains_key(&room) => {
                    connection.live.archived_in_room(&room, FROM_THE_START);
                }
                None => {}
            }
        }
        (phase, _) => connection.room_catch_ups.entry(room).phase = phase,
    }
}

/// `room` did not answer a step of its catch-up in time: it ends, and the bot is told that
/// messages may be missing.
pub(crate) async fn gave_up(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    room: BareJid,
) {
    connection.archive.forget_room_catch_ups(Some(&room));
    let cause = format!(
        "the archive of room {room} did not answer within {STEP_TIMEOUT:?} while catching up; messages said there while the bot was away may be missing"
    );
    tracing::warn!("{cause}");
    report(shared, link, cause).await;
    finish(shared, deliveries, connection, link, &room).await;
}

/// Ends `room`'s catch-up: the live messages it held back go to the bot, in their order.
async fn finish(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    room: &BareJid,
) {
    let Some(catch_up) = connection.room_catch_ups.remove(room) else {
        return;
    };
    for message in catch_up.held {
        if !deliver::live(shared, deliveries, connection, link, message).await {
            return;
        }
    }
}
