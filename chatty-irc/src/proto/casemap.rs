//! Case mapping: how IRC compares nicks and channel names.

/// Folds a nick or channel name for comparison as RFC 1459's case mapping says (ASCII letters,
/// and `[]\~` as the lower case of `{}|^`).
pub fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1459_folding() {
        assert_eq!(fold("[Bot]\\~"), "{bot}|^");
        assert_eq!(fold("#Chat"), "#chat");
    }
}
