//! Interactivity and slash commands over Socket Mode: a click on one of the session's buttons
//! (an `interactive` envelope with a `block_actions` payload,
//! docs.slack.dev/reference/interaction-payloads/block_actions-payload) and a slash command
//! (a `slash_commands` envelope, docs.slack.dev/interactivity/implementing-slash-commands),
//! each as an inbound message from the person, in the conversation where they clicked or typed
//! it, so that `signal.reply(…)` answers there.
//!
//! Both are read from raw JSON, like events; both get a signal id from the payload alone (the
//! same when Slack sends it again, after a restart too), by which a second delivery is
//! dropped: `action/CHANNEL/ACTION_TS/USER` for a click, `command/TRIGGER_ID` for a command.

use chatty_core::reexports::serde_json::Value;
use chatty_core::{Address, AddressKind, Message, Metadata, Signal, SignalId};

use super::event::{Inbound, text_of};
use super::intake::{Marks, Outcome};
use crate::choice;
use crate::ids::{Ids, Place, native_id, ts_time};
use crate::mapper::Mapper;
use crate::state::Intake;
use crate::text::unescape;

/// The `channel_type` a conversation's name in an interaction payload tells: Slack names a DM
/// `directmessage` there, a group DM `mpdm-…`, a private channel `privategroup`.
fn channel_type_of(name: Option<&str>) -> Option<&'static str> {
    match name? {
        "directmessage" => Some("im"),
        "privategroup" => Some("group"),
        n if n.starts_with("mpdm-") => Some("mpim"),
        _ => None,
    }
}

impl Mapper {
    /// Addresses a message from a person in `conversation` to the bot: in a DM it is the
    /// bot's, elsewhere visible to the conversation (so a reply goes there).
    fn to_bot(&self, signal: &mut Signal, conversation: Address) {
        signal.meta.addressees = vec![self.own().clone()];
        if conversation.kind() != AddressKind::Individual {
            signal.meta.visible_to = vec![conversation];
        }
    }

    /// A `block_actions` payload: a click on one of the session's buttons as the answer to
    /// the question, at the place of the question's message; other buttons are skipped.
    pub(crate) fn click(&self, payload: &Value, ids: &Ids, envelope_id: &str) -> Inbound {
        let Some(actions) = payload.get("actions").and_then(Value::as_array) else {
            return Inbound::Malformed("a block_actions payload without actions".into());
        };
        let Some((action, read)) = actions
            .iter()
            .find_map(|a| choice::clicked(a).map(|read| (a, read)))
        else {
            return Inbound::Skip("a click on a button that is not one of the session's");
        };
        let (chosen, label) = match read {
            Ok(read) => read,
            Err(why) => return Inbound::Malformed(why),
        };
        let container = payload.get("container").unwrap_or(&Value::Null);
        let message = payload.get("message").unwrap_or(&Value::Null);
        let user = payload
            .get("user")
            .and_then(|u| text_of(u, "id"))
            .or_else(|| text_of(payload, "user_id"));
        let channel = text_of(container, "channel_id")
            .or_else(|| payload.get("channel").and_then(|c| text_of(c, "id")));
        let message_ts = text_of(container, "message_ts").or_else(|| text_of(message, "ts"));
        let (Some(user), Some(channel), Some(message_ts)) = (user, channel, message_ts) else {
            return Inbound::Malformed(
                "a click without its user, channel or message ts (block_actions)".into(),
            );
        };
        let channel_name = payload.get("channel").and_then(|c| text_of(c, "name"));
        let (Some(origin), Some(conversation)) = (
            self.address(user, AddressKind::Individual),
            self.conversation(channel, channel_type_of(channel_name)),
        ) else {
            return Inbound::Malformed(format!(
                "a click with invalid ids (user `{user}`, channel `{channel}`)"
            ));
        };
        let action_ts = text_of(action, "action_ts");
        let id = match (action_ts, text_of(payload, "trigger_id")) {
            (Some(ts), _) => format!("action/{channel}/{ts}/{user}"),
            (None, Some(trigger)) => format!("action/{trigger}"),
            (None, None) => format!("action/envelope/{envelope_id}"),
        };
        // The question: the id the session gave it, or the one its message carries, or its
        // CHANNEL/TS.
        let question = ids
            .known_at(channel, message_ts)
            .or_else(|| Mapper::carried(message).0)
            .unwrap_or_else(|| native_id(channel, message_ts));
        let thread = text_of(message, "thread_ts").or_else(|| text_of(container, "thread_ts"));
        let mut answer = Message::text(label);
        answer.chosen = Some(chosen);
        let mut signal = Signal {
            meta: Metadata::with_id(SignalId::from(id)),
            body: answer.into(),
        };
        signal.meta.response_to = Some(question);
        signal.meta.origin = Some(origin);
        signal.meta.sent = action_ts.and_then(ts_time);
        self.to_bot(&mut signal, conversation);
        let place = Place::new(channel, message_ts, thread);
        Inbound::Signal(Box::new(signal), Some(place))
    }

    /// A slash command's payload as a command message: `/ticket open printer on fire`.
    pub(crate) fn slash_command(&self, payload: &Value, envelope_id: &str) -> Inbound {
        let (Some(command), Some(user), Some(channel)) = (
            text_of(payload, "command"),
            text_of(payload, "user_id"),
            text_of(payload, "channel_id"),
        ) else {
            return Inbound::Malformed(
                "a slash command without its command, user_id or channel_id".into(),
            );
        };
        let text = match payload.get("text") {
            None | Some(Value::Null) => "",
            Some(Value::String(t)) => t.as_str(),
            Some(_) => {
                return Inbound::Malformed(format!(
                    "a slash command {command} whose text is not text"
                ));
            }
        };
        let channel_type = channel_type_of(text_of(payload, "channel_name"));
        let (Some(origin), Some(conversation)) = (
            self.address(user, AddressKind::Individual),
            self.conversation(channel, channel_type),
        ) else {
            return Inbound::Malformed(format!(
                "a slash command with invalid ids (user `{user}`, channel `{channel}`)"
            ));
        };
        let typed = if text.trim().is_empty() {
            command.to_owned()
        } else {
            format!("{command} {text}")
        };
        let mut message = Message::text(unescape(&typed));
        message.command = true;
        let id = match text_of(payload, "trigger_id") {
            Some(trigger) => format!("command/{trigger}"),
            None => format!("command/envelope/{envelope_id}"),
        };
        let mut signal = Signal {
            meta: Metadata::with_id(SignalId::from(id)),
            body: message.into(),
        };
        signal.meta.origin = Some(origin);
        self.to_bot(&mut signal, conversation);
        Inbound::Signal(Box::new(signal), None)
    }
}

impl Intake {
    /// Handles the payload of an `interactive` envelope: a click on one of the session's
    /// buttons is a signal (once, however often Slack sends it); other buttons and other
    /// interactions (modals, shortcuts) are skipped; what cannot be read is an error.
    pub(crate) fn interactive(
        &mut self,
        mapper: &Mapper,
        ids: &mut Ids,
        payload: &Value,
        envelope_id: &str,
    ) -> (Outcome, Marks) {
        let mut marks = Marks::default();
        let inbound = match payload.get("type").and_then(Value::as_str) {
            Some("block_actions") => mapper.click(payload, ids, envelope_id),
            Some(_) => Inbound::Skip("an interaction the session does not map"),
            None => Inbound::Malformed("an interactive payload without a type".into()),
        };
        let outcome = self.once(inbound, &mut marks, |signal, place| {
            let Some(place) = place else { return };
            if place.channel.starts_with('D')
                && let Some(user) = payload.get("user").and_then(|u| text_of(u, "id"))
            {
                ids.learn_dm(user, &place.channel);
            }
            // The question keeps its id at its place; the click is answered where it is.
            if let Some(question) = &signal.meta.response_to {
                ids.remember(question.clone(), place.clone());
            }
            ids.remember(signal.meta.id.clone(), place);
        });
        (outcome, marks)
    }

    /// Handles the payload of a `slash_commands` envelope: a command message, once.
    pub(crate) fn slash_command(
        &mut self,
        mapper: &Mapper,
        payload: &Value,
        envelope_id: &str,
    ) -> (Outcome, Marks) {
        let mut marks = Marks::default();
        let inbound = mapper.slash_command(payload, envelope_id);
        let outcome = self.once(inbound, &mut marks, |_, _| {});
        (outcome, marks)
    }

    /// The outcome of a mapped click or command, dropped when its id was seen already;
    /// `remember` is called for a signal seen the first time.
    fn once(
        &mut self,
        inbound: Inbound,
        marks: &mut Marks,
        remember: impl FnOnce(&Signal, Option<Place>),
    ) -> Outcome {
        match inbound {
            Inbound::Signal(signal, place) => {
                let id = signal.meta.id.as_str().to_owned();
                if !self.actions.first_time(id.clone()) {
                    return Outcome::Skip(format!("{id} was delivered already"));
                }
                marks.action = Some(id);
                remember(&signal, place);
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
    use chatty_core::{Body, Chosen};

    use super::*;

    fn mapper() -> Mapper {
        Mapper::new("slack", "T1", "UBOT", "BBOT").unwrap()
    }

    /// The documented payload (docs.slack.dev/reference/interaction-payloads/
    /// block_actions-payload), on a question the session asked.
    fn block_actions(channel: &str, channel_name: &str) -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": "U1", "username": "ann", "name": "ann", "team_id": "T1"},
            "api_app_id": "A1", "token": "t",
            "container": {"type": "message", "message_ts": "1548261231.000200",
                          "channel_id": channel, "is_ephemeral": false},
            "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
            "team": {"id": "T1", "domain": "example"},
            "channel": {"id": channel, "name": channel_name},
            "message": {"type": "message", "bot_id": "BBOT", "user": "UBOT",
                        "text": "Priority?", "ts": "1548261231.000200"},
            "response_url": "https://hooks.slack.com/actions/A1/1/x",
            "actions": [{"action_id": "chatty_choice/1", "block_id": "chatty_choice/0/priority",
                         "text": {"type": "plain_text", "text": "High", "emoji": true},
                         "value": "high", "type": "button", "action_ts": "1548426417.840180"}],
        })
    }

    #[test]
    fn a_click_answers_the_question_where_it_was_asked() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        ids.remember("q1".into(), Place::new("C1", "1548261231.000200", None));
        let (outcome, _) = intake.interactive(&m, &mut ids, &block_actions("C1", "general"), "e1");
        let Outcome::Signal(signal) = outcome else {
            panic!("{outcome:?}")
        };
        let Body::Message(answer) = &signal.body else {
            panic!()
        };
        assert_eq!(answer.text, "High");
        assert_eq!(answer.chosen, Some(Chosen::new("priority", "high")));
        assert_eq!(signal.meta.response_to.as_ref().unwrap().as_str(), "q1");
        assert_eq!(
            signal.meta.origin.as_ref().unwrap().to_string(),
            "slack:T1/U1;kind=individual"
        );
        assert_eq!(signal.meta.visible_to.len(), 1);
        assert_eq!(signal.meta.visible_to[0].id(), "T1/C1");
        assert_eq!(signal.meta.addressees, vec![m.own().clone()]);
        assert_eq!(signal.meta.id.as_str(), "action/C1/1548426417.840180/U1");
        // Sent again (a new envelope, the same payload): once.
        let again = intake.interactive(&m, &mut ids, &block_actions("C1", "general"), "e2");
        assert!(matches!(again.0, Outcome::Skip(_)));
        // The answer to the click goes where the question is.
        assert_eq!(ids.place(&signal.meta.id).unwrap().channel, "C1");
        assert_eq!(ids.id_at("C1", "1548261231.000200").as_str(), "q1");
    }

    #[test]
    fn a_click_in_a_dm_is_the_bots_and_teaches_the_dm() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        let payload = block_actions("D7", "directmessage");
        let Outcome::Signal(signal) = intake.interactive(&m, &mut ids, &payload, "e1").0 else {
            panic!()
        };
        assert!(signal.meta.visible_to.is_empty());
        assert_eq!(signal.meta.addressees, vec![m.own().clone()]);
        // Unknown question: its CHANNEL/TS.
        assert_eq!(
            signal.meta.response_to.as_ref().unwrap().as_str(),
            "D7/1548261231.000200"
        );
        assert_eq!(ids.dm_with("U1").as_deref(), Some("D7"));
    }

    #[test]
    fn other_buttons_and_interactions_are_skipped_and_nonsense_is_an_error() {
        let (m, mut ids, mut intake) = (mapper(), Ids::default(), Intake::default());
        let mut other = block_actions("C1", "general");
        other["actions"][0]["action_id"] = "approve".into();
        assert!(matches!(
            intake.interactive(&m, &mut ids, &other, "e").0,
            Outcome::Skip(_)
        ));
        let modal = json!({"type": "view_submission", "view": {}});
        assert!(matches!(
            intake.interactive(&m, &mut ids, &modal, "e").0,
            Outcome::Skip(_)
        ));
        let mut no_user = block_actions("C1", "general");
        no_user.as_object_mut().unwrap().remove("user");
        for bad in [
            json!({}),
            json!({"type": "block_actions"}),
            json!({"type": "block_actions", "actions": "x"}),
            no_user,
        ] {
            assert!(
                matches!(
                    intake.interactive(&m, &mut ids, &bad, "e").0,
                    Outcome::Error(_)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_slash_command_is_a_command_message_in_its_channel() {
        let (m, mut intake) = (mapper(), Intake::default());
        let payload = json!({"token": "t", "team_id": "T1", "team_domain": "example",
            "channel_id": "C1", "channel_name": "general", "user_id": "U1",
            "user_name": "ann", "command": "/ticket", "text": "open printer on fire",
            "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T1/1/x",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0"});
        let (outcome, marks) = intake.slash_command(&m, &payload, "e1");
        let Outcome::Signal(signal) = outcome else {
            panic!("{outcome:?}")
        };
        let Body::Message(command) = &signal.body else {
            panic!()
        };
        assert!(command.command);
        assert_eq!(command.text, "/ticket open printer on fire");
        assert_eq!(signal.meta.visible_to[0].id(), "T1/C1");
        assert_eq!(
            signal.meta.id.as_str(),
            "command/13345224609.738474920.8088930838d88f008e0"
        );
        assert!(matches!(
            intake.slash_command(&m, &payload, "e2").0,
            Outcome::Skip(_)
        ));
        intake.forget(&marks);
        assert!(matches!(
            intake.slash_command(&m, &payload, "e3").0,
            Outcome::Signal(_)
        ));
        let mut bare = payload.clone();
        bare["text"] = "".into();
        bare["trigger_id"] = "2".into();
        let Outcome::Signal(signal) = intake.slash_command(&m, &bare, "e4").0 else {
            panic!()
        };
        assert!(matches!(&signal.body, Body::Message(c) if c.text == "/ticket"));
        for bad in [json!({}), json!({"command": "/t", "user_id": "U1"})] {
            assert!(matches!(
                intake.slash_command(&m, &bad, "e").0,
                Outcome::Error(_)
            ));
        }
    }
}
