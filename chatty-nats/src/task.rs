//! Tasks that end with their owner: a gateway's or worker's helper tasks are aborted when the
//! future that spawned them is dropped (the router stopped, or was itself dropped), never left
//! reading a stream for a bot that is gone.

use std::future::Future;

use tokio::task::JoinHandle;

/// A spawned task, aborted when this is dropped.
#[derive(Debug)]
pub(crate) struct Owned(JoinHandle<()>);

impl Owned {
    /// Spawns `future` on the runtime.
    pub(crate) fn spawn(future: impl Future<Output = ()> + Send + 'static) -> Self {
        Owned(tokio::spawn(future))
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_ends_when_its_owner_drops_it() {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let owned = Owned::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(owned);
        // The task's end drops the sender.
        assert!((&mut rx).await.is_err());
    }
}
