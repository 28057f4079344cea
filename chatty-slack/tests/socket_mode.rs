//! Socket Mode as Slack documents it (api.slack.com/apis/socket-mode): raw envelopes whose
//! metadata a typed model would refuse, unreadable envelopes between good ones, `disconnect`
//! reasons, `Retry-After` on `auth.test` and `apps.connections.open`, and the bot's address on
//! the session driver's signals.

mod common;

use std::time::{Duration, Instant};

use chatty_core::reexports::serde_json::json;
use chatty_core::{Body, ConnectionErrorKind, Signal, SignalKind};
use common::{
    Bot, WAIT, assert_reconnected, assert_sockets, local_slack, next_message, system_errors, text,
    workspace_with_dm, workspace_with_general,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_with_numbers_and_objects_arrives_whole() {
    let (slack, alice, app, general) = workspace_with_general().await;
    let bot = Bot::start_in(&slack, app.clone(), &general).await;
    let payload = json!({"id": 42, "done": false, "owner": {"name": "ann"}, "tags": ["a"]});
    let token = slack.user_token(&alice).unwrap();
    let posted = slack.call(
        &token,
        "chat.postMessage",
        json!({"channel": general, "text": "task created",
               "metadata": {"event_type": "task_created", "event_payload": payload}}),
    );
    assert_eq!(posted["ok"], true, "{posted}");
    let got = next_message(&bot).await;
    match &got.body {
        Body::UserDefined(u) => {
            assert_eq!(u.name, "task_created");
            assert_eq!(u.payload, payload);
        }
        other => panic!("a user-defined signal: {other:?}"),
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_envelope_is_a_system_error_between_signals_that_arrive() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start(&slack, app.clone()).await;

    slack.post(&alice, &dm, "m1");
    assert_eq!(text(&next_message(&bot).await), "m1");
    slack.send_raw(
        &app.app_id,
        r#"{"envelope_id":"bad-1","type":"events_api","payload":"not an object"}"#,
    );
    slack.send_raw(
        &app.app_id,
        r#"{"envelope_id":"bad-2","type":"events_api","payl"#,
    );
    assert!(
        slack
            .wait_until(WAIT, |s| {
                let acks = s.acks_received(&app.app_id);
                acks.contains(&"bad-1".to_owned()) && acks.contains(&"bad-2".to_owned())
            })
            .await,
        "the unreadable envelopes are acknowledged: {:?}",
        slack.acks_received(&app.app_id)
    );
    slack.post(&alice, &dm, "m2");

    let mut seen: Vec<Signal> = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !seen
        .iter()
        .any(|s| matches!(&s.body, Body::Message(m) if m.text == "m2"))
    {
        assert!(Instant::now() < deadline, "m2 did not arrive: {seen:?}");
        let signal = bot.remote.next().await.expect("signals keep coming");
        seen.push(signal);
    }
    let errors = system_errors(&seen);
    assert_eq!(errors.len(), 2, "{seen:?}");
    assert!(errors[0].contains("events_api"), "{}", errors[0]);
    assert!(errors[1].contains("not JSON"), "{}", errors[1]);
    assert!(
        !seen.iter().any(|s| s.kind() == SignalKind::ConnectionError),
        "not a connection error: {seen:?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_apps_connections_open_is_waited_out() {
    retry_after_is_waited_out("apps.connections.open").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_auth_test_is_waited_out() {
    retry_after_is_waited_out("auth.test").await;
}

/// HTTP 429 with `Retry-After: 2` on `method` while reconnecting: the connection error says
/// the session tries again in 2 s or more, and it does not call `method` again before then,
/// though its backoff is 100 ms; then it connects.
async fn retry_after_is_waited_out(method: &str) {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start_quick(&slack, app.clone()).await;
    let opened = slack.connections_opened(&app.app_id);

    slack.rate_limit(method, 1, 2);
    slack.kill_sockets(&app.app_id);
    let deadline = Instant::now() + WAIT;
    let error = loop {
        assert!(
            Instant::now() < deadline,
            "no connection error naming the 429"
        );
        let signal = bot.next_of(SignalKind::ConnectionError).await;
        if let Body::ConnectionError(e) = signal.body
            && e.cause.contains("429")
        {
            break e;
        }
    };
    let limited_at = Instant::now();
    assert!(error.cause.contains(method), "{}", error.cause);
    assert_eq!(error.kind, ConnectionErrorKind::Unreachable);
    let retry_in = error.retry_in.expect("it tries again");
    assert!(retry_in >= Duration::from_secs(2), "{retry_in:?}");
    // Not again before Retry-After, though the backoff is 100 ms.
    let calls = slack.call_count(method);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(slack.call_count(method), calls, "{method} called again");
    assert_reconnected(&slack, &app, opened).await;
    assert!(limited_at.elapsed() >= Duration::from_millis(1900));
    assert_eq!(slack.call_count(method), calls + 1);
    slack.post(&alice, &dm, "after");
    assert_eq!(text(&next_message(&bot).await), "after");
    bot.stop().await;
}

/// The driver's own signals come from the bot's address, which `auth.test` told the session:
/// `SessionStarted`, a lost connection's `ConnectionError`, `SessionAboutToEnd` and
/// `SessionEnded`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drivers_signals_come_from_the_bots_address() {
    let slack = local_slack().await;
    let app = slack.add_app("bot");
    let mut bot = Bot::start_quick(&slack, app.clone()).await;
    let own = Some(bot.address.clone());
    assert_eq!(bot.started.meta.origin, own, "{:?}", bot.started);
    assert_eq!(bot.session.address(), own);

    slack.kill_sockets(&app.app_id);
    let lost = bot.next_of(SignalKind::ConnectionError).await;
    assert_eq!(lost.meta.origin, own, "{lost:?}");

    let handle = bot.remote.handle().await;
    handle
        .send(Signal::new(Body::InitiateSessionEnd(
            chatty_core::SessionEnd::default(),
        )))
        .await
        .expect("the end request is accepted");
    let mut ending = Vec::new();
    let deadline = Instant::now() + WAIT;
    while ending.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the session did not end: {ending:?}"
        );
        let signal = bot.remote.next().await.expect("the session ends");
        if matches!(
            signal.body,
            Body::SessionAboutToEnd(_) | Body::SessionEnded(_)
        ) {
            ending.push(signal);
        }
    }
    assert_eq!(ending[0].kind(), SignalKind::SessionAboutToEnd);
    assert_eq!(ending[1].kind(), SignalKind::SessionEnded);
    for signal in &ending {
        assert_eq!(signal.meta.origin, own, "{signal:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_warning_reconnects_and_link_disabled_stops() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start_quick(&slack, app.clone()).await;

    // `warning`: the connection ends soon; the session reconnects at once, quietly.
    let opened = slack.connections_opened(&app.app_id);
    slack.disconnect(&app.app_id, "warning");
    assert_reconnected(&slack, &app, opened).await;
    slack.post(&alice, &dm, "still here");
    let got = next_message(&bot).await;
    assert_eq!(text(&got), "still here");

    // `link_disabled`: Socket Mode was turned off for the app; the session stops and says so.
    assert_sockets(&slack, &app, 1).await;
    slack.disconnect(&app.app_id, "link_disabled");
    let mut before_end = Vec::new();
    let deadline = Instant::now() + WAIT;
    let ended = loop {
        assert!(
            Instant::now() < deadline,
            "the session did not end: {before_end:?}"
        );
        let signal = bot.remote.next().await.expect("the session ends");
        if let Body::SessionEnded(end) = &signal.body {
            break end.clone();
        }
        before_end.push(signal);
    };
    let errors: Vec<_> = before_end
        .iter()
        .filter_map(|s| match &s.body {
            Body::ConnectionError(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "only link_disabled: {errors:?}");
    assert!(
        errors[0].cause.contains("link_disabled"),
        "{}",
        errors[0].cause
    );
    assert_eq!(errors[0].retry_in, None);
    assert!(ended.reason.is_some_and(|r| r.contains("link_disabled")));
    let calls = slack.call_count("apps.connections.open");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        slack.call_count("apps.connections.open"),
        calls,
        "no reconnection"
    );
}
