//! Serving a connection: the one loop over the stanza stream, mapping what arrives to signals
//! and carrying what the bot hands over, until the session is to stop (then it closes politely)
//! or the stream is gone for good.
//!
//! Its parts: the stream's own events ([`stream`]), one stanza ([`stanza`]), the catch-up from
//! the archive on a fresh stream ([`catch_up`]), and from a room's archive on a fresh join
//! ([`room_catch_up`]), messages given to the bot ([`deliver`]); the
//! mapping of messages, presence and error
//! stanzas to signals ([`message`], [`presence`], [`failure`]), reactions among them
//! ([`reaction`]).

mod catch_up;
mod deliver;
mod failure;
pub(crate) mod message;
mod presence;
mod reaction;
mod room_catch_up;
mod stanza;
pub(crate) mod stream;

use std::time::Duration;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::{Deliveries, Failure, Link};
use chatty_core::reexports::futures::StreamExt as _;
use tokio::time::Instant;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::stanzastream::{Event, StanzaStage};

use crate::room_archive::earlier;
use crate::state::{Connection, Shared};
use crate::{archive, outbound};

/// How long the session waits for its last stanzas, and then for the stream's close, when it
/// ends.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `connection` until `link` says to stop (`Ok`) or the stream is gone for good
/// (`Err`: the driver connects anew). Lost connections on the way are tokio-xmpp's to mend.
pub(crate) async fn serve(
    shared: &Shared,
    deliveries: &Deliveries,
    mut connection: Connection,
    link: &Link,
) -> Result<(), Failure> {
    for stanza in std::mem::take(&mut connection.early) {
        stanza::handle(shared, deliveries, &mut connection, link, stanza).await;
    }
    let stopping = link.stopping();
    tokio::pin!(stopping);
    loop {
        // What was read while a push waited goes first, in order.
        if let Some(event) = connection.ahead.pop_front() {
            if link.is_stopping() {
                break;
            }
            match event {
                Some(Event::Stanza(stanza)) => {
                    stanza::handle(shared, deliveries, &mut connection, link, stanza).await;
                }
                Some(Event::Stream(event)) => {
                    stream::event(shared, &mut connection, link, event).await;
                }
                None => return Err(stream_closed()),
            }
            continue;
        }
        let catch_up_deadline = earlier(
            connection.catch_up.deadline,
            connection.room_catch_ups.deadline(),
        );
        tokio::select! {
            () = &mut stopping => break,
            () = archive::expiry(catch_up_deadline) => {
                gave_up(shared, deliveries, &mut connection, link).await;
            }
            event = connection.stream.next() => match event {
                Some(Event::Stanza(stanza)) => {
                    stanza::handle(shared, deliveries, &mut connection, link, stanza).await;
                }
                Some(Event::Stream(event)) => {
                    stream::event(shared, &mut connection, link, event).await;
                }
                None => return Err(stream_closed()),
            },
            Some(command) = connection.live.commands.recv() => {
                outbound::carry(&mut connection, command).await;
            }
        }
    }
    close(connection).await;
    Ok(())
}

/// Gives up the catch-ups (the account's, the rooms') whose step the server did not answer in
/// time.
async fn gave_up(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: &mut Connection,
    link: &Link,
) {
    let now = Instant::now();
    if connection.catch_up.deadline.is_some_and(|d| d <= now) {
        catch_up::gave_up(shared, deliveries, connection, link).await;
    }
    for room in connection.room_catch_ups.expired(now) {
        room_catch_up::gave_up(shared, deliveries, connection, link, room).await;
    }
}

/// The failure of a stream that ended by itself.
pub(crate) fn stream_closed() -> Failure {
    Failure::new(ConnectionErrorKind::Unreachable, "the XMPP stream closed")
}

/// Ends the session's stream politely: what the bot handed over before (its last chance to send
/// came before the stop) goes first, nothing after; then the unavailable presence, and the
/// stream's close.
async fn close(mut connection: Connection) {
    connection.live.commands.close();
    while let Ok(command) = connection.live.commands.try_recv() {
        outbound::carry(&mut connection, command).await;
    }
    if connection.bound.is_some() {
        let unavailable = Box::new(Presence::unavailable().into());
        let mut token = connection.stream.send(unavailable).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, token.wait_for(StanzaStage::Sent)).await;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.stream.close()).await;
}
