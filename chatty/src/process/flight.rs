//! [`Flight`]: the signals given to the bot's program that it has not acknowledged yet, what
//! version of the protocol the program speaks, and how many answers each of those signals had.
//! Shared by the writer (which adds and writes signals), the reader (hello, acks, answers) and
//! the bot's loop (which starts each program with what the last one left unfinished).

use std::collections::{BTreeMap, HashMap, VecDeque};

use chatty_core::{Handle, Signal, SignalId};
use tokio::sync::OwnedSemaphorePermit;

/// What the running program speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    /// It has not said yet: its first line decides (a `hello`, or anything else for version 1).
    Unknown,
    /// Version 1: a signal is acknowledged once written to the program.
    One,
    /// Version 2: a signal is acknowledged when the program says `ack`.
    Two,
}

/// A signal given to the program and not acknowledged.
#[derive(Debug)]
struct Entry {
    signal: Signal,
    /// Written whole to the running program.
    written: bool,
    /// Answers to it that left (from any program so far).
    left: u32,
    /// Answers to it the running program has sent (those up to `left` are not sent again).
    seen: u32,
    /// Its place among the signals in hand, given back when it is acknowledged.
    _place: Option<OwnedSemaphorePermit>,
}

/// The signals in flight, in the order they were given.
#[derive(Debug)]
pub(super) struct Flight {
    handle: Handle,
    version: Version,
    next: u64,
    entries: BTreeMap<u64, Entry>,
    /// Entry numbers by signal id, oldest first (ids may repeat across sessions).
    by_id: HashMap<SignalId, VecDeque<u64>>,
}

impl Flight {
    /// Nothing in flight yet; acknowledgements go to `handle`.
    pub(super) fn new(handle: Handle) -> Self {
        Flight {
            handle,
            version: Version::Unknown,
            next: 0,
            entries: BTreeMap::new(),
            by_id: HashMap::new(),
        }
    }

    /// A new program starts: its version is not known yet, and it is to be given, first and in
    /// order, every signal the last one did not acknowledge (marked redelivered if the last one
    /// had been given it whole) together with their entry numbers.
    pub(super) fn restart(&mut self) -> Vec<(u64, Signal)> {
        self.version = Version::Unknown;
        self.entries
            .iter_mut()
            .map(|(&number, entry)| {
                if entry.written {
                    entry.signal.meta.redelivered = true;
                }
                entry.written = false;
                entry.seen = 0;
                (number, entry.signal.clone())
            })
            .collect()
    }

    /// What the running program speaks.
    pub(super) fn version(&self) -> Version {
        self.version
    }

    /// The program speaks `version` (from its hello, or 1 once it is clear it will not say
    /// hello). With version 1, what it was given whole is acknowledged now.
    pub(super) fn speaks(&mut self, version: Version) {
        self.version = version;
        if version == Version::One {
            let written: Vec<u64> = self
                .entries
                .iter()
                .filter(|(_, e)| e.written)
                .map(|(&n, _)| n)
                .collect();
            for number in written {
                self.acknowledge(number);
            }
        }
    }

    /// `signal` is about to be written to the program for the first time, holding `place`
    /// among the signals in hand until it is acknowledged: its entry number.
    pub(super) fn add(&mut self, signal: Signal, place: Option<OwnedSemaphorePermit>) -> u64 {
        let number = self.next;
        self.next += 1;
        self.by_id
            .entry(signal.meta.id.clone())
            .or_default()
            .push_back(number);
        self.entries.insert(
            number,
            Entry {
                signal,
                written: false,
                left: 0,
                seen: 0,
                _place: place,
            },
        );
        number
    }

    /// Entry `number` was written whole to the program; a version-1 program has it now.
    pub(super) fn written(&mut self, number: u64) {
        if let Some(entry) = self.entries.get_mut(&number) {
            entry.written = true;
            if self.version == Version::One {
                self.acknowledge(number);
            }
        }
    }

    /// The program acknowledged the signal `id` (`ack` line, version 2).
    pub(super) fn ack(&mut self, id: &SignalId) -> Result<(), String> {
        if self.version != Version::Two {
            return Err(
                "`ack` is version 2 of the protocol: say `{\"type\": \"hello\", \
                        \"version\": 2}` as the first line"
                    .to_owned(),
            );
        }
        // The oldest entry with this id, written or not: the program may read a line (and
        // acknowledge it) before the writer has marked it written.
        let number = self
            .by_id
            .get(id)
            .and_then(|numbers| numbers.front().copied())
            .ok_or_else(|| format!("`ack`: no signal `{id}` waits for an acknowledgement"))?;
        self.acknowledge(number);
        Ok(())
    }

    /// The program sends an answer to `of`: whether it is to be sent. An answer that a program
    /// before this one sent already (the same number of answer to the same signal, given again
    /// after that program died) is not.
    pub(super) fn answer(&mut self, of: &SignalId) -> bool {
        let Some(entry) = self
            .by_id
            .get(of)
            .and_then(|numbers| numbers.front())
            .and_then(|n| self.entries.get_mut(n))
        else {
            return true;
        };
        entry.seen += 1;
        if entry.seen <= entry.left {
            return false;
        }
        entry.left = entry.seen;
        true
    }

    /// How many signals wait for an acknowledgement.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn acknowledge(&mut self, number: u64) {
        let Some(entry) = self.entries.remove(&number) else {
            return;
        };
        let id = &entry.signal.meta.id;
        if let Some(numbers) = self.by_id.get_mut(id) {
            numbers.retain(|&n| n != number);
            if numbers.is_empty() {
                self.by_id.remove(id);
            }
        }
        self.handle.ack(id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chatty_core::reexports::futures::future::{self, BoxFuture};
    use chatty_core::{Address, Answer, File, Outlet, Query, QueryError, SendError};

    use super::*;

    /// Records acknowledgements.
    #[derive(Default)]
    struct Acks(Mutex<Vec<SignalId>>);

    impl Outlet for Acks {
        fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
            Box::pin(future::ready(Ok(signal.meta.id)))
        }
        fn query(&self, _: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
            Box::pin(future::ready(Err(QueryError::Failed {
                message: "none".into(),
            })))
        }
        fn download(&self, _: File, _: Option<Address>) -> BoxFuture<'_, Result<File, SendError>> {
            Box::pin(future::ready(Err(SendError::Closed)))
        }
        fn ack(&self, id: &SignalId) {
            self.0.lock().unwrap().push(id.clone());
        }
    }

    fn flight() -> (Flight, Arc<Acks>) {
        let acks = Arc::new(Acks::default());
        (Flight::new(Handle::from_arc(acks.clone())), acks)
    }

    fn signal(id: &str) -> Signal {
        let mut signal = Signal::message(id);
        signal.meta.id = SignalId::from(id);
        signal
    }

    fn acked(acks: &Acks) -> Vec<String> {
        acks.0
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.to_string())
            .collect()
    }

    #[test]
    fn version_1_acknowledges_what_was_written_once_it_is_known() {
        let (mut flight, acks) = flight();
        let a = flight.add(signal("a"), None);
        flight.written(a);
        let b = flight.add(signal("b"), None);
        // Not known yet: nothing acknowledged.
        assert!(acked(&acks).is_empty());
        flight.speaks(Version::One);
        assert_eq!(acked(&acks), ["a"]);
        // b's write had not finished: acknowledged when it does.
        flight.written(b);
        assert_eq!(acked(&acks), ["a", "b"]);
        assert_eq!(flight.len(), 0);
        assert!(
            flight.ack(&SignalId::from("a")).is_err(),
            "no acks in version 1"
        );
    }

    #[test]
    fn version_2_acknowledges_on_ack_in_any_order() {
        let (mut flight, acks) = flight();
        flight.speaks(Version::Two);
        for id in ["a", "b", "c"] {
            let n = flight.add(signal(id), None);
            flight.written(n);
        }
        flight.ack(&SignalId::from("b")).unwrap();
        flight.ack(&SignalId::from("a")).unwrap();
        assert!(
            flight.ack(&SignalId::from("a")).is_err(),
            "a was acknowledged"
        );
        assert!(flight.ack(&SignalId::from("zz")).is_err());
        assert_eq!(acked(&acks), ["b", "a"]);
        assert_eq!(flight.len(), 1);
    }

    #[test]
    fn a_new_program_gets_what_was_not_acknowledged_first_marked_redelivered_if_written() {
        let (mut flight, _) = flight();
        flight.speaks(Version::Two);
        let a = flight.add(signal("a"), None);
        flight.written(a);
        let b = flight.add(signal("b"), None);
        flight.written(b);
        flight.add(signal("c"), None); // its write failed: the program never had it
        flight.ack(&SignalId::from("a")).unwrap();
        let again = flight.restart();
        assert_eq!(flight.version(), Version::Unknown);
        let ids: Vec<(&str, bool)> = again
            .iter()
            .map(|(_, s)| (s.meta.id.as_str(), s.meta.redelivered))
            .collect();
        assert_eq!(ids, [("b", true), ("c", false)]);
        for (n, _) in &again {
            flight.written(*n);
        }
        // Given whole again now: the next restart marks c redelivered too.
        let ids: Vec<bool> = flight
            .restart()
            .iter()
            .map(|(_, s)| s.meta.redelivered)
            .collect();
        assert_eq!(ids, [true, true]);
    }

    #[test]
    fn answers_that_left_before_a_restart_are_not_sent_again() {
        let (mut flight, _) = flight();
        flight.speaks(Version::Two);
        let a = flight.add(signal("a"), None);
        flight.written(a);
        let of = SignalId::from("a");
        // The first program sends two answers to a, then dies.
        assert!(flight.answer(&of));
        assert!(flight.answer(&of));
        flight.restart();
        flight.speaks(Version::Two);
        flight.written(a);
        // The next one answers a the same way, and once more: only the third leaves.
        assert!(!flight.answer(&of));
        assert!(!flight.answer(&of));
        assert!(flight.answer(&of));
        // It dies too, after one answer: the third program's first three are skipped.
        flight.restart();
        flight.speaks(Version::Two);
        assert!(!flight.answer(&of));
        assert!(!flight.answer(&of));
        assert!(!flight.answer(&of));
        assert!(flight.answer(&of));
        // Answers to what is not in flight always leave.
        assert!(flight.answer(&SignalId::from("other")));
        assert!(flight.answer(&SignalId::from("other")));
    }

    #[test]
    fn a_repeated_id_is_two_entries() {
        let (mut flight, acks) = flight();
        flight.speaks(Version::Two);
        for _ in 0..2 {
            let n = flight.add(signal("same"), None);
            flight.written(n);
        }
        flight.ack(&SignalId::from("same")).unwrap();
        assert_eq!(flight.len(), 1);
        flight.ack(&SignalId::from("same")).unwrap();
        assert_eq!(acked(&acks), ["same", "same"]);
        assert_eq!(flight.len(), 0);
    }
}
