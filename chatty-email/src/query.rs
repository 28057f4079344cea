//! Queries: the kind of an address, and the mail received from an address (IMAP with
//! `history = true`). Delivery statuses come from the driver's table, supported signals and
//! features from the capability table ([`caps`](crate::caps)); the rest is not supported, with
//! the reason.

use chatty_core::{Address, AddressKind, Answer, History, Page, Query, QueryError};
use futures::TryStreamExt as _;

use crate::config::{ImapConfig, InboundConfig, PLATFORM, is_mail_address};
use crate::connect;
use crate::ids::wire_id;
use crate::imap::{self, Imap, quoted, uid_set};
use crate::mapper::Inbound;
use crate::state::Shared;

/// Answers `query`.
pub(crate) async fn answer(shared: &Shared, query: Query) -> Result<Answer, QueryError> {
    match &query {
        Query::ReceivedFrom { address, page } => match &shared.config.inbound {
            InboundConfig::Imap(imap) if imap.history => {
                let mail = mail_of(address)?;
                history(imap, shared, mail, page)
                    .await
                    .map(Answer::History)
                    .map_err(|message| QueryError::Failed { message })
            }
            _ => Err(QueryError::not_supported(
                &query,
                "history is read from the mailbox only over IMAP with `history = true`; or wrap the bot in the Logger",
            )),
        },
        Query::AddressKind { address } => {
            mail_of(address)?;
            // A mailing list cannot be told apart from a person by its address: every mail
            // address is answered as an individual.
            Ok(Answer::AddressKind {
                kind: AddressKind::Individual,
            })
        }
        Query::Members { .. } => Err(QueryError::not_supported(
            &query,
            "email has no member lists (a list address looks like a person's)",
        )),
        Query::Status { .. } => Err(QueryError::not_supported(&query, "email has no presence")),
        Query::MemberStatus { .. } | Query::OwnStatus { .. } => Err(QueryError::not_supported(
            &query,
            "email has no rooms or channels",
        )),
        Query::SentTo { .. } => Err(QueryError::not_supported(
            &query,
            "sent mail is not read from a Sent folder; wrap the bot in the Logger",
        )),
        Query::DeliveryStatus { .. }
        | Query::SupportedSignals { .. }
        | Query::SupportedFeatures { .. } => Err(QueryError::not_supported(
            &query,
            "answered from the delivery table and the capabilities",
        )),
        _ => Err(QueryError::not_supported(
            &query,
            "the email session does not answer this query",
        )),
    }
}

/// The mail address of `address`, or the failure naming it.
fn mail_of(address: &Address) -> Result<&str, QueryError> {
    if address.platform() != PLATFORM || !is_mail_address(address.id()) {
        return Err(QueryError::Failed {
            message: format!("{address} is not a mail address"),
        });
    }
    Ok(address.id())
}

/// The signals of the mails in the folder from `from`, newest first: at most `page.limit`,
/// older than the mail `page.before` if given; and the next page if there are older ones. A
/// connection of its own, with the folder opened read-only (EXAMINE).
async fn history(
    config: &ImapConfig,
    shared: &Shared,
    from: &str,
    page: &Page,
) -> Result<History, String> {
    let mut session = connect::imap(config, shared)
        .await
        .map_err(|f| f.cause().to_owned())?;
    let result = history_on(config, shared, &mut session, from, page).await;
    let _ = session.logout().await;
    result
}

async fn history_on(
    config: &ImapConfig,
    shared: &Shared,
    session: &mut Imap,
    from: &str,
    page: &Page,
) -> Result<History, String> {
    let failed = |e: async_imap::error::Error| format!("IMAP history of {from}: {e}");
    session.examine(&config.folder).await.map_err(failed)?;
    let mut uids: Vec<u32> = session
        .uid_search(format!("FROM {}", quoted(from)?))
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    uids.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(before) = &page.before {
        let wire = wire_id(before);
        let found = session
            .uid_search(format!(
                "HEADER Message-ID {}",
                quoted(&format!("<{wire}>"))?
            ))
            .await
            .map_err(failed)?;
        let Some(anchor) = found.into_iter().min() else {
            return Err(format!("{before} is not in the folder {:?}", config.folder));
        };
        uids.retain(|uid| *uid < anchor);
    }
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let more = uids.len() > limit;
    uids.truncate(limit);
    let mut signals = Vec::with_capacity(uids.len());
    if !uids.is_empty() {
        let mut ascending = uids.clone();
        ascending.sort_unstable();
        let mut fetched: Vec<_> = session
            .uid_fetch(uid_set(&ascending), "(UID BODY.PEEK[])")
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        // A page cut off by the connection's end is an error, not a shorter page.
        imap::answered_whole(session).await.map_err(failed)?;
        fetched.sort_by_key(|f| std::cmp::Reverse(f.uid.unwrap_or(0)));
        for fetch in &fetched {
            let raw = fetch.body().unwrap_or_default();
            // Copies of the bot's own answers were never received.
            if shared.mapper.is_copy(raw) {
                continue;
            }
            if let (Inbound::Signal(signal), _) = shared.mapper.inbound(raw) {
                signals.push(*signal);
            }
        }
    }
    let next = match (more, signals.last()) {
        (true, Some(oldest)) => Some(Page::first(page.limit).with_before(oldest.meta.id.clone())),
        _ => None,
    };
    Ok(History::new(signals, next))
}
