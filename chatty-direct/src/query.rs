//! Queries: address kinds, channel members, presence, membership, answered from the network.
//! Delivery statuses are the driver's; supported signals and features the router answers from
//! the capabilities.

use chatty_core::{Address, AddressKind, Answer, MemberStatus, Query, QueryError};

use crate::state::{Port, Target};

/// Answers `query` as the endpoint of `port` sees the network.
pub(crate) fn answer(port: &Port, query: &Query) -> Result<Answer, QueryError> {
    let shared = &port.shared;
    let unknown = |address: &Address| QueryError::Failed {
        message: format!("no endpoint or channel {address} on this direct network"),
    };
    let state = shared.lock();
    let channel_of = |address: &Address| {
        shared
            .owns(address)
            .then(|| state.channels.get(address.id()))
            .flatten()
            .ok_or_else(|| unknown(address))
    };
    let member_status = |member: &str, channel: &Address| -> Result<Answer, QueryError> {
        let c = channel_of(channel)?;
        let mut status = MemberStatus::new(c.members.contains_key(member));
        status.role = c.members.get(member).cloned().flatten();
        Ok(Answer::MemberStatus(status))
    };
    match query {
        Query::AddressKind { address } => match shared.target_in(&state, address) {
            Some(Target::Endpoint(_)) => Ok(Answer::AddressKind {
                kind: AddressKind::Individual,
            }),
            Some(Target::Channel(_)) => Ok(Answer::AddressKind {
                kind: AddressKind::Channel,
            }),
            None => Err(unknown(address)),
        },
        Query::Members { address } => {
            let c = channel_of(address)?;
            Ok(Answer::Members {
                members: c
                    .members
                    .keys()
                    .map(|m| shared.address(m, AddressKind::Individual))
                    .collect(),
            })
        }
        Query::Status { address } => state
            .endpoints
            .get(address.id())
            .filter(|_| shared.owns(address))
            .map(|e| Answer::Status(e.presence.clone()))
            .ok_or_else(|| unknown(address)),
        Query::ReceivedFrom { .. } | Query::SentTo { .. } => Err(QueryError::not_supported(
            query,
            "the direct connection keeps no history; wrap the bot in the Logger",
        )),
        Query::MemberStatus { member, channel } => {
            if !shared.owns(member) {
                return Err(unknown(member));
            }
            member_status(member.id(), channel)
        }
        Query::OwnStatus { channel } => member_status(&port.name, channel),
        _ => Err(QueryError::not_supported(
            query,
            "answered by the driver (delivery status) or the router (capabilities)",
        )),
    }
}
