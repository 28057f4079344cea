//! The runner's inbound journal: one database for every bot of a config, in its state
//! directory, opened before any session connects.

use std::sync::Arc;

use chatty_core::journal::Journal;

use crate::config::{self, LoadedConfig};

/// The journal a run uses, and what must be done with it at the end.
pub(super) struct RunJournal {
    /// What the routers are given.
    pub(super) journal: Arc<dyn Journal>,
    #[cfg(feature = "log")]
    db: chatty_log::StateDb,
}

impl RunJournal {
    /// The journal's database (the Logger without a `path` keeps its records there).
    #[cfg(feature = "log")]
    pub(super) fn db(&self) -> &chatty_log::StateDb {
        &self.db
    }

    /// Where the bots' state is kept: the journal's database, through its writer.
    #[cfg(feature = "log")]
    pub(super) fn key_values(&self) -> Arc<dyn chatty_core::state::KeyValueStore> {
        Arc::new(self.db.key_values())
    }

    /// Without the `log` feature there is no journal, and so no store.
    #[cfg(not(feature = "log"))]
    pub(super) fn key_values(&self) -> Arc<dyn chatty_core::state::KeyValueStore> {
        Arc::new(chatty_core::state::MemoryStore::new())
    }

    /// Makes every write durable (the last acknowledgements are not awaited by the bots): a run
    /// that ends in order leaves nothing to give again.
    pub(super) async fn finish(&self) -> Result<(), String> {
        #[cfg(feature = "log")]
        {
            self.db.flush().await.map_err(|e| e.to_string())?;
            self.db.close().await;
        }
        Ok(())
    }
}

/// What names a config to its journal: `[journal] identity` if set, else its file, canonical. A
/// journal that another config made is refused, so that two configs pointed at one state
/// directory never take each other's signals.
fn identity(loaded: &LoadedConfig) -> String {
    if let Some(identity) = &loaded.config.journal.identity {
        return format!("identity {identity}");
    }
    let file = std::fs::canonicalize(&loaded.file).unwrap_or_else(|_| loaded.file.clone());
    format!("config {}", file.display())
}

/// The PostgreSQL database `url` names, with its `password` and `schema` (the `[journal]` or
/// `logger` keys).
#[cfg(feature = "log")]
pub(super) fn postgres(
    url: &str,
    password: Option<&chatty_core::Secret>,
    schema: Option<&str>,
) -> Result<chatty_log::Location, String> {
    let mut postgres = chatty_log::PostgresConfig::new(url)?;
    if let Some(schema) = schema {
        postgres = postgres.with_schema(schema)?;
    }
    if let Some(password) = password {
        postgres = postgres.with_password(password.clone())?;
    }
    Ok(chatty_log::Location::Postgres(postgres))
}

/// Opens the journal `loaded` asks for (on unless `[journal] enabled = false`), creating the
/// state directory (for a file); `None` when it is off.
#[cfg(feature = "log")]
pub(super) async fn open(loaded: &LoadedConfig) -> Result<Option<RunJournal>, String> {
    let settings = &loaded.config.journal;
    if !settings.enabled {
        return Ok(None);
    }
    let durability = match settings.durability {
        config::Durability::Normal => chatty_log::Durability::Normal,
        config::Durability::Full => chatty_log::Durability::Full,
    };
    let location = match &settings.url {
        Some(url) => postgres(url, settings.password.as_ref(), settings.schema.as_deref())
            .map_err(|e| format!("key `journal`: {e}"))?,
        None => chatty_log::Location::Sqlite(state_file(loaded)?),
    };
    let state = chatty_log::StateConfig::at(location)
        .with_durability(durability)
        .with_keys_kept(settings.keys_kept);
    let db = chatty_log::StateDb::open(&state)
        .await
        .map_err(|e| e.to_string())?;
    let journal = db
        .journal(&identity(loaded))
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(database = %db.path().display(), ?durability, "journal open");
    Ok(Some(RunJournal {
        journal: Arc::new(journal),
        db,
    }))
}

/// The journal's SQLite file, its directory created.
#[cfg(feature = "log")]
fn state_file(loaded: &LoadedConfig) -> Result<std::path::PathBuf, String> {
    let settings = &loaded.config.journal;
    let state_dir = config::state_dir(&loaded.file, loaded.config.state_dir.as_deref());
    let file = settings.file(loaded.dir(), &state_dir);
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the state directory {}: {e} (set `state_dir` or `journal.path`)",
                dir.display()
            )
        })?;
    }
    Ok(file)
}

/// Without the `log` feature there is no journal to open: a config that wants one (the
/// default) is refused, so that the guarantee is never off without the config saying so.
#[cfg(not(feature = "log"))]
pub(super) async fn open(loaded: &LoadedConfig) -> Result<Option<RunJournal>, String> {
    if !loaded.config.journal.enabled {
        return Ok(None);
    }
    let _ = (identity(loaded), config::state_dir);
    Err(
        "the journal (on by default) is not compiled into this program: build chatty with the \
         feature `log`, or set `[journal] enabled = false` and lose what the bot had not \
         finished when its process stops"
            .into(),
    )
}

/// The bots' state database `[state]` names (PostgreSQL, shared by every process of the bot),
/// and what must be done with it at the end.
pub(super) struct RunState {
    /// What the bots are given.
    pub(super) store: Arc<dyn chatty_core::state::KeyValueStore>,
    #[cfg(feature = "log")]
    db: chatty_log::StateDb,
}

impl RunState {
    /// Makes every write durable and closes the database.
    pub(super) async fn finish(&self) -> Result<(), String> {
        #[cfg(feature = "log")]
        {
            self.db.flush().await.map_err(|e| e.to_string())?;
            self.db.close().await;
        }
        Ok(())
    }
}

/// Opens the database `[state]` names, if it names one.
#[cfg(feature = "log")]
pub(super) async fn open_state(loaded: &LoadedConfig) -> Result<Option<RunState>, String> {
    let Some(settings) = &loaded.config.state else {
        return Ok(None);
    };
    let location = postgres(
        &settings.url,
        settings.password.as_ref(),
        settings.schema.as_deref(),
    )?;
    let durability = match loaded.config.journal.durability {
        config::Durability::Normal => chatty_log::Durability::Normal,
        config::Durability::Full => chatty_log::Durability::Full,
    };
    let db = chatty_log::StateDb::open(
        &chatty_log::StateConfig::at(location).with_durability(durability),
    )
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!(database = %db.path().display(), "bots' state open");
    Ok(Some(RunState {
        store: Arc::new(db.key_values()),
        db,
    }))
}

/// Without the `log` feature there is no database for `[state]`.
#[cfg(not(feature = "log"))]
pub(super) async fn open_state(loaded: &LoadedConfig) -> Result<Option<RunState>, String> {
    if loaded.config.state.is_none() {
        return Ok(None);
    }
    Err("`[state]` needs the database code, which is not compiled into this program: build chatty with the feature `log`".into())
}
