//! What the session does with each Events API payload it received: drop redeliveries and the
//! second copy of a mention, map the event, remember where its message is, and turn anything
//! unreadable into an error for the bot, never into silence and never into a panic.

use chatty_core::reexports::serde_json::Value;
use chatty_core::{Body, Signal, SignalId};

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

/// What one payload made the intake remember (its `event_id`, the place of its message): to
/// forget again when what it became never reached the bot, so that Slack's redelivery of it is
/// not dropped as seen.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Marks {
    event: Option<String>,
    place: Option<String>,
    /// A click's or slash command's signal id.
    pub(super) action: Option<String>,
}

/// The signal id of an event that names no message (a member joining or leaving): its
/// `event_id`, the same each time Slack sends it.
pub(crate) fn event_signal_id(event_id: &str) -> SignalId {
    SignalId::from(format!("event/{event_id}"))
}

impl Intake {
    /// Handles the payload of one `events_api` envelope (api.slack.com/apis/events-api#callback-
    /// field): what it becomes, and what the intake now remembers of it.
    ///
    /// Every signal gets an id from the platform's data, the same when Slack sends the event
    /// again (after a restart too): a message's is its `CHANNEL/TS` or the id a Chatty sender
    /// carried in its metadata; an edit's or deletion's the `ts` of the event; a member joining
    /// or leaving, which names no message, gets its `event_id`.
    pub(crate) fn payload(
        &mut self,
        mapper: &Mapper,
        ids: &mut Ids,
        payload: &Value,
    ) -> (Outcome, Marks) {
        let mut marks = Marks::default();
        let outcome = self.read(mapper, ids, payload, &mut marks);
        (outcome, marks)
    }

    /// Forgets what [`payload`](Intake::payload) remembered of an event that never reached
    /// the bot.
    pub(crate) fn forget(&mut self, marks: &Marks) {
        if let Some(event) = &marks.event {
            self.events.remove(event);
        }
        if let Some(place) = &marks.place {
            self.places.remove(place);
        }
        if let Some(action) = &marks.action {
            self.actions.remove(action);
        }
    }

    fn read(
        &mut self,
        mapper: &Mapper,
        ids: &mut Ids,
        payload: &Value,
        marks: &mut Marks,
    ) -> Outcome {
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
        let event_id = text_of(payload, "event_id");
        if let Some(event_id) = event_id {
            if !self.events.first_time(event_id.to_owned()) {
                return Outcome::Skip(format!("{event_id} was delivered already"));
            }
            marks.event = Some(event_id.to_owned());
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
        {
            let place = format!("{channel}/{ts}");
            if !self.places.first_time(place.clone()) {
                return Outcome::Skip(format!("the message {place} was delivered already"));
            }
            marks.place = Some(place);
        }
        match mapper.inbound(event, ids) {
            Inbound::Signal(mut signal, place) => {
                if let (Some(event_id), Body::StatusChange(_)) = (event_id, &signal.body) {
                    signal.meta.id = event_signal_id(event_id);
                }
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
            intake
                .payload(&m, &mut ids, &callback("Ev1", message.clone()))
                .0,
            Outcome::Signal(_)
        ));
        assert!(matches!(
            intake
                .payload(&m, &mut ids, &callback("Ev1", message.clone()))
                .0,
            Outcome::Skip(_)
        ));
        let mut mention = message;
        mention["type"] = "app_mention".into();
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev2", mention)).0,
            Outcome::Skip(_)
        ));
    }

    #[test]
    fn dms_are_learnt_from_people_writing_to_the_bot() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        let dm = json!({"type": "message", "channel": "D7", "user": "U1", "text": "hi",
            "ts": "1.000001", "channel_type": "im"});
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev1", dm)).0,
            Outcome::Signal(_)
        ));
        assert_eq!(ids.dm_with("U1").as_deref(), Some("D7"));
    }

    #[test]
    fn every_event_gets_the_same_id_each_time_slack_sends_it() {
        // What Slack sends again after the session restarted meets an intake that remembers
        // nothing: the id must come from the event alone, for the journal to know it again.
        let events = [
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "hi",
                "ts": "1.000001", "channel_type": "channel"}),
            json!({"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT>",
                "ts": "1.000002"}),
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "in a thread",
                "ts": "1.000004", "thread_ts": "1.000001", "channel_type": "channel"}),
            json!({"type": "message", "subtype": "file_share", "channel": "D1", "user": "U1",
                "text": "", "ts": "1.000003", "channel_type": "im",
                "files": [{"id": "F1", "name": "a.txt", "url_private": "https://f/a.txt"}]}),
            json!({"type": "message", "subtype": "bot_message", "channel": "C1",
                "bot_id": "B9", "text": "from a bot", "ts": "1.000005"}),
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "task",
                "ts": "1.000006", "metadata": {"event_type": "task_created",
                "event_payload": {"id": 42}}}),
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "",
                "ts": "1.000007", "metadata": {"event_type": "chatty_message",
                "event_payload": {"chatty_id": "carried-1"}}}),
            json!({"type": "message", "subtype": "message_changed", "channel": "C1",
                "ts": "2.000001", "message": {"type": "message", "user": "U1", "text": "hi!",
                "ts": "1.000001", "edited": {"user": "U1", "ts": "2.000001"}}}),
            json!({"type": "message", "subtype": "message_deleted", "channel": "C1",
                "ts": "3.000001", "deleted_ts": "1.000001",
                "previous_message": {"type": "message", "user": "U1", "ts": "1.000001"}}),
            json!({"type": "member_joined_channel", "user": "U1", "channel": "C1",
                "channel_type": "C", "event_ts": "4.000001"}),
            json!({"type": "member_left_channel", "user": "U1", "channel": "C1",
                "channel_type": "C", "event_ts": "4.000002"}),
        ];
        let read = |with_event_id: bool| -> Vec<SignalId> {
            let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
            events
                .iter()
                .enumerate()
                .map(|(n, event)| {
                    let mut payload = callback(&format!("Ev{n}"), event.clone());
                    if !with_event_id {
                        payload.as_object_mut().unwrap().remove("event_id");
                    }
                    match intake.payload(&m, &mut ids, &payload).0 {
                        Outcome::Signal(signal) => signal.meta.id,
                        other => panic!("{event}: {other:?}"),
                    }
                })
                .collect()
        };
        let first = read(true);
        assert_eq!(read(true), first, "the same ids after a restart");
        assert_eq!(read(false), read(false), "and without an event_id");
        let unique: std::collections::BTreeSet<_> = first.iter().collect();
        assert_eq!(unique.len(), first.len(), "{first:?}");
        assert_eq!(first[0].as_str(), "C1/1.000001");
        assert_eq!(first[6].as_str(), "carried-1");
        assert_eq!(first[9], event_signal_id("Ev9"), "a join names no message");
    }

    #[test]
    fn what_never_reached_the_bot_is_forgotten() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        let message = json!({"type": "message", "channel": "C1", "user": "U1",
            "text": "hi", "ts": "1.000001", "channel_type": "channel"});
        let (outcome, marks) = intake.payload(&m, &mut ids, &callback("Ev1", message.clone()));
        assert!(matches!(outcome, Outcome::Signal(_)));
        intake.forget(&marks);
        // Slack sends it again: taken again, since it was never pushed.
        assert!(matches!(
            intake
                .payload(&m, &mut ids, &callback("Ev1", message.clone()))
                .0,
            Outcome::Signal(_)
        ));
        assert!(matches!(
            intake.payload(&m, &mut ids, &callback("Ev1", message)).0,
            Outcome::Skip(_)
        ));
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
                matches!(intake.payload(&m, &mut ids, &bad).0, Outcome::Error(_)),
                "{bad}"
            );
        }
    }
}
