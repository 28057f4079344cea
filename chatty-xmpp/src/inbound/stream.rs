//! The stanza stream's own events: a fresh stream (a resource bound after a login, whatever the
//! server knew of the session lost), a suspended one (the connection lost: tokio-xmpp reconnects
//! by itself), a resumed one (XEP-0198: nothing lost).

use std::time::Duration;

use chatty_core::driver::{Failure, Link};
use chatty_core::{Availability, ConnectionErrorKind};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::stanzastream::StreamEvent;

use super::catch_up;
use crate::outbound::stanzas::own_presence;
use crate::state::{Connection, Shared};

/// Handles one event of the stream.
pub(crate) async fn event(
    shared: &Shared,
    connection: &mut Connection,
    link: &Link,
    event: StreamEvent,
) {
    match event {
        StreamEvent::Reset {
            bound_jid,
            features,
        } => {
            // What a send waited for on the lost stream will not come on this one.
            connection.confirming.clear();
            connection.sm = features.stream_management.is_some();
            fresh(shared, connection, bound_jid).await;
        }
        StreamEvent::Suspended => {
            let lost = Failure::new(
                ConnectionErrorKind::Unreachable,
                "the connection to the server was lost; reconnecting",
            );
            // An error means the bot stopped listening: the driver stops the session.
            let _ = link.connection_error(&lost, Some(Duration::ZERO)).await;
        }
        StreamEvent::Resumed => tracing::debug!("stream resumed (XEP-0198): nothing lost"),
    }
}

/// A fresh stream bound to `bound`: the server sends every contact's presence again, and wants
/// the bot's; after a lost stream (the server could not resume it: after a restart, say) what
/// it never acknowledged goes again; the archive tells what the bot missed (on the first stream
/// of a run too: the bot's process may have died); the rooms forgot the bot, so it joins them
/// again.
async fn fresh(shared: &Shared, connection: &mut Connection, bound: Jid) {
    tracing::debug!(jid = %bound, "online");
    connection.bound = Some(bound);
    shared.mapper.peers().forget_resources();
    let presence =
        connection.live.presence.clone().unwrap_or_else(|| {
            own_presence(Availability::Available, None, shared.config.client_type)
        });
    connection.send(presence).await;
    if std::mem::replace(&mut connection.live.bound_before, true) {
        resend_unacknowledged(connection).await;
    }
    catch_up::start(shared, connection).await;
    let joins = shared.mapper.state().rejoin_all();
    for join in joins {
        connection.send(join).await;
    }
}

/// Sends again what the lost stream did not acknowledge (XEP-0198); the receiver drops what it
/// has seen already, by id.
async fn resend_unacknowledged(connection: &mut Connection) {
    let again = connection.live.unacked.take_unacknowledged();
    if !again.is_empty() {
        tracing::info!(
            count = again.len(),
            "sending again what the lost stream did not acknowledge"
        );
    }
    for message in again {
        let _token = connection.send_kept(message).await;
    }
}
