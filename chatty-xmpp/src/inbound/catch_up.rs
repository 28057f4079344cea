//! Catching up after a fresh stream that replaced a lost one: what arrived at the server
//! meanwhile, or was in flight to the bot when the stream broke, from the archive (MAM, XEP-0313),
//! page after page from the last message received. Repeats are dropped by id.

use chatty_core::driver::{Deliveries, Link};
use chatty_core::{Signal, SystemError};

use crate::archive::{self, ArchiveAnswer, Waiter};
use crate::mapper::timestamp;
use crate::state::{Connection, Shared};

/// Asks the archive for what came after the last message received, if one was.
pub(crate) async fn start(connection: &mut Connection) {
    if let Some(after) = connection.live.last_archived.clone() {
        ask(connection, after).await;
    }
}

/// Asks for the page after the archive id `after`.
async fn ask(connection: &mut Connection, after: String) {
    let (query_id, iq) = archive::catch_up(after);
    connection.archive.insert(query_id, &iq, Waiter::CatchUp);
    connection.send(iq).await;
}

/// One page came: its messages go to the bot as they were received, and the next page is asked
/// for; a failure is a system error (messages may be missing).
pub(crate) async fn page(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
    answer: ArchiveAnswer,
) {
    match answer {
        Ok((found, fin)) => {
            for item in found {
                connection.live.last_archived = Some(item.archive_id.clone());
                let mapped = shared
                    .mapper
                    .inbound_message_noting_deliveries(item.message, deliveries);
                if let Some(mut signal) = mapped {
                    if let Some(sent) = item.delay.as_ref().and_then(|d| timestamp(&d.stamp)) {
                        signal.meta.sent = Some(sent);
                    }
                    // An error means the bot stopped listening: the driver stops the session.
                    let _ = link.push(signal).await;
                }
            }
            if !fin.complete
                && let Some(after) = fin.set.last
            {
                ask(connection, after).await;
            }
        }
        Err(e) => {
            tracing::warn!("catching up from the archive failed: {e}");
            let error = SystemError::new(
                "xmpp",
                format!(
                    "catching up from the archive after a reconnection failed: {e}; messages sent meanwhile may be missing"
                ),
            );
            let _ = link
                .push(Signal::internal(Some(shared.own().clone()), error))
                .await;
        }
    }
}
