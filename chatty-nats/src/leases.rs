//! Which worker holds which partition: leases in a JetStream key-value bucket whose entries
//! expire unless renewed, and a fair share of the partitions for each live worker.
//!
//! The bucket `CHATTY_<hub>_LEASES` (entries live for the lease time) holds `p<N>`, the id of
//! the worker holding partition N, and `w<id>`, one entry per live worker. Every third of the
//! lease time a worker renews what it holds and its own entry, counts the live workers, gives
//! up partitions beyond its share (⌈partitions ÷ workers⌉) and takes free ones up to it. A
//! lease is taken by creating its entry (which fails if another worker holds it) and renewed
//! with the revision the worker last wrote (which fails if it was lost), so two workers never
//! hold one partition at once for longer than the time a renewal takes to fail.

use std::collections::BTreeMap;

use async_nats::jetstream::kv;
use futures::StreamExt;

use crate::error::NatsError;
use crate::hub::Hub;

/// A worker's view of the leases.
#[derive(Debug)]
pub(crate) struct Leases {
    store: kv::Store,
    /// This worker's id.
    me: String,
    partitions: u32,
    /// The partitions this worker holds, with the revision of its last write.
    held: BTreeMap<u32, u64>,
    /// How long a lease lasts unless renewed.
    lease: std::time::Duration,
    /// The live workers at the last count.
    live: usize,
}

/// What a worker does with its partitions after a look at the leases.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Partitions it took: start reading them.
    pub(crate) taken: Vec<u32>,
    /// Partitions it lost or gave up: stop reading them.
    pub(crate) dropped: Vec<u32>,
}

/// How many partitions each of `workers` live workers holds at most.
pub(crate) fn share(partitions: u32, workers: usize) -> usize {
    let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    usize::try_from(partitions.div_ceil(workers)).unwrap_or(usize::MAX)
}

impl Leases {
    /// The leases of `hub` for the worker `me`, over `partitions` partitions.
    pub(crate) async fn open(hub: &Hub, me: String, partitions: u32) -> Result<Self, NatsError> {
        let store = hub.leases().await?;
        Ok(Leases {
            store,
            me,
            partitions,
            held: BTreeMap::new(),
            lease: hub.lease(),
            live: 1,
        })
    }

    /// Renews what this worker holds and its own entry, then takes or gives up partitions to
    /// hold its share.
    pub(crate) async fn balance(&mut self) -> Result<Changes, NatsError> {
        let mut changes = Changes::default();
        self.store
            .put(format!("w{}", self.me), self.me.clone().into())
            .await
            .map_err(|e| NatsError::jetstream("announcing the worker", e))?;
        for (partition, revision) in std::mem::take(&mut self.held) {
            match self
                .store
                .update(key(partition), self.me.clone().into(), revision)
                .await
            {
                Ok(revision) => {
                    self.held.insert(partition, revision);
                }
                Err(e) => {
                    tracing::warn!(partition, "lost the lease of a partition: {e}");
                    changes.dropped.push(partition);
                }
            }
        }
        // Counting the workers reads the bucket through a consumer: if the server is slow to
        // answer, the last count stands rather than the renewals waiting.
        let counted = tokio::time::timeout(self.lease / 3, self.live_workers()).await;
        if let Ok(live) = counted {
            self.live = live?;
        }
        let share = share(self.partitions, self.live);
        while self.held.len() > share {
            let (partition, revision) = self.held.pop_last().expect("more than the share");
            let _ = self
                .store
                .delete_expect_revision(key(partition), Some(revision))
                .await;
            changes.dropped.push(partition);
        }
        for partition in 0..self.partitions {
            if self.held.len() >= share {
                break;
            }
            if self.held.contains_key(&partition) {
                continue;
            }
            if let Ok(revision) = self
                .store
                .create(key(partition), self.me.clone().into())
                .await
            {
                self.held.insert(partition, revision);
                changes.taken.push(partition);
            }
        }
        Ok(changes)
    }

    /// How many workers announced themselves within the lease time (this one included).
    async fn live_workers(&self) -> Result<usize, NatsError> {
        let mut keys = self
            .store
            .keys()
            .await
            .map_err(|e| NatsError::jetstream("listing the live workers", e))?;
        let mut live = 0;
        while let Some(key) = keys.next().await {
            if key.is_ok_and(|key| key.starts_with('w')) {
                live += 1;
            }
        }
        Ok(live.max(1))
    }

    /// Gives up every partition and its own entry (the worker stops).
    pub(crate) async fn release(&mut self) {
        for (partition, revision) in std::mem::take(&mut self.held) {
            let _ = self
                .store
                .delete_expect_revision(key(partition), Some(revision))
                .await;
        }
        let _ = self.store.delete(format!("w{}", self.me)).await;
    }
}

/// The entry of partition `partition`'s lease.
fn key(partition: u32) -> String {
    format!("p{partition}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_holds_at_most_its_share() {
        assert_eq!(share(16, 1), 16);
        assert_eq!(share(16, 2), 8);
        assert_eq!(share(16, 3), 6);
        assert_eq!(share(3, 4), 1);
        assert_eq!(share(16, 0), 16);
    }
}
