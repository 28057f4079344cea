//! Queries the session answers from what the connection tracks: address kinds (by the
//! server's channel prefixes), a joined channel's members, a member's and the bot's own
//! presence in a channel.

use chatty_core::{Address, AddressKind, Answer, MemberStatus, Query, QueryError};

use crate::state::Shared;

/// Answers `query`; supported signals and features and delivery statuses are the driver's and
/// the router's.
pub(crate) fn answer(shared: &Shared, query: &Query) -> Result<Answer, QueryError> {
    let live = shared.live();
    let members = |channel: &Address| live.channels.get(&live.fold(channel.id()));
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
                let present = members
                    .iter()
                    .any(|m| live.casemapping.same(m, &nick(member)));
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

#[cfg(test)]
mod tests {
    use chatty_core::{Address, AddressKind, Answer, MemberStatus, Query};

    use super::answer;
    use crate::config::IrcConfig;
    use crate::inbound::handle;
    use crate::state::Shared;

    fn address(text: &str) -> Address {
        text.parse().unwrap()
    }

    #[test]
    fn kinds_members_and_presence_from_what_the_connection_saw() {
        let shared = Shared::new(IrcConfig::new("s", "bot"));
        for line in [
            ":bot!b@h JOIN #chat",
            ":srv 353 bot = #chat :@bot +alice",
            ":carol!c@h JOIN #chat",
        ] {
            handle(&shared, &line.parse().unwrap());
        }
        let chat = address("irc:#chat");
        let kind = answer(
            &shared,
            &Query::AddressKind {
                address: chat.clone(),
            },
        )
        .unwrap();
        assert!(matches!(
            kind,
            Answer::AddressKind {
                kind: AddressKind::Channel
            }
        ));
        let kind = answer(
            &shared,
            &Query::AddressKind {
                address: address("irc:alice"),
            },
        )
        .unwrap();
        assert!(matches!(
            kind,
            Answer::AddressKind {
                kind: AddressKind::Individual
            }
        ));
        let Answer::Members { members } = answer(
            &shared,
            &Query::Members {
                address: chat.clone(),
            },
        )
        .unwrap() else {
            panic!("not members")
        };
        let ids: Vec<_> = members.iter().map(Address::id).collect();
        assert_eq!(ids, ["alice", "bot", "carol"]);
        let member = |nick: &str| Query::MemberStatus {
            member: address(nick),
            channel: chat.clone(),
        };
        assert!(matches!(
            answer(&shared, &member("irc:Alice!a@h")),
            Ok(Answer::MemberStatus(MemberStatus { present: true, .. }))
        ));
        assert!(matches!(
            answer(&shared, &member("irc:dave")),
            Ok(Answer::MemberStatus(MemberStatus { present: false, .. }))
        ));
        let own = answer(
            &shared,
            &Query::OwnStatus {
                channel: address("irc:#elsewhere"),
            },
        )
        .unwrap();
        assert!(matches!(
            own,
            Answer::MemberStatus(MemberStatus { present: false, .. })
        ));
        let unknown = answer(
            &shared,
            &Query::Members {
                address: address("irc:#elsewhere"),
            },
        );
        assert!(unknown.unwrap_err().is_not_supported());
    }
}
