//! Events sent again on Slack's timetable (docs.slack.dev/apis/events-api#retries, shortened
//! here): an envelope not acknowledged comes again, on a new connection too (the app's process
//! died), with the same payload and `retry_attempt` counting the attempts before it; past the
//! last retry Slack gives up.

use std::time::Duration;

use chatty_local_slack::LocalSlack;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a Socket Mode connection and reads its `hello`.
async fn connect(slack: &LocalSlack, app_token: &str) -> Socket {
    let opened = slack.call(app_token, "apps.connections.open", json!({}));
    let url = opened["url"].as_str().expect("a socket URL");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn an_envelope_not_acknowledged_comes_again_on_the_next_connection() {
    let slack = LocalSlack::start().await.unwrap();
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    slack.set_retry_schedule(&[Duration::ZERO, Duration::from_millis(400), WAIT]);

    let mut first = connect(&slack, &app.app_token).await;
    slack.post(&alice, &dm, "kept");
    let sent = next_json(&mut first).await;
    assert_eq!(sent["retry_attempt"], 0);
    // The app's process dies before it acknowledged: the socket closes.
    drop(first);
    assert!(
        slack
            .wait_until(WAIT, |s| s.socket_count(&app.app_id) == 0)
            .await
    );
    assert_eq!(slack.pending_events(&app.app_id), 1);

    // Retry 1 found no socket; retry 2 goes to the process that came back.
    let mut second = connect(&slack, &app.app_token).await;
    let again = next_json(&mut second).await;
    assert_eq!(again["type"], "events_api");
    assert_eq!(again["payload"], sent["payload"], "the same event, whole");
    assert_ne!(again["envelope_id"], sent["envelope_id"]);
    assert_eq!(again["retry_attempt"], 2);
    assert_eq!(again["retry_reason"], "timeout");
    let ack = json!({"envelope_id": again["envelope_id"]}).to_string();
    second.send(Message::Text(ack.into())).await.unwrap();
    assert!(
        slack
            .wait_until(WAIT, |s| s.pending_events(&app.app_id) == 0)
            .await
    );
    assert!(slack.dropped_events(&app.app_id).is_empty());
    let event_id = sent["payload"]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(
        slack.deliveries(&app.app_id),
        [(event_id.clone(), 0), (event_id, 2)]
    );
}

#[tokio::test]
async fn slack_gives_up_after_the_third_retry() {
    let slack = LocalSlack::start().await.unwrap();
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    slack.set_ack_timeout(Duration::from_millis(200));
    slack.set_retry_schedule(&[
        Duration::ZERO,
        Duration::from_millis(500),
        Duration::from_millis(900),
    ]);

    let mut socket = connect(&slack, &app.app_token).await;
    slack.post(&alice, &dm, "never acknowledged");
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let envelope = next_json(&mut socket).await;
        attempts.push((
            envelope["retry_attempt"].as_u64().unwrap(),
            envelope["retry_reason"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        attempts,
        [
            (0, String::new()),
            (1, "timeout".into()),
            (2, "timeout".into()),
            (3, "timeout".into())
        ]
    );
    assert!(
        slack
            .wait_until(WAIT, |s| s.pending_events(&app.app_id) == 0)
            .await
    );
    assert_eq!(slack.dropped_events(&app.app_id).len(), 1);
    assert_eq!(slack.deliveries(&app.app_id).len(), 4);
}

#[tokio::test]
async fn an_event_posted_while_no_socket_is_open_waits_for_its_retry() {
    let slack = LocalSlack::start().await.unwrap();
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    slack.set_retry_schedule(&[Duration::ZERO, Duration::from_millis(300)]);

    // No socket at any attempt: lost to the app.
    slack.post(&alice, &dm, "nobody there");
    assert!(
        slack
            .wait_until(WAIT, |s| s.dropped_events(&app.app_id).len() == 1)
            .await
    );
    assert_eq!(slack.pending_events(&app.app_id), 0);
    assert!(slack.deliveries(&app.app_id).is_empty());
}
