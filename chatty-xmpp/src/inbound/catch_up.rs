//! Catching up from the archive (MAM, XEP-0313) on every fresh stream (the first of a run, and
//! each that replaced a lost one): what arrived at the server while the bot was away, or was in
//! flight to it when its process or its stream died, page after page from the archive id of the
//! last message the bot was given. That id is kept as the journal's mark ([`MARK`]) when the
//! router has a journal, so a restarted process starts there; the journal drops what it has
//! seen. Without a mark (the first start), the catch-up starts from now: the newest archive id
//! becomes the mark, and the archive's past is left alone.
//!
//! Live messages that arrive meanwhile are held back and given after the archived ones, so
//! each conversation keeps its order; a message both archived and held is given once.
//!
//! Only where the account advertises an archive (disco#info `urn:xmpp:mam:2`); without one,
//! what the server gives is offline storage.

use std::time::Duration;

use chatty_core::driver::{Deliveries, Link};
use chatty_core::{Signal, SignalId, SystemError};
use tokio::time::Instant;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;

use super::deliver;
use crate::archive::{self, ArchiveAnswer, Phase, Waiter};
use crate::marker::{FROM_THE_START, MARK};
use crate::state::{Connection, Shared};

/// How long the server may take over each step of a catch-up before it is given up (and the
/// live messages it held back are given to the bot).
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts catching up on a fresh stream: asks the account whether it keeps an archive. Live
/// messages are held back from now until the catch-up ends.
pub(crate) async fn start(shared: &Shared, connection: &mut Connection) {
    // The lost stream's queries will not be answered on this one.
    connection.archive.forget_catch_ups();
    let id = format!("catchup-disco-{}", SignalId::generate());
    let iq = Iq::from_get(id.clone(), DiscoInfoQuery { node: None })
        .with_to(Jid::from(shared.jid.clone()));
    connection.catch_up.phase = Phase::Discovering(id);
    connection.catch_up.deadline = Some(Instant::now() + STEP_TIMEOUT);
    connection.send(iq).await;
}

/// The account said what it supports (`iq`): with an archive, the catch-up asks for what came
/// after the last archive id the bot was given (in memory, else the journal's mark), or, on a
/// first start, for the newest id; without one, the catch-up ends.
pub(crate) async fn discovered(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
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
        tracing::info!("the account keeps no archive (MAM): no catch-up");
        return finish(shared, deliveries, connection, link).await;
    }
    let after = match connection.live.last_archived.clone() {
        Some(after) => Some(after),
        None => match link.mark(MARK).await {
            Ok(mark) => mark,
            Err(e) => {
                report(
                    shared,
                    link,
                    format!("reading where to catch up from failed: {e}"),
                )
                .await;
                return finish(shared, deliveries, connection, link).await;
            }
        },
    };
    match after {
        Some(after) => {
            tracing::debug!(after, "catching up from the archive");
            connection.live.last_archived = Some(after.clone());
            let after = (after != FROM_THE_START).then_some(after);
            ask(connection, Phase::Paging, archive::catch_up(None, after)).await;
        }
        None => ask(connection, Phase::Newest, archive::newest(None)).await,
    }
}

/// Sends the archive query `query` for the catch-up, now in `phase`.
async fn ask(connection: &mut Connection, phase: Phase, (query_id, iq): (String, Iq)) {
    connection.catch_up.phase = phase;
    connection.catch_up.deadline = Some(Instant::now() + STEP_TIMEOUT);
    connection.archive.insert(query_id, &iq, Waiter::CatchUp);
    connection.send(iq).await;
}

/// An answer to a catch-up query came: a page's messages go to the bot as they were received
/// (then the next page is asked for, or the catch-up ends); the newest id becomes the mark.
/// A failed page is a system error (messages may be missing), and the catch-up goes on from
/// the newest id, so that a mark the archive does not know fails once.
pub(crate) async fn page(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    answer: ArchiveAnswer,
) {
    let phase = std::mem::take(&mut connection.catch_up.phase);
    match (phase, answer) {
        (Phase::Paging, Ok((found, fin))) => {
            connection.catch_up.phase = Phase::Paging;
            for item in found {
                if !deliver::archived(shared, deliveries, connection, link, item).await {
                    return;
                }
            }
            match fin.set.last.filter(|_| !fin.complete) {
                Some(after) => {
                    ask(
                        connection,
                        Phase::Paging,
                        archive::catch_up(None, Some(after)),
                    )
                    .await
                }
                // Live messages were let go meanwhile (too many held): they come after the
                // last one given.
                None if connection.catch_up.pages_on() => {
                    let after = connection.live.last_archived.clone();
                    let after = after.filter(|a| a != FROM_THE_START);
                    ask(connection, Phase::Paging, archive::catch_up(None, after)).await;
                }
                None => finish(shared, deliveries, connection, link).await,
            }
        }
        (Phase::Paging, Err(e)) => {
            tracing::warn!("catching up from the archive failed: {e}");
            report(shared, link, format!("catching up from the archive failed: {e}; messages sent while the bot was away may be missing")).await;
            ask(connection, Phase::Newest, archive::newest(None)).await;
        }
        (Phase::Newest, answer) => {
            let newest = match answer {
                Ok((found, fin)) => fin
                    .set
                    .last
                    .or_else(|| found.last().map(|i| i.archive_id.clone())),
                Err(e) => {
                    tracing::warn!("asking the archive for its newest id failed: {e}");
                    None
                }
            };
            // What arrived meanwhile was archived before the answer came: it goes first.
            finish(shared, deliveries, connection, link).await;
            match newest {
                Some(id) => connection.live.archived(&id),
                // An empty archive: everything it will hold comes after this start.
                None if connection.live.last_archived.is_none() => {
                    connection.live.archived(FROM_THE_START);
                }
                None => {}
            }
        }
        // The answer to a catch-up given up already.
        (phase, _) => connection.catch_up.phase = phase,
    }
}

/// The server did not answer a step of the catch-up in time: it ends, and the bot is told that
/// messages may be missing.
pub(crate) async fn gave_up(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
) {
    connection.archive.forget_catch_ups();
    let cause = format!(
        "the archive did not answer within {STEP_TIMEOUT:?} while catching up; messages sent while the bot was away may be missing"
    );
    tracing::warn!("{cause}");
    report(shared, link, cause).await;
    finish(shared, deliveries, connection, link).await;
}

/// Ends the catch-up: the live messages it held back go to the bot, in their order.
async fn finish(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
) {
    connection.catch_up.phase = Phase::Live;
    connection.catch_up.deadline = None;
    connection.catch_up.overflowed = false;
    while let Some(message) = connection.catch_up.held.pop_front() {
        if !deliver::live(shared, deliveries, connection, link, message).await {
            return;
        }
    }
}

/// Tells the bot that a catch-up failed (`message` says how).
pub(crate) async fn report(shared: &Shared, link: &Link, message: String) {
    let error = SystemError::new("xmpp", message);
    let _ = link
        .push(Signal::internal(Some(shared.own().clone()), error))
        .await;
}
