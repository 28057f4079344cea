//! Queries the session answers: address kinds (by the ID's sigil), a room's members
//! (`/joined_members`), whether someone or the bot is in a room, history (see
//! [`history`](crate::history)) and a person's presence.

use std::time::Duration;

use chatty_core::{Address, AddressKind, Answer, MemberStatus, Query, QueryError};
use ruma::OwnedRoomId;
use ruma::api::client::membership::joined_members;

use crate::state::Shared;

/// How long a query's request may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The kind of a Matrix ID: `@user:server` a person, `!room` or `#alias:server` a room.
pub(crate) fn kind_of(id: &str) -> AddressKind {
    match id.chars().next() {
        Some('@') => AddressKind::Individual,
        Some('!' | '#') => AddressKind::Channel,
        _ => AddressKind::Unknown,
    }
}

/// Answers `query`; supported signals and features and delivery statuses are the driver's and
/// the router's.
pub(crate) async fn answer(shared: &Shared, query: &Query) -> Result<Answer, QueryError> {
    match query {
        Query::AddressKind { address } => Ok(Answer::AddressKind {
            kind: kind_of(address.id()),
        }),
        Query::Members { address } => {
            let members = members(shared, query, address).await?;
            Ok(Answer::Members {
                members: members.iter().filter_map(|m| shared.person(m)).collect(),
            })
        }
        Query::MemberStatus { member, channel } => {
            let members = members(shared, query, channel).await?;
            Ok(Answer::MemberStatus(MemberStatus::new(
                members.iter().any(|m| m == member.id()),
            )))
        }
        Query::OwnStatus { channel } => {
            let present = shared.live().rooms.contains_key(channel.id());
            Ok(Answer::MemberStatus(MemberStatus::new(present)))
        }
        Query::ReceivedFrom { address, page } => {
            crate::history::answer(shared, query, address, page, false).await
        }
        Query::SentTo { address, page } => {
            crate::history::answer(shared, query, address, page, true).await
        }
        Query::Status { address } => crate::presence::status(shared, query, address).await,
        _ => Err(QueryError::not_supported(
            query,
            "the Matrix session cannot answer this yet",
        )),
    }
}

/// The joined members of the room `room`, asked of the server.
async fn members(
    shared: &Shared,
    query: &Query,
    room: &Address,
) -> Result<Vec<String>, QueryError> {
    let room_id = OwnedRoomId::try_from(room.id())
        .map_err(|_| QueryError::not_supported(query, "only a room ID (!…) has members"))?;
    let token = shared
        .live()
        .token
        .clone()
        .ok_or_else(|| QueryError::not_supported(query, "not logged in (yet)"))?;
    let request = joined_members::v3::Request::new(room_id);
    let response = shared
        .http
        .call(request, Some(&token), QUERY_TIMEOUT)
        .await
        .map_err(|e| QueryError::Failed {
            message: e.to_string(),
        })?;
    let mut members: Vec<String> = response.joined.keys().map(ToString::to_string).collect();
    members.sort();
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_sigil() {
        assert_eq!(kind_of("@alice:example.org"), AddressKind::Individual);
        assert_eq!(kind_of("!XRpQxOOA-TsQ"), AddressKind::Channel);
        assert_eq!(kind_of("#lobby:example.org"), AddressKind::Channel);
        assert_eq!(kind_of("alice"), AddressKind::Unknown);
    }
}
