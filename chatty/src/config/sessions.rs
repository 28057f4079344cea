//! What the runner settles for every session beyond its platform's own config: its name (the
//! `+name` qualifier of its addresses) and its answer limit.
//!
//! A session takes its name from its config key (`[sessions.work.xmpp]` is `work`, so its
//! addresses are `xmpp+work:…`) unless its platform table sets `name`. A direct session's name
//! is its network's. Two sessions of one platform with one name serving one bot could not be told
//! apart by address, so answers would leave through the wrong account: that is a config error
//! naming both keys.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use chatty_core::AnswerLimit;
use figment::Figment;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{Config, ConfigError, SessionConfig, platform_of};

/// `answer_limit` of a session: `false` for none, `true` for the session's default, or
/// `{ answers = N, per_secs = S }`.
///
/// ```toml
/// [sessions.mail]
/// answer_limit = { answers = 20, per_secs = 3600 }
///
/// [sessions.mail.email]
/// address = "bot@example.org"
/// # …
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerLimitConfig {
    /// `false`: no limit.
    Off,
    /// `true`: the session's own default ([`chatty_core::session::Session::answer_limit`]).
    Default,
    /// At most `answers` answers to one correspondent per `per`.
    Limit(AnswerLimit),
}

impl AnswerLimitConfig {
    /// What the router is told: `None` to keep the session's default, `Some(limit)` otherwise.
    pub fn router_setting(self) -> Option<Option<AnswerLimit>> {
        match self {
            AnswerLimitConfig::Off => Some(None),
            AnswerLimitConfig::Default => None,
            AnswerLimitConfig::Limit(limit) => Some(Some(limit)),
        }
    }
}

impl<'de> Deserialize<'de> for AnswerLimitConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LimitVisitor)
    }
}

struct LimitVisitor;

impl<'de> Visitor<'de> for LimitVisitor {
    type Value = AnswerLimitConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`false`, `true` or `{ answers = N, per_secs = S }`")
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        Ok(if on {
            AnswerLimitConfig::Default
        } else {
            AnswerLimitConfig::Off
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut answers, mut per_secs) = (None::<u32>, None::<u64>);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "answers" => answers = Some(map.next_value()?),
                "per_secs" => per_secs = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, &["answers", "per_secs"])),
            }
        }
        let answers = answers.ok_or_else(|| de::Error::missing_field("answers"))?;
        let per_secs = per_secs.ok_or_else(|| de::Error::missing_field("per_secs"))?;
        if answers == 0 || per_secs == 0 {
            return Err(de::Error::custom(
                "`answers` and `per_secs` must be at least 1 (`answer_limit = false` turns the limit off)",
            ));
        }
        Ok(AnswerLimitConfig::Limit(AnswerLimit::new(
            answers,
            Duration::from_secs(per_secs),
        )))
    }
}

/// The address platform (URI scheme) of a session's platform key.
fn scheme(platform: &str) -> &str {
    match platform {
        "email" => "mailto",
        other => other,
    }
}

/// Whether `name` can qualify addresses (`A-Z a-z 0-9 _ -`).
fn is_session_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The `name` of a session's platform table, and a way to set it.
fn name_slot<'a>(session: &'a mut SessionConfig, platform: &str) -> Option<&'a mut String> {
    let _ = &session;
    match platform {
        #[cfg(feature = "xmpp")]
        "xmpp" => session.xmpp_config_mut().map(|x| &mut x.name),
        #[cfg(feature = "irc")]
        "irc" => session.irc_config_mut().map(|i| &mut i.name),
        #[cfg(feature = "matrix")]
        "matrix" => session.matrix_config_mut().map(|m| &mut m.name),
        #[cfg(feature = "email")]
        "email" => session.email_config_mut().map(|e| &mut e.name),
        #[cfg(feature = "slack")]
        "slack" => session.slack_config_mut().map(|s| &mut s.name),
        _ => None,
    }
}

/// Gives every session without a `name` its config key as name, and refuses two sessions of one
/// platform with one name serving one bot (bots of their own each have their own addresses).
pub(super) fn name_sessions(
    config: &mut Config,
    figment: &Figment,
    file: &Path,
) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    // Session key → (address platform, name).
    let mut names: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (key, session) in &mut config.sessions {
        let Ok(platform) = platform_of(file, key, session) else {
            continue; // reported with the references
        };
        let name = if platform == "direct" {
            session.direct.as_ref().map(|d| d.network.clone())
        } else {
            let explicit = figment
                .find_value(&format!("sessions.{key}.{platform}.name"))
                .is_ok();
            match name_slot(session, platform) {
                Some(slot) if explicit => Some(slot.clone()),
                Some(slot) if is_session_name(key) => {
                    key.clone_into(slot);
                    Some(slot.clone())
                }
                Some(_) => {
                    errors.push(ConfigError::invalid(
                        file,
                        format!("sessions.{key}"),
                        format!(
                            "`{key}` cannot name a session (its addresses are \
                             `{}+NAME:…`): use letters, digits, `_` or `-` in the key, or set \
                             `sessions.{key}.{platform}.name`",
                            scheme(platform)
                        ),
                    ));
                    None
                }
                None => None,
            }
        };
        if let Some(name) = name {
            names.insert(key.clone(), (platform.to_owned(), name));
        }
    }
    for bot in config.bots.values() {
        // (platform, name) → the first key of this bot's sessions that has it.
        let mut taken: BTreeMap<&(String, String), &str> = BTreeMap::new();
        for key in &bot.sessions {
            let Some(slot) = names.get(key) else { continue };
            let Some(first) = taken.insert(slot, key) else {
                continue;
            };
            taken.insert(slot, first);
            let (platform, name) = slot;
            let what = if platform == "direct" {
                format!("is on the direct network `{name}`, as `sessions.{first}` is")
            } else {
                format!("has the name `{name}`, as `sessions.{first}` has")
            };
            errors.push(ConfigError::invalid(
                file,
                format!("sessions.{key}"),
                format!(
                    "{what}: two {platform} sessions of one bot with one name cannot be told \
                     apart by address (`{}+{name}:…`), so answers would leave through the wrong \
                     account; give each its own `name` (or its own key, the default name)",
                    scheme(platform)
                ),
            ));
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(ConfigError::Several(errors)),
    }
}
