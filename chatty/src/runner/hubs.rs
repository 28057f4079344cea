//! Scale-out in the runner (see `docs/scale-out.md`):
//!
//! - a `nats` bot is a gateway to a hub: its run waits until this process holds the hub (one
//!   gateway of a hub runs at a time; the others wait on standby), and ends, as a failure, if the
//!   hold is lost;
//! - a `nats` session is a worker of a hub: the run's journal is wrapped for the bot it serves,
//!   so that a signal is acknowledged to JetStream only once the bot has finished it.

use std::sync::Arc;

use chatty_core::journal::Journal;
use chatty_core::session::Session;

use crate::config::{BotConfig, SessionConfig};

/// The worker sessions of a run, by session key, as they are built.
#[derive(Default)]
pub(super) struct Workers {
    #[cfg(feature = "nats")]
    by_key: std::collections::BTreeMap<String, Arc<chatty_nats::NatsWorker>>,
}

impl Workers {
    /// Builds the worker session `key` (named after its key), and keeps it for its bot's run.
    #[cfg(feature = "nats")]
    pub(super) fn build(
        &mut self,
        key: &str,
        session: &SessionConfig,
    ) -> Result<Arc<dyn Session>, String> {
        let config = session.nats_config().cloned().ok_or("missing")?;
        let worker = chatty_nats::NatsWorker::new(config)
            .map_err(|e| format!("nats: {e}"))?
            .with_name(key);
        let worker = Arc::new(worker);
        self.by_key.insert(key.to_owned(), worker.clone());
        Ok(worker)
    }

    /// Without the `nats` feature there are none (the table was refused when the file was read).
    #[cfg(not(feature = "nats"))]
    pub(super) fn build(
        &mut self,
        _key: &str,
        _session: &SessionConfig,
    ) -> Result<Arc<dyn Session>, String> {
        Err("the platform `nats` is not compiled into this program: build chatty with the feature `nats`".into())
    }
}

/// What one bot's run has to do with hubs: hold the hub first (a gateway), and wrap the journal
/// (a bot served by workers).
#[derive(Default)]
pub(super) struct Hubs {
    #[cfg(feature = "nats")]
    gateway: Option<chatty_nats::NatsGateway>,
    #[cfg(feature = "nats")]
    workers: Vec<Arc<chatty_nats::NatsWorker>>,
}

impl Hubs {
    /// The hubs of the bot `bot`: the one it is a gateway to, and those of its worker sessions.
    pub(super) fn of(bot: &BotConfig, workers: &Workers) -> Hubs {
        #[cfg(feature = "nats")]
        {
            Hubs {
                gateway: bot
                    .nats_config()
                    .map(|c| chatty_nats::NatsGateway::new(c.clone())),
                workers: bot
                    .sessions
                    .iter()
                    .filter_map(|key| workers.by_key.get(key).cloned())
                    .collect(),
            }
        }
        #[cfg(not(feature = "nats"))]
        {
            let _ = (bot, workers);
            Hubs::default()
        }
    }

    /// The journal the bot's router runs with: `journal`, wrapped by each worker session so
    /// that JetStream's acknowledgements wait for the bot.
    pub(super) fn journal(&self, journal: Arc<dyn Journal>) -> Arc<dyn Journal> {
        #[cfg(feature = "nats")]
        {
            let mut journal = journal;
            for worker in &self.workers {
                journal = Arc::new(worker.journal(journal));
            }
            journal
        }
        #[cfg(not(feature = "nats"))]
        journal
    }

    /// Waits until this process holds the hub the bot is a gateway to (at once for any other
    /// bot), and keeps it until the [`Hold`] is dropped.
    pub(super) async fn hold(&self) -> Result<Hold, String> {
        #[cfg(feature = "nats")]
        if let Some(gateway) = &self.gateway {
            let lease = gateway
                .hold()
                .await
                .map_err(|e| format!("cannot hold the hub: {e}"))?;
            return Ok(Hold { lease: Some(lease) });
        }
        Ok(Hold::default())
    }
}

/// A gateway's hold on its hub (nothing for other bots).
#[derive(Debug, Default)]
pub(super) struct Hold {
    #[cfg(feature = "nats")]
    lease: Option<chatty_nats::GatewayLease>,
}

impl Hold {
    /// Resolves if the hold is lost (another gateway may run the hub's sessions by now); never
    /// for a bot that holds nothing.
    pub(super) async fn lost(&self) {
        #[cfg(feature = "nats")]
        if let Some(lease) = &self.lease {
            return lease.lost().await;
        }
        std::future::pending::<()>().await;
    }
}
