//! What the session does with each Events API payload it received: drop redeliveries and the
//! second copy of a mention, map the event, remember where its message is, and turn anything
//! unreadable into an error for the bot, never into silence and never into a panic.

use chatty_core::Signal;
use chatty_core::reexports::serde_json::Value;

use super::event::{Inbound, sender_of, text_of};
use crate::ids::Ids;
use crate::mapper::Mapper;
use crate::state::Intake;

/// What one payload becomes.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A signal for the bot.
    Signal(Box<Signal>),
    /// Nothing for the bot (a redelivery, the bot's own message, an event it does not map).
    Skip(String),
    /// A payload that cannot be read: a system error for the bot.
    Error(String),
}

impl Intake {
    /// Handles the payload of one `events_api` envelope (api.slack.com/apis/events-api#callback-
    /// field).
    pub(crate) fn payload(&mut self, mapper: &Mapper, ids: &mut Ids, payload: &Value) -> Outcome {
        match payload.get("type").and_then(Value::as_str) {
            Some("event_callback") => {}
            // api.slack.com/apis/events-api#rate-limiting: events were dropped.
            Some("app_rate_limited") => {
                return Outcome::Error(format!(
                    "Slack dropped events for this app (app_rate_limited, minute {}): more than \
                     30 000 events in an hour",
                    payload
                        .get("minute_rate_limited")
                        .map(Value::to_string)
                        .unwrap_or_else(|| "unknown".into())
                ));
            }
            Some(other) => {
                return Outcome::Error(format!(
                    "an events_api payload of type `{other}`, not an event_callback"
                ));
            }
            None => return Outcome::Error("an events_api payload without a type".into()),
        }
        let Some(event) = payload.get("event").filter(|e| e.is_object()) else {
            return Outcome::Error("an event_callback without an event object".into());
        };
        if let Some(event_id) = text_of(payload, "event_id")
            && !self.events.first_time(event_id.to_owned())
        {
            return Outcome::Skip(format!("{event_id} was delivered already"));
        }
        let kind = text_of(event, "type").unwrap_or_default();
        let subtype = event.get("subtype").and_then(Value::as_str);
        let a_message = matches!(kind, "message" | "app_mention")
            && matches!(
                subtype,
                None | Some("file_share" | "thread_broadcast" | "bot_message" | "me_message")
            );
        // A mention arrives twice (`message` and `app_mention`): the first one counts.
        if a_message
            && let (Some(channel), Some(ts)) = (text_of(event, "channel"), text_of(event, "ts"))
            && !self.places.first_time(format!("{channel}/{ts}"))
        {
            return Outcome::Skip(format!("the message {channel}/{ts} was delivered already"));
        }
        match mapper.inbound(event, ids) {
            Inbound::Signal(signal, place) => {
                if let Some(place) = place {
                    if a_message
                        && place.channel.starts_with('D')
                        && let Some(sender) = sender_of(event)
                    {
                        ids.learn_dm(sender, &place.channel);
                    }
                    ids.remember(signal.meta.id.clone(), place);
                }
                Outcome::Signal(signal)
            }
            Inbound::Skip(why) => Outcome::Skip(why.to_owned()),
            Inbound::Malformed(why) => Outcome::Error(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use chatty_core::reexports::serde_json::json;

    use super::*;

    fn mapper() -> Mapper {
        Mapper::new("slack", "T1", "UBOT", "BBOT").unwrap()
    }

    fn callback(event_id: &str, event: Value) -> Value {
        json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
               "event_id": event_id, "event_time": 1, "event": event})
    }

    #[test]
    fn redeliveries_and_second_mentions_are_dropped() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        let message = json!({"type": "message", "channel": "C1", "user": "U1",
            "text": "<@UBOT> hi", "ts": "1.000001", "channel_type": "channel"});
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev1", message.clone())),
            Outcome::Signal(_)
        ));
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev1", message.clone())),
            Outcome::Skip(_)
        ));
        let mut mention = message;
        mention["type"] = "app_mention".into();
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev2", mention)),
            Outcome::Skip(_)
        ));
    }

    #[test]
    fn dms_are_learnt_from_people_writing_to_the_bot() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        let dm = json!({"type": "message", "channel": "D7", "user": "U1", "text": "hi",
            "ts": "1.000001", "channel_type": "im"});
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev1", dm)),
            Outcome::Signal(_)
        ));
        assert_eq!(ids.dm_with("U1").as_deref(), Some("D7"));
    }

    #[test]
    fn unreadable_payloads_are_errors() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        for bad in [
            json!({}),
            json!({"type": "event_callback"}),
            json!({"type": "event_callback", "event": "text"}),
            json!({"type": "url_verification", "challenge": "x"}),
            json!({"type": "app_rate_limited", "minute_rate_limited": 1518467820}),
        ] {
            assert!(
                matches!(intake.payload(&m, &mut ids, &bad), Outcome::Error(_)),
                "{bad}"
            );
        }
    }
}
