//! The Logger's side of the bot's handle: records what goes out, answers what it can.

use chatty_core::{
    Address, Answer, DeliveryStatus, File, Handle, Outlet, Query, QueryError, SendError, Signal,
    SignalId, now,
};
use futures::future::BoxFuture;

use super::recorder::Recorder;
use crate::store::Direction;

/// Hands each outbound signal to the inner handle and records it once it went (a refused send
/// is not recorded); answers history and delivery-status queries from the log.
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
            let record = signal.clone();
            let id = self.inner.send(signal).await?;
            // Only what was handed on is recorded: a refused send (an `Err`) sent nothing, and
            // the bot holds the error already (see the crate documentation).
            self.recorder.outbound(&record, &id).await;
            Ok(id)
        })
    }

    fn download(&self, file: File, via: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
        // A download is a call, not a signal: nothing to record (a `DownloadFile` signal is
        // recorded as it goes out, and the file answering it as it comes in).
        Box::pin(async move {
            match via {
                Some(via) => self.inner.download_via(&file, &via).await,
                None => self.inner.download(&file).await,
            }
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

    fn ack(&self, id: &SignalId) {
        self.inner.ack(id);
    }
}

impl LoggingOutlet {
    async fn history(
        &self,
        direction: Direction,
        address: &Address,
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
            (Ok(Answer::DeliveryStatus(told)), logged) => {
                let mut status = logged.unwrap_or(DeliveryStatus::Unknown);
                let before = status.rank();
                if status.advance(told) && status.rank() > before {
                    // Keep what was learnt, so that it survives a restart.
                    self.recorder.set_status(&id, &status).await;
                }
                Ok(Answer::DeliveryStatus(status))
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
