//! The inbound mapping against Slack's documented event shapes.

use chatty_core::reexports::serde_json::json;

use super::*;

fn mapper() -> Mapper {
    Mapper::new("slack", "T1", "UBOT", "BBOT").unwrap()
}

/// The example of api.slack.com/events/message (a channel message), with a mention.
fn channel_message() -> Value {
    json!({
        "type": "message",
        "channel": "C2147483705",
        "user": "U2147483697",
        "text": "Hello <@UBOT> &amp; world",
        "ts": "1355517523.000005",
        "event_ts": "1355517523.000005",
        "channel_type": "channel"
    })
}

#[test]
fn channel_messages_map_to_origin_mentions_and_channel() {
    let m = mapper();
    let Inbound::Signal(signal, place) = m.inbound(&channel_message(), &Ids::default()) else {
        panic!("a signal")
    };
    assert_eq!(signal.meta.id.as_str(), "C2147483705/1355517523.000005");
    assert_eq!(
        signal.meta.origin.unwrap().to_string(),
        "slack:T1/U2147483697;kind=individual"
    );
    assert_eq!(signal.meta.addressees, vec![m.own().clone()]);
    assert_eq!(
        signal.meta.visible_to[0].to_string(),
        "slack:T1/C2147483705;kind=channel"
    );
    assert_eq!(signal.meta.sent.unwrap().unix_timestamp(), 1_355_517_523);
    match signal.body {
        Body::Message(msg) => assert_eq!(msg.text, "Hello <@UBOT> & world"),
        other => panic!("{other:?}"),
    }
    assert_eq!(place.unwrap().ts, "1355517523.000005");
}

#[test]
fn own_messages_are_skipped() {
    let mut own = channel_message();
    own["user"] = "UBOT".into();
    assert!(matches!(
        mapper().inbound(&own, &Ids::default()),
        Inbound::Skip(_)
    ));
    let mut by_bot_id = channel_message();
    by_bot_id["bot_id"] = "BBOT".into();
    assert!(matches!(
        mapper().inbound(&by_bot_id, &Ids::default()),
        Inbound::Skip(_)
    ));
}

#[test]
fn threads_and_carried_ids_map_to_response_to() {
    let mut ids = Ids::default();
    ids.remember(
        "root-id".into(),
        Place {
            channel: "C1".into(),
            ts: "1.000001".into(),
            thread: None,
        },
    );
    let reply = json!({
        "type": "message", "channel": "C1", "user": "U9", "text": "in thread",
        "ts": "2.000001", "thread_ts": "1.000001", "channel_type": "channel",
        "metadata": {"event_type": EVENT_TYPE_MESSAGE, "event_payload": {"chatty_id": "mine"}}
    });
    let Inbound::Signal(signal, _) = mapper().inbound(&reply, &ids) else {
        panic!()
    };
    assert_eq!(signal.meta.id.as_str(), "mine");
    assert_eq!(signal.meta.response_to.unwrap().as_str(), "root-id");
}

#[test]
fn file_shares_become_files_or_attachments() {
    // api.slack.com/events/message/file_share
    let share = json!({
        "type": "message", "subtype": "file_share", "channel": "D1", "channel_type": "im",
        "user": "U9", "text": "", "ts": "3.000001",
        "files": [{"id": "F1", "name": "a.txt", "mimetype": "text/plain", "size": 3,
                   "url_private": "https://files.slack.com/files-pri/T1-F1/a.txt"}]
    });
    let Inbound::Signal(signal, _) = mapper().inbound(&share, &Ids::default()) else {
        panic!()
    };
    match &signal.body {
        Body::File(f) => {
            assert_eq!(f.name, "a.txt");
            assert!(matches!(&f.content, Content::Url { size: Some(3), .. }));
        }
        other => panic!("{other:?}"),
    }
    assert!(signal.meta.visible_to.is_empty());
    let mut commented = share.clone();
    commented["text"] = "look".into();
    let Inbound::Signal(signal, _) = mapper().inbound(&commented, &Ids::default()) else {
        panic!()
    };
    assert!(
        matches!(&signal.body, Body::Message(m) if m.attachments.len() == 1 && m.text == "look")
    );
}

#[test]
fn edits_and_deletions_name_the_original() {
    let changed = json!({
        "type": "message", "subtype": "message_changed", "hidden": true, "channel": "C1",
        "ts": "5.000001", "channel_type": "channel",
        "message": {"type": "message", "user": "U9", "text": "new", "ts": "4.000001",
                    "edited": {"user": "U9", "ts": "5.000001"}},
        "previous_message": {"type": "message", "user": "U9", "text": "old", "ts": "4.000001"}
    });
    let Inbound::Signal(signal, _) = mapper().inbound(&changed, &Ids::default()) else {
        panic!()
    };
    match &signal.body {
        Body::Message(m) => {
            assert_eq!(m.text, "new");
            assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "C1/4.000001");
        }
        other => panic!("{other:?}"),
    }
    let unfurl = json!({"type": "message", "subtype": "message_changed", "channel": "C1",
        "message": {"user": "U9", "text": "x", "ts": "4.000001"}});
    assert!(matches!(
        mapper().inbound(&unfurl, &Ids::default()),
        Inbound::Skip(_)
    ));
    let deleted = json!({"type": "message", "subtype": "message_deleted", "channel": "C1",
        "ts": "6.000001", "deleted_ts": "4.000001",
        "previous_message": {"user": "U9", "text": "new", "ts": "4.000001"}});
    let Inbound::Signal(signal, _) = mapper().inbound(&deleted, &Ids::default()) else {
        panic!()
    };
    assert!(matches!(&signal.body, Body::Message(m)
        if m.edit.as_ref().is_some_and(|e| e.kind == EditKind::Retraction)));
}

#[test]
fn joins_and_leaves_are_in_room_status() {
    // api.slack.com/events/member_joined_channel
    let joined = json!({"type": "member_joined_channel", "user": "W06GH7XHN",
        "channel": "C0698JE0H", "channel_type": "C", "team": "T1", "event_ts": "7.000001"});
    let Inbound::Signal(signal, _) = mapper().inbound(&joined, &Ids::default()) else {
        panic!()
    };
    assert!(matches!(&signal.body, Body::StatusChange(c)
        if matches!(&c.status, Status::InRoom { present: true, room, .. } if room.id() == "T1/C0698JE0H")));
    let mut left = joined.clone();
    left["type"] = "member_left_channel".into();
    let Inbound::Signal(signal, _) = mapper().inbound(&left, &Ids::default()) else {
        panic!()
    };
    assert!(matches!(&signal.body, Body::StatusChange(c)
        if matches!(&c.status, Status::InRoom { present: false, .. })));
}

#[test]
fn malformed_events_are_reported_not_panicked_on() {
    let m = mapper();
    for bad in [
        json!({}),
        json!({"type": "message"}),
        json!({"type": "message", "channel": "C1", "ts": "1.1"}),
        json!({"type": "member_joined_channel"}),
        json!({"type": "message", "subtype": "message_changed"}),
    ] {
        assert!(
            matches!(m.inbound(&bad, &Ids::default()), Inbound::Malformed(_)),
            "{bad}"
        );
    }
}

#[test]
fn other_bots_and_slackbot_are_automatic_the_own_bot_is_dropped() {
    let m = mapper();
    // api.slack.com/events/message/bot_message
    let bot_message = json!({"type": "message", "subtype": "bot_message", "channel": "C1",
        "channel_type": "channel", "bot_id": "B0OTHER", "username": "ci", "text": "build green",
        "ts": "8.000001"});
    let Inbound::Signal(signal, _) = m.inbound(&bot_message, &Ids::default()) else {
        panic!("a signal")
    };
    assert_eq!(signal.meta.automatic, Some(Automatic::Bot));
    assert_eq!(signal.meta.origin.unwrap().id(), "T1/B0OTHER");
    // An app's message: a bot user with a bot id, no subtype.
    let mut app_message = channel_message();
    app_message["bot_id"] = "B0APP".into();
    app_message["user"] = "U0APPBOT".into();
    let Inbound::Signal(signal, _) = m.inbound(&app_message, &Ids::default()) else {
        panic!("a signal")
    };
    assert_eq!(signal.meta.automatic, Some(Automatic::Bot));
    // Slackbot (a reminder in a DM).
    let reminder = json!({"type": "message", "channel": "D1", "channel_type": "im",
        "user": "USLACKBOT", "text": "Reminder: stand-up", "ts": "9.000001"});
    let Inbound::Signal(signal, _) = m.inbound(&reminder, &Ids::default()) else {
        panic!("a signal")
    };
    assert_eq!(signal.meta.automatic, Some(Automatic::Generated));
    // People's messages are not automatic.
    let Inbound::Signal(signal, _) = m.inbound(&channel_message(), &Ids::default()) else {
        panic!("a signal")
    };
    assert_eq!(signal.meta.automatic, None);
    // The bot's own, as a bot_message with its bot id: dropped.
    let mut own = bot_message.clone();
    own["bot_id"] = "BBOT".into();
    assert!(matches!(m.inbound(&own, &Ids::default()), Inbound::Skip(_)));
}

#[test]
fn metadata_with_numbers_and_objects_is_kept_whole() {
    // api.slack.com/metadata/using: event_payload values may be any JSON.
    let mut message = channel_message();
    message["metadata"] = json!({"event_type": "task_created",
        "event_payload": {"id": 42, "done": false, "owner": {"name": "ann"}, "tags": ["a"]}});
    let Inbound::Signal(signal, _) = mapper().inbound(&message, &Ids::default()) else {
        panic!("a signal")
    };
    match &signal.body {
        Body::UserDefined(u) => {
            assert_eq!(u.name, "task_created");
            assert_eq!(
                u.payload,
                json!({"id": 42, "done": false, "owner": {"name": "ann"}, "tags": ["a"]})
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn edits_and_deletions_are_placed_at_the_message_they_change() {
    let changed = json!({
        "type": "message", "subtype": "message_changed", "channel": "C1", "ts": "5.000001",
        "message": {"user": "U9", "text": "new", "ts": "4.000001", "thread_ts": "3.000001",
                    "edited": {"user": "U9", "ts": "5.000001"}}
    });
    let Inbound::Signal(_, place) = mapper().inbound(&changed, &Ids::default()) else {
        panic!()
    };
    assert_eq!(place, Some(Place::new("C1", "4.000001", Some("3.000001"))));
    let deleted = json!({"type": "message", "subtype": "message_deleted", "channel": "C1",
        "ts": "6.000001", "deleted_ts": "4.000001",
        "previous_message": {"user": "U9", "text": "new", "ts": "4.000001"}});
    let Inbound::Signal(_, place) = mapper().inbound(&deleted, &Ids::default()) else {
        panic!()
    };
    assert_eq!(place, Some(Place::new("C1", "4.000001", None)));
}

#[test]
fn invalid_ids_are_malformed_not_addresses() {
    let mut message = channel_message();
    message["channel"] = "C1/../x".into();
    assert!(matches!(
        mapper().inbound(&message, &Ids::default()),
        Inbound::Malformed(_)
    ));
    let mut message = channel_message();
    message["user"] = "U 1".into();
    assert!(matches!(
        mapper().inbound(&message, &Ids::default()),
        Inbound::Malformed(_)
    ));
}

#[test]
fn a_question_another_chatty_session_asked_comes_with_its_choice() {
    let question = json!({
        "type": "message", "channel": "C1", "channel_type": "channel", "user": "U9",
        "bot_id": "B9", "ts": "1.000001",
        "text": "How urgent?\n1. Low\n2. High\n(Answer with a number.)",
        "blocks": [
            {"type": "section", "block_id": "chatty:c:q1",
             "text": {"type": "mrkdwn", "text": "How urgent?"}},
            {"type": "actions", "block_id": "chatty_choice/0/priority", "elements": [
                {"type": "button", "action_id": "chatty_choice/0", "value": "low",
                 "text": {"type": "plain_text", "text": "Low"}},
                {"type": "button", "action_id": "chatty_choice/1", "value": "high",
                 "text": {"type": "plain_text", "text": "High"}}]}],
    });
    let Inbound::Signal(signal, _) = mapper().inbound(&question, &Ids::default()) else {
        panic!("a signal")
    };
    assert_eq!(signal.meta.id.as_str(), "q1");
    let Body::Message(message) = signal.body else {
        panic!()
    };
    assert_eq!(message.text, "How urgent?");
    assert_eq!(
        message.choice,
        Some(
            chatty_core::Choice::new("priority")
                .option("low", "Low")
                .option("high", "High")
        )
    );
}
