//! Outbound: a signal the bot sends becomes stanzas (files uploaded first) handed to the
//! connection, which carries them, with the IQ requests of queries, onto the stream.

pub(crate) mod stanzas;

use chatty_core::driver::Driver;
use chatty_core::session::{Confirmation, Refusal};
use chatty_core::{AddressKind, Body, DeliveryStatus, FailureKind, Signal};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::stanzastream::StanzaStage;

use crate::archive::Waiter;
use crate::command::{Command, Confirm};
use crate::reaction_marks;
use crate::state::{Connection, Shared};

/// Turns `signal` into stanzas at once (refusing what it cannot carry) and hands them to the
/// connection; a message to someone (not a room) is `sent` in `driver`'s deliveries until a
/// receipt says more.
///
/// Under a router with a journal, it returns once the server has the messages (acknowledged
/// with Stream Management, XEP-0198; else written out), or [`CONFIRM_TIMEOUT`] passed: the
/// journal records an answer as gone when the send returns, and an answer still in this process
/// when it dies would otherwise never be sent. Without a journal it does not wait on the
/// network.
///
/// [`CONFIRM_TIMEOUT`]: crate::command::CONFIRM_TIMEOUT
pub(crate) async fn send(shared: &Shared, driver: &Driver, signal: Signal) -> Result<(), Refusal> {
    hand_on(shared, driver, signal).await?.await
}

/// [`send`], returning once the stanzas are handed to the connection (in the order of the
/// calls), with the wait for the server as the confirmation: the journal's lane has several
/// answers on their way at once, each gone once confirmed.
pub(crate) async fn hand_on(
    shared: &Shared,
    driver: &Driver,
    signal: Signal,
) -> Result<Confirmation, Refusal> {
    let ended = || Refusal::new(FailureKind::Unreachable, "the XMPP session has ended");
    // Asked to end before a connection served (nothing will carry it), or ended already.
    if driver.end_requested() && !shared.is_connected() {
        return Err(ended());
    }
    let signal = shared.upload_files(signal).await?;
    let mut stanzas = shared.mapper.outbound(&signal)?;
    shared.drop_what_clients_ignore(&mut stanzas);
    let (confirm, confirmed) = match shared.confirms_sends() {
        true => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    shared
        .commands
        .send(Command::Send(stanzas, confirm))
        .await
        .map_err(|_| ended())?;
    if let Some(link) = shared.journal_link.get() {
        // The bot's own set is kept once its stanza is on its way.
        let changed = shared.mapper.reactions().take_sent_changes();
        let _ = reaction_marks::keep(link, changed).await;
    }
    if asks_for_receipts(&signal) {
        driver
            .deliveries()
            .advance(&signal.meta.id, DeliveryStatus::Sent);
    }
    let Some(confirmed) = confirmed else {
        return Ok(chatty_core::session::confirmed());
    };
    Ok(Box::pin(async move {
        // No answer: the connection ended before it carried them (they are sent on the next).
        if let Ok(confirm) = confirmed.await {
            confirm.wait().await;
        }
        Ok(())
    }))
}

/// Whether `signal` went out as messages asking for receipts (XEP-0184): to someone, not only to
/// rooms, which give none.
fn asks_for_receipts(signal: &Signal) -> bool {
    matches!(
        signal.body,
        Body::Message(_) | Body::File(_) | Body::UserDefined(_)
    ) && signal
        .meta
        .addressees
        .iter()
        .any(|to| to.kind() != AddressKind::Channel)
}

/// Carries one command onto the stream: messages are kept until the server acknowledges them
/// (and a send that waits for that is handed their tokens),
/// the bot's own presence is remembered for the next fresh stream, and IQ requests and archive
/// queries wait for their answers.
pub(crate) async fn carry(connection: &mut Connection, command: Command) {
    match command {
        Command::Send(stanzas, confirm) => {
            let mut tokens = Vec::new();
            for stanza in stanzas {
                match stanza {
                    Stanza::Message(message) => tokens.push(connection.send_kept(message).await),
                    Stanza::Presence(presence) if presence.to.is_none() => {
                        connection.live.presence = Some(presence.clone());
                        connection.send(presence).await;
                    }
                    other => connection.send(other).await,
                }
            }
            if let Some(confirm) = confirm {
                let stage = if connection.sm {
                    let now = Instant::now();
                    let waiting = tokens.iter().map(|token| (now, token.clone()));
                    connection.confirming.extend(waiting);
                    StanzaStage::Acked
                } else {
                    StanzaStage::Sent
                };
                let _ = confirm.send(Confirm { tokens, stage });
            }
        }
        Command::Iq(iq, answer) => {
            connection.iqs.insert(&iq, answer);
            connection.send(*iq).await;
        }
        Command::Archive(iq, query_id, reply) => {
            connection
                .archive
                .insert(query_id, &iq, Waiter::Reply(reply));
            connection.send(*iq).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::XmppConfig;

    fn session() -> (Shared, Driver) {
        let shared = Shared::new(XmppConfig::new("bot@example.org", "pw")).unwrap();
        (shared, Driver::default())
    }

    #[tokio::test]
    async fn a_message_to_someone_is_sent_and_one_to_a_room_is_not_tracked() {
        let (shared, driver) = session();
        let alice: chatty_core::Address = "xmpp:alice@example.org".parse().unwrap();
        let message = Signal::message("hi").to(alice);
        send(&shared, &driver, message.clone()).await.unwrap();
        assert_eq!(
            driver.deliveries().get(&message.meta.id),
            DeliveryStatus::Sent
        );
        let presence = Signal::new(chatty_core::StatusChange::new(
            chatty_core::Status::Presence {
                availability: chatty_core::Availability::Away,
            },
        ));
        send(&shared, &driver, presence.clone()).await.unwrap();
        assert_eq!(
            driver.deliveries().get(&presence.meta.id),
            DeliveryStatus::Unknown,
            "no message, no receipt"
        );
        let room: chatty_core::Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
        assert!(!asks_for_receipts(&Signal::message("hi").to(room)));
    }

    #[tokio::test]
    async fn nothing_is_taken_once_the_session_was_asked_to_end_without_a_connection() {
        let (shared, driver) = session();
        driver.request_end(chatty_core::SessionEnd::default());
        let alice: chatty_core::Address = "xmpp:alice@example.org".parse().unwrap();
        let refusal = send(&shared, &driver, Signal::message("late").to(alice))
            .await
            .unwrap_err();
        assert_eq!(refusal.kind, FailureKind::Unreachable);
    }
}
