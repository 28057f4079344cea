//! [`MemoryStore`]: values in memory, for tests and for bots that keep nothing across restarts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::{self, BoxFuture};

use super::{KeyValueStore, StateError};
use crate::driver::lock;

/// The values of a memory store, by (scope, key).
type Values = BTreeMap<(String, String), Vec<u8>>;

/// A [`KeyValueStore`] in memory: gone when the process ends. Clones share the values.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    values: Arc<Mutex<Values>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl KeyValueStore for MemoryStore {
    fn get<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        let value = lock(&self.values)
            .get(&(scope.to_owned(), key.to_owned()))
            .cloned();
        Box::pin(future::ready(Ok(value)))
    }

    fn put<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StateError>> {
        lock(&self.values).insert((scope.to_owned(), key.to_owned()), value.to_vec());
        Box::pin(future::ready(Ok(())))
    }

    fn delete<'a>(&'a self, scope: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        lock(&self.values).remove(&(scope.to_owned(), key.to_owned()));
        Box::pin(future::ready(Ok(())))
    }

    fn keys<'a>(
        &'a self,
        scope: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        let keys = lock(&self.values)
            .range((scope.to_owned(), prefix.to_owned())..)
            .take_while(|((s, k), _)| s == scope && k.starts_with(prefix))
            .map(|((_, k), _)| k.clone())
            .collect();
        Box::pin(future::ready(Ok(keys)))
    }

    fn swap<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        let mut values = lock(&self.values);
        let at = (scope.to_owned(), key.to_owned());
        let swapped = values.get(&at).map(Vec::as_slice) == expected;
        if swapped {
            match new {
                Some(new) => values.insert(at, new.to_vec()),
                None => values.remove(&at),
            };
        }
        Box::pin(future::ready(Ok(swapped)))
    }
}
