//! What the session has read: per IMAP folder the UIDVALIDITY and the last UID handed to the
//! bot, and the POP3 UIDLs handed to it; so that a restarted session neither loses nor repeats
//! mail. It moves only once what it covers was pushed (under a journal: is durable in it).
//!
//! Under a router with a journal it is kept in the journal, as the session's mark
//! [`MARK`] (the same JSON as the state file), written in order after the signals it covers on
//! the journal's one durable write path: the cursor and the mail it covers are kept, or lost,
//! together. A state file (`state_path`) is then only read, when the session is made, and
//! merged with the mark (the furthest of the two per folder, the union of UIDLs), so that a
//! session that used one before goes on where it was. Without a journal the cursor goes to the
//! state file, if there is one, else stays in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::{Failure, Link};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// The name of the session's mark in the journal that holds the cursor.
pub(crate) const MARK: &str = "email.cursor";

/// Where an IMAP folder was read up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FolderState {
    /// The folder's UIDVALIDITY when `last_uid` was recorded.
    pub(crate) uid_validity: u32,
    /// The highest UID handed to the bot.
    pub(crate) last_uid: u32,
}

/// The persisted state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// IMAP folders, by name.
    #[serde(default)]
    pub(crate) imap: BTreeMap<String, FolderState>,
    /// POP3 UIDLs handed to the bot (only those still on the server are kept).
    #[serde(default)]
    pub(crate) pop3_seen: BTreeSet<String>,
    /// Of those, the UIDLs of copies of the bot's own answers (deleted a while after they were
    /// read past, see [`copies`](crate::copies)); absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub(crate) pop3_copies: BTreeSet<String>,
}

impl State {
    /// Takes in what `other` (the newer: the journal's, over the state file's) read further:
    /// per folder, its state where this one has none, a later UID under the same UIDVALIDITY,
    /// or its state under another UIDVALIDITY; its UIDLs.
    fn merge(&mut self, other: State) {
        for (folder, theirs) in other.imap {
            let ours = self.imap.entry(folder).or_insert(theirs);
            if ours.uid_validity != theirs.uid_validity || ours.last_uid < theirs.last_uid {
                *ours = theirs;
            }
        }
        self.pop3_seen.extend(other.pop3_seen);
        self.pop3_copies.extend(other.pop3_copies);
    }
}

/// The state and where it is kept.
#[derive(Debug)]
pub(crate) struct Store {
    path: Option<PathBuf>,
    state: State,
    dirty: bool,
    /// Whether the journal's mark was read (once per session, at its first connection).
    loaded: bool,
}

impl Store {
    /// Loads the state from `path` (a missing file is an empty state), or keeps it in memory
    /// only without a path.
    pub(crate) fn open(path: Option<&Path>) -> Result<Self, ConfigError> {
        let state = match path {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ConfigError::State {
                    path: path.to_owned(),
                    source: e.into(),
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
                Err(e) => {
                    return Err(ConfigError::State {
                        path: path.to_owned(),
                        source: e.into(),
                    });
                }
            },
            None => State::default(),
        };
        Ok(Store {
            path: path.map(Path::to_owned),
            state,
            dirty: false,
            loaded: false,
        })
    }

    pub(crate) fn get(&self) -> &State {
        &self.state
    }

    /// Changes the state; [`save`](Store::save) writes it.
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut State)) {
        change(&mut self.state);
        self.dirty = true;
    }

    /// Under a journal, the first time: merges the journal's mark into the state (the state
    /// file's, read when the session was made); a state file that read further than the mark
    /// is written to the journal at the next save. Nothing without a journal.
    ///
    /// A journal that cannot be read is a transient failure (the driver tries again); a mark
    /// that is not a cursor is a permanent one (a corrupt journal is an error, never a reset).
    pub(crate) async fn load(&mut self, link: &Link) -> Result<(), Failure> {
        if self.loaded || !link.sink().is_journaled() {
            return Ok(());
        }
        let mark = link.mark(MARK).await.map_err(|e| {
            Failure::new(
                ConnectionErrorKind::Other,
                format!("cannot read the read cursor from the journal: {e}"),
            )
        })?;
        let kept: State = match mark {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                Failure::new(
                    ConnectionErrorKind::Other,
                    format!("the read cursor {MARK:?} in the journal is not valid ({e}): {json}"),
                )
                .permanent()
            })?,
            None => State::default(),
        };
        let mut merged = std::mem::take(&mut self.state);
        merged.merge(kept.clone());
        self.dirty |= merged != kept;
        if let Some(path) = &self.path {
            tracing::info!(
                state_file = %path.display(),
                "the read cursor is kept in the journal; the state file is read (if there is one), no longer written"
            );
        }
        self.state = merged;
        self.loaded = true;
        Ok(())
    }

    /// Writes the state if it changed: under a journal as its mark (durable, and in order
    /// after every signal pushed before), else to the state file (a temporary file renamed
    /// over the old one, so a crash leaves the old or the new state, never half of one).
    pub(crate) async fn save(&mut self, link: &Link) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        if link.sink().is_journaled() {
            let json = serde_json::to_string(&self.state).map_err(|e| e.to_string())?;
            link.set_mark(MARK, &json)
                .await
                .map_err(|e| format!("cannot keep the read cursor in the journal: {e}"))?;
            self.dirty = false;
            return Ok(());
        }
        self.save_file()
    }

    /// Writes the state file, if there is one.
    fn save_file(&mut self) -> Result<(), String> {
        let Some(path) = &self.path else {
            self.dirty = false;
            return Ok(());
        };
        let bytes = serde_json::to_vec(&self.state).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("cannot write the state file {}: {e}", path.display()))?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        let mut store = Store::open(Some(&path)).unwrap();
        assert_eq!(store.get(), &State::default());
        store.update(|s| {
            s.imap.insert(
                "INBOX".into(),
                FolderState {
                    uid_validity: 7,
                    last_uid: 42,
                },
            );
            s.pop3_seen.insert("abc".into());
        });
        store.save_file().unwrap();
        let again = Store::open(Some(&path)).unwrap();
        assert_eq!(again.get().imap["INBOX"].last_uid, 42);
        assert!(again.get().pop3_seen.contains("abc"));
    }

    #[test]
    fn a_corrupt_state_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = Store::open(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("state.json"), "{err}");
    }

    #[test]
    fn without_a_path_it_stays_in_memory() {
        let mut store = Store::open(None).unwrap();
        store.update(|s| {
            s.pop3_seen.insert("x".into());
        });
        store.save_file().unwrap();
        assert!(store.get().pop3_seen.contains("x"));
    }

    #[test]
    fn a_merge_keeps_what_read_further_and_the_journal_s_uidvalidity() {
        let folder = |uid_validity, last_uid| FolderState {
            uid_validity,
            last_uid,
        };
        let mut file = State::default();
        file.imap.insert("INBOX".into(), folder(7, 12));
        file.imap.insert("Old".into(), folder(1, 3));
        file.imap.insert("Only".into(), folder(2, 4));
        file.imap.insert("Reset".into(), folder(3, 50));
        file.pop3_seen.insert("b".into());
        let mut journal = State::default();
        journal.imap.insert("INBOX".into(), folder(7, 10));
        journal.imap.insert("Old".into(), folder(1, 5));
        journal.imap.insert("Reset".into(), folder(4, 2));
        journal.pop3_seen.insert("a".into());
        file.merge(journal);
        assert_eq!(file.imap["INBOX"], folder(7, 12));
        assert_eq!(file.imap["Old"], folder(1, 5));
        assert_eq!(file.imap["Only"], folder(2, 4));
        assert_eq!(file.imap["Reset"], folder(4, 2));
        assert_eq!(file.pop3_seen.len(), 2);
    }
}
