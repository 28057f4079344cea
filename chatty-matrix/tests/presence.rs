//! Presence against the test Synapse (presence on), with a person in the test speaking plain
//! client-server HTTP: the person's presence comes to the bot as a presence status change with
//! its status message, and the bot's presence is what the person then reads.

mod common;

use chatty_core::{Availability, Body, Signal, Status, StatusChange};
use common::bot::{config, end, joined, run, sent, started};
use common::{Person, WAIT, fresh_account, next_where};
use hyper::Method;
use serde_json::json;
use tokio::time::timeout;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_both_ways() {
    // Accounts of their own (see `fresh_account`).
    let bot_account = fresh_account("pbot").await;
    let alice = Person::register("palice").await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, own) = started(&mut rx).await;
    // Presence goes to those who share a room.
    let room = alice.create_room(&bot_account.user_id, false).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;

    // A status message of this run's own (the account may be away from an earlier run).
    let lunch = format!("at lunch {}", std::process::id());
    // Set again every second until the bot has it (see `Person::set_presence`).
    let alice = std::sync::Arc::new(alice);
    let setting = {
        let (alice, lunch) = (alice.clone(), lunch.clone());
        tokio::spawn(async move {
            loop {
                alice.set_presence("unavailable", &lunch).await;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    };
    let (away, _) = next_where(&mut rx, |s| {
        matches!(&s.body, Body::StatusChange(c)
            if matches!(c.status, Status::Presence { availability: Availability::Away })
                && c.message.as_deref() == Some(lunch.as_str()))
    })
    .await;
    setting.abort();
    assert_eq!(away.meta.origin.as_ref().unwrap().id(), alice.user_id);

    // The bot's own: busy goes as unavailable, with its status message.
    let mut busy = StatusChange::new(Status::Presence {
        availability: Availability::Busy,
    });
    busy.message = Some("deploying".into());
    let id = handle.send(Signal::new(busy)).await.unwrap();
    sent(&handle, &id).await;
    let path = format!("/presence/{}/status", bot_account.user_id);
    let mut last = json!(null);
    let seen = timeout(WAIT, async {
        loop {
            last = alice.request(Method::GET, &path, None).await;
            if last["presence"] == "unavailable" && last["status_msg"] == "deploying" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "the bot's presence as the person reads it: {last}"
    );
    end(&handle, running).await;
}
