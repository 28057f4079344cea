//! Where a state database is: an SQLite file, or a PostgreSQL database (its URL, where its
//! password comes from, and the schema its tables are in).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chatty_core::Secret;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The schema a PostgreSQL state database's tables are in when the config names none.
pub const DEFAULT_SCHEMA: &str = "chatty";

/// Where a state database is: the config gives exactly one of `path` (SQLite) and `url`
/// (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// An SQLite file, created with its schema if it does not exist (its directory must).
    Sqlite(PathBuf),
    /// A PostgreSQL database, shared by every process that names it.
    Postgres(PostgresConfig),
}

/// A PostgreSQL database: `url = "postgres://user@host:port/database"`, `password` (a
/// [`Secret`]: `{ env = "…" }`, `{ file = "…" }` or `{ inline = "…" }`) unless the URL holds
/// it or the server needs none, and `schema` (default `"chatty"`).
///
/// The tables are in the schema, created if missing: several journals (of several configs)
/// and several Loggers share one database with a schema each. Several processes may use one
/// schema at once (their writes are transactions, and entries are acknowledged by key).
///
/// ```
/// use chatty_log::{Location, StateConfig};
///
/// let config: StateConfig = serde_json::from_str(
///     r#"{ "url": "postgres://chatty@db.example.org/bots", "password": { "env": "PGPASS" },
///          "schema": "support_bot" }"#,
/// )
/// .unwrap();
/// let Location::Postgres(postgres) = &config.location else { panic!() };
/// assert_eq!(postgres.schema, "support_bot");
///
/// // Exactly one of `path` and `url`.
/// let both = r#"{ "path": "state.sqlite", "url": "postgres://db.example.org/bots" }"#;
/// let error = serde_json::from_str::<StateConfig>(both).unwrap_err().to_string();
/// assert!(error.contains("both `path` and `url`"), "{error}");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// `postgres://user@host:port/database` (or `postgresql://`), with any connection
    /// parameter sqlx knows (`?sslmode=verify-full`, …). TLS is rustls's.
    pub url: String,
    /// The password, when the URL does not hold it.
    pub password: Option<Secret>,
    /// The schema the tables are in: letters, digits and `_`, starting with a letter or `_`, at
    /// most 63 characters (PostgreSQL's limit).
    pub schema: String,
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.shown_url())
            .field("password", &self.password)
            .field("schema", &self.schema)
            .finish()
    }
}

impl PostgresConfig {
    /// The database at `url`, in the default schema, with no password beside the URL.
    ///
    /// # Errors
    /// A URL that is not `postgres://…` or `postgresql://…`.
    pub fn new(url: impl Into<String>) -> Result<Self, String> {
        let url = url.into();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(format!(
                "`url` must start with postgres:// or postgresql://, not `{}`",
                redact(&url)
            ));
        }
        Ok(PostgresConfig {
            url,
            password: None,
            schema: DEFAULT_SCHEMA.to_owned(),
        })
    }

    /// Sets the schema the tables are in.
    ///
    /// # Errors
    /// A name PostgreSQL would need quoted, or longer than 63 characters.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Result<Self, String> {
        let schema = schema.into();
        let mut chars = schema.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && schema.len() <= 63;
        if !valid {
            return Err(format!(
                "`schema` must be lower-case letters, digits and `_`, starting with a letter or \
                 `_`, at most 63 characters: `{schema}`"
            ));
        }
        self.schema = schema;
        Ok(self)
    }

    /// Sets where the password comes from.
    ///
    /// # Errors
    /// The URL holds a password already.
    pub fn with_password(mut self, password: Secret) -> Result<Self, String> {
        if self.url_has_password() {
            return Err(
                "both a password in `url` and `password`: give it once, as `password`".to_owned(),
            );
        }
        self.password = Some(password);
        Ok(self)
    }

    /// The URL without its password (if it holds one), for messages and logs.
    pub fn shown_url(&self) -> String {
        redact(&self.url)
    }

    fn url_has_password(&self) -> bool {
        redact(&self.url) != self.url
    }

    /// What errors call this database: its URL without the password, and the schema.
    pub(crate) fn shown(&self) -> String {
        format!("{} (schema {})", self.shown_url(), self.schema)
    }
}

/// `url` without the password of its `user:password@` part.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
            format!("{scheme}://{user}:<redacted>@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

/// The keys of a config that say where its database is, as they are written: flattened into
/// [`StateConfig`](crate::StateConfig)'s and [`LoggerConfig`](crate::LoggerConfig)'s keys.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct LocationKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) schema: Option<String>,
}

/// The names of [`LocationKeys`].
const LOCATION_KEYS: [&str; 4] = ["path", "url", "password", "schema"];

/// The keys of a config no field took (serde's `deny_unknown_fields` does not work beside a
/// flattened struct): refused by [`refuse_unknown`].
pub(crate) type UnknownKeys = BTreeMap<String, IgnoredAny>;

/// An error naming the first of the `unknown` keys, and the keys expected: the location's and
/// `others`.
pub(crate) fn refuse_unknown(unknown: &UnknownKeys, others: &[&str]) -> Result<(), String> {
    match unknown.keys().next() {
        None => Ok(()),
        Some(key) => {
            let expected: Vec<String> = LOCATION_KEYS
                .iter()
                .chain(others)
                .map(|k| format!("`{k}`"))
                .collect();
            Err(format!(
                "unknown field `{key}`, expected one of {}",
                expected.join(", ")
            ))
        }
    }
}

impl LocationKeys {
    /// The location they name: exactly one of `path` and `url`; `password` and `schema` only
    /// with `url`.
    pub(crate) fn location(self) -> Result<Location, String> {
        match (self.path, self.url) {
            (Some(_), Some(_)) => Err(
                "both `path` and `url`: give `path` for an SQLite file or `url` for PostgreSQL"
                    .to_owned(),
            ),
            (None, None) => Err(
                "missing `path` or `url`: give `path` for an SQLite file or `url` for PostgreSQL"
                    .to_owned(),
            ),
            (Some(path), None) => {
                if self.password.is_some() || self.schema.is_some() {
                    return Err(
                        "`password` and `schema` are for PostgreSQL (`url`), not for an SQLite \
                         `path`"
                            .to_owned(),
                    );
                }
                Ok(Location::Sqlite(path))
            }
            (None, Some(url)) => {
                let mut postgres = PostgresConfig::new(url)?;
                if let Some(schema) = self.schema {
                    postgres = postgres.with_schema(schema)?;
                }
                if let Some(password) = self.password {
                    postgres = postgres.with_password(password)?;
                }
                Ok(Location::Postgres(postgres))
            }
        }
    }

    /// The keys that write `location` back.
    pub(crate) fn of(location: &Location) -> Self {
        match location {
            Location::Sqlite(path) => LocationKeys {
                path: Some(path.clone()),
                ..LocationKeys::default()
            },
            Location::Postgres(postgres) => LocationKeys {
                url: Some(postgres.url.clone()),
                password: postgres.password.clone(),
                schema: Some(postgres.schema.clone()),
                path: None,
            },
        }
    }
}

impl Location {
    /// What errors call this database: the file, or the URL (without its password) and schema.
    pub fn shown(&self) -> PathBuf {
        match self {
            Location::Sqlite(path) => path.clone(),
            Location::Postgres(postgres) => PathBuf::from(postgres.shown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let config =
            PostgresConfig::new("postgres://bot:hunter2@db.example.org:5432/bots?x=1").unwrap();
        assert_eq!(
            config.shown_url(),
            "postgres://bot:<redacted>@db.example.org:5432/bots?x=1"
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(config.with_password(Secret::inline("x")).is_err());
        let plain = PostgresConfig::new("postgres://bot@db.example.org/bots").unwrap();
        assert_eq!(plain.shown_url(), "postgres://bot@db.example.org/bots");
    }

    #[test]
    fn an_unknown_key_is_refused_naming_the_expected_ones() {
        let error = serde_json::from_str::<crate::StateConfig>(r#"{ "path": "a", "keys": 1 }"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `keys`"), "{error}");
        assert!(
            error.contains("`path`, `url`, `password`, `schema`, `durability`"),
            "{error}"
        );
        let config: crate::LoggerConfig =
            serde_json::from_str(r#"{ "path": "a", "busy_timeout_ms": 7 }"#).unwrap();
        assert_eq!(config.busy_timeout_ms, 7);
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["path"], "a");
        assert!(back.get("url").is_none());
    }

    #[test]
    fn a_schema_must_need_no_quotes() {
        let config = PostgresConfig::new("postgres://db/bots").unwrap();
        assert!(config.clone().with_schema("bot_2").is_ok());
        for bad in ["", "Bot", "2bot", "a-b", "a\"b", &"x".repeat(64)] {
            assert!(config.clone().with_schema(bad).is_err(), "{bad}");
        }
        assert!(PostgresConfig::new("mysql://db").is_err());
    }
}
