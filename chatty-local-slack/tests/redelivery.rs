//! Events sent again on Slack's timetable (docs.slack.dev/apis/events-api#retries, shortened
//! here): an envelope not acknowledged comes again, on a new connection too (the app's process
//! died), with the same payload and `retry_attempt` counting the attempts before it; past the
//! last retry Slack gives up.

mod common;

use std::time::Duration;

use common::{
    WAIT, ack, alice_and_bot_in_a_dm, connect, next_json, wait_until_no_socket,
    wait_until_nothing_pending,
};

#[tokio::test]
async fn an_envelope_not_acknowledged_comes_again_on_the_next_connection() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
    slack.set_retry_schedule(&[Duration::ZERO, Duration::from_millis(400), WAIT]);

    let mut first = connect(&slack, &app.app_token).await;
    slack.post(&alice, &dm, "kept");
    let sent = next_json(&mut first).await;
    assert_eq!(sent["retry_attempt"], 0);
    // The app's process dies before it acknowledged: the socket closes.
    drop(first);
    wait_until_no_socket(&slack, &app.app_id).await;
    assert_eq!(slack.pending_events(&app.app_id), 1);

    // Retry 1 found no socket; retry 2 goes to the process that came back.
    let mut second = connect(&slack, &app.app_token).await;
    let again = next_json(&mut second).await;
    assert_eq!(again["type"], "events_api");
    assert_eq!(again["payload"], sent["payload"], "the same event, whole");
    assert_ne!(again["envelope_id"], sent["envelope_id"]);
    assert_eq!(again["retry_attempt"], 2);
    assert_eq!(again["retry_reason"], "timeout");
    ack(&mut second, &again).await;
    wait_until_nothing_pending(&slack, &app.app_id).await;
    assert!(slack.dropped_events(&app.app_id).is_empty());
    let event_id = sent["payload"]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(
        slack.deliveries(&app.app_id),
        [(event_id.clone(), 0), (event_id, 2)]
    );
}

#[tokio::test]
async fn slack_gives_up_after_the_third_retry() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
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
    wait_until_nothing_pending(&slack, &app.app_id).await;
    assert_eq!(slack.dropped_events(&app.app_id).len(), 1);
    assert_eq!(slack.deliveries(&app.app_id).len(), 4);
}

#[tokio::test]
async fn an_event_posted_while_no_socket_is_open_waits_for_its_retry() {
    let (slack, alice, app, dm) = alice_and_bot_in_a_dm().await;
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
