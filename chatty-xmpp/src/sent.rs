//! Whether an answer the bot sent before its process stopped reached the server: asked by the
//! router's journal for an answer it recorded as about to leave and never as gone (the process
//! died in between), so that it is neither lost nor sent twice. The account's archive (MAM)
//! keeps what the bot sent; the answer is looked for in the conversation with its addressee,
//! from the newest message back to the message it answers (it cannot be older). An answer in a
//! room is looked for the same way in the room's own archive (XEP-0313 on the room, as the
//! room catch-up reads it), known by its id.
//!
//! After a restart the unsure answers are a few in a row (those on their way when the process
//! died), answering neighbouring messages of the same conversations, and each search may page
//! back through everything the person sent while the bot was away. So the pages one search read
//! are kept for the next ([`LookedUp`], for [`KEPT_FOR`]): they hold every message up to when
//! they were read, and an answer that left before the process died is older than that.

use std::time::{Duration, Instant};

use chatty_core::{AddressKind, Signal, SignalId};
use tokio::sync::oneshot;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::rsm::SetQuery;

use crate::address_id;
use crate::archive::{self, ArchiveAnswer, ArchivedMessage};
use crate::command::Command;
use crate::inbound::message::origin_id;
use crate::iq::IQ_TIMEOUT;
use crate::state::{LookedUp, Shared};

/// How many archived messages a page holds.
const PAGE: usize = 100;
/// How many pages back the answer is looked for at most.
const PAGES: usize = 50;

/// How long the pages a search read are used for the next searches.
const KEPT_FOR: Duration = Duration::from_secs(60);

/// `Some(true)` when the archive holds `answer` (sent by the bot), `Some(false)` when it does not
/// (up to the message it answers, or the start of the conversation), `None` when that cannot be
/// told (no archive, no answer from it, or too far back).
pub(crate) async fn sent(shared: &Shared, answer: &Signal) -> Option<bool> {
    let mut place = None;
    for to in &answer.meta.addressees {
        let jid = address_id::jid(to.id()).ok()?.to_bare();
        place = Some(match to.kind() {
            // A room's messages are in the room's own archive.
            AddressKind::Channel => Place::Room(jid),
            _ => Place::Person(jid),
        });
    }
    let place = place?;
    let with = place.jid().clone();
    let look = |item: &ArchivedMessage| {
        seen(
            shared,
            &place,
            item,
            &answer.meta.id,
            answer.meta.response_to.as_ref(),
        )
    };
    if let Some(kept) = lock(&shared.looked_up).as_ref()
        && kept.with == with
        && kept.read_at.elapsed() < KEPT_FOR
    {
        for item in &kept.newest_first {
            match look(item) {
                Seen::Answer => return Some(true),
                Seen::Answered => return Some(false),
                Seen::Other => {}
            }
        }
    }
    let read_at = Instant::now();
    let mut newest_first = Vec::new();
    let mut before = String::new();
    let mut told = None;
    for _ in 0..PAGES {
        let (found, fin) = page(shared, &place, before).await?;
        for item in found.into_iter().rev() {
            if told.is_none() {
                match look(&item) {
                    Seen::Answer => told = Some(true),
                    Seen::Answered => told = Some(false),
                    Seen::Other => {}
                }
            }
            newest_first.push(item);
        }
        if told.is_some() {
            break;
        }
        match (fin.complete, fin.set.first) {
            (false, Some(first)) => before = first.item,
            _ => {
                told = Some(false);
                break;
            }
        }
    }
    *lock(&shared.looked_up) = Some(LookedUp {
        with,
        read_at,
        newest_first,
    });
    told
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What an archived message is to the search.
enum Seen {
    /// The answer, from the bot.
    Answer,
    /// The message it answers: the answer would come after it.
    Answered,
    /// Another.
    Other,
}

/// Where an answer is archived if it left.
enum Place {
    /// The account's archive, in the conversation with this person.
    Person(BareJid),
    /// This room's archive.
    Room(BareJid),
}

impl Place {
    fn jid(&self) -> &BareJid {
        match self {
            Place::Person(jid) | Place::Room(jid) => jid,
        }
    }
}

fn seen(
    shared: &Shared,
    place: &Place,
    item: &ArchivedMessage,
    id: &SignalId,
    of: Option<&SignalId>,
) -> Seen {
    let message = &item.message;
    let stanza_id = message
        .id
        .as_ref()
        .map(|id| id.0.clone())
        .filter(|id| !id.is_empty());
    let named = |named: &Option<String>| named.as_deref() == Some(id.as_str());
    let from_bot = match place {
        Place::Person(_) => message
            .from
            .as_ref()
            .is_some_and(|from| from.to_bare() == shared.jid),
        // In a room everyone writes as the room (`room/nick`): the answer is known by its id
        // alone, which the bot made for it.
        Place::Room(_) => named(&origin_id(message)) || named(&stanza_id),
    };
    if from_bot {
        if named(&origin_id(message)) || named(&stanza_id) {
            return Seen::Answer;
        }
        return Seen::Other;
    }
    // The id the session gave it when it came (see the inbound mapping).
    let its_id = origin_id(message)
        .or(stanza_id)
        .unwrap_or_else(|| item.archive_id.clone());
    if of.is_some_and(|of| of.as_str() == its_id) {
        Seen::Answered
    } else {
        Seen::Other
    }
}

/// The page of the conversation (with a person, in the account's archive) or of the room (in
/// its own archive) before the archive id `before` (the newest when empty).
async fn page(
    shared: &Shared,
    place: &Place,
    before: String,
) -> Option<(Vec<ArchivedMessage>, tokio_xmpp::parsers::mam::Fin)> {
    let query_id = format!("sent-{}", SignalId::generate());
    let set = SetQuery {
        max: Some(PAGE),
        after: None,
        before: Some(before),
        index: None,
    };
    let iq = match place {
        Place::Person(with) => archive::query(&query_id, Some(&with.clone().into()), set),
        Place::Room(room) => archive::addressed(archive::query(&query_id, None, set), Some(room)),
    };
    let (tx, rx) = oneshot::channel::<ArchiveAnswer>();
    shared
        .commands
        .send(Command::Archive(Box::new(iq), query_id, tx))
        .await
        .ok()?;
    match tokio::time::timeout(IQ_TIMEOUT, rx).await {
        Ok(Ok(Ok(page))) => Some(page),
        Ok(Ok(Err(e))) => {
            tracing::debug!("the archive could not tell whether an answer left: {e}");
            None
        }
        _ => None,
    }
}
