//! Queries the session answers from what the connection tracks: address kinds (by the
//! server's channel prefixes), a joined channel's members, a member's and the bot's own
//! presence in a channel.

use chatty_core::{Address, AddressKind, Answer, MemberStatus, Query, QueryError};

use crate::state::{Shared, fold};

/// Answers `query`; supported signals and features and delivery statuses are the driver's and
/// the router's.
pub(crate) fn answer(shared: &Shared, query: &Query) -> Result<Answer, QueryError> {
    let live = shared.live();
    let members = |channel: &Address| live.channels.get(&fold(channel.id()));
    let nick = |a: &Address| a.id().split('!').next().unwrap_or(a.id()).to_owned();
    match query {
        Query::AddressKind { address } => {
            let kind = if live.is_channel(address.id()) {
                AddressKind::Channel
            } else {
                AddressKind::Individual
            };
            Ok(Answer::AddressKind { kind })
        }
        Query::Members { address } => match members(address) {
            Some(members) => Ok(Answer::Members {
                members: members.iter().filter_map(|m| shared.person(m)).collect(),
            }),
            None => Err(QueryError::not_supported(
                query,
                "the bot knows the members of the channels it is in only",
            )),
        },
        Query::MemberStatus { member, channel } => match members(channel) {
            Some(members) => {
                let present = members.iter().any(|m| fold(m) == fold(&nick(member)));
                Ok(Answer::MemberStatus(MemberStatus::new(present)))
            }
            None => Err(QueryError::not_supported(
                query,
                "the bot knows the members of the channels it is in only",
            )),
        },
        Query::OwnStatus { channel } => Ok(Answer::MemberStatus(MemberStatus::new(
            members(channel).is_some(),
        ))),
        _ => Err(QueryError::not_supported(
            query,
            "an IRC server cannot answer this",
        )),
    }
}
