//! A bot that is slow to take its next signal: the session waits to hand it on (the bot's
//! queue is full), and meanwhile what the bot waits for from the server must still reach it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::{Body, Message, Page, Router, Signal, from_fn};
use chatty_xmpp::XmppSession;
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_is_answered_while_the_session_waits_for_the_bots_full_queue() {
    let mut alice = common::bot(common::config(&common::account())).await;
    let session = XmppSession::new(common::config(&common::account())).unwrap();
    let bot_address = session.address().clone();
    let (answered_tx, answered_rx) = oneshot::channel::<Result<(), String>>();
    let answered_tx = Arc::new(Mutex::new(Some(answered_tx)));
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let bot = from_fn(move |signal: Signal, handle| {
        let answered_tx = answered_tx.clone();
        let started_tx = started_tx.clone();
        async move {
            if matches!(signal.body, Body::SessionStarted(_))
                && let Some(tx) = started_tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
            let Body::Message(m) = &signal.body else {
                return Ok(());
            };
            if m.text != "first" {
                return Ok(());
            }
            // Let the rest arrive and fill the bot's queue (one place) before asking.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let from = signal.meta.origin.clone().unwrap();
            let result = match tokio::time::timeout(
                Duration::from_secs(20),
                handle.received_from(&from, Page::first(5)),
            )
            .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 20 s".to_owned()),
            };
            if let Some(tx) = answered_tx.lock().unwrap().take() {
                let _ = tx.send(result);
            }
            Ok(())
        }
    });
    let run = async move {
        started_rx.await.unwrap();
        alice
            .send(Signal::new(Message::text("first")).to(bot_address.clone()))
            .await;
        for i in 0..30 {
            alice
                .send(Signal::new(Message::text(format!("more {i}"))).to(bot_address.clone()))
                .await;
        }
        let result = answered_rx.await.unwrap();
        assert_eq!(
            result,
            Ok(()),
            "the bot's query waited behind its own queue"
        );
    };
    Router::new()
        .capacity(1)
        .session(session)
        .run_until(bot, run)
        .await
        .unwrap();
}
