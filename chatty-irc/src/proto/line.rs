//! One IRC message: tags (IRCv3 message-tags), source, command, parameters; parsed from a line
//! and formatted back.

use std::fmt;

/// One IRC message, as parsed from a line or to be formatted into one.
///
/// ```
/// use chatty_irc::proto::Line;
///
/// let line: Line = "@msgid=abc;+typing=active :alice!a@host PRIVMSG #chat :hi there"
///     .parse()
///     .unwrap();
/// assert_eq!(line.command, "PRIVMSG");
/// assert_eq!(line.tag("msgid"), Some("abc"));
/// assert_eq!(line.source.as_ref().unwrap().nick, "alice");
/// assert_eq!(line.params, ["#chat", "hi there"]);
/// assert_eq!(line.to_string(), "@msgid=abc;+typing=active :alice!a@host PRIVMSG #chat :hi there");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The tags in order, values unescaped; a tag without a value (or with an empty one) has
    /// `None`. A key given twice keeps its last value (message-tags spec).
    pub tags: Vec<(String, Option<String>)>,
    /// Where the message comes from (`:nick!user@host` or a server name); absent on what a
    /// client sends.
    pub source: Option<Source>,
    /// The command (upper case as sent: `PRIVMSG`) or a three-digit numeric (`001`).
    pub command: String,
    /// The parameters, the trailing one included, without the `:` that introduced it.
    pub params: Vec<String>,
}

/// The source of a message: `nick!user@host`, or a server's name (then `user` and `host` are
/// absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    /// The nick, or the server's name.
    pub nick: String,
    /// The user name (ident), if given.
    pub user: Option<String>,
    /// The host, if given.
    pub host: Option<String>,
}

impl Source {
    /// Splits `nick!user@host` (each part after the nick optional).
    pub fn parse(text: &str) -> Source {
        let (rest, host) = match text.split_once('@') {
            Some((rest, host)) => (rest, Some(host.to_owned())),
            None => (text, None),
        };
        let (nick, user) = match rest.split_once('!') {
            Some((nick, user)) => (nick, Some(user.to_owned())),
            None => (rest, None),
        };
        Source {
            nick: nick.to_owned(),
            user,
            host,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.nick)?;
        if let Some(user) = &self.user {
            write!(f, "!{user}")?;
        }
        if let Some(host) = &self.host {
            write!(f, "@{host}")?;
        }
        Ok(())
    }
}

/// Why a line is not an IRC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but white space (or tags and a source) before the end of the line.
    #[error("the line has no command")]
    NoCommand,
    /// The command is neither letters nor a three-digit numeric.
    #[error("`{0}` is not an IRC command")]
    BadCommand(String),
    /// The line holds a NUL, CR or LF.
    #[error("the line holds a NUL, CR or LF character")]
    ForbiddenCharacter,
}

/// Why a message cannot be formatted as a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A parameter other than the last is empty, starts with `:` or holds a space.
    #[error("parameter {0} is empty, starts with `:` or holds a space; only the last may")]
    MiddleParam(usize),
    /// A parameter, the command, the source or a tag key holds NUL, CR or LF.
    #[error("the message holds a NUL, CR or LF character")]
    ForbiddenCharacter,
    /// A tag key is empty or holds characters the spec does not allow.
    #[error("`{0}` is not a tag key")]
    BadTagKey(String),
    /// The command is empty or holds white space.
    #[error("`{0}` is not an IRC command")]
    BadCommand(String),
}

impl Line {
    /// A message of `command` with `params` (no tags, no source).
    pub fn new<S: Into<String>>(command: &str, params: impl IntoIterator<Item = S>) -> Self {
        Line {
            tags: Vec::new(),
            source: None,
            command: command.to_owned(),
            params: params.into_iter().map(Into::into).collect(),
        }
    }

    /// The same message with the tag `key` (value `None`: no value).
    #[must_use]
    pub fn with_tag(mut self, key: &str, value: Option<&str>) -> Self {
        self.tags.retain(|(k, _)| k != key);
        self.tags.push((key.to_owned(), value.map(str::to_owned)));
        self
    }

    /// The value of tag `key`: `None` when absent or without a value (see
    /// [`has_tag`](Line::has_tag)).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether the tag `key` is present, with or without a value.
    pub fn has_tag(&self, key: &str) -> bool {
        self.tags.iter().any(|(k, _)| k == key)
    }

    /// Parameter `index`, if present.
    pub fn param(&self, index: usize) -> Option<&str> {
        self.params.get(index).map(String::as_str)
    }

    /// The source's nick, if the message has a source.
    pub fn nick(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.nick.as_str())
    }

    /// Formats the message without the line ending, checking what IRC cannot carry.
    pub fn format(&self) -> Result<String, FormatError> {
        let forbidden = |s: &str| s.contains(['\0', '\r', '\n']);
        let mut out = String::new();
        if !self.tags.is_empty() {
            out.push('@');
            for (i, (key, value)) in self.tags.iter().enumerate() {
                if !valid_tag_key(key) {
                    return Err(FormatError::BadTagKey(key.clone()));
                }
                if i > 0 {
                    out.push(';');
                }
                out.push_str(key);
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    out.push('=');
                    escape_tag_value(value, &mut out);
                }
            }
            out.push(' ');
        }
        if let Some(source) = &self.source {
            let source = source.to_string();
            if forbidden(&source) || source.contains(' ') || source.is_empty() {
                return Err(FormatError::ForbiddenCharacter);
            }
            out.push(':');
            out.push_str(&source);
            out.push(' ');
        }
        if self.command.is_empty() || self.command.contains([' ', ':']) || forbidden(&self.command)
        {
            return Err(FormatError::BadCommand(self.command.clone()));
        }
        out.push_str(&self.command);
        let last = self.params.len().saturating_sub(1);
        for (i, param) in self.params.iter().enumerate() {
            if forbidden(param) {
                return Err(FormatError::ForbiddenCharacter);
            }
            out.push(' ');
            let needs_colon = param.is_empty() || param.starts_with(':') || param.contains(' ');
            if needs_colon {
                if i != last {
                    return Err(FormatError::MiddleParam(i));
                }
                out.push(':');
            }
            out.push_str(param);
        }
        Ok(out)
    }
}

impl fmt::Display for Line {
    /// The formatted message; a message [`format`](Line::format) refuses shows as
    /// `<unformattable: …>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format() {
            Ok(line) => f.write_str(&line),
            Err(e) => write!(f, "<unformattable: {e}>"),
        }
    }
}

impl std::str::FromStr for Line {
    type Err = ParseError;

    /// Parses one line (without its line ending; a trailing CR or LF is tolerated).
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.contains(['\0', '\r', '\n']) {
            return Err(ParseError::ForbiddenCharacter);
        }
        let mut rest = line.trim_start_matches(' ');
        let mut tags = Vec::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (raw, tail) = after.split_once(' ').unwrap_or((after, ""));
            for item in raw.split(';').filter(|item| !item.is_empty()) {
                let (key, value) = match item.split_once('=') {
                    Some((key, value)) => (key, unescape_tag_value(value)),
                    None => (item, String::new()),
                };
                let value = Some(value).filter(|v| !v.is_empty());
                tags.retain(|(k, _): &(String, Option<String>)| k != key);
                tags.push((key.to_owned(), value));
            }
            rest = tail.trim_start_matches(' ');
        }
        let mut source = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (raw, tail) = after.split_once(' ').unwrap_or((after, ""));
            source = Some(Source::parse(raw));
            rest = tail.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        if !numeric && !command.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ParseError::BadCommand(command.chars().take(32).collect()));
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_owned());
            rest = tail;
        }
        Ok(Line {
            tags,
            source,
            command: command.to_ascii_uppercase(),
            params,
        })
    }
}

/// Whether `key` is a tag key the spec allows: an optional `+`, an optional vendor ending in
/// `/`, then letters, digits and `-` (dots in the vendor).
fn valid_tag_key(key: &str) -> bool {
    let key = key.strip_prefix('+').unwrap_or(key);
    let name = match key.rsplit_once('/') {
        Some((vendor, name)) => {
            let ok = !vendor.is_empty()
                && vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return false;
            }
            name
        }
        None => key,
    };
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Escapes a tag value as the message-tags spec says (`;` `\:`, space `\s`, `\` `\\`, CR `\r`,
/// LF `\n`).
pub fn escape_tag_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Unescapes a tag value: the five escapes, any other escaped character as itself, a lone `\`
/// at the end dropped (all as the spec says).
pub fn unescape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Line {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_parts() {
        let l = parse(":irc.example.net 001 bot :Welcome to IRC");
        assert_eq!(l.nick(), Some("irc.example.net"));
        assert_eq!(l.source.as_ref().unwrap().user, None);
        assert_eq!(l.command, "001");
        assert_eq!(l.params, ["bot", "Welcome to IRC"]);
        let l = parse("PING  12345");
        assert_eq!(l.params, ["12345"]);
        let l = parse("privmsg #a ::) hi");
        assert_eq!(l.command, "PRIVMSG");
        assert_eq!(l.params, ["#a", ":) hi"]);
        let l = parse("CAP * LS :");
        assert_eq!(l.params, ["*", "LS", ""]);
        assert_eq!(parse("QUIT").params, Vec::<String>::new());
    }

    #[test]
    fn tag_escaping_round_trips_per_the_spec() {
        // The spec's examples.
        let l = parse(r"@a=b\\and\nk;c=72\s45;d=gh\:764 FOO");
        assert_eq!(l.tag("a"), Some("b\\and\nk"));
        assert_eq!(l.tag("c"), Some("72 45"));
        assert_eq!(l.tag("d"), Some("gh;764"));
        assert_eq!(l.format().unwrap(), r"@a=b\\and\nk;c=72\s45;d=gh\:764 FOO");
        // Unknown escapes drop the backslash, a trailing one is dropped.
        let l = parse(r"@a=\b\;x=end\ FOO");
        assert_eq!(l.tag("a"), Some("b"));
        assert_eq!(l.tag("x"), Some("end"));
        // Empty value is no value; a repeated key keeps the last value.
        let l = parse("@a=;b;a=2 FOO");
        assert!(l.has_tag("b"));
        assert_eq!(l.tag("b"), None);
        assert_eq!(l.tag("a"), Some("2"));
        assert_eq!(l.tags.len(), 2);
    }

    #[test]
    fn formatting_checks_what_irc_cannot_carry() {
        let ok = Line::new("PRIVMSG", ["#a", ""]).format().unwrap();
        assert_eq!(ok, "PRIVMSG #a :");
        let bad = Line::new("PRIVMSG", ["#a b", "x"]).format();
        assert_eq!(bad, Err(FormatError::MiddleParam(0)));
        let bad = Line::new("PRIVMSG", ["#a", "x\r\nQUIT"]).format();
        assert_eq!(bad, Err(FormatError::ForbiddenCharacter));
        let bad = Line::new("PRIVMSG", ["#a"])
            .with_tag("bad key", None)
            .format();
        assert!(matches!(bad, Err(FormatError::BadTagKey(_))));
        let tagged = Line::new("TAGMSG", ["#a"])
            .with_tag("+typing", Some("active"))
            .with_tag("label", Some("a b;c"));
        assert_eq!(
            tagged.format().unwrap(),
            r"@+typing=active;label=a\sb\:c TAGMSG #a"
        );
        assert!(valid_tag_key("+example.com/x-y"));
        assert!(!valid_tag_key("+/x"));
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert_eq!("".parse::<Line>(), Err(ParseError::NoCommand));
        assert_eq!("@a=b ".parse::<Line>(), Err(ParseError::NoCommand));
        assert_eq!(":src".parse::<Line>(), Err(ParseError::NoCommand));
        assert!(matches!(
            "PRIV-MSG x".parse::<Line>(),
            Err(ParseError::BadCommand(_))
        ));
        assert!(matches!(
            "12 x".parse::<Line>(),
            Err(ParseError::BadCommand(_))
        ));
        assert_eq!(
            "PRIVMSG a\0b".parse::<Line>(),
            Err(ParseError::ForbiddenCharacter)
        );
    }
}
