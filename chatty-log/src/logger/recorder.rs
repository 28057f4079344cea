//! Recording, and reporting what fails to record, shared by both directions.

use std::sync::Arc;

use chatty_core::{Body, DeliveryStatus, FailureKind, Signal, SignalId, SystemError};
use futures::channel::mpsc::UnboundedSender;
use futures::future::join_all;

use crate::error::LogError;
use crate::store::{Direction, LogStore};

/// The component name of the [`SystemError`]s the Logger raises.
pub(super) const COMPONENT: &str = "logger";

/// Writes to the store; failures go to the bot as [`SystemError`] signals.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    pub(super) store: Arc<dyn LogStore>,
    errors: UnboundedSender<Signal>,
}

impl Recorder {
    pub(super) fn new(store: Arc<dyn LogStore>, errors: UnboundedSender<Signal>) -> Self {
        Recorder { store, errors }
    }

    /// Records `signal`; reports a failure to the bot.
    pub(super) async fn record(&self, direction: Direction, signal: &Signal) {
        if let Err(e) = self.store.record(direction, signal).await {
            self.report(&format!("could not record a signal ({direction}): {e}"));
        }
    }

    /// Raises the delivery status of `id`; reports a failure to the bot.
    pub(super) async fn set_status(&self, id: &SignalId, status: &DeliveryStatus) {
        if let Err(e) = self.store.set_delivery_status(id, status).await {
            self.report(&format!(
                "could not record the delivery status of {id}: {e}"
            ));
        }
    }

    /// Records an inbound signal and what it says about the delivery of sent ones: the writes
    /// are made together (in this order), so that a store that commits in groups commits them
    /// once.
    pub(super) async fn inbound(&self, signal: Signal) -> Signal {
        let updates = delivery_updates(&signal);
        let statuses = join_all(
            updates
                .iter()
                .map(|(id, status)| self.set_status(id, status)),
        );
        futures::join!(self.record(Direction::In, &signal), statuses);
        signal
    }

    /// Records a signal that went out, and its status `Sent`, made together.
    pub(super) async fn outbound(&self, signal: &Signal, id: &SignalId) {
        futures::join!(
            self.record(Direction::Out, signal),
            self.set_status(id, &DeliveryStatus::Sent)
        );
    }

    /// Sends the bot a [`SystemError`] saying `message`.
    pub(super) fn report(&self, message: &str) {
        let error = Signal::internal(
            None,
            SystemError::new(COMPONENT.to_owned(), message.to_owned()),
        );
        // Fails only when the bot's inbound stream is gone, and then nobody is left to tell.
        let _ = self.errors.unbounded_send(error);
    }

    /// Reports a store error that was not about a particular signal.
    pub(super) fn report_error(&self, what: &str, e: &LogError) {
        self.report(&format!("{what}: {e}"));
    }
}

/// What an inbound signal says about signals the bot sent: a send failure or an unsupported
/// signal (a session that could not carry it after all) marks them failed.
pub(super) fn delivery_updates(signal: &Signal) -> Vec<(SignalId, DeliveryStatus)> {
    match &signal.body {
        Body::SendFailure(failure) => vec![(
            failure.failed.clone(),
            DeliveryStatus::Failed {
                kind: failure.kind,
                message: failure.message.clone(),
            },
        )],
        Body::Unsupported(unsupported) => {
            let status = DeliveryStatus::Failed {
                kind: FailureKind::Other,
                message: format!("not supported: {}", unsupported.reason),
            };
            let mut ids = vec![unsupported.refused.clone()];
            if let Some(id) = &signal.meta.response_to
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
            ids.into_iter().map(|id| (id, status.clone())).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::{SendFailure, Unsupported};

    #[test]
    fn send_failures_and_unsupported_signals_mark_failures() {
        let failure = Signal::new(SendFailure::new(
            "a".into(),
            FailureKind::Bounced,
            "no such user",
        ));
        assert_eq!(
            delivery_updates(&failure),
            vec![(
                "a".into(),
                DeliveryStatus::Failed {
                    kind: FailureKind::Bounced,
                    message: "no such user".into()
                }
            )]
        );

        let sent = Signal::message("x");
        let back = Signal::new(Unsupported::new(sent.meta.id.clone(), "no messages"))
            .in_response_to(sent.meta.id.clone());
        let updates = delivery_updates(&back);
        assert_eq!(updates.len(), 1);
        assert_eq!(&updates[0].0, sent.id());

        assert!(delivery_updates(&Signal::message("hi")).is_empty());
    }
}
