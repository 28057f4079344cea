//! What the session has read, kept in a JSON file (when configured) so that a restarted
//! session neither loses nor repeats mail: per IMAP folder the UIDVALIDITY and the last UID
//! handed to the bot, and the POP3 UIDLs seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

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
}

/// The state and where it is kept.
#[derive(Debug)]
pub(crate) struct Store {
    path: Option<PathBuf>,
    state: State,
    dirty: bool,
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

    /// Writes the state if it changed (to a temporary file, then renamed over the old one, so a
    /// crash leaves the old or the new state, never half of one).
    pub(crate) fn save(&mut self) -> Result<(), String> {
        let Some(path) = &self.path else {
            self.dirty = false;
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
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
        store.save().unwrap();
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
        store.save().unwrap();
        assert!(store.get().pop3_seen.contains("x"));
    }
}
