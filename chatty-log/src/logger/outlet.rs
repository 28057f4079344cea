//! The Logger's side of the bot's handle: records what goes out, answers what it can.

use chatty_core::{
    Answer, DeliveryStatus, FailureKind, Handle, Outlet, Query, QueryError, SendError, Signal,
    SignalId, now,
};
use futures::future::BoxFuture;

use super::recorder::Recorder;
use crate::store::Direction;

/// Records each outbound signal, then hands it to the inner handle.
#[derive(Debug)]
pub(super) struct LoggingOutlet {
    pub(super) inner: Handle,
    pub(super) recorder: Recorder,
}

impl Outlet for LoggingOutlet {
    fn send(&self, mut signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        Box::pin(async move {
            // The router sets `sent` after the outlet; set it here so that what is recorded is
            // what goes out.
            signal.meta.sent.get_or_insert_with(now);
            self.recorder.record(Direction::Out, &signal).await;
            let id = signal.meta.id.clone();
            let result = self.inner.send(signal).await;
            let status = match &result {
                Ok(_) => DeliveryStatus::Sent,
                Err(e) => DeliveryStatus::Failed {
                    kind: FailureKind::Other,
                    message: format!("not sent: {e}"),
                },
            };
            self.recorder.set_status(&id, &status).await;
            result
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(async move {
            match query {
                Query::ReceivedFrom { address, page } => {
                    self.history(Direction::In, &address, &page).await
                }
                Query::SentTo { address, page } => {
                    self.history(Direction::Out, &address, &page).await
                }
                Query::DeliveryStatus { id } => self.delivery_status(id).await,
                other => self.inner.query(other).await,
            }
        })
    }
}

impl LoggingOutlet {
    async fn history(
        &self,
        direction: Direction,
        address: &chatty_core::Address,
        page: &chatty_core::Page,
    ) -> Result<Answer, QueryError> {
        self.recorder
            .store
            .history(direction, address, page)
            .await
            .map(Answer::History)
            .map_err(|e| QueryError::Failed {
                message: e.to_string(),
            })
    }

    /// The further of what the inner handle says and what the log saw.
    async fn delivery_status(&self, id: SignalId) -> Result<Answer, QueryError> {
        let inner = self
            .inner
            .query(Query::DeliveryStatus { id: id.clone() })
            .await;
        let logged = self.recorder.store.delivery_status(&id).await;
        let logged = match logged {
            Ok(status) => status,
            Err(e) => {
                self.recorder
                    .report_error(&format!("could not read the delivery status of {id}"), &e);
                None
            }
        };
        match (inner, logged) {
            (Ok(Answer::DeliveryStatus(told)), Some(seen)) => {
                if told.rank() >= seen.rank() {
                    if told.rank() > seen.rank() {
                        // Keep what was learnt, so that it survives a restart.
                        self.recorder.set_status(&id, &told).await;
                    }
                    Ok(Answer::DeliveryStatus(told))
                } else {
                    Ok(Answer::DeliveryStatus(seen))
                }
            }
            (Ok(Answer::DeliveryStatus(told)), None) => {
                if told.rank() > DeliveryStatus::Unknown.rank() {
                    self.recorder.set_status(&id, &told).await;
                }
                Ok(Answer::DeliveryStatus(told))
            }
            // Anything else from the inner handle (not supported, no route, an error, an odd
            // answer): the log's record where there is one.
            (_, Some(seen)) => Ok(Answer::DeliveryStatus(seen)),
            (Err(e), None) if e.is_not_supported() => {
                Ok(Answer::DeliveryStatus(DeliveryStatus::Unknown))
            }
            (other, None) => other,
        }
    }
}
