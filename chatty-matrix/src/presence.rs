//! Presence: `m.presence` events of the people the bot shares a room with, as presence status
//! changes (only when the availability or the status message changed: Synapse repeats a
//! presence as its `last_active_ago` moves), and the bot's own presence set on the server.
//!
//! Matrix has three states: `online` ↔ available, `unavailable` ↔ away (chatty's away,
//! extended away and busy all go as `unavailable`, the status message saying more), `offline` ↔
//! offline.

use std::time::Duration;

use chatty_core::{
    Address, Answer, Availability, Presence, Query, QueryError, Signal, Status, StatusChange, now,
};
use ruma::OwnedUserId;
use ruma::api::client::presence::get_presence;
use ruma::events::presence::PresenceEvent;
use ruma::presence::PresenceState;
use ruma::serde::Raw;

use crate::state::Shared;

/// The availability a Matrix presence state means.
pub(crate) fn availability(state: &PresenceState) -> Availability {
    match state {
        PresenceState::Online => Availability::Available,
        PresenceState::Offline => Availability::Offline,
        // `unavailable`, and states of extensions (`busy`, MSC3026).
        _ if state.as_str() == "busy" => Availability::Busy,
        _ => Availability::Away,
    }
}

/// The Matrix presence state that carries `availability`.
pub(crate) fn state(availability: Availability) -> PresenceState {
    match availability {
        Availability::Available | Availability::Chatty => PresenceState::Online,
        Availability::Offline => PresenceState::Offline,
        _ => PresenceState::Unavailable,
    }
}

/// The status change an `m.presence` event means, when it changed what the session knew of its
/// sender; `None` for the bot's own presence, a repeat, or an event it cannot read.
pub(crate) fn change(shared: &Shared, raw: &Raw<PresenceEvent>) -> Option<Signal> {
    let event = raw.deserialize().ok()?;
    let sender = event.sender.as_str();
    let availability = availability(&event.content.presence);
    let message = event.content.status_msg.filter(|m| !m.is_empty());
    {
        let mut live = shared.live();
        if live.user_id.as_deref() == Some(sender) {
            return None;
        }
        let known = (availability, message.clone());
        if live.presence.get(sender) == Some(&known) {
            return None;
        }
        live.presence.insert(sender.to_owned(), known);
    }
    let mut change = StatusChange::new(Status::Presence { availability });
    change.message = message;
    let mut signal = Signal::new(change);
    signal.meta.sent = Some(now());
    signal.meta.received = Some(now());
    signal.meta.origin = Some(shared.person(sender)?);
    signal.meta.addressees = shared.own().into_iter().collect();
    Some(signal)
}

/// Answers [`Query::Status`](chatty_core::Query::Status) for a person: their presence as the
/// homeserver has it (`/presence/{userId}/status`).
pub(crate) async fn status(
    shared: &Shared,
    query: &Query,
    address: &Address,
) -> Result<Answer, QueryError> {
    let user = OwnedUserId::try_from(address.id())
        .map_err(|_| QueryError::not_supported(query, "only a person (@…) has a presence"))?;
    let token = shared
        .live()
        .token
        .clone()
        .ok_or_else(|| QueryError::not_supported(query, "not logged in (yet)"))?;
    let request = get_presence::v3::Request::new(user);
    let answer = shared
        .http
        .call(request, Some(&token), Duration::from_secs(30))
        .await
        .map_err(|e| QueryError::Failed {
            message: e.to_string(),
        })?;
    let mut presence = Presence::new(availability(&answer.presence));
    presence.message = answer.status_msg.filter(|m| !m.is_empty());
    Ok(Answer::Status(presence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MatrixConfig;
    use crate::http::Http;
    use chatty_core::Body;
    use serde_json::json;

    fn shared() -> Shared {
        let config = MatrixConfig::new("http://127.0.0.1:1", "bot", "pw");
        let shared = Shared::new(config.clone(), Http::new(&config).unwrap());
        shared.live().user_id = Some("@bot:localhost".into());
        shared
    }

    fn presence(sender: &str, state: &str, message: Option<&str>) -> Raw<PresenceEvent> {
        let mut content = json!({"presence": state, "last_active_ago": 10});
        if let Some(message) = message {
            content["status_msg"] = message.into();
        }
        let event = json!({"type": "m.presence", "sender": sender, "content": content});
        Raw::from_json_string(event.to_string()).unwrap()
    }

    #[test]
    fn a_presence_is_a_status_change_once_and_the_bots_own_is_not_news() {
        let shared = shared();
        let away = change(
            &shared,
            &presence("@alice:localhost", "unavailable", Some("lunch")),
        )
        .expect("a change");
        let Body::StatusChange(c) = &away.body else {
            panic!("{away:?}")
        };
        assert_eq!(
            c.status,
            Status::Presence {
                availability: Availability::Away
            }
        );
        assert_eq!(c.message.as_deref(), Some("lunch"));
        assert_eq!(away.meta.origin.as_ref().unwrap().id(), "@alice:localhost");
        assert_eq!(away.meta.addressees[0].id(), "@bot:localhost");
        let again = presence("@alice:localhost", "unavailable", Some("lunch"));
        assert!(change(&shared, &again).is_none(), "a repeat");
        let back = presence("@alice:localhost", "online", None);
        assert!(change(&shared, &back).is_some());
        assert!(change(&shared, &presence("@bot:localhost", "online", None)).is_none());
        assert!(change(&shared, &Raw::from_json_string("{}".into()).unwrap()).is_none());
    }

    #[test]
    fn states_both_ways() {
        assert_eq!(
            availability(&PresenceState::Online),
            Availability::Available
        );
        assert_eq!(
            availability(&PresenceState::Unavailable),
            Availability::Away
        );
        assert_eq!(availability(&PresenceState::Offline), Availability::Offline);
        assert_eq!(
            availability(&PresenceState::from("busy")),
            Availability::Busy
        );
        assert_eq!(state(Availability::Chatty), PresenceState::Online);
        assert_eq!(state(Availability::Busy), PresenceState::Unavailable);
        assert_eq!(state(Availability::Offline), PresenceState::Offline);
    }
}
