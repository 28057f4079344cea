//! Tries counted across restarts of one worker: a signal that makes the worker's process die
//! (or its bot fail, and the runner stop) comes back from the worker's own journal each time it
//! starts again, not from JetStream, so JetStream's delivery count does not grow. The worker's
//! journal ([`WorkerJournal`](crate::WorkerJournal)) counts those tries in a mark per signal, and
//! past the hub's `max_tries` sets the signal aside as JetStream's count would: in the hub's
//! dead-letter stream, with a `SystemError` to the bot instead.

use std::sync::Mutex;

use chatty_core::driver::lock;
use chatty_core::journal::{EntryId, Journal, JournalError, Pending};
use chatty_core::{Signal, SystemError};

/// The prefix of the marks that count a signal's tries.
const MARK: &str = "nats-tries/";

/// What a worker's journal knows to count tries.
#[derive(Debug)]
pub(crate) struct Retries {
    /// How many tries a signal gets.
    max_tries: u32,
    /// The worker session's name (the router may prefix it with its scope: `bot/name`).
    session: Mutex<String>,
    /// Signals set aside, to publish to the dead-letter stream once the worker is connected.
    aside: Mutex<Vec<Signal>>,
    /// The dead-letter stream's name, for the bot's `SystemError`.
    dead_stream: String,
}

impl Retries {
    pub(crate) fn new(max_tries: u32, session: &str, dead_stream: String) -> Self {
        Retries {
            max_tries: max_tries.max(1),
            session: Mutex::new(session.to_owned()),
            aside: Mutex::default(),
            dead_stream,
        }
    }

    /// The worker session is named `name` now.
    pub(crate) fn rename(&self, name: &str) {
        name.clone_into(&mut lock(&self.session));
    }

    /// Whether `session` (as the journal knows it) is the worker's session.
    fn is_ours(&self, session: &str) -> bool {
        let ours = lock(&self.session);
        session == *ours
            || session
                .strip_suffix(ours.as_str())
                .is_some_and(|scope| scope.ends_with('/'))
    }

    /// The signals set aside since the last call, to publish to the dead-letter stream.
    pub(crate) fn take_aside(&self) -> Vec<Signal> {
        std::mem::take(&mut lock(&self.aside))
    }

    /// Counts one more try of each of `pending` (the worker session's unfinished signals, given
    /// again as the worker starts): those with tries left are given again; the others are
    /// acknowledged in `journal`, kept to be set aside, and replaced by a `SystemError` saying
    /// so.
    pub(crate) async fn count<J: Journal>(
        &self,
        journal: &J,
        session: &str,
        pending: Vec<Pending>,
    ) -> Result<Vec<Pending>, JournalError> {
        if !self.is_ours(session) {
            return Ok(pending);
        }
        let mut out = Vec::with_capacity(pending.len());
        for entry in pending {
            let id = &entry.signal.meta.id;
            let mark = format!("{MARK}{id}");
            // The first try was the one before the first restart.
            let tries = journal
                .mark(session, &mark)
                .await?
                .and_then(|tries| tries.parse::<u32>().ok())
                .unwrap_or(1)
                + 1;
            if tries <= self.max_tries {
                journal.set_mark(session, &mark, &tries.to_string()).await?;
                out.push(entry);
                continue;
            }
            tracing::error!(id = %id, tries = tries - 1, "a signal set aside after its last try");
            journal.ack(&EntryId::of(session, &entry.signal));
            let told = Signal::new(SystemError::new(
                "nats",
                format!(
                    "{id} was given {} times without being finished (the worker started again \
                     each time), and is set aside in the stream {}",
                    tries - 1,
                    self.dead_stream
                ),
            ));
            lock(&self.aside).push(entry.signal);
            out.push(Pending::new(told, Vec::new()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::journal::MemoryJournal;

    #[test]
    fn the_worker_session_is_known_with_or_without_a_scope() {
        let retries = Retries::new(3, "hub", "DEAD".into());
        assert!(retries.is_ours("hub"));
        assert!(retries.is_ours("echo/hub"));
        assert!(!retries.is_ours("xhub"));
        assert!(!retries.is_ours("echo/xhub"));
        assert!(!retries.is_ours("chat"));
        retries.rename("desk");
        assert!(retries.is_ours("bot/desk"));
        assert!(!retries.is_ours("hub"));
    }

    #[tokio::test]
    async fn each_start_counts_a_try_and_the_last_sets_the_signal_aside() {
        let journal = MemoryJournal::new();
        let mut poison = Signal::message("poison");
        poison.meta.origin = "xmpp:alice@example.org".parse().ok();
        journal.append("hub", &poison).await.unwrap();
        let retries = Retries::new(3, "hub", "DEAD".into());
        for start in 1..=2 {
            let pending = journal.pending("hub").await.unwrap();
            let given = retries.count(&journal, "hub", pending).await.unwrap();
            assert_eq!(given.len(), 1);
            assert_eq!(given[0].signal.meta.id, poison.meta.id, "start {start}");
        }
        // The third start would be the fourth try.
        let pending = journal.pending("hub").await.unwrap();
        let given = retries.count(&journal, "hub", pending).await.unwrap();
        let chatty_core::Body::SystemError(told) = &given[0].signal.body else {
            panic!("{:?}", given[0].signal)
        };
        assert!(told.message.contains("given 3 times") && told.message.contains("DEAD"));
        assert_eq!(retries.take_aside(), vec![poison]);
        assert!(journal.pending("hub").await.unwrap().is_empty());
        // Another session's signals are not counted.
        let other = Signal::message("hello");
        journal.append("chat", &other).await.unwrap();
        for _ in 0..5 {
            let pending = journal.pending("chat").await.unwrap();
            let given = retries.count(&journal, "chat", pending).await.unwrap();
            assert_eq!(given[0].signal, other);
        }
    }
}
