//! Striped locks: one read-modify-write of a key at a time within this process.

use std::hash::{BuildHasher, RandomState};

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
