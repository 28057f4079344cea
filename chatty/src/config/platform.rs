//! [`PlatformTable`]: a session's platform table (`[sessions.work.xmpp]`), the same type in
//! every build, read into the platform crate's own config when the file is loaded.
//!
//! The config types do not change with the crate's features (features stay additive): a build
//! without the `xmpp` feature has the same [`SessionConfig`](super::SessionConfig), and says at
//! load that it cannot serve an `xmpp` table.

use std::any::Any;
use std::fmt;
use std::path::Path;

use figment::Figment;
use serde::de::{Deserialize, Deserializer, IgnoredAny};

use super::{Config, ConfigError};

/// A platform's table of one session (or the `nats` table of a gateway bot), read when the file
/// is loaded into the platform crate's config:
/// [`SessionConfig::xmpp_config`](super::SessionConfig::xmpp_config),
/// [`irc_config`](super::SessionConfig::irc_config),
/// [`matrix_config`](super::SessionConfig::matrix_config),
/// [`email_config`](super::SessionConfig::email_config),
/// [`slack_config`](super::SessionConfig::slack_config),
/// [`nats_config`](super::SessionConfig::nats_config),
/// [`BotConfig::nats_config`](super::BotConfig::nats_config) (each with its crate's feature).
#[derive(Default)]
pub struct PlatformTable {
    config: Option<Box<dyn Table>>,
}

/// A platform crate's config, as a table holds it.
#[cfg_attr(
    not(any(
        feature = "xmpp",
        feature = "irc",
        feature = "matrix",
        feature = "email",
        feature = "slack",
        feature = "nats"
    )),
    allow(dead_code)
)]
trait Table: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + fmt::Debug + Send + Sync> Table for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg_attr(
    not(any(
        feature = "xmpp",
        feature = "irc",
        feature = "matrix",
        feature = "email",
        feature = "slack",
        feature = "nats"
    )),
    allow(dead_code)
)]
impl PlatformTable {
    /// The platform's config, if it was read as a `T`.
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        // `as_deref`: the table's config, not the box (a box is `Any` too).
        self.config.as_deref()?.as_any().downcast_ref()
    }

    /// The platform's config, to change (paths made relative to the file, names given).
    pub(crate) fn get_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.config.as_deref_mut()?.as_any_mut().downcast_mut()
    }
}

impl fmt::Debug for PlatformTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.config {
            Some(config) => config.fmt(f),
            None => f.write_str("PlatformTable(not read)"),
        }
    }
}

impl<'de> Deserialize<'de> for PlatformTable {
    /// The first pass only notes that the table is there; `read_tables` reads it, by its
    /// key, so that errors name the key.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(PlatformTable::default())
    }
}

impl super::SessionConfig {
    #[cfg(feature = "xmpp")]
    pub(crate) fn xmpp_config_mut(&mut self) -> Option<&mut chatty_xmpp::XmppConfig> {
        self.xmpp.as_mut()?.get_mut()
    }

    #[cfg(feature = "irc")]
    pub(crate) fn irc_config_mut(&mut self) -> Option<&mut chatty_irc::IrcConfig> {
        self.irc.as_mut()?.get_mut()
    }

    #[cfg(feature = "matrix")]
    pub(crate) fn matrix_config_mut(&mut self) -> Option<&mut chatty_matrix::MatrixConfig> {
        self.matrix.as_mut()?.get_mut()
    }

    #[cfg(feature = "email")]
    pub(crate) fn email_config_mut(&mut self) -> Option<&mut chatty_email::EmailConfig> {
        self.email.as_mut()?.get_mut()
    }

    #[cfg(feature = "slack")]
    pub(crate) fn slack_config_mut(&mut self) -> Option<&mut chatty_slack::SlackConfig> {
        self.slack.as_mut()?.get_mut()
    }
}

/// Where tables are read from: the loaded file with the environment over it.
pub(super) struct Source<'a> {
    pub(super) figment: &'a Figment,
    pub(super) file: &'a Path,
    pub(super) env_prefix: &'a str,
}

impl Source<'_> {
    /// The value at `key` as a `T`, with errors naming the file (or variable) and key.
    #[cfg_attr(
        not(any(
            feature = "xmpp",
            feature = "irc",
            feature = "matrix",
            feature = "email",
            feature = "slack",
            feature = "nats"
        )),
        allow(dead_code)
    )]
    fn extract<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        self.figment.extract_inner(key).map_err(|error| {
            ConfigError::from_figment_within(self.file, self.env_prefix, error, key)
        })
    }
}

/// Reads every session's platform table into its platform's config; a table of a platform this
/// build lacks is an error saying which feature to build with.
pub(super) fn read_tables(config: &mut Config, source: &Source<'_>) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    for (key, session) in &mut config.sessions {
        for (platform, table) in [
            ("xmpp", &mut session.xmpp),
            ("irc", &mut session.irc),
            ("matrix", &mut session.matrix),
            ("email", &mut session.email),
            ("slack", &mut session.slack),
            ("nats", &mut session.nats),
        ] {
            let Some(table) = table else { continue };
            match parse(platform, &format!("sessions.{key}.{platform}"), source) {
                Ok(config) => table.config = Some(config),
                Err(e) => errors.push(e),
            }
        }
    }
    for (key, bot) in &mut config.bots {
        let Some(table) = &mut bot.nats else { continue };
        match parse("nats", &format!("bots.{key}.nats"), source) {
            Ok(config) => table.config = Some(config),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(ConfigError::Several(errors)),
    }
}

/// Reads the table at `key` as `platform`'s config.
fn parse(platform: &str, key: &str, source: &Source<'_>) -> Result<Box<dyn Table>, ConfigError> {
    match platform {
        #[cfg(feature = "xmpp")]
        "xmpp" => Ok(Box::new(source.extract::<chatty_xmpp::XmppConfig>(key)?)),
        #[cfg(feature = "irc")]
        "irc" => Ok(Box::new(source.extract::<chatty_irc::IrcConfig>(key)?)),
        #[cfg(feature = "matrix")]
        "matrix" => Ok(Box::new(
            source.extract::<chatty_matrix::MatrixConfig>(key)?,
        )),
        #[cfg(feature = "email")]
        "email" => Ok(Box::new(source.extract::<chatty_email::EmailConfig>(key)?)),
        #[cfg(feature = "slack")]
        "slack" => Ok(Box::new(source.extract::<chatty_slack::SlackConfig>(key)?)),
        #[cfg(feature = "nats")]
        "nats" => {
            let nats = source.extract::<chatty_nats::NatsConfig>(key)?;
            nats.check()
                .map_err(|e| ConfigError::invalid(source.file, key, e))?;
            Ok(Box::new(nats))
        }
        other => Err(ConfigError::invalid(
            source.file,
            key,
            format!(
                "this program was built without the `{other}` feature: build chatty with it \
                 (it is on by default) to use `{other}` tables"
            ),
        )),
    }
}
