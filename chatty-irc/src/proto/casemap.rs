//! Case mapping: how IRC compares nicks and channel names (ISUPPORT `CASEMAPPING`).

/// How a server folds nicks and channel names for comparison, as its ISUPPORT `CASEMAPPING`
/// token says; [`Rfc1459`](CaseMapping::Rfc1459) until it says.
///
/// ```
/// use chatty_irc::proto::CaseMapping;
///
/// assert_eq!(CaseMapping::Rfc1459.fold("[Bot]~"), "{bot}^");
/// assert_eq!(CaseMapping::StrictRfc1459.fold("[Bot]~"), "{bot}~");
/// assert_eq!(CaseMapping::Ascii.fold("[Bot]~"), "[bot]~");
/// assert_eq!(CaseMapping::from_token("ascii"), Some(CaseMapping::Ascii));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaseMapping {
    /// `rfc1459`: ASCII letters, and `[]\~` as the upper case of `{}|^` (the default, and what
    /// a server that names no mapping uses).
    #[default]
    Rfc1459,
    /// `strict-rfc1459`: ASCII letters, and `[]\` as the upper case of `{}|` (not `~`).
    StrictRfc1459,
    /// `ascii`: ASCII letters only (InspIRCd's and Ergo's default).
    Ascii,
}

impl CaseMapping {
    /// The mapping an ISUPPORT `CASEMAPPING=<value>` names; `None` for a value not known here
    /// (`rfc7613`, …), for which the session keeps the one it has.
    pub fn from_token(value: &str) -> Option<CaseMapping> {
        match value.to_ascii_lowercase().as_str() {
            "rfc1459" => Some(CaseMapping::Rfc1459),
            "strict-rfc1459" => Some(CaseMapping::StrictRfc1459),
            "ascii" => Some(CaseMapping::Ascii),
            _ => None,
        }
    }

    /// Folds a nick or channel name to the form two names that are the same compare equal in.
    pub fn fold(self, name: &str) -> String {
        name.chars()
            .map(|c| match (self, c) {
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '[') => '{',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, ']') => '}',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '\\') => '|',
                (CaseMapping::Rfc1459, '~') => '^',
                (_, c) => c.to_ascii_lowercase(),
            })
            .collect()
    }

    /// Whether `a` and `b` name the same nick or channel.
    pub fn same(self, a: &str, b: &str) -> bool {
        self.fold(a) == self.fold(b)
    }
}

/// Folds a nick or channel name for comparison as RFC 1459's case mapping says (ASCII letters,
/// and `[]\~` as the upper case of `{}|^`): [`CaseMapping::Rfc1459`], the default.
pub fn fold(name: &str) -> String {
    CaseMapping::Rfc1459.fold(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1459_folding() {
        assert_eq!(fold("[Bot]\\~"), "{bot}|^");
        assert_eq!(fold("#Chat"), "#chat");
    }

    #[test]
    fn each_mapping_folds_its_own_characters() {
        let name = "[A]\\~^Zé";
        assert_eq!(CaseMapping::Rfc1459.fold(name), "{a}|^^zé");
        assert_eq!(CaseMapping::StrictRfc1459.fold(name), "{a}|~^zé");
        assert_eq!(CaseMapping::Ascii.fold(name), "[a]\\~^zé");
        assert!(CaseMapping::Rfc1459.same("bot[1]", "BOT{1}"));
        assert!(!CaseMapping::Ascii.same("bot[1]", "BOT{1}"));
        assert!(CaseMapping::Ascii.same("Bot", "bOT"));
    }

    #[test]
    fn tokens() {
        assert_eq!(
            CaseMapping::from_token("rfc1459"),
            Some(CaseMapping::Rfc1459)
        );
        assert_eq!(
            CaseMapping::from_token("strict-rfc1459"),
            Some(CaseMapping::StrictRfc1459)
        );
        assert_eq!(CaseMapping::from_token("ASCII"), Some(CaseMapping::Ascii));
        assert_eq!(CaseMapping::from_token("rfc7613"), None);
        assert_eq!(CaseMapping::from_token(""), None);
    }
}
