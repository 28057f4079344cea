//! The bot's side of a test: a session on a pool account under a router with the spy bot,
//! and waiting for what it says.

use std::time::Duration;

use chatty_core::journal::MemoryJournal;
use chatty_core::{Address, Answer, Body, DeliveryStatus, Handle, Query, Router, Status};
use chatty_matrix::{MatrixConfig, MatrixSession};
use chatty_test::servers::matrix_server;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::{Signals, WAIT, next_where, spy};

pub type Running = JoinHandle<Result<(), chatty_core::BotError>>;

/// The bot's config for the pool account `account`.
pub fn config(account: &chatty_test::servers::MatrixAccount) -> MatrixConfig {
    let server = matrix_server();
    MatrixConfig::new(server.url, &account.user, account.password.as_str())
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2))
}

/// Runs a session with `config` under a router (with `journal` if given).
pub fn run(config: MatrixConfig, journal: Option<&MemoryJournal>) -> (Running, Signals) {
    let (bot, rx) = spy();
    let session = MatrixSession::new(config).expect("a valid config");
    let mut router = Router::new().session(session);
    if let Some(journal) = journal {
        router = router.journal(journal.clone());
    }
    (tokio::spawn(router.run(bot)), rx)
}

/// Waits for the session to start: its handle and the bot's address.
pub async fn started(rx: &mut Signals) -> (Handle, Address) {
    let (started, handle) = next_where(rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    (handle, started.meta.origin.expect("the bot's address"))
}

/// Waits for the bot's own join of `room`.
pub async fn joined(rx: &mut Signals, own: &Address, room: &str) {
    next_where(rx, |s| {
        matches!(&s.body, Body::StatusChange(c)
            if matches!(&c.status, Status::InRoom { present: true, room: r, .. } if r.id() == room))
            && s.meta.origin.as_ref() == Some(own)
    })
    .await;
}

/// Ends the bot's sessions and waits for its router.
pub async fn end(handle: &Handle, running: Running) {
    handle.end_sessions("test over").await.unwrap();
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

/// Waits until `id` is `Sent` (or further along).
pub async fn sent(handle: &Handle, id: &chatty_core::SignalId) {
    reaches(handle, id, DeliveryStatus::Sent).await;
}

/// Waits until `id`'s delivery status is `status` or further along.
pub async fn reaches(handle: &Handle, id: &chatty_core::SignalId, status: DeliveryStatus) {
    let mut last = DeliveryStatus::Unknown;
    let waited = timeout(WAIT, async {
        loop {
            if let Ok(Answer::DeliveryStatus(now)) =
                handle.query(Query::DeliveryStatus { id: id.clone() }).await
            {
                last = now;
                if last.rank() >= status.rank() && !matches!(last, DeliveryStatus::Failed { .. }) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{id} did not reach {status:?}: {last:?}");
}
