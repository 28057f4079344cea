//! One gateway of a hub at a time: the others wait on standby.
//!
//! Two gateways configured for the same platform accounts must not both run their sessions
//! (both would take every message). The one that runs holds the entry `gateway` of the hub's
//! lease bucket, renewed every third of the lease time; the others try to take it every tenth,
//! so one takes over within about 1.1 lease times (about 4.5 s with the default 4 s) of the holder's
//! death, and goes on from the journal's cursors (a journal the gateways share, on PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use tokio::sync::Notify;

use crate::error::NatsError;
use crate::hub::Hub;
use crate::task::Owned;

/// The entry of the gateway's lease.
const KEY: &str = "gateway";

/// The hold of a gateway on its hub: renewed until dropped.
///
/// Made by [`NatsGateway::hold`](crate::NatsGateway::hold).
#[derive(Debug)]
pub struct GatewayLease {
    _renewing: Owned,
    lost: Arc<Notify>,
}

impl GatewayLease {
    /// Resolves if the lease is lost (a renewal failed: another gateway may run by now). The
    /// gateway should stop its sessions then.
    pub async fn lost(&self) {
        self.lost.notified().await;
    }
}

/// Waits until this gateway holds `hub`'s gateway lease, then renews it in the background.
pub(crate) async fn hold(hub: &Hub, me: String) -> Result<GatewayLease, NatsError> {
    let store = hub.leases().await?;
    let lease = hub.lease();
    let revision = loop {
        match store.create(KEY, me.clone().into()).await {
            Ok(revision) => break revision,
            Err(e) => {
                tracing::debug!(hub = %hub.name, "another gateway holds the hub: {e}");
                tokio::time::sleep(lease / 10).await;
            }
        }
    };
    tracing::info!(hub = %hub.name, "this gateway holds the hub");
    let lost = Arc::new(Notify::new());
    let renewing = Owned::spawn(renew(store, me, revision, lease, lost.clone()));
    Ok(GatewayLease {
        _renewing: renewing,
        lost,
    })
}

/// Renews the lease every third of its time; tells `lost` (for good) if a renewal fails.
async fn renew(
    store: kv::Store,
    me: String,
    mut revision: u64,
    lease: Duration,
    lost: Arc<Notify>,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match store.update(KEY, me.clone().into(), revision).await {
            Ok(next) => revision = next,
            Err(e) => {
                tracing::error!("the gateway lost its hold on the hub: {e}");
                lost.notify_one();
                return;
            }
        }
    }
}
