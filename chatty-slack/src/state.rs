//! What a connected session knows: the Web API with the bot token, the HTTP client for
//! downloads, the mapping, and its memory of message places and delivery statuses.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chatty_core::{DeliveryStatus, Revealed, SignalId};

use crate::api::WebApi;
use crate::download::Http;
use crate::ids::Ids;
use crate::inbound::Mapper;

/// How many delivery statuses are remembered.
const STATUSES: usize = 10_000;

/// Locks a mutex, also after a panic elsewhere (the data stays usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A session's connection, once the tokens were checked.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The Web API with the bot token.
    pub(crate) api: WebApi,
    /// Plain HTTP, for downloads.
    pub(crate) http: Http,
    /// The bot token, for downloads.
    pub(crate) bot_secret: Revealed,
    /// The configured Web API base URL (its host may receive the bot token with downloads).
    pub(crate) api_url: String,
    /// Addresses and the inbound mapping.
    pub(crate) mapper: Mapper,
}

/// What the session remembers across signals.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Signal ids ↔ Slack places, and DM channels.
    pub(crate) ids: Mutex<Ids>,
    delivery: Mutex<(HashMap<SignalId, DeliveryStatus>, VecDeque<SignalId>)>,
}

impl Memory {
    /// Records the delivery status of a signal.
    pub(crate) fn record(&self, id: &SignalId, status: DeliveryStatus) {
        let mut guard = lock(&self.delivery);
        let (map, order) = &mut *guard;
        if map.insert(id.clone(), status).is_none() {
            order.push_back(id.clone());
        }
        while order.len() > STATUSES {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// The delivery status of a signal, if known.
    pub(crate) fn status(&self, id: &SignalId) -> Option<DeliveryStatus> {
        lock(&self.delivery).0.get(id).cloned()
    }
}
