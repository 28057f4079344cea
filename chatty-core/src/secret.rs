//! Secrets in configuration: passwords and tokens, from an environment variable, a file, or
//! (by explicit choice) written inline.
//!
//! Every protocol crate's config takes its passwords and tokens as a [`Secret`], so that a config
//! file says the same thing the same way for every platform:
//!
//! ```toml
//! password = { env = "CHATTY_XMPP_PASSWORD" }     # from an environment variable
//! password = { file = "/run/secrets/xmpp" }       # from a file (white space around it trimmed)
//! password = { inline = "only-for-local-tests" }  # in the config file itself
//! ```
//!
//! A bare string (`password = "…"`) is refused, so that a secret never lands in a config file by
//! accident; the error does not repeat the string. `Debug` shows where a secret comes from, never
//! the secret itself, and the value it reveals is a [`Revealed`], whose `Debug` hides it too.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A password or token, and where to read it.
///
/// ```
/// use chatty_core::Secret;
///
/// let secret: Secret = serde_json::from_str(r#"{ "inline": "hunter2" }"#).unwrap();
/// assert_eq!(secret.reveal().unwrap().expose(), "hunter2");
/// assert_eq!(format!("{secret:?}"), "Secret(inline, <redacted>)");
///
/// // A bare string is refused, and the error does not repeat it.
/// let err = serde_json::from_str::<Secret>(r#""hunter2""#).unwrap_err().to_string();
/// assert!(err.contains("{ env = "), "{err}");
/// assert!(!err.contains("hunter2"), "{err}");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secret {
    /// Written in the config itself.
    Inline(String),
    /// The value of this environment variable, read when the secret is revealed.
    Env(String),
    /// The content of this file, white space around it trimmed, read when the secret is revealed.
    File(PathBuf),
}

/// A secret's value, read for the one place that uses it (a login, an `Authorization` header).
///
/// `Debug` shows `"<redacted>"`, so a connection's state can hold one and still derive `Debug`
/// without the password or token reaching a log.
///
/// ```
/// use chatty_core::Secret;
///
/// let password = Secret::inline("hunter2").reveal().unwrap();
/// assert_eq!(password.expose(), "hunter2");
/// assert_eq!(format!("{password:?}"), "\"<redacted>\"");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Revealed(String);

impl Revealed {
    /// The secret itself, for the login or header that needs it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The environment variable is not set (or not valid Unicode).
    #[error("the environment variable {0} is not set")]
    MissingEnv(String),
    /// The file could not be read; what the operating system said is the
    /// [`source`](std::error::Error::source).
    #[error("cannot read the secret file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The secret is empty.
    #[error("the secret from {0} is empty")]
    Empty(String),
}

impl Secret {
    /// A secret written inline (for tests and programs that hold it already).
    pub fn inline(secret: impl Into<String>) -> Self {
        Secret::Inline(secret.into())
    }

    /// A secret read from the environment variable `name`.
    pub fn env(name: impl Into<String>) -> Self {
        Secret::Env(name.into())
    }

    /// A secret read from the file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Secret::File(path.into())
    }

    /// Where the secret comes from, for messages: `inline`, `env VAR` or `file PATH`.
    pub fn source(&self) -> String {
        match self {
            Secret::Inline(_) => "inline".to_owned(),
            Secret::Env(name) => format!("env {name}"),
            Secret::File(path) => format!("file {}", path.display()),
        }
    }

    /// Reads the secret: the inline text, the environment variable, or the file's content
    /// (trimmed). Call it where the secret is used, and never log the result.
    ///
    /// # Errors
    /// When the variable is not set, the file cannot be read, or the secret is empty.
    pub fn reveal(&self) -> Result<Revealed, SecretError> {
        let value = match self {
            Secret::Inline(value) => value.clone(),
            Secret::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::MissingEnv(name.clone()))?
            }
            Secret::File(path) => std::fs::read_to_string(path)
                .map_err(|source| SecretError::Unreadable {
                    path: path.clone(),
                    source,
                })?
                .trim()
                .to_owned(),
        };
        if value.is_empty() {
            return Err(SecretError::Empty(self.source()));
        }
        Ok(Revealed(value))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Secret(inline, <redacted>)"),
            Secret::Env(name) => write!(f, "Secret(env {name})"),
            Secret::File(path) => write!(f, "Secret(file {})", path.display()),
        }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::inline(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::Inline(value)
    }
}

const EXPECTED: &str =
    "a secret written as { env = \"VARIABLE\" }, { file = \"PATH\" } or { inline = \"…\" }";

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            // A bare string: refused without repeating it.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Secret, E> {
                Err(E::custom(format_args!(
                    "a bare string is not accepted for a secret: write {EXPECTED}"
                )))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format_args!(
                        "empty table: expected {EXPECTED}"
                    )));
                };
                let secret = match key.as_str() {
                    "inline" => Secret::Inline(map.next_value()?),
                    "env" => Secret::Env(map.next_value()?),
                    "file" => Secret::File(map.next_value()?),
                    other => {
                        return Err(de::Error::unknown_field(other, &["env", "file", "inline"]));
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format_args!(
                        "`{extra}` given too: a secret has exactly one of env, file or inline"
                    )));
                }
                Ok(secret)
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Serialized as where it comes from; an inline secret as `{ inline = "<redacted>" }`, so that a
/// printed config never shows it.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Secret::Inline(_) => map.serialize_entry("inline", "<redacted>")?,
            Secret::Env(name) => map.serialize_entry("env", name)?,
            Secret::File(path) => map.serialize_entry("file", path)?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Secret, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_each_source() {
        let dir = std::env::temp_dir().join(format!("chatty-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pw");
        std::fs::write(&path, "  from-file\n").unwrap();
        assert_eq!(Secret::file(&path).reveal().unwrap().expose(), "from-file");
        assert_eq!(
            parse(r#"{"inline":"x"}"#)
                .unwrap()
                .reveal()
                .unwrap()
                .expose(),
            "x"
        );
        // PATH is set in every test environment.
        assert!(!Secret::env("PATH").reveal().unwrap().expose().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn says_what_is_missing() {
        let missing = Secret::env("CHATTY_SURELY_NOT_SET_4711")
            .reveal()
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "the environment variable CHATTY_SURELY_NOT_SET_4711 is not set"
        );
        let err = Secret::file("/nonexistent/chatty/pw").reveal().unwrap_err();
        assert!(matches!(err, SecretError::Unreadable { .. }), "{err:?}");
        let os = std::error::Error::source(&err).expect("the io::Error is the source");
        assert_eq!(
            os.downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        assert!(
            err.to_string()
                .starts_with("cannot read the secret file /nonexistent/chatty/pw:")
        );
        assert!(matches!(
            Secret::inline("").reveal().unwrap_err(),
            SecretError::Empty(from) if from == "inline"
        ));
    }

    #[test]
    fn refuses_bare_strings_and_odd_tables_without_echoing() {
        let err = parse(r#""hunter2""#).unwrap_err();
        assert!(err.contains("bare string"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            parse(r#"{"password":"hunter2"}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(
            parse(r#"{"env":"A","file":"b"}"#)
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(parse(r#"{}"#).unwrap_err().contains("empty table"));
    }

    #[test]
    fn never_shows_an_inline_secret() {
        let secret = Secret::inline("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, r#"{"inline":"<redacted>"}"#);
        assert_eq!(format!("{:?}", Secret::env("PW")), "Secret(env PW)");
    }
}
