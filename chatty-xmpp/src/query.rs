//! The queries the session answers: address kinds, room members and statuses, presence,
//! delivery status, capabilities per address, and history from the archive (MAM).

use chatty_core::{Address, AddressKind, Answer, MemberStatus, Page, Query, QueryError, Signal};
use tokio::sync::oneshot;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::rsm::SetQuery;

use crate::address_id;
use crate::archive;
use crate::command::Command;
use crate::config::PLATFORM;
use crate::iq::IQ_TIMEOUT;
use crate::state::Shared;

/// A room's bare JID from a channel address (or an occupant's `room@service/nick`).
fn room_jid(address: &Address) -> Result<BareJid, QueryError> {
    if address.platform() != PLATFORM {
        return Err(QueryError::Failed {
            message: format!("{address} is not an XMPP address"),
        });
    }
    address_id::jid(address.id())
        .map(|jid| jid.to_bare())
        .map_err(|e| QueryError::Failed {
            message: format!("{address} is not a JID: {e}"),
        })
}

/// History with `address` from the server's archive (MAM), newest first: what it sent
/// (`sent: false`) or what the bot sent it. A page holds at most `page.limit` messages of
/// the conversation, of which those in the other direction are left out.
async fn history(
    shared: &Shared,
    address: &Address,
    page: &Page,
    sent: bool,
) -> Result<Answer, QueryError> {
    let with = room_jid(address)?;
    let query_id = format!("q-{}", chatty_core::SignalId::generate());
    let iq = archive::query(
        &query_id,
        Some(&with.clone().into()),
        SetQuery {
            max: Some(page.limit as usize),
            after: None,
            // Empty: the newest page.
            before: Some(
                page.before
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            index: None,
        },
    );
    let (tx, rx) = oneshot::channel();
    shared
        .commands
        .send(Command::Archive(Box::new(iq), query_id, tx))
        .await
        .map_err(|_| QueryError::Closed)?;
    let (found, fin) = tokio::time::timeout(IQ_TIMEOUT, rx)
        .await
        .map_err(|_| QueryError::Failed {
            message: format!("the archive did not answer within {IQ_TIMEOUT:?}"),
        })?
        .map_err(|_| QueryError::Closed)?
        .map_err(|message| QueryError::Failed { message })?;
    let own = shared.jid.as_str();
    let mut signals: Vec<Signal> = found
        .into_iter()
        .filter(|item| {
            let from_own = item
                .message
                .from
                .as_ref()
                .is_some_and(|f| f.to_bare().as_str() == own);
            from_own == sent
        })
        .flat_map(|item| {
            shared
                .mapper
                .archived_signals(item.message, item.delay.as_ref().map(|d| &d.stamp))
        })
        .collect();
    signals.reverse();
    let next = match (fin.complete, fin.set.first) {
        (false, Some(first)) => Some(
            Page::first(page.limit).with_before(chatty_core::SignalId::from(first.item.as_str())),
        ),
        _ => None,
    };
    Ok(Answer::History(chatty_core::History::new(signals, next)))
}

/// Asks `to` for its disco#info (XEP-0030) and returns its identities' categories.
async fn disco_categories(shared: &Shared, to: Jid) -> Result<Vec<String>, QueryError> {
    let iq = Iq::from_get(
        format!("disco-{}", chatty_core::SignalId::generate()),
        DiscoInfoQuery { node: None },
    )
    .with_to(to.clone());
    let answer = shared
        .request(iq, &format!("disco#info to {to}"))
        .await
        .map_err(|message| QueryError::Failed { message })?;
    match answer {
        Iq::Result {
            payload: Some(payload),
            ..
        } => {
            let info = DiscoInfoResult::try_from(payload).map_err(|e| QueryError::Failed {
                message: format!("{to} answered disco#info with something malformed: {e}"),
            })?;
            Ok(info.identities.into_iter().map(|i| i.category).collect())
        }
        // No answer of its own (an account the bot may not see): not a room, at least.
        _ => Ok(Vec::new()),
    }
}

pub(crate) async fn answer(shared: &Shared, query: &Query) -> Result<Answer, QueryError> {
    match query {
        Query::AddressKind { address } => {
            let jid = room_jid(address)?;
            let full = address_id::jid(address.id()).map_err(|e| QueryError::Failed {
                message: format!("{address} is not a JID: {e}"),
            })?;
            let in_room = shared.mapper.state().room(&jid).is_some();
            // Someone in a room, or one resource of an account, is an individual; a room
            // the bot is in, or a JID whose disco#info says `conference`, a channel.
            let channel = full.resource().is_none()
                && (in_room
                    || disco_categories(shared, jid.into())
                        .await?
                        .iter()
                        .any(|c| c == "conference"));
            let kind = if channel {
                AddressKind::Channel
            } else {
                AddressKind::Individual
            };
            Ok(Answer::AddressKind { kind })
        }
        Query::SupportedSignals { address } => Ok(Answer::SupportedSignals {
            signals: shared.peer_capabilities(address).await?.signals,
        }),
        Query::SupportedFeatures { address } => {
            let caps = shared.peer_capabilities(address).await?;
            Ok(Answer::SupportedFeatures {
                features: caps.features,
                degraded: caps.degraded,
            })
        }
        Query::Members { address } => {
            let jid = room_jid(address)?;
            let state = shared.mapper.state();
            let room = state.room(&jid).ok_or_else(|| QueryError::Failed {
                message: format!("the bot is not in the room {address}"),
            })?;
            let members = room
                .occupants
                .keys()
                .filter_map(|nick| {
                    let full = jid.with_resource_str(nick).ok()?;
                    shared
                        .mapper
                        .address(full.as_str(), AddressKind::Individual)
                        .ok()
                })
                .collect();
            Ok(Answer::Members { members })
        }
        Query::MemberStatus { member, channel } => {
            let jid = room_jid(channel)?;
            let nick = address_id::jid(member.id())
                .ok()
                .and_then(|j| j.resource().map(|r| r.as_str().to_owned()))
                .ok_or_else(|| QueryError::Failed {
                    message: format!("{member} is not someone in a room (room@service/nick)"),
                })?;
            let state = shared.mapper.state();
            let room = state.room(&jid).ok_or_else(|| QueryError::Failed {
                message: format!("the bot is not in the room {channel}"),
            })?;
            let occupant = room.occupants.get(&nick);
            let mut status = MemberStatus::new(occupant.is_some());
            status.role = occupant.and_then(|o| o.role.clone());
            Ok(Answer::MemberStatus(status))
        }
        Query::OwnStatus { channel } => {
            let jid = room_jid(channel)?;
            let state = shared.mapper.state();
            let status = match state.room(&jid) {
                Some(room) => {
                    let own = room.occupants.get(&room.nick);
                    let mut status = MemberStatus::new(room.joined);
                    status.role = own.and_then(|o| o.role.clone());
                    status
                }
                None => MemberStatus::new(false),
            };
            Ok(Answer::MemberStatus(status))
        }
        Query::Status { address } => {
            let jid = room_jid(address)?;
            Ok(Answer::Status(shared.mapper.state().presence_of(&jid)))
        }
        // The driver answers from its deliveries: this is never asked.
        Query::DeliveryStatus { .. } => Err(QueryError::not_supported(
            query,
            "delivery statuses are the driver's",
        )),
        Query::ReceivedFrom { address, page } => history(shared, address, page, false).await,
        Query::SentTo { address, page } => history(shared, address, page, true).await,
        _ => Err(QueryError::not_supported(
            query,
            "the XMPP session does not answer this query",
        )),
    }
}
