//! Platform-qualified addresses and their one textual form.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an address names: one person or bot, a group of people, or a channel (room).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// Not known (yet): the `address type` query can tell.
    #[default]
    Unknown,
    /// One person or bot.
    Individual,
    /// A fixed set of people without a room of its own (an email list, a Slack group DM).
    Group,
    /// A room or channel that people join and leave (an XMPP MUC, a Slack channel).
    Channel,
}

impl AddressKind {
    /// The word used in the textual form (`;kind=channel`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressKind::Unknown => "unknown",
            AddressKind::Individual => "individual",
            AddressKind::Group => "group",
            AddressKind::Channel => "channel",
        }
    }

    /// `true` for groups and channels: addresses more than one person hear.
    pub const fn is_shared(self) -> bool {
        matches!(self, AddressKind::Group | AddressKind::Channel)
    }
}

impl FromStr for AddressKind {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "unknown" => AddressKind::Unknown,
            "individual" => AddressKind::Individual,
            "group" => AddressKind::Group,
            "channel" => AddressKind::Channel,
            other => return Err(AddressError::UnknownKind(other.to_owned())),
        })
    }
}

/// Why a text is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// No `:` separates the platform from the platform's own id.
    #[error(
        "`{0}` is not an address: expected `platform:id`, for example `xmpp:alice@example.org`"
    )]
    MissingColon(String),
    /// The platform (scheme) part is empty or has characters other than `a-z 0-9 . -`.
    #[error(
        "`{0}` is not a platform name: expected lower-case letters, digits, `.` or `-`, starting with a letter"
    )]
    BadPlatform(String),
    /// The session qualifier after `+` is empty or has characters other than `A-Z a-z 0-9 _ -`.
    #[error("`{0}` is not a session name: expected letters, digits, `_` or `-`")]
    BadSession(String),
    /// The id after `:` is empty or holds white space or control characters.
    #[error(
        "`{0}` is not a valid id: it must be non-empty, without white space or control characters"
    )]
    BadId(String),
    /// `;kind=` names no known kind.
    #[error("`{0}` is not an address kind: expected individual, group, channel or unknown")]
    UnknownKind(String),
}

/// A platform-qualified address: who a signal comes from or goes to.
///
/// Its one textual form, used by config files and bots, is
/// `platform[+session]:id[;kind=individual|group|channel]`:
///
/// - `platform` is the protocol's URI scheme: `xmpp`, `mailto`, `slack`, `direct`, …
/// - `+session` names the session (account) the address is reached through, when several sessions
///   of one platform serve a bot (`xmpp+work:alice@example.org` and `xmpp+home:alice@example.org`
///   are two different conversations). Without it, the platform's only session is meant.
/// - `id` is the platform's own identifier: a JID, a mail address, `TEAM/CHANNEL` on Slack.
/// - `;kind=` says what the address names, where known.
///
/// Two addresses are equal when platform, session and id are; the kind is a description of the
/// address, not part of its identity (a session may learn it later than a config file names it).
///
/// ```
/// use chatty_core::{Address, AddressKind};
///
/// let room: Address = "xmpp+work:lobby@muc.example.org;kind=channel".parse().unwrap();
/// assert_eq!(room.platform(), "xmpp");
/// assert_eq!(room.session(), Some("work"));
/// assert_eq!(room.id(), "lobby@muc.example.org");
/// assert_eq!(room.kind(), AddressKind::Channel);
/// assert_eq!(room.to_string(), "xmpp+work:lobby@muc.example.org;kind=channel");
///
/// let bob = Address::new("mailto", "bob@example.org").unwrap();
/// assert_eq!(bob.to_string(), "mailto:bob@example.org");
/// ```
#[derive(Clone)]
pub struct Address(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    platform: Box<str>,
    session: Option<Box<str>>,
    id: Box<str>,
    kind: AddressKind,
}

const KIND_SUFFIX: &str = ";kind=";

impl Address {
    /// An address on `platform` with the platform's own `id`, reached through the platform's only
    /// session, of unknown kind.
    pub fn new(platform: &str, id: &str) -> Result<Self, AddressError> {
        Self::build(platform, None, id, AddressKind::Unknown)
    }

    /// An address on `platform` reached through the session named `session`.
    pub fn with_session(platform: &str, session: &str, id: &str) -> Result<Self, AddressError> {
        Self::build(platform, Some(session), id, AddressKind::Unknown)
    }

    fn build(
        platform: &str,
        session: Option<&str>,
        id: &str,
        kind: AddressKind,
    ) -> Result<Self, AddressError> {
        let platform_ok = platform.starts_with(|c: char| c.is_ascii_lowercase())
            && platform
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if !platform_ok {
            return Err(AddressError::BadPlatform(platform.to_owned()));
        }
        if let Some(s) = session {
            let ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(AddressError::BadSession(s.to_owned()));
            }
        }
        if id.is_empty()
            || id.chars().any(|c| c.is_whitespace() || c.is_control())
            || id.contains(KIND_SUFFIX)
        {
            return Err(AddressError::BadId(id.to_owned()));
        }
        Ok(Address(Arc::new(Inner {
            platform: platform.into(),
            session: session.map(Into::into),
            id: id.into(),
            kind,
        })))
    }

    /// The platform: the URI scheme of the textual form (`xmpp`, `mailto`, `slack`, `direct`).
    pub fn platform(&self) -> &str {
        &self.0.platform
    }

    /// The session the address is reached through, if the address names one.
    pub fn session(&self) -> Option<&str> {
        self.0.session.as_deref()
    }

    /// The platform's own identifier.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// What the address names, where known.
    pub fn kind(&self) -> AddressKind {
        self.0.kind
    }

    /// The same address described as `kind`.
    #[must_use]
    pub fn with_kind(&self, kind: AddressKind) -> Self {
        self.rebuild(self.session().map(str::to_owned), kind)
    }

    /// The same address qualified with the session `session` (or unqualified with `None`).
    ///
    /// Panics never: session names are checked when the session is made, so an invalid name
    /// leaves the address as it was.
    #[must_use]
    pub fn in_session(&self, session: Option<&str>) -> Self {
        match Self::build(self.platform(), session, self.id(), self.kind()) {
            Ok(a) => a,
            Err(_) => self.clone(),
        }
    }

    fn rebuild(&self, session: Option<String>, kind: AddressKind) -> Self {
        Address(Arc::new(Inner {
            platform: self.0.platform.clone(),
            session: session.map(Into::into),
            id: self.0.id.clone(),
            kind,
        }))
    }

    /// Whether `self`, as a pattern, names `other`: same platform and id, and either the same
    /// session or no session named in `self`. Used by history queries, where a bot may ask about
    /// `xmpp:alice@example.org` without knowing which account she wrote to.
    ///
    /// ```
    /// # use chatty_core::Address;
    /// let any: Address = "xmpp:alice@example.org".parse().unwrap();
    /// let work: Address = "xmpp+work:alice@example.org".parse().unwrap();
    /// assert!(any.matches(&work));
    /// assert!(!work.matches(&"xmpp+home:alice@example.org".parse().unwrap()));
    /// ```
    pub fn matches(&self, other: &Address) -> bool {
        self.platform() == other.platform()
            && self.id() == other.id()
            && (self.session().is_none() || self.session() == other.session())
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.platform == other.0.platform
                && self.0.session == other.0.session
                && self.0.id == other.0.id)
    }
}

impl Eq for Address {}

impl Hash for Address {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.platform.hash(state);
        self.0.session.hash(state);
        self.0.id.hash(state);
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.0.platform, &self.0.session, &self.0.id).cmp(&(
            &other.0.platform,
            &other.0.session,
            &other.0.id,
        ))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.platform())?;
        if let Some(s) = self.session() {
            write!(f, "+{s}")?;
        }
        write!(f, ":{}", self.id())?;
        if self.kind() != AddressKind::Unknown {
            write!(f, "{KIND_SUFFIX}{}", self.kind().as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = text
            .split_once(':')
            .ok_or_else(|| AddressError::MissingColon(text.to_owned()))?;
        let (platform, session) = match scheme.split_once('+') {
            Some((p, s)) => (p, Some(s)),
            None => (scheme, None),
        };
        let (id, kind) = match rest.rsplit_once(KIND_SUFFIX) {
            Some((id, kind)) => (id, kind.parse()?),
            None => (rest, AddressKind::Unknown),
        };
        Self::build(platform, session, id, kind)
    }
}

impl TryFrom<&str> for Address {
    type Error = AddressError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn round_trips_every_documented_form() {
        for text in [
            "xmpp:alice@example.org",
            "xmpp+work:alice@example.org/phone",
            "mailto:bob@example.org",
            "slack:T01/C02;kind=channel",
            "slack+acme:T01/U02;kind=individual",
            "direct:lobby;kind=group",
        ] {
            assert_eq!(a(text).to_string(), text);
        }
    }

    #[test]
    fn parts_are_parsed() {
        let addr = a("slack+acme:T01/C02;kind=channel");
        assert_eq!(addr.platform(), "slack");
        assert_eq!(addr.session(), Some("acme"));
        assert_eq!(addr.id(), "T01/C02");
        assert_eq!(addr.kind(), AddressKind::Channel);
    }

    #[test]
    fn two_sessions_of_one_platform_are_told_apart() {
        assert_ne!(
            a("xmpp+work:alice@example.org"),
            a("xmpp+home:alice@example.org")
        );
        assert_ne!(
            a("xmpp+work:alice@example.org"),
            a("xmpp:alice@example.org")
        );
    }

    #[test]
    fn kind_is_not_identity() {
        assert_eq!(a("slack:T01/C02;kind=channel"), a("slack:T01/C02"));
        let mut set = std::collections::HashSet::new();
        set.insert(a("slack:T01/C02;kind=channel"));
        assert!(set.contains(&a("slack:T01/C02")));
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert!(matches!(
            "alice".parse::<Address>(),
            Err(AddressError::MissingColon(_))
        ));
        assert!(matches!(
            "XMPP:alice".parse::<Address>(),
            Err(AddressError::BadPlatform(_))
        ));
        assert!(matches!(
            "xmpp+:alice".parse::<Address>(),
            Err(AddressError::BadSession(_))
        ));
        assert!(matches!(
            "xmpp+a b:alice".parse::<Address>(),
            Err(AddressError::BadSession(_))
        ));
        assert!(matches!(
            "xmpp:".parse::<Address>(),
            Err(AddressError::BadId(_))
        ));
        assert!(matches!(
            "xmpp:al ice".parse::<Address>(),
            Err(AddressError::BadId(_))
        ));
        assert!(matches!(
            "xmpp:alice;kind=robot".parse::<Address>(),
            Err(AddressError::UnknownKind(_))
        ));
        let message = "alice".parse::<Address>().unwrap_err().to_string();
        assert!(message.contains("platform:id"), "{message}");
    }

    #[test]
    fn serde_uses_the_textual_form() {
        let addr = a("xmpp+work:lobby@muc.example.org;kind=channel");
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, "\"xmpp+work:lobby@muc.example.org;kind=channel\"");
        let back: Address = serde_json::from_str(&json).unwrap();
        assert_eq!(back, addr);
        assert_eq!(back.kind(), AddressKind::Channel);
        assert!(serde_json::from_str::<Address>("\"nonsense\"").is_err());
    }

    #[test]
    fn with_kind_and_in_session_derive_new_addresses() {
        let addr = a("xmpp:alice@example.org");
        assert_eq!(
            addr.with_kind(AddressKind::Individual).kind(),
            AddressKind::Individual
        );
        let work = addr.in_session(Some("work"));
        assert_eq!(work.to_string(), "xmpp+work:alice@example.org");
        assert_eq!(work.in_session(None), addr);
        assert_eq!(addr.in_session(Some("not valid")), addr);
    }
}
