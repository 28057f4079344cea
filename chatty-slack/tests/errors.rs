//! Failures as Slack documents them: errors classified by Slack's `error` code (not the HTTP
//! status), wrong and revoked tokens as authentication errors that end the session instead of
//! retrying forever, and a DM refused for a missing scope failing once, naming the scope.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chatty_core::{Body, ConnectionErrorKind, Message, Signal, SignalKind};
use chatty_slack::{Secret, SlackConfig};
use chatty_test::ProbeRemote;
use common::{
    Bot, WAIT, address, bot_posts, local_slack, next_message, run_unstarted, workspace_with_dm,
};

/// The first connection error of `kind` within the wait, skipping others (an endless series
/// of other errors fails too).
async fn connection_error(
    remote: &ProbeRemote,
    kind: ConnectionErrorKind,
) -> chatty_core::ConnectionError {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut others = Vec::new();
    while tokio::time::Instant::now() < deadline {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(signal) = remote.next_within(left).await else {
            break;
        };
        match signal.body {
            Body::ConnectionError(e) if e.kind == kind => return e,
            Body::ConnectionError(e) => others.push(e),
            _ => {}
        }
    }
    panic!("no {kind:?} connection error within {WAIT:?}; others: {others:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_answered_with_http_401_is_an_authentication_error() {
    // An emulator (or a proxy) that answers every call with HTTP 401 and Slack's JSON.
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/api/{method}",
        axum::routing::any(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    r#"{"ok":false,"error":"invalid_auth"}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config = SlackConfig::new(Secret::inline("xoxb-wrong"), Secret::inline("xapp-wrong"))
        .with_api_url(format!("http://{addr}/api/"))
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(100));
    let (remote, task) = run_unstarted(config);
    let error = connection_error(&remote, ConnectionErrorKind::Authentication).await;
    assert!(error.cause.contains("invalid_auth"), "{}", error.cause);
    assert_eq!(error.retry_in, None, "no retry: the token is wrong");
    let ended = remote
        .next_of(SignalKind::SessionEnded)
        .await
        .expect("the session ends");
    assert!(matches!(&ended.body, Body::SessionEnded(e)
        if e.reason.as_deref().is_some_and(|r| r.contains("invalid_auth"))));
    assert!(
        tokio::time::timeout(WAIT, task).await.is_ok(),
        "the router stops"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "auth.test once, never again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_app_token_stops_socket_mode_with_an_authentication_error() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let bot = Bot::start_quick(&slack, app.clone()).await;
    slack.post(&alice, &dm, "before");
    assert_eq!(common::text(&next_message(&bot).await), "before");

    slack.revoke_token(&app.app_token);
    slack.kill_sockets(&app.app_id);
    let error = connection_error(&bot.remote, ConnectionErrorKind::Authentication).await;
    assert!(error.cause.contains("token_revoked"), "{}", error.cause);
    assert!(
        error.cause.contains("apps.connections.open"),
        "{}",
        error.cause
    );
    assert_eq!(error.retry_in, None);
    let ended = bot.next_of(SignalKind::SessionEnded).await;
    assert!(matches!(&ended.body, Body::SessionEnded(e)
        if e.reason.as_deref().is_some_and(|r| r.contains("token_revoked"))));
    let calls = slack.call_count("apps.connections.open");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        slack.call_count("apps.connections.open"),
        calls,
        "no endless reconnection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_refused_for_a_missing_scope_fails_once_naming_it() {
    let slack = local_slack().await;
    let alice = slack.add_user("alice");
    let carol = slack.add_user("carol");
    let scopes: Vec<&str> = chatty_local_slack::DEFAULT_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "im:write")
        .collect();
    let app = slack.add_app_with_scopes("bot", &scopes);
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    // Carol never wrote to the bot: her DM needs conversations.open, which needs im:write.
    let id = handle
        .send(Signal::message("hello carol").to(address(&slack, &carol)))
        .await
        .unwrap();
    let f = bot.rejection_of(&id).await;
    assert_eq!(f.code.as_deref(), Some("missing_scope"));
    assert!(f.message.contains("conversations.open"), "{}", f.message);
    assert!(f.message.contains("`im:write`"), "{}", f.message);
    bot.assert_none_arrive(
        Duration::from_millis(800),
        &[SignalKind::SendFailure, SignalKind::SystemError],
        "one failure only",
    )
    .await;
    assert_eq!(slack.call_count("conversations.open"), 1, "tried once");

    // Alice wrote to the bot: the answer goes to her DM, known from her message, without
    // conversations.open.
    slack.post(&alice, &dm, "hi bot");
    let got = next_message(&bot).await;
    handle
        .send(got.reply(Message::text("hi alice")))
        .await
        .unwrap();
    bot_posts(&slack, &dm, &app, 1).await;
    assert_eq!(slack.call_count("conversations.open"), 1);
    bot.stop().await;
}
