//! Keys: of conversations and addresses in the bot's state, and striped locks (one
//! read-modify-write of a key at a time within this process).

use std::hash::{BuildHasher, RandomState};

use chatty_core::Address;
use tokio::sync::{Mutex, MutexGuard};

/// How many locks the keys share.
const STRIPES: usize = 64;

/// A fixed set of locks, a key taking the one its hash names: two updates of one key never
/// overlap; two of different keys rarely wait for each other.
pub(crate) struct KeyLocks {
    locks: Vec<Mutex<()>>,
    hasher: RandomState,
}

impl KeyLocks {
    pub(crate) fn new() -> Self {
        KeyLocks {
            locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Waits for `key`'s lock.
    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(key) as usize % STRIPES;
        self.locks[stripe].lock().await
    }
}

/// The key of a conversation: its reply addresses, without their kinds.
pub(crate) fn conversation_key(addresses: &[Address]) -> String {
    let mut parts: Vec<String> = addresses.iter().map(address_key).collect();
    parts.sort();
    parts.join(" ")
}

/// An address as a key: `platform[+session]:id`, without its kind.
pub(crate) fn address_key(address: &Address) -> String {
    match address.session() {
        Some(session) => format!("{}+{}:{}", address.platform(), session, address.id()),
        None => format!("{}:{}", address.platform(), address.id()),
    }
}
