//! A bot's Logger, as its config says: in a database file of its own (`path`), or, without a
//! `path`, in the journal's database, where its records share the journal's writer (one write
//! path: a record is committed with the journal's writes, never after a later acknowledgement).

use chatty_core::BoxBot;

use super::journal::RunJournal;
use crate::config::{BotConfig, LoadedConfig};

/// Where the loggers' databases are.
#[derive(Clone, Copy)]
pub(super) enum Stores<'a> {
    /// Not opened: the config is only checked (`chatty check` creates no file).
    Closed,
    /// Opened, with the run's journal if it has one.
    #[cfg_attr(not(feature = "log"), allow(dead_code))]
    Open(Option<&'a RunJournal>),
}

impl Stores<'_> {
    /// Whether databases are opened.
    pub(super) fn open(&self) -> bool {
        matches!(self, Stores::Open(_))
    }
}

/// Wraps `bot` (the bot `name`) in the Logger its config asks for. `in_journal` names the bot
/// whose Logger uses the journal's database already: one bot's history per database, so a
/// second one is refused (histories of two bots in one file would answer each other's
/// queries).
#[cfg(feature = "log")]
pub(super) async fn wrap(
    bot: BoxBot,
    config: &BotConfig,
    loaded: &LoadedConfig,
    stores: Stores<'_>,
    in_journal: &mut Option<String>,
    name: &str,
) -> Result<BoxBot, String> {
    use std::time::Duration;

    use chatty_core::LayerExt;

    let Some(settings) = &config.logger else {
        return Ok(bot);
    };
    let location = match (&settings.path, &settings.url) {
        (Some(path), _) => Some(chatty_log::Location::Sqlite(if path.is_absolute() {
            path.clone()
        } else {
            loaded.dir().join(path)
        })),
        (None, Some(url)) => Some(super::journal::postgres(
            url,
            settings.password.as_ref(),
            settings.schema.as_deref(),
        )?),
        (None, None) => None,
    };
    let layer = match location {
        Some(location) => {
            let mut logger = chatty_log::LoggerConfig::at(location)
                .with_sync_every_record(settings.sync_every_record);
            if let Some(ms) = settings.busy_timeout_ms {
                // SQLite takes the wait as a C int of milliseconds.
                if ms > i32::MAX as u64 {
                    return Err(format!("busy_timeout_ms must be at most {}", i32::MAX));
                }
                logger = logger.with_busy_timeout(Duration::from_millis(ms));
            }
            let Stores::Open(_) = stores else {
                return Ok(bot);
            };
            chatty_log::LoggerLayer::open(&logger)
                .await
                .map_err(|e| e.to_string())?
        }
        None => {
            if !loaded.config.journal.enabled {
                return Err(
                    "no `path`, and the journal is off (`[journal] enabled = false`): \
                     without a `path` the Logger keeps its records in the journal's database; \
                     name a file for them"
                        .into(),
                );
            }
            if let Some(other) = in_journal {
                return Err(format!(
                    "no `path`, and bot `{other}`'s Logger keeps its records in the journal's \
                     database already: give one of them a `path` of its own (two bots' \
                     histories in one database would answer each other's queries)"
                ));
            }
            *in_journal = Some(name.to_owned());
            let Stores::Open(journal) = stores else {
                return Ok(bot);
            };
            let Some(journal) = journal else {
                return Err("the journal's database is not open".into());
            };
            // Queued: the journal gives a signal again whose record a crash lost, and the
            // record is committed before any later write of the journal (its acknowledgement).
            let store = journal
                .db()
                .log_store()
                .with_queued_records(!settings.sync_every_record);
            chatty_log::LoggerLayer::new(store)
        }
    };
    Ok(BoxBot::new(bot.wrap(layer)))
}

/// Without the `log` feature a Logger cannot be made.
#[cfg(not(feature = "log"))]
pub(super) async fn wrap(
    bot: BoxBot,
    config: &BotConfig,
    _: &LoadedConfig,
    _: Stores<'_>,
    _: &mut Option<String>,
    _: &str,
) -> Result<BoxBot, String> {
    match config.logger {
        Some(_) => Err(
            "the logger is not compiled into this program: build chatty with the feature `log`"
                .into(),
        ),
        None => Ok(bot),
    }
}
