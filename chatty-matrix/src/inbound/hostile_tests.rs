//! Hostile input: whatever JSON a homeserver puts in a sync's events (of the types the session
//! maps, with fields of any shape; the same as a presence event), mapping it never panics, and
//! a good message after it is still given.

use proptest::prelude::*;
use ruma::events::AnySyncTimelineEvent;
use ruma::serde::Raw;
use serde_json::{Value, json};

use super::map;
use crate::config::MatrixConfig;
use crate::http::Http;
use crate::state::Shared;

const ROOM: &str = "!room:localhost";

/// Keys the mapping reads, so that random events reach its branches.
const KEYS: [&str; 24] = [
    "type",
    "content",
    "msgtype",
    "body",
    "format",
    "formatted_body",
    "url",
    "info",
    "mimetype",
    "size",
    "filename",
    "m.relates_to",
    "rel_type",
    "event_id",
    "key",
    "m.in_reply_to",
    "m.new_content",
    "sender",
    "state_key",
    "membership",
    "redacts",
    "origin_server_ts",
    "unsigned",
    "io.github.chatty-rs.corrects",
];

/// Strings the mapping compares against.
const WORDS: [&str; 16] = [
    "m.room.message",
    "m.reaction",
    "m.room.member",
    "m.room.redaction",
    "m.room.encrypted",
    "m.text",
    "m.file",
    "m.image",
    "m.notice",
    "m.replace",
    "m.annotation",
    "m.thread",
    "@alice:localhost",
    "$e1",
    "mxc://localhost/x",
    "join",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        proptest::sample::select(WORDS.to_vec()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::vec((proptest::sample::select(KEYS.to_vec()), inner), 0..6)
                .prop_map(|fields| {
                    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
        ]
    })
}

/// An event of a mapped type, its other fields of any shape.
fn event() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(WORDS[..5].to_vec()),
        value(),
        value(),
        value(),
    )
        .prop_map(|(kind, content, sender, extra)| {
            json!({"type": kind, "event_id": "$x", "sender": sender, "content": content,
                   "origin_server_ts": 1, "state_key": extra, "redacts": extra})
        })
}

fn shared() -> Shared {
    let config = MatrixConfig::new("http://127.0.0.1:1", "bot", "pw");
    let shared = Shared::new(config.clone(), Http::new(&config).unwrap());
    shared.live().user_id = Some("@bot:localhost".into());
    shared
}

fn raw(value: &Value) -> Raw<AnySyncTimelineEvent> {
    Raw::from_json_string(value.to_string()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_event_maps_or_not_and_the_next_message_is_given(bad in event()) {
        let shared = shared();
        let _ = map::timeline_event(&shared, ROOM, &raw(&bad));
        let _ = map::past_message(&shared, ROOM, &raw(&bad));
        let _ = super::media::body(&bad["content"]);
        let _ = crate::presence::change(&shared, &Raw::from_json_string(bad.to_string()).unwrap());
        let good = json!({"type": "m.room.message", "event_id": "$good",
                          "sender": "@alice:localhost", "origin_server_ts": 1,
                          "content": {"msgtype": "m.text", "body": "still here"}});
        let signal = map::timeline_event(&shared, ROOM, &raw(&good));
        let signal = signal.expect("the good message is given");
        prop_assert_eq!(signal.meta.id.as_str(), "$good");
    }

    #[test]
    fn any_content_of_a_file_event_is_a_file_or_nothing(content in value()) {
        let _ = super::media::body(&content);
    }
}
