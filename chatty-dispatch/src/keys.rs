//! Keys: of conversations and addresses in the bot's state, and striped locks (one
//! read-modify-write of a key at a time within this process).

use std::hash::{BuildHasher, RandomState};

use std::sync::Arc;

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

/// Names the person an address belongs to ([`Dispatcher::people`](crate::Dispatcher::people)).
pub(crate) type PeopleFn = Arc<dyn Fn(&Address) -> Option<String> + Send + Sync>;

/// The prefix of the values of the person `address` belongs to: `person/=NAME/` for the name
/// `people` gives it, else `person/ADDRESS/` (an address key starts with its platform's name,
/// which has no `=`, so the two never meet).
pub(crate) fn person_prefix(people: Option<&PeopleFn>, address: &Address) -> String {
    match people.and_then(|people| people(address)) {
        Some(name) => format!("person/={name}/"),
        None => format!("person/{}/", address_key(address)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_their_address_unless_named() {
        let alice: Address = "xmpp+work:alice@example.org".parse().unwrap();
        assert_eq!(
            person_prefix(None, &alice),
            "person/xmpp+work:alice@example.org/"
        );
        let people: PeopleFn =
            Arc::new(|a: &Address| (a.platform() == "xmpp").then(|| "al".into()));
        assert_eq!(person_prefix(Some(&people), &alice), "person/=al/");
        let bob: Address = "slack:U1".parse().unwrap();
        assert_eq!(person_prefix(Some(&people), &bob), "person/slack:U1/");
    }
}
