//! Hostile input: arbitrary and mutated Events API JSON and Socket Mode frames through the same
//! path the session takes (frame → envelope → payload → signal) never panic, always give a
//! signal, a skip with its reason or an error that says what is wrong, and a bad frame between
//! two good ones loses neither.

use chatty_core::reexports::serde_json::{self, Map, Value, json};
use proptest::prelude::*;

use crate::envelope::{self, Frame};
use crate::ids::Ids;
use crate::inbound::Outcome;
use crate::mapper::Mapper;
use crate::state::Intake;

fn mapper() -> Mapper {
    Mapper::new("slack", "T1", "UBOT", "BBOT").unwrap()
}

/// What the session does with one text frame from the socket.
fn through(intake: &mut Intake, ids: &mut Ids, text: &str) -> Outcome {
    match envelope::parse(text) {
        Frame::EventsApi { payload, .. } => intake.payload(&mapper(), ids, &payload).0,
        Frame::Interactive {
            envelope_id,
            payload,
        } => intake.interactive(&mapper(), ids, &payload, &envelope_id).0,
        Frame::SlashCommand {
            envelope_id,
            payload,
        } => intake.slash_command(&mapper(), &payload, &envelope_id).0,
        Frame::Malformed { reason, .. } => Outcome::Error(reason),
        Frame::Hello | Frame::Disconnect { .. } | Frame::Other { .. } => {
            Outcome::Skip("not an event".into())
        }
    }
}

/// Checks that an outcome says what it is.
fn clear(outcome: &Outcome) -> Result<(), TestCaseError> {
    match outcome {
        Outcome::Signal(signal) => {
            prop_assert!(!signal.meta.id.as_str().is_empty());
            prop_assert!(serde_json::to_string(signal).is_ok());
        }
        Outcome::Skip(why) => prop_assert!(!why.is_empty()),
        Outcome::Error(why) => prop_assert!(!why.is_empty()),
    }
    Ok(())
}

/// Documented event shapes (api.slack.com/events/…) to mutate.
fn templates() -> Vec<Value> {
    vec![
        json!({"type": "message", "channel": "C2147483705", "user": "U2147483697",
               "text": "Hello <@UBOT> &amp; world", "ts": "1355517523.000005",
               "event_ts": "1355517523.000005", "channel_type": "channel"}),
        json!({"type": "app_mention", "user": "U061F7AUR", "text": "<@UBOT> hi",
               "ts": "1515449522.000016", "channel": "C123ABC456", "event_ts": "1515449522000016"}),
        json!({"type": "message", "subtype": "message_changed", "hidden": true, "channel": "C1",
               "ts": "5.000001", "message": {"type": "message", "user": "U9", "text": "new",
               "ts": "4.000001", "edited": {"user": "U9", "ts": "5.000001"}},
               "previous_message": {"type": "message", "user": "U9", "text": "old",
               "ts": "4.000001"}}),
        json!({"type": "message", "subtype": "message_deleted", "channel": "C1",
               "ts": "6.000001", "deleted_ts": "4.000001",
               "previous_message": {"user": "U9", "text": "new", "ts": "4.000001"}}),
        json!({"type": "message", "subtype": "file_share", "channel": "D1", "channel_type": "im",
               "user": "U9", "text": "", "ts": "3.000001",
               "files": [{"id": "F1", "name": "a.txt", "mimetype": "text/plain", "size": 3,
                          "url_private": "https://files.slack.com/files-pri/T1-F1/a.txt"}]}),
        json!({"type": "message", "subtype": "bot_message", "channel": "C1", "bot_id": "B0X",
               "text": "build green", "ts": "8.000001", "thread_ts": "7.000001",
               "metadata": {"event_type": "build", "event_payload": {"n": 1, "ok": true}}}),
        json!({"type": "member_joined_channel", "user": "W06GH7XHN", "channel": "C0698JE0H",
               "channel_type": "C", "team": "T1", "event_ts": "7.000001"}),
    ]
}

/// Documented interaction and slash command payloads, as envelopes' (`type`, payload).
fn interaction_templates() -> Vec<(&'static str, Value)> {
    vec![
        (
            "interactive",
            json!({"type": "block_actions",
            "user": {"id": "U1", "username": "ann", "name": "ann", "team_id": "T1"},
            "api_app_id": "A1", "token": "t", "trigger_id": "1.2.3",
            "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C1",
                          "is_ephemeral": false},
            "team": {"id": "T1", "domain": "x"}, "channel": {"id": "C1", "name": "general"},
            "message": {"type": "message", "user": "UBOT", "text": "q?", "ts": "1.000001"},
            "response_url": "https://hooks.slack.com/actions/A1/1/x",
            "actions": [{"action_id": "chatty_choice/0", "block_id": "chatty_choice/0/q",
                         "text": {"type": "plain_text", "text": "Yes"}, "value": "y",
                         "type": "button", "action_ts": "2.000001"}]}),
        ),
        (
            "slash_commands",
            json!({"token": "t", "team_id": "T1", "team_domain": "x",
            "channel_id": "C1", "channel_name": "general", "user_id": "U1",
            "user_name": "ann", "command": "/ticket", "text": "open", "api_app_id": "A1",
            "is_enterprise_install": "false", "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.com/commands/T1/1/x"}),
        ),
    ]
}

/// A documented interaction or slash command payload with fields removed, replaced or added
/// (at its top level or in its first action), in its envelope.
fn mutated_interaction() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec(
        (
            0usize..32,
            prop::option::of(any_json()),
            "[a-z_]{1,12}",
            any::<bool>(),
        ),
        0..5,
    );
    (prop::sample::select(interaction_templates()), edits).prop_map(
        |((kind, mut payload), edits)| {
            for (index, value, new_key, in_action) in edits {
                let target = if in_action {
                    payload.pointer_mut("/actions/0")
                } else {
                    Some(&mut payload)
                };
                let Some(object) = target.and_then(Value::as_object_mut) else {
                    continue;
                };
                let keys: Vec<String> = object.keys().cloned().collect();
                let key = keys
                    .get(index % keys.len().max(1))
                    .cloned()
                    .unwrap_or(new_key.clone());
                match value {
                    None => {
                        object.remove(&key);
                    }
                    Some(v) if index % 3 == 0 => {
                        object.insert(new_key, v);
                    }
                    Some(v) => {
                        object.insert(key, v);
                    }
                }
            }
            json!({"envelope_id": "env-i", "type": kind, "payload": payload}).to_string()
        },
    )
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        "[A-Z][A-Z0-9]{0,9}".prop_map(Value::String),
        "[0-9]{1,10}\\.[0-9]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A documented event with some of its fields removed, replaced or added.
fn mutated_event() -> impl Strategy<Value = Value> {
    let edits = prop::collection::vec(
        (0usize..32, prop::option::of(any_json()), "[a-z_]{1,12}"),
        0..5,
    );
    (prop::sample::select(templates()), edits).prop_map(|(mut event, edits)| {
        for (index, value, new_key) in edits {
            let Some(object) = event.as_object_mut() else {
                break;
            };
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = keys
                .get(index % keys.len().max(1))
                .cloned()
                .unwrap_or(new_key.clone());
            match value {
                None => {
                    object.remove(&key);
                }
                Some(v) if index % 3 == 0 => {
                    object.insert(new_key, v);
                }
                Some(v) => {
                    object.insert(key, v);
                }
            }
        }
        event
    })
}

fn envelope_text(event_id: &str, event: &Value) -> String {
    json!({
        "envelope_id": format!("env-{event_id}"),
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                    "event_id": event_id, "event_time": 1, "event": event},
    })
    .to_string()
}

/// A frame as it might come off a broken or hostile connection.
fn hostile_frame() -> impl Strategy<Value = String> {
    prop_oneof![
        // Anything at all.
        ".{0,80}",
        any_json().prop_map(|v| v.to_string()),
        // An envelope around any payload.
        any_json().prop_map(|payload| {
            json!({"envelope_id": "env-x", "type": "events_api", "payload": payload}).to_string()
        }),
        // An envelope around a mutated event.
        mutated_event().prop_map(|e| envelope_text("EvMUTATED", &e)),
        // A mutated click or slash command.
        mutated_interaction(),
        // A good envelope cut short or with bytes changed.
        (mutated_event(), any::<prop::sample::Index>(), ".{0,3}").prop_map(|(e, at, junk)| {
            let text = envelope_text("EvCUT", &e);
            let mut cut = at.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}{junk}", &text[..cut])
        }),
    ]
}

fn good(n: u32) -> String {
    let event = json!({"type": "message", "channel": "D0GOOD", "channel_type": "im",
        "user": "U0PERSON", "text": format!("good {n}"), "ts": format!("99999999{n}.000001")});
    envelope_text(&format!("EvGOOD{n}"), &event)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_events_never_panic_and_say_what_they_are(event in mutated_event()) {
        let (mut intake, mut ids) = (Intake::default(), Ids::default());
        let payload = json!({"type": "event_callback", "event_id": "Ev1", "event": event});
        clear(&intake.payload(&mapper(), &mut ids, &payload).0)?;
    }

    #[test]
    fn arbitrary_payloads_never_panic(payload in any_json()) {
        let (mut intake, mut ids) = (Intake::default(), Ids::default());
        clear(&intake.payload(&mapper(), &mut ids, &payload).0)?;
    }

    #[test]
    fn hostile_frames_never_panic_and_keep_their_envelope_id(text in hostile_frame()) {
        let (mut intake, mut ids) = (Intake::default(), Ids::default());
        clear(&through(&mut intake, &mut ids, &text))?;
        // Whatever could be read of an envelope id is still there to acknowledge.
        if let Frame::Malformed { envelope_id: Some(id), .. } = envelope::parse(&text) {
            prop_assert!(text.contains(&id));
        }
    }

    #[test]
    fn a_bad_frame_between_two_good_ones_loses_neither(bad in hostile_frame()) {
        let (mut intake, mut ids) = (Intake::default(), Ids::default());
        let mut texts = Vec::new();
        for text in [good(1), bad, good(2)] {
            let outcome = through(&mut intake, &mut ids, &text);
            clear(&outcome)?;
            if let Outcome::Signal(signal) = outcome
                && let chatty_core::Body::Message(m) = signal.body
            {
                texts.push(m.text);
            }
        }
        prop_assert!(texts.contains(&"good 1".to_owned()), "{texts:?}");
        prop_assert!(texts.contains(&"good 2".to_owned()), "{texts:?}");
    }
}
