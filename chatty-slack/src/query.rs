//! Queries, answered from the Web API: see the query table in the crate documentation.

use chatty_core::driver::lock;
use chatty_core::{
    Address, AddressKind, Answer, Availability, History, MemberStatus, Page, Presence, Query,
    QueryError,
};
use slack_morphism::prelude::*;

use crate::api::{ApiError, Named as _};
use crate::history;
use crate::mapper::Mapper;
use crate::outbound::channel_for;
use crate::state::{Conn, State};

/// The query failure of a Web API failure.
fn failure((method, e): (&str, ApiError)) -> QueryError {
    e.query_error(method)
}

/// Answers a query; a failure is logged at warn. Supported signals and features are the
/// router's to answer (from the capability table), delivery statuses the driver's.
pub(crate) async fn answer(state: &State, query: &Query) -> Result<Answer, QueryError> {
    let result = ask(state, query).await;
    if let Err(QueryError::Failed { message }) = &result {
        tracing::warn!(session = %state.config.name, "a Slack query failed: {message}");
    }
    result
}

async fn ask(state: &State, query: &Query) -> Result<Answer, QueryError> {
    if matches!(
        query,
        Query::SupportedSignals { .. }
            | Query::SupportedFeatures { .. }
            | Query::DeliveryStatus { .. }
    ) {
        return Err(QueryError::not_supported(
            query,
            "answered from the capability table and the delivery table",
        ));
    }
    let Some(conn) = state.conn() else {
        return Err(QueryError::Failed {
            message: "the Slack session is not connected".into(),
        });
    };
    let conn = &*conn;
    let failed = |m: String| QueryError::Failed { message: m };
    match query {
        Query::AddressKind { address } => {
            let id = conn.mapper.slack_id(address).map_err(failed)?;
            let kind = match Mapper::kind_of_id(id) {
                AddressKind::Channel | AddressKind::Group => {
                    let info = info(conn, id).await?;
                    if info.is_mpim == Some(true) {
                        AddressKind::Group
                    } else if info.is_im == Some(true) {
                        AddressKind::Individual
                    } else {
                        AddressKind::Channel
                    }
                }
                AddressKind::Unknown => {
                    return Err(failed(format!(
                        "{address}: not a Slack user or conversation id"
                    )));
                }
                other => other,
            };
            Ok(Answer::AddressKind { kind })
        }
        Query::Members { address } => {
            let id = conversation_id(conn, address)?;
            let members = members(conn, &id).await?;
            Ok(Answer::Members {
                members: members
                    .iter()
                    .filter_map(|u| conn.mapper.address(u, AddressKind::Individual))
                    .collect(),
            })
        }
        Query::Status { address } => {
            let id = conn.mapper.slack_id(address).map_err(failed)?;
            if Mapper::kind_of_id(id) != AddressKind::Individual || id.starts_with('D') {
                return Err(failed(format!("{address} is not a person")));
            }
            let request = SlackApiUsersGetPresenceRequest::new(id.into());
            let answer = conn
                .web
                .api
                .session()
                .users_get_presence(&request)
                .await
                .named("users.getPresence")
                .map_err(failure)?;
            let availability = match answer.presence.as_str() {
                "active" => Availability::Available,
                _ => Availability::Away,
            };
            Ok(Answer::Status(Presence::new(availability)))
        }
        Query::MemberStatus { member, channel } => {
            let id = conversation_id(conn, channel)?;
            let user = conn.mapper.slack_id(member).map_err(failed)?.to_owned();
            let members = members(conn, &id).await?;
            Ok(Answer::MemberStatus(MemberStatus::new(
                members.contains(&user),
            )))
        }
        Query::OwnStatus { channel } => {
            let id = conversation_id(conn, channel)?;
            let info = info(conn, &id).await?;
            let present = info.is_member.unwrap_or(info.is_im == Some(true));
            Ok(Answer::MemberStatus(MemberStatus::new(present)))
        }
        Query::ReceivedFrom { address, page } => history(state, conn, address, page, false).await,
        Query::SentTo { address, page } => history(state, conn, address, page, true).await,
        other => Err(QueryError::not_supported(
            other,
            "the Slack session cannot answer this",
        )),
    }
}

/// The conversation id of a channel or group address (not of a person).
fn conversation_id(conn: &Conn, address: &Address) -> Result<String, QueryError> {
    let id = conn
        .mapper
        .slack_id(address)
        .map_err(|m| QueryError::Failed { message: m })?;
    match Mapper::kind_of_id(id) {
        AddressKind::Channel | AddressKind::Group => Ok(id.to_owned()),
        _ if id.starts_with('D') => Ok(id.to_owned()),
        _ => Err(QueryError::Failed {
            message: format!("{address} is a person, not a conversation"),
        }),
    }
}

/// What a conversation is (`conversations.info`).
async fn info(conn: &Conn, id: &str) -> Result<SlackChannelFlags, QueryError> {
    let request = SlackApiConversationsInfoRequest::new(id.into());
    let answer = conn
        .web
        .api
        .session()
        .conversations_info(&request)
        .await
        .named("conversations.info")
        .map_err(failure)?;
    Ok(answer.channel.flags)
}

/// Every member of a conversation (`conversations.members`, all pages).
async fn members(conn: &Conn, id: &str) -> Result<Vec<String>, QueryError> {
    let session = conn.web.api.session();
    let mut out = Vec::new();
    let mut request = SlackApiConversationsMembersRequest::new()
        .with_channel(id.into())
        .with_limit(200);
    loop {
        let answer = session
            .conversations_members(&request)
            .await
            .named("conversations.members")
            .map_err(failure)?;
        out.extend(answer.members.into_iter().map(|m| m.to_string()));
        let next = answer.response_metadata.and_then(|m| m.next_cursor);
        match next {
            Some(cursor) if !cursor.value().is_empty() => {
                request = request.with_cursor(cursor);
            }
            _ => return Ok(out),
        }
    }
}

/// Signals from (or, with `sent`, by the bot to) an address, from `conversations.history`:
/// a person's DM with the bot, or a conversation.
async fn history(
    state: &State,
    conn: &Conn,
    address: &Address,
    page: &Page,
    sent: bool,
) -> Result<Answer, QueryError> {
    let id = conn
        .mapper
        .slack_id(address)
        .map_err(|m| QueryError::Failed { message: m })?
        .to_owned();
    let person = Mapper::kind_of_id(&id) == AddressKind::Individual && !id.starts_with('D');
    let channel = if person {
        channel_for(state, conn, address)
            .await
            .map_err(|r| QueryError::Failed { message: r.message })?
    } else {
        id.clone()
    };
    let details = info(conn, &channel).await?;
    let channel_type = if details.is_im == Some(true) {
        "im"
    } else if details.is_mpim == Some(true) {
        "mpim"
    } else if details.is_private == Some(true) {
        "group"
    } else {
        "channel"
    };
    let latest =
        match &page.before {
            Some(before) => Some(lock(&state.ids).place(before).map(|p| p.ts).ok_or_else(
                || QueryError::Failed {
                    message: format!("{before} is not a Slack message this session knows"),
                },
            )?),
            None => None,
        };
    let limit = page.limit.clamp(1, 999);
    let mut signals = Vec::new();
    let mut cursor: Option<String> = None;
    let own = conn.mapper.own().clone();
    let mut exhausted = false;
    while signals.len() < limit as usize {
        let answer = history::page(conn, &channel, latest.as_deref(), cursor.as_deref())
            .await
            .map_err(failure)?;
        let mut ids = lock(&state.ids);
        for message in &answer.messages {
            let Some((signal, place)) =
                conn.mapper
                    .history_message(&channel, channel_type, message, &ids)
            else {
                continue;
            };
            // Answers to what the history showed find their place (and thread).
            ids.remember(signal.meta.id.clone(), place);
            let from_bot = signal.meta.origin.as_ref() == Some(&own);
            let wanted = if sent {
                from_bot
            } else if person {
                signal
                    .meta
                    .origin
                    .as_ref()
                    .is_some_and(|o| o.matches(address) || address.matches(o))
            } else {
                !from_bot
            };
            if wanted && signals.len() < limit as usize {
                signals.push(signal);
            }
        }
        drop(ids);
        match answer.next {
            Some(next) => cursor = Some(next),
            None => {
                exhausted = true;
                break;
            }
        }
    }
    let next = match (exhausted, signals.last()) {
        (false, Some(last)) => Some(Page::first(page.limit).with_before(last.meta.id.clone())),
        _ => None,
    };
    Ok(Answer::History(History::new(signals, next)))
}
