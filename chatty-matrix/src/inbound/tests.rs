//! The inbound mapping on events as Synapse sends them, without a server.

use chatty_core::{AddressKind, Automatic, Body, Signal, Status, TypingState};
use ruma::OwnedUserId;
use ruma::events::AnySyncTimelineEvent;
use ruma::serde::Raw;
use serde_json::json;

use super::map::{direct_inviter, timeline_event, typing};
use crate::config::MatrixConfig;
use crate::http::Http;
use crate::state::Shared;

const ROOM: &str = "!XRpQxOOA-TsQ";

fn shared() -> Shared {
    let config = MatrixConfig::new("http://127.0.0.1:1", "bot", "pw");
    let shared = Shared::new(config.clone(), Http::new(&config).unwrap());
    shared.live().user_id = Some("@bot:localhost".into());
    shared
}

fn event(value: serde_json::Value) -> Raw<AnySyncTimelineEvent> {
    Raw::from_json_string(value.to_string()).unwrap()
}

fn message(id: &str, sender: &str, content: serde_json::Value) -> Raw<AnySyncTimelineEvent> {
    event(json!({
        "type": "m.room.message", "event_id": id, "sender": sender,
        "origin_server_ts": 1_765_000_000_000_u64, "content": content,
    }))
}

fn member(user: &str, membership: &str, before: Option<&str>) -> Raw<AnySyncTimelineEvent> {
    let mut value = json!({
        "type": "m.room.member", "event_id": format!("$m-{user}-{membership}"),
        "sender": user, "state_key": user, "origin_server_ts": 1_765_000_000_000_u64,
        "content": {"membership": membership},
    });
    if let Some(before) = before {
        value["unsigned"] = json!({"prev_content": {"membership": before}});
    }
    event(value)
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn a_room_message_with_html_from_a_person() {
    let shared = shared();
    let raw = message(
        "$abc",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "hello *bot*",
               "format": "org.matrix.custom.html", "formatted_body": "hello <em>bot</em>"}),
    );
    let signal = timeline_event(&shared, ROOM, &raw).unwrap();
    assert_eq!(text(&signal), "hello *bot*");
    let Body::Message(m) = &signal.body else {
        unreachable!()
    };
    assert_eq!(m.html.as_deref(), Some("hello <em>bot</em>"));
    assert_eq!(signal.meta.id.as_str(), "$abc");
    assert_eq!(
        signal.meta.origin.as_ref().unwrap().to_string(),
        "matrix:@alice:localhost;kind=individual"
    );
    let room = &signal.meta.visible_to[0];
    assert_eq!(room.to_string(), format!("matrix:{ROOM};kind=channel"));
    assert_eq!(room.kind(), AddressKind::Channel);
    assert_eq!(signal.meta.addressees, signal.meta.visible_to);
    assert_eq!(
        signal.meta.sent.unwrap().unix_timestamp(),
        1_765_000_000,
        "origin_server_ts"
    );
    assert!(!signal.is_automatic());
    // A reply goes to the room.
    assert_eq!(signal.reply("hi").meta.addressees, vec![room.clone()]);
}

#[test]
fn notices_emotes_and_the_bots_own_messages() {
    let shared = shared();
    let notice = message(
        "$n",
        "@ci:localhost",
        json!({"msgtype": "m.notice", "body": "build green"}),
    );
    let notice = timeline_event(&shared, ROOM, &notice).unwrap();
    assert_eq!(notice.meta.automatic, Some(Automatic::Generated));
    let emote = message(
        "$e",
        "@alice:localhost",
        json!({"msgtype": "m.emote", "body": "waves"}),
    );
    assert_eq!(
        text(&timeline_event(&shared, ROOM, &emote).unwrap()),
        "/me waves"
    );
    let own = message(
        "$o",
        "@bot:localhost",
        json!({"msgtype": "m.text", "body": "mine"}),
    );
    assert!(timeline_event(&shared, ROOM, &own).is_none());
    let image = message(
        "$i",
        "@alice:localhost",
        json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://localhost/abc"}),
    );
    // An image is a file signal, its bytes left on the server (see `media`).
    let image = timeline_event(&shared, ROOM, &image).unwrap();
    let Body::File(file) = &image.body else {
        panic!("{image:?}")
    };
    assert_eq!(file.name, "cat.png");
    assert_eq!(image.meta.id.as_str(), "$i");
    assert_eq!(image.meta.visible_to[0].id(), ROOM);
    // A location has no file: its body is the text.
    let location = message(
        "$l",
        "@alice:localhost",
        json!({"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}),
    );
    assert_eq!(
        text(&timeline_event(&shared, ROOM, &location).unwrap()),
        "here"
    );
}

#[test]
fn a_direct_chat_is_addressed_to_the_bot_and_answered_to_the_person() {
    let shared = shared();
    shared
        .live()
        .direct
        .insert(ROOM.into(), "@alice:localhost".into());
    let raw = message(
        "$d",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "psst"}),
    );
    let signal = timeline_event(&shared, ROOM, &raw).unwrap();
    assert_eq!(
        signal.meta.addressees[0].to_string(),
        "matrix:@bot:localhost;kind=individual"
    );
    assert!(signal.meta.visible_to.is_empty());
    let answer = signal.reply("ok");
    assert_eq!(
        answer.meta.addressees[0].id(),
        "@alice:localhost",
        "the person, whose direct chat the session finds"
    );
    assert_eq!(
        shared.live().direct_room("@alice:localhost"),
        None,
        "only a room the bot is in"
    );
    shared.live().rooms.entry(ROOM.into()).or_default();
    assert_eq!(shared.live().direct_room("@alice:localhost"), Some(ROOM));
    // A second direct chat with her: an answer goes where she wrote last.
    let other = "!other";
    {
        let mut live = shared.live();
        live.direct.insert(other.into(), "@alice:localhost".into());
        live.rooms.entry(other.into()).or_default();
    }
    for room in [other, ROOM, other] {
        let raw = message(
            &format!("$in-{room}"),
            "@alice:localhost",
            json!({"msgtype": "m.text", "body": "hi"}),
        );
        timeline_event(&shared, room, &raw).unwrap();
        assert_eq!(shared.live().direct_room("@alice:localhost"), Some(room));
    }
}

#[test]
fn replies_and_threads_answer_the_event() {
    let shared = shared();
    let reply = message(
        "$r",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "> quoted\n\nyes",
               "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}}),
    );
    let reply = timeline_event(&shared, ROOM, &reply).unwrap();
    assert_eq!(reply.meta.response_to.as_ref().unwrap().as_str(), "$q");
    let threaded = message(
        "$t",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "in thread",
               "m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                "is_falling_back": true, "m.in_reply_to": {"event_id": "$prev"}}}),
    );
    let threaded = timeline_event(&shared, ROOM, &threaded).unwrap();
    assert_eq!(
        threaded.meta.response_to.as_ref().unwrap().as_str(),
        "$root",
        "a thread message without a real reply answers the thread's root"
    );
    assert_eq!(
        shared.live().threads.get("$t").map(String::as_str),
        Some("$root")
    );
}

#[test]
fn joins_and_leaves_are_room_presence_but_profile_changes_are_not() {
    let shared = shared();
    let join = timeline_event(&shared, ROOM, &member("@alice:localhost", "join", None)).unwrap();
    let Body::StatusChange(change) = &join.body else {
        panic!("{join:?}")
    };
    assert!(matches!(
        &change.status,
        Status::InRoom { present: true, room, .. } if room.id() == ROOM
    ));
    assert!(shared.live().rooms[ROOM].contains("@alice:localhost"));
    let rename = member("@alice:localhost", "join", Some("join"));
    assert!(timeline_event(&shared, ROOM, &rename).is_none());
    let leave = timeline_event(
        &shared,
        ROOM,
        &member("@alice:localhost", "leave", Some("join")),
    )
    .unwrap();
    let Body::StatusChange(change) = &leave.body else {
        panic!()
    };
    assert!(matches!(
        &change.status,
        Status::InRoom { present: false, .. }
    ));
    assert!(!shared.live().rooms[ROOM].contains("@alice:localhost"));
}

#[test]
fn typing_starts_and_stops_against_the_last_notification() {
    let shared = shared();
    let users = |ids: &[&str]| -> Vec<OwnedUserId> {
        ids.iter()
            .map(|u| OwnedUserId::try_from(*u).unwrap())
            .collect()
    };
    let started = typing(
        &shared,
        ROOM,
        &users(&["@alice:localhost", "@bot:localhost"]),
    );
    assert_eq!(started.len(), 1, "not the bot itself");
    let state = |s: &Signal| match &s.body {
        Body::StatusChange(c) => match &c.status {
            Status::Typing { state, .. } => *state,
            _ => panic!(),
        },
        _ => panic!(),
    };
    assert_eq!(state(&started[0]), TypingState::Composing);
    assert!(typing(&shared, ROOM, &users(&["@alice:localhost"])).is_empty());
    let stopped = typing(&shared, ROOM, &[]);
    assert_eq!(state(&stopped[0]), TypingState::Active);
}

#[test]
fn a_direct_invitation_names_its_inviter() {
    let state: Vec<Raw<_>> = vec![
        Raw::from_json_string(
            json!({"type": "m.room.member", "state_key": "@bot:localhost",
                   "sender": "@alice:localhost",
                   "content": {"membership": "invite", "is_direct": true}})
            .to_string(),
        )
        .unwrap(),
    ];
    assert_eq!(
        direct_inviter("@bot:localhost", &state).as_deref(),
        Some("@alice:localhost")
    );
    assert_eq!(direct_inviter("@other:localhost", &state), None);
}

#[test]
fn the_bots_own_invitation_before_its_join_keeps_a_direct_chat() {
    let shared = shared();
    shared
        .live()
        .direct
        .insert(ROOM.into(), "@alice:localhost".into());
    let _ = timeline_event(&shared, ROOM, &member("@bot:localhost", "invite", None));
    let _ = timeline_event(
        &shared,
        ROOM,
        &member("@bot:localhost", "join", Some("invite")),
    );
    assert_eq!(shared.live().direct_room("@alice:localhost"), Some(ROOM));
    let _ = timeline_event(
        &shared,
        ROOM,
        &member("@bot:localhost", "leave", Some("join")),
    );
    assert_eq!(
        shared.live().direct_room("@alice:localhost"),
        None,
        "left: forgotten"
    );
}

#[test]
fn an_encrypted_message_is_a_system_error() {
    let shared = shared();
    let raw = event(json!({
        "type": "m.room.encrypted", "event_id": "$x", "sender": "@alice:localhost",
        "origin_server_ts": 1_765_000_000_000_u64,
        "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA", "sender_key": "k",
                    "device_id": "D", "session_id": "s"},
    }));
    let signal = timeline_event(&shared, ROOM, &raw).unwrap();
    let Body::SystemError(error) = &signal.body else {
        panic!("{signal:?}")
    };
    assert!(error.message.contains("encrypted"), "{error:?}");
}

#[test]
fn edits_and_redactions_change_earlier_messages() {
    let shared = shared();
    let edit = message(
        "$e2",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "* hello there",
               "m.new_content": {"msgtype": "m.text", "body": "hello there"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": "$e1"}}),
    );
    let edit = timeline_event(&shared, ROOM, &edit).unwrap();
    assert_eq!(
        text(&edit),
        "hello there",
        "the new content, not the fallback"
    );
    let Body::Message(m) = &edit.body else {
        unreachable!()
    };
    let change = m.edit.as_ref().unwrap();
    assert_eq!(change.of.as_str(), "$e1");
    assert_eq!(change.kind, chatty_core::EditKind::Correction);
    let redaction = event(json!({
        "type": "m.room.redaction", "event_id": "$r", "sender": "@alice:localhost",
        "origin_server_ts": 1_765_000_000_000_u64, "redacts": "$e1",
        "content": {"redacts": "$e1"},
    }));
    let redaction = timeline_event(&shared, ROOM, &redaction).unwrap();
    let Body::Message(m) = &redaction.body else {
        panic!("{redaction:?}")
    };
    let change = m.edit.as_ref().unwrap();
    assert_eq!(change.of.as_str(), "$e1");
    assert_eq!(change.kind, chatty_core::EditKind::Retraction);
    assert_eq!(redaction.meta.visible_to[0].id(), ROOM);
}

#[test]
fn a_reaction_annotates_the_event_and_the_bots_own_is_not_news() {
    let shared = shared();
    let reaction = |id: &str, sender: &str| {
        event(json!({
            "type": "m.reaction", "event_id": id, "sender": sender,
            "origin_server_ts": 1_765_000_000_000_u64,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$q", "key": "👍"}},
        }))
    };
    let signal = timeline_event(&shared, ROOM, &reaction("$r1", "@alice:localhost")).unwrap();
    let Body::Message(m) = &signal.body else {
        panic!("{signal:?}")
    };
    assert!(m.is_reaction());
    assert_eq!(m.text, "👍");
    assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "$q");
    assert_eq!(signal.meta.id.as_str(), "$r1");
    assert_eq!(
        signal.meta.origin.as_ref().unwrap().id(),
        "@alice:localhost"
    );
    assert!(timeline_event(&shared, ROOM, &reaction("$r2", "@bot:localhost")).is_none());
}

#[test]
fn a_new_message_naming_what_it_corrects_is_a_correction() {
    let shared = shared();
    let raw = message(
        "$c1",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "hello there",
               "io.github.chatty-rs.corrects": "an-earlier-message"}),
    );
    let signal = timeline_event(&shared, ROOM, &raw).unwrap();
    assert_eq!(text(&signal), "hello there");
    let Body::Message(m) = &signal.body else {
        unreachable!()
    };
    let change = m.edit.as_ref().expect("a correction");
    assert_eq!(change.of.as_str(), "an-earlier-message");
    assert_eq!(change.kind, chatty_core::EditKind::Correction);
    // A real edit keeps the event it replaces, whatever else it names.
    let edit = message(
        "$c2",
        "@alice:localhost",
        json!({"msgtype": "m.text", "body": "* again",
               "io.github.chatty-rs.corrects": "elsewhere",
               "m.new_content": {"msgtype": "m.text", "body": "again"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": "$e1"}}),
    );
    let edit = timeline_event(&shared, ROOM, &edit).unwrap();
    let Body::Message(m) = &edit.body else {
        unreachable!()
    };
    assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "$e1");
}

#[test]
fn the_access_token_is_not_in_debug_output() {
    let shared = shared();
    shared.live().token = Some("syt_secret_token".into());
    assert!(!format!("{shared:?}").contains("syt_secret_token"));
}

/// A message or reaction that ruma refuses is a system error naming it (the sync position
/// moves past it); an event of a type the session does not map, and the bot's own, are not.
#[test]
fn a_malformed_message_or_reaction_is_a_system_error_naming_it() {
    let shared = shared();
    let file = message(
        "$file",
        "@alice:localhost",
        json!({"msgtype": "m.file", "body": "a.pdf", "url": "mxc://localhost/a",
               "info": {"size": "12"}}),
    );
    let reaction = event(json!({
        "type": "m.reaction", "event_id": "$react", "sender": "@alice:localhost",
        "origin_server_ts": 1_765_000_000_000_u64,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$abc"}},
    }));
    for (raw, id, kind) in [
        (file, "$file", "m.room.message"),
        (reaction, "$react", "m.reaction"),
    ] {
        let signal = timeline_event(&shared, ROOM, &raw).expect("a system error");
        let Body::SystemError(e) = &signal.body else {
            panic!("not a system error: {signal:?}");
        };
        assert!(e.message.contains(id), "{}", e.message);
        assert!(e.message.contains(kind), "{}", e.message);
        assert!(e.message.contains("@alice:localhost"), "{}", e.message);
        assert_eq!(
            signal.meta.visible_to[0].to_string(),
            format!("matrix:{ROOM};kind=channel")
        );
    }
    let own = message(
        "$own",
        "@bot:localhost",
        json!({"msgtype": "m.file", "body": 7}),
    );
    assert!(timeline_event(&shared, ROOM, &own).is_none());
    let other = event(json!({
        "type": "m.room.topic", "event_id": "$t", "sender": "@alice:localhost",
        "state_key": "", "origin_server_ts": 1, "content": {"topic": 7},
    }));
    assert!(timeline_event(&shared, ROOM, &other).is_none());
    let long = "x".repeat(100_000);
    let huge = message(&long, &long, json!({"msgtype": 7}));
    let signal = timeline_event(&shared, ROOM, &huge).expect("a system error");
    let Body::SystemError(e) = &signal.body else {
        panic!("{signal:?}")
    };
    assert!(e.message.len() < 1_000, "{}", e.message.len());
}
