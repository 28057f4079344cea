//! The journal's pipe: everything a router's sessions push, in order, through one task that
//! writes what is to be kept in batches (group commit) and hands each signal to the bot once it
//! is durable.
//!
//! A session that waits for each push to be durable before reading the next (IMAP, Slack: the
//! platform is told only then) gets one journal write at a time; one that only needs order
//! (XMPP, whose archive is the safety net) feeds its signals without waiting
//! ([`Link::feed`](crate::driver::Link::feed)), and the pipe writes them together. Every signal
//! of a journaled session goes through the pipe, internal ones too, so the order the session
//! pushed is the order the bot sees (nothing slips behind `SessionAboutToEnd`).

use std::sync::Arc;

use futures::channel::oneshot;
use futures::future::{self, BoxFuture};

use super::{Appended, EntryId, JournalError, Tap};
use crate::session::{Closed, Queued};
use crate::signal::{Signal, SystemError};

/// The most items one pass takes: bounds the batch the journal commits together.
const BATCH: usize = 512;

/// What goes through the pipe.
// The signal is what nearly every item is: boxing it would allocate once per signal to save the
// rare mark and barrier a few bytes.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item {
    /// A signal for the bot: appended first when `keep` (a platform's signal), or already in
    /// the journal as `entry` (a redelivery), or neither (an internal signal).
    Signal {
        name: Arc<str>,
        signal: Signal,
        keep: bool,
        entry: Option<EntryId>,
    },
    /// A session's mark, written in order after what was pushed before it.
    Mark {
        name: Arc<str>,
        mark: String,
        value: String,
    },
    /// Nothing: its reply says that everything before it is durable and handed on.
    Barrier,
}

/// An item and who waits for it to be done.
pub(crate) struct Piped {
    pub(crate) item: Item,
    pub(crate) reply: Option<oneshot::Sender<Result<(), Closed>>>,
}

/// What writing an item gave.
enum Written {
    /// A new entry: hand the signal on with it.
    Kept(EntryId),
    /// The journal had the entry: the signal is not handed on again.
    Seen,
    /// Nothing to write (or a mark, written).
    Nothing,
}

/// Starts the write `item` needs now (so that the writes of one pass are made in order and
/// committed together); the future waits for it.
fn write<'a>(tap: &'a Tap, item: &'a Item) -> BoxFuture<'a, Result<Written, JournalError>> {
    match item {
        Item::Signal {
            name,
            signal,
            keep: true,
            ..
        } => {
            let appending = tap.journal().append(name, signal);
            Box::pin(async move {
                Ok(match appending.await? {
                    Appended::Seen => Written::Seen,
                    _ => Written::Kept(EntryId::of(name, signal)),
                })
            })
        }
        Item::Mark { name, mark, value } => {
            let setting = tap.journal().set_mark(name, mark, value);
            Box::pin(async move { setting.await.map(|()| Written::Nothing) })
        }
        _ => Box::pin(future::ready(Ok(Written::Nothing))),
    }
}

/// Runs the pipe until every sender is gone and what they sent is handed on: batches of what
/// is queued, their writes made together, then each signal handed to the bot's queue `bot` in
/// order (waiting for room).
pub(crate) async fn run(
    items: async_channel::Receiver<Piped>,
    bot: async_channel::Sender<Queued>,
    tap: Arc<Tap>,
) {
    while let Ok(first) = items.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match items.try_recv() {
                Ok(piped) => batch.push(piped),
                Err(_) => break,
            }
        }
        let written: Vec<Result<Written, JournalError>> = {
            let writes: Vec<_> = batch.iter().map(|piped| write(&tap, &piped.item)).collect();
            future::join_all(writes).await
        };
        for (piped, written) in batch.into_iter().zip(written) {
            let done = hand_on(&bot, piped.item, written).await;
            if let Some(reply) = piped.reply {
                let _ = reply.send(done);
            }
        }
    }
}

/// Hands a written item's signal to the bot.
async fn hand_on(
    bot: &async_channel::Sender<Queued>,
    item: Item,
    written: Result<Written, JournalError>,
) -> Result<(), Closed> {
    let Item::Signal {
        name,
        signal,
        entry,
        ..
    } = item
    else {
        return match written {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = bot.send(failed("", &e)).await;
                Err(Closed)
            }
        };
    };
    let entry = match written {
        Ok(Written::Seen) => return Ok(()),
        Ok(Written::Kept(kept)) => Some(kept),
        Ok(Written::Nothing) => entry,
        Err(e) => {
            tracing::error!(session = &*name, error = %e, "the journal failed; the signal is left with the platform");
            let _ = bot.send(failed(&name, &e)).await;
            return Err(Closed);
        }
    };
    bot.send(Queued { signal, entry }).await.map_err(|_| Closed)
}

/// The System-error signal saying that the journal of session `name` failed.
fn failed(name: &str, e: &JournalError) -> Queued {
    let report = SystemError::new(format!("journal of session {name}"), e.to_string());
    Queued {
        signal: Signal::internal(None, report),
        entry: None,
    }
}
