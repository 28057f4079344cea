//! [`Sweep`]: when the answer copies a session read past are deleted (see `copies.rs`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// When the copies the session read past are deleted: `kept` after the cursor was where it
/// was noted, the first time at the session's first read (so a copy read past by a process
/// that died is deleted `kept` after the restart, never before it can be asked about), then
/// at each sweep.
#[derive(Debug)]
pub(crate) struct Sweep {
    kept: Duration,
    /// When the next sweep is due (`None`: never, a `kept` too long to count).
    due: Option<Instant>,
    /// IMAP: the folder's UIDVALIDITY and the last UID read when the cursor was noted.
    imap: Option<(u32, u32)>,
    /// POP3: the UIDLs of the copies read past when the cursor was noted.
    pop3: Option<BTreeSet<String>>,
}

impl Sweep {
    /// A sweep that keeps copies `kept`.
    pub(crate) fn new(kept: Duration) -> Self {
        Sweep {
            kept,
            due: None,
            imap: None,
            pop3: None,
        }
    }

    /// Notes the time; whether the noted cursor is due.
    fn turn(&mut self) -> bool {
        let now = Instant::now();
        let due = self.due.is_some_and(|due| now >= due);
        if due {
            self.due = now.checked_add(self.kept);
        }
        due
    }

    /// IMAP, the cursor at `last` under `validity`: the highest UID whose copies are to be
    /// deleted now, if a sweep is due. The first call (and the first after a UIDVALIDITY
    /// change) only notes the cursor.
    pub(crate) fn imap_due(&mut self, validity: u32, last: u32) -> Option<u32> {
        match self.imap {
            Some((noted_validity, upto)) if noted_validity == validity => {
                if !self.turn() {
                    return None;
                }
                self.imap = Some((validity, last));
                Some(upto)
            }
            _ => {
                self.imap = Some((validity, last));
                self.due = Instant::now().checked_add(self.kept);
                None
            }
        }
    }

    /// POP3, with `copies` read past so far: the UIDLs of the copies to delete now, if a sweep
    /// is due. The first call only notes them.
    pub(crate) fn pop3_due(&mut self, copies: &BTreeSet<String>) -> Option<BTreeSet<String>> {
        if self.pop3.is_none() {
            self.pop3 = Some(copies.clone());
            self.due = Instant::now().checked_add(self.kept);
            return None;
        }
        if !self.turn() {
            return None;
        }
        self.pop3.replace(copies.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_deleted_only_once_kept_long_enough_after_they_were_read_past() {
        let mut sweep = Sweep::new(Duration::ZERO);
        assert_eq!(sweep.imap_due(7, 10), None, "the first read only notes");
        assert_eq!(sweep.imap_due(7, 15), Some(10), "what was read at the note");
        assert_eq!(sweep.imap_due(7, 20), Some(15));
        assert_eq!(sweep.imap_due(8, 3), None, "a new UIDVALIDITY notes again");
        assert_eq!(sweep.imap_due(8, 4), Some(3));

        let mut kept = Sweep::new(Duration::from_secs(3600));
        assert_eq!(kept.imap_due(7, 10), None);
        assert_eq!(kept.imap_due(7, 15), None, "not an hour yet");

        let never = Sweep::new(Duration::MAX);
        let mut never = never;
        assert_eq!(never.imap_due(7, 10), None);
        assert_eq!(
            never.imap_due(7, 15),
            None,
            "a time too long to count: never"
        );

        let set = |uids: &[&str]| {
            uids.iter()
                .map(|u| (*u).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let mut sweep = Sweep::new(Duration::ZERO);
        assert_eq!(sweep.pop3_due(&set(&["a"])), None);
        assert_eq!(sweep.pop3_due(&set(&["a", "b"])), Some(set(&["a"])));
        assert_eq!(sweep.pop3_due(&set(&["b", "c"])), Some(set(&["a", "b"])));
        let mut kept = Sweep::new(Duration::from_secs(3600));
        assert_eq!(kept.pop3_due(&set(&["a"])), None);
        assert_eq!(kept.pop3_due(&set(&["a", "b"])), None);
    }
}
