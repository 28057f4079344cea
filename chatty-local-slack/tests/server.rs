//! The local Slack itself, over raw HTTP/1.1 and tokio-tungstenite: payload shapes compared
//! with Slack's documented examples, the argument encodings, errors and fault injection.

mod common;

use std::time::Duration;

use chatty_local_slack::LocalSlack;
use common::{
    WAIT, ack, alice_and_bot_in_a_dm, alice_and_bot_with_a_channel, call, connect_over_http,
    default_scopes_without, header, http, next_event, next_json, open_socket, wait_until_no_socket,
    wait_until_nothing_pending,
};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn socket_mode_hello_envelopes_acks_and_redelivery() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
    slack.set_ack_timeout(Duration::from_millis(200));
    let mut socket = open_socket(&slack, &app.app_token).await;

    // api.slack.com/apis/socket-mode: hello.
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"]["app_id"], app.app_id.as_str());
    assert!(hello["debug_info"]["host"].is_string());

    let ts = slack.post(&alice, &dm, "hi <@U1>");
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["type"], "events_api");
    assert_eq!(envelope["accepts_response_payload"], false);
    assert_eq!(envelope["retry_attempt"], 0);
    assert_eq!(envelope["retry_reason"], "");
    let payload = &envelope["payload"];
    // api.slack.com/apis/events-api#callback-field
    assert_eq!(payload["type"], "event_callback");
    assert_eq!(payload["api_app_id"], app.app_id.as_str());
    assert_eq!(payload["team_id"], slack.team_id().as_str());
    assert!(payload["event_id"].as_str().unwrap().starts_with("Ev"));
    assert!(payload["event_time"].is_u64());
    assert_eq!(
        payload["authorizations"][0]["user_id"],
        app.bot_user_id.as_str()
    );
    assert_eq!(payload["authorizations"][0]["is_bot"], true);
    // api.slack.com/events/message.im
    let event = &payload["event"];
    assert_eq!(event["type"], "message");
    assert_eq!(event["channel"], dm.as_str());
    assert_eq!(event["channel_type"], "im");
    assert_eq!(event["user"], alice.as_str());
    assert_eq!(event["ts"], ts.as_str());
    assert_eq!(event["event_ts"], ts.as_str());
    assert!(event["client_msg_id"].is_string());
    assert_eq!(event["blocks"][0]["type"], "rich_text");
    assert_eq!(
        event["blocks"][0]["elements"][0]["elements"][1]["type"],
        "user"
    );

    // No ack: the same event again, retry_attempt 1, retry_reason timeout.
    let again = next_json(&mut socket).await;
    assert_eq!(again["payload"]["event_id"], payload["event_id"]);
    assert_eq!(again["retry_attempt"], 1);
    assert_eq!(again["retry_reason"], "timeout");
    ack(&mut socket, &again).await;
    wait_until_nothing_pending(&slack, &app.app_id).await;

    // A second message, acknowledged at once: no redelivery.
    slack.post(&alice, &dm, "second");
    let envelope = next_json(&mut socket).await;
    ack(&mut socket, &envelope).await;
    wait_until_nothing_pending(&slack, &app.app_id).await;
    let before = slack.deliveries(&app.app_id).len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.deliveries(&app.app_id).len(), before);
}

#[tokio::test]
async fn socket_mode_disconnect_tickets_and_queueing() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;

    // An event with no socket to go to: its first attempt and first retry fail at once, the
    // next retry is due on Slack's timetable (shortened here).
    slack.set_retry_schedule(&[Duration::ZERO, Duration::from_millis(300), WAIT]);
    slack.post(&alice, &dm, "queued");
    assert_eq!(slack.pending_events(&app.app_id), 1);

    let opened = call(&slack, &app.app_token, "apps.connections.open", json!({})).await;
    let url = opened["url"].as_str().unwrap().to_owned();
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert!(
        tokio_tungstenite::connect_async(&url).await.is_err(),
        "a ticket works once"
    );
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["payload"]["event"]["text"], "queued");
    assert_eq!(envelope["retry_attempt"], 2);
    assert_eq!(envelope["retry_reason"], "timeout");
    ack(&mut socket, &envelope).await;

    // api.slack.com/apis/socket-mode#disconnect
    slack.disconnect(&app.app_id, "link_disabled");
    let disconnect = next_json(&mut socket).await;
    assert_eq!(disconnect["type"], "disconnect");
    assert_eq!(disconnect["reason"], "link_disabled");
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server closes the socket after disconnect"
    );
    wait_until_no_socket(&slack, &app.app_id).await;
}

#[tokio::test]
async fn web_api_encodings_errors_and_rate_limits() {
    let slack = LocalSlack::start().await.unwrap();
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    let auth = format!("Bearer {}", app.bot_token);

    // Form-encoded, with the token as an argument; JSON-encoded args as strings.
    let form = format!("token={}&users={alice}", app.bot_token);
    let (status, headers, body) = http(
        &slack,
        "POST",
        "/api/conversations.open",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let opened: Value = serde_json::from_slice(&body).unwrap();
    let dm = opened["channel"]["id"].as_str().unwrap().to_owned();
    let blocks = r#"[{"type":"section","text":{"type":"mrkdwn","text":"*b*"}}]"#;
    let form = format!(
        "channel={dm}&text=x&blocks={}",
        blocks.replace('"', "%22").replace(' ', "%20")
    );
    let (_, _, body) = http(
        &slack,
        "POST",
        "/api/chat.postMessage",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .await;
    let posted: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        posted["message"]["blocks"][0]["type"], "section",
        "{posted}"
    );

    // Query arguments on GET.
    let (_, _, body) = http(
        &slack,
        "GET",
        &format!("/api/conversations.history?channel={dm}&limit=1"),
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    let history: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(history["messages"][0]["text"], "x");

    // Errors with Slack's codes.
    let wrong = call(&slack, "xoxb-wrong", "auth.test", json!({})).await;
    assert_eq!(wrong, json!({"ok": false, "error": "invalid_auth"}));
    let (_, _, body) = http(&slack, "POST", "/api/auth.test", &[], b"").await;
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"],
        "not_authed"
    );
    assert_eq!(
        call(&slack, &app.bot_token, "no.such.method", json!({})).await["error"],
        "unknown_method"
    );
    slack.remove_scope(&app.app_id, "chat:write");
    let missing = call(
        &slack,
        &app.bot_token,
        "chat.postMessage",
        json!({"channel": dm, "text": "x"}),
    )
    .await;
    assert_eq!(missing["error"], "missing_scope");
    assert_eq!(missing["needed"], "chat:write");
    assert!(!missing["provided"].as_str().unwrap().contains("chat:write"));

    // 429 with Retry-After, then normal service.
    slack.rate_limit("auth.test", 1, 7);
    let (status, headers, body) = http(
        &slack,
        "POST",
        "/api/auth.test",
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(header(&headers, "retry-after"), Some("7"));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"],
        "ratelimited"
    );
    let ok = call(&slack, &app.bot_token, "auth.test", json!({})).await;
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["user_id"], app.bot_user_id.as_str());
}

#[tokio::test]
async fn person_actions_produce_slacks_events() {
    let (slack, alice, app, channel) = alice_and_bot_with_a_channel().await;
    let bob = slack.add_user("bob");
    let mut socket = connect_over_http(&slack, &app.app_token).await;

    slack.join(&app.bot_user_id, &channel);
    // api.slack.com/events/member_joined_channel
    let joined = next_event(&mut socket).await;
    assert_eq!(joined["type"], "member_joined_channel");
    assert_eq!(joined["user"], app.bot_user_id.as_str());
    assert_eq!(joined["channel_type"], "C");

    let ts = slack.post(&alice, &channel, &format!("<@{}> hi", app.bot_user_id));
    let message = next_event(&mut socket).await;
    let mention = next_event(&mut socket).await;
    assert_eq!(message["type"], "message");
    assert_eq!(message["channel_type"], "channel");
    // api.slack.com/events/app_mention
    assert_eq!(mention["type"], "app_mention");
    assert_eq!(mention["ts"], ts.as_str());

    slack.edit(&alice, &channel, &ts, "edited").unwrap();
    // api.slack.com/events/message/message_changed
    let changed = next_event(&mut socket).await;
    assert_eq!(changed["subtype"], "message_changed");
    assert_eq!(changed["hidden"], true);
    assert_eq!(changed["message"]["text"], "edited");
    assert_eq!(changed["message"]["ts"], ts.as_str());
    assert_eq!(changed["message"]["edited"]["user"], alice.as_str());
    assert_eq!(
        changed["previous_message"]["text"],
        format!("<@{}> hi", app.bot_user_id)
    );

    slack.delete(&alice, &channel, &ts).unwrap();
    // api.slack.com/events/message/message_deleted
    let deleted = next_event(&mut socket).await;
    assert_eq!(deleted["subtype"], "message_deleted");
    assert_eq!(deleted["deleted_ts"], ts.as_str());
    assert_eq!(
        slack.delete(&bob, &channel, &ts),
        Err("message_not_found".into())
    );

    assert!(slack.join(&bob, &channel));
    assert!(!slack.join(&bob, &channel), "a member joins once");
    assert_eq!(next_event(&mut socket).await["user"], bob.as_str());
    let shared = slack.share_file(&bob, &channel, "a.txt", &b"abc"[..], Some("a file"));
    // api.slack.com/events/message/file_share
    let share = next_event(&mut socket).await;
    assert_eq!(share["subtype"], "file_share");
    assert_eq!(share["files"][0]["id"], shared.file_id.as_str());
    assert!(
        share["files"][0]["url_private"]
            .as_str()
            .unwrap()
            .contains("/files-pri/")
    );
    // api.slack.com/events/file_shared
    let file_shared = next_event(&mut socket).await;
    assert_eq!(file_shared["type"], "file_shared");
    assert_eq!(file_shared["file_id"], shared.file_id.as_str());

    slack.leave(&app.bot_user_id, &channel);
    let left = next_event(&mut socket).await;
    assert_eq!(left["type"], "member_left_channel");
}

#[tokio::test]
async fn two_workspaces_in_one_process_have_their_own_ids() {
    let acme = LocalSlack::start_named("Acme Corp").await.unwrap();
    let globex = LocalSlack::start_named("Globex").await.unwrap();
    assert_ne!(acme.team_id(), globex.team_id());
    assert_ne!(acme.addr(), globex.addr());
    assert_eq!(acme.team_name(), "Acme Corp");
    let (a, g) = (acme.add_user("alice"), globex.add_user("alice"));
    assert_ne!(a, g, "user ids are unique across workspaces, as Slack's");
    let (app_a, app_g) = (acme.add_app("bot"), globex.add_app("bot"));
    assert_ne!(app_a.bot_user_id, app_g.bot_user_id);
    // Each token works in its own workspace only.
    let me = call(&acme, &app_a.bot_token, "auth.test", json!({})).await;
    assert_eq!(me["team_id"], acme.team_id().as_str());
    assert_eq!(me["team"], "Acme Corp");
    assert_eq!(me["url"], "https://acme-corp.slack.com/");
    let foreign = call(&globex, &app_a.bot_token, "auth.test", json!({})).await;
    assert_eq!(foreign["error"], "invalid_auth");
}

/// api.slack.com/methods/conversations.open documents `users` as a comma-separated string and
/// takes JSON bodies; clients that post JSON (slack-morphism) send the list as an array. Both
/// open the same conversation; the scope follows the number of users either way.
#[tokio::test]
async fn conversations_open_takes_users_as_a_string_or_a_json_array() {
    let slack = LocalSlack::start().await.unwrap();
    let alice = slack.add_user("alice");
    let bob = slack.add_user("bob");
    let app = slack.add_app("bot");
    let open = |args: Value| call(&slack, &app.bot_token, "conversations.open", args);

    // One user: the DM, by an array in a JSON body, then by the documented string.
    let by_array = open(json!({"users": [alice]})).await;
    assert_eq!(by_array["ok"], true, "{by_array}");
    let dm = by_array["channel"]["id"].as_str().unwrap().to_owned();
    assert!(dm.starts_with('D'), "{dm}");
    let by_string = open(json!({"users": alice})).await;
    assert_eq!(by_string["channel"]["id"], dm.as_str());
    assert_eq!(by_string["already_open"], true);
    let form = format!("users={alice}");
    let (_, _, body) = http(
        &slack,
        "POST",
        "/api/conversations.open",
        &[
            ("Authorization", &format!("Bearer {}", app.bot_token)),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .await;
    let by_form: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(by_form["channel"]["id"], dm.as_str(), "{by_form}");

    // Two users: a group DM, the same one either way.
    let group = open(json!({"users": [alice, bob]})).await;
    assert_eq!(group["ok"], true, "{group}");
    let group_id = group["channel"]["id"].as_str().unwrap().to_owned();
    assert_ne!(group_id, dm);
    let mut members = slack.members(&group_id);
    members.sort();
    let mut expected = vec![alice.clone(), bob.clone(), app.bot_user_id.clone()];
    expected.sort();
    assert_eq!(members, expected);
    let again = open(json!({"users": format!("{bob},{alice}")})).await;
    assert_eq!(again["channel"]["id"], group_id.as_str(), "{again}");

    // What is not a list of user ids.
    assert_eq!(
        open(json!({"users": []})).await["error"],
        "users_list_not_supplied"
    );
    assert_eq!(
        open(json!({"users": [alice, 7]})).await["error"],
        "invalid_arguments"
    );
    assert_eq!(
        open(json!({"users": ["U0NOBODY0"]})).await["error"],
        "user_not_found"
    );

    // The scope follows the number of users, an array as a string.
    let scopes = default_scopes_without(|s| matches!(s, "im:write" | "mpim:write"));
    let narrow = slack.add_app_with_scopes("narrow", &scopes);
    let dm = call(
        &slack,
        &narrow.bot_token,
        "conversations.open",
        json!({"users": [alice]}),
    )
    .await;
    assert_eq!(dm["needed"], "im:write", "{dm}");
    let group = call(
        &slack,
        &narrow.bot_token,
        "conversations.open",
        json!({"users": [alice, bob]}),
    )
    .await;
    assert_eq!(group["needed"], "mpim:write", "{group}");
}

#[tokio::test]
async fn withheld_scopes_revoked_tokens_and_call_counts() {
    let slack = LocalSlack::start().await.unwrap();
    let alice = slack.add_user("alice");
    let bob = slack.add_user("bob");
    let scopes = default_scopes_without(|s| matches!(s, "im:write" | "mpim:write"));
    let app = slack.add_app_with_scopes("bot", &scopes);
    // api.slack.com/methods/conversations.open: im:write for a DM, mpim:write for a group DM.
    let dm = call(
        &slack,
        &app.bot_token,
        "conversations.open",
        json!({"users": alice}),
    )
    .await;
    assert_eq!(dm["ok"], false);
    assert_eq!(dm["error"], "missing_scope");
    assert_eq!(dm["needed"], "im:write");
    assert!(dm["provided"].as_str().unwrap().contains("chat:write"));
    let group = call(
        &slack,
        &app.bot_token,
        "conversations.open",
        json!({"users": format!("{alice},{bob}")}),
    )
    .await;
    assert_eq!(group["needed"], "mpim:write");
    // Other methods work.
    assert_eq!(
        call(&slack, &app.bot_token, "auth.test", json!({})).await["ok"],
        true
    );

    // A revoked token answers token_revoked, for the Web API and Socket Mode alike.
    slack.revoke_token(&app.app_token);
    let opened = call(&slack, &app.app_token, "apps.connections.open", json!({})).await;
    assert_eq!(opened, json!({"ok": false, "error": "token_revoked"}));
    slack.revoke_token(&app.bot_token);
    let revoked = call(&slack, &app.bot_token, "auth.test", json!({})).await;
    assert_eq!(revoked["error"], "token_revoked");
    assert_eq!(slack.call_count("conversations.open"), 2);
    assert_eq!(slack.call_count("apps.connections.open"), 1);
    assert_eq!(slack.call_count("auth.test"), 2);
    assert_eq!(slack.call_count("chat.update"), 0);
}

#[tokio::test]
async fn raw_frames_acks_app_posts_and_slackbot() {
    let (slack, _, app, general) = alice_and_bot_with_a_channel().await;
    let other = slack.add_app("other");
    // Connected first: an event with no socket to go to waits for Slack's next retry.
    let mut socket = connect_over_http(&slack, &app.app_token).await;
    slack.join(&app.bot_user_id, &general);
    slack.join(&other.bot_user_id, &general);
    for _ in 0..2 {
        assert_eq!(
            next_event(&mut socket).await["type"],
            "member_joined_channel"
        );
    }

    // A frame as it is, and the ack that answers it recorded.
    slack.send_raw(
        &app.app_id,
        r#"{"envelope_id":"raw-1","type":"events_api","payload":"oops"}"#,
    );
    let raw = next_json(&mut socket).await;
    assert_eq!(raw["envelope_id"], "raw-1");
    ack(&mut socket, &raw).await;
    assert!(
        slack
            .wait_until(WAIT, |s| s.acks_received(&app.app_id).last()
                == Some(&"raw-1".to_owned()))
            .await
    );

    // Another app's message, as chat.postMessage with its bot token makes it
    // (api.slack.com/events/message: bot_id, app_id, bot_profile).
    let ts = slack
        .post_as_app(&other.app_id, &general, "from the other app")
        .unwrap();
    let event = next_event(&mut socket).await;
    assert_eq!(event["ts"], ts.as_str());
    assert_eq!(event["bot_id"], other.bot_id.as_str());
    assert_eq!(event["user"], other.bot_user_id.as_str());
    assert_eq!(event["bot_profile"]["app_id"], other.app_id.as_str());
    assert_eq!(
        slack.post_as_app(&other.app_id, "C0NOPE", "x"),
        Err("channel_not_found".into())
    );

    // Slackbot is in every workspace (a reminder in a channel comes from it).
    let user = call(
        &slack,
        &app.bot_token,
        "users.info",
        json!({"user": chatty_local_slack::SLACKBOT}),
    )
    .await;
    assert_eq!(user["user"]["id"], "USLACKBOT");
    assert_eq!(user["user"]["name"], "slackbot");
    slack.post(
        chatty_local_slack::SLACKBOT,
        &general,
        "Reminder: stand-up.",
    );
    let reminder = next_event(&mut socket).await;
    assert_eq!(reminder["user"], "USLACKBOT");
}

#[tokio::test]
async fn in_process_calls_are_web_api_calls() {
    let (slack, alice, app, general) = alice_and_bot_with_a_channel().await;
    let mut socket = connect_over_http(&slack, &app.app_token).await;
    slack.join(&app.bot_user_id, &general);
    assert_eq!(
        next_event(&mut socket).await["type"],
        "member_joined_channel"
    );
    let token = slack.user_token(&alice).unwrap();
    // api.slack.com/metadata/using: the payload is any JSON object.
    let payload = json!({"id": 42, "owner": {"name": "ann"}, "tags": ["a"], "done": false});
    let posted = slack.call(
        &token,
        "chat.postMessage",
        json!({"channel": general, "text": "task created",
               "metadata": {"event_type": "task_created", "event_payload": payload}}),
    );
    assert_eq!(posted["ok"], true, "{posted}");
    let event = next_event(&mut socket).await;
    assert_eq!(event["metadata"]["event_payload"], payload);
    assert_eq!(event["user"], alice.as_str());
    assert_eq!(
        slack.call("xoxp-wrong", "auth.test", json!({})),
        json!({"ok": false, "error": "invalid_auth"})
    );
    slack.rate_limit("auth.test", 1, 3);
    assert_eq!(
        slack.call(&token, "auth.test", json!({}))["error"],
        "ratelimited"
    );
    assert_eq!(slack.call_count("chat.postMessage"), 1);
    // api.test needs no token, in process as over HTTP.
    assert_eq!(
        slack.call("xoxp-wrong", "api.test", json!({"foo": "bar"})),
        json!({"ok": true, "args": {"foo": "bar"}})
    );
}

#[tokio::test]
async fn history_and_replies_read_time_windows_pages_and_metadata() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
    let bot = app.bot_token.as_str();
    let post = |text: &str, thread_ts: Option<&str>| {
        let mut args = json!({"channel": dm, "text": text,
            "metadata": {"event_type": "chatty_message", "event_payload": {"chatty_id": text}}});
        if let Some(t) = thread_ts {
            args["thread_ts"] = t.into();
        }
        let posted = slack.call(bot, "chat.postMessage", args);
        assert_eq!(posted["ok"], true, "{posted}");
        posted["ts"].as_str().unwrap().to_owned()
    };
    let root = slack.post(&alice, &dm, "root");
    let a = post("a", None);
    let b = post("b", None);
    let r1 = post("r1", Some(&root));
    let r2 = post("r2", Some(&root));
    let c = post("c", None);
    let texts = |answer: &Value| -> Vec<String> {
        answer["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };

    // conversations.history: newest first in (oldest, latest); `inclusive` takes the ends.
    let history = |args: Value| {
        let mut args = args;
        args["channel"] = dm.clone().into();
        let answer = slack.call(bot, "conversations.history", args);
        assert_eq!(answer["ok"], true, "{answer}");
        answer
    };
    assert_eq!(texts(&history(json!({"oldest": a}))), ["c", "b"]);
    assert_eq!(
        texts(&history(json!({"oldest": a, "inclusive": true}))),
        ["c", "b", "a"]
    );
    assert_eq!(texts(&history(json!({"oldest": a, "latest": c}))), ["b"]);
    // Pages by cursor within the window, newest first.
    let first = history(json!({"oldest": root, "inclusive": true, "limit": 2}));
    assert_eq!(texts(&first), ["c", "b"]);
    assert_eq!(first["has_more"], true);
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    let second = history(json!({"oldest": root, "inclusive": true, "limit": 2, "cursor": cursor}));
    assert_eq!(texts(&second), ["a", "root"]);
    assert_eq!(second["has_more"], false);
    assert_eq!(second["response_metadata"]["next_cursor"], "");
    // Metadata only when asked for.
    assert!(first["messages"][0].get("metadata").is_none());
    let with = history(json!({"oldest": b, "include_all_metadata": true}));
    assert_eq!(
        with["messages"][0]["metadata"]["event_payload"]["chatty_id"],
        "c"
    );

    // conversations.replies: the thread, oldest first, in the window, paged, metadata asked
    // for; `ts` may name a reply.
    let replies = |args: Value| {
        let mut args = args;
        args["channel"] = dm.clone().into();
        let answer = slack.call(bot, "conversations.replies", args);
        assert_eq!(answer["ok"], true, "{answer}");
        answer
    };
    let thread = replies(json!({"ts": r2}));
    assert_eq!(texts(&thread), ["root", "r1", "r2"]);
    assert!(thread["messages"][1].get("metadata").is_none());
    let since = replies(json!({"ts": root, "oldest": r1, "include_all_metadata": true}));
    assert_eq!(texts(&since), ["r2"]);
    assert_eq!(
        since["messages"][0]["metadata"]["event_payload"]["chatty_id"],
        "r2"
    );
    let first = replies(json!({"ts": root, "limit": 2}));
    assert_eq!(texts(&first), ["root", "r1"]);
    assert_eq!(first["has_more"], true);
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    assert_eq!(
        texts(&replies(json!({"ts": root, "limit": 2, "cursor": cursor}))),
        ["r2"]
    );
    let bad = slack.call(
        bot,
        "conversations.replies",
        json!({"channel": dm, "ts": root, "cursor": "nonsense"}),
    );
    assert_eq!(bad["error"], "invalid_cursor");
}
