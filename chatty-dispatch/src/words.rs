//! Splitting a chat line into words, as a person means them.
//!
//! No crate fits: `shlex` follows the POSIX shell, where the apostrophe of `printer's on fire`
//! opens a quote that never closes and the whole line is refused. Here a quote groups words only
//! when it closes; otherwise it is an ordinary character.

/// The words of `line`: split at white space, where `"two words"` (or `'two words'`, or the
/// typographic `“two words”`) is one word when its quote closes before the end of the line.
///
/// ```
/// use chatty_dispatch::words;
///
/// assert_eq!(words("ticket open  printer's on fire"), ["ticket", "open", "printer's", "on", "fire"]);
/// assert_eq!(words(r#"ticket open "two words" x"#), ["ticket", "open", "two words", "x"]);
/// assert_eq!(words(r#"say "unclosed quote"#), ["say", "\"unclosed", "quote"]);
/// ```
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (word, after) = match quoted(rest) {
            Some((inner, after)) => (inner.to_owned(), after),
            None => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_owned(), &rest[end..])
            }
        };
        out.push(word);
        rest = after.trim_start();
    }
    out
}

/// A quoted word at the start of `text` whose quote closes before white space or the end:
/// (its inside, what follows).
fn quoted(text: &str) -> Option<(&str, &str)> {
    let open = text.chars().next()?;
    let close = match open {
        '"' => '"',
        '\'' => '\'',
        '“' => '”',
        '‘' => '’',
        _ => return None,
    };
    let inner_start = open.len_utf8();
    let mut search = inner_start;
    while let Some(found) = text[search..].find(close) {
        let at = search + found;
        let after = &text[at + close.len_utf8()..];
        if after.is_empty() || after.starts_with(char::is_whitespace) {
            return Some((&text[inner_start..at], after));
        }
        search = at + close.len_utf8();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words() {
        assert_eq!(words("  a  b\tc\n"), ["a", "b", "c"]);
        assert!(words("").is_empty());
        assert!(words("   ").is_empty());
    }

    #[test]
    fn quotes_group_only_when_they_close() {
        assert_eq!(words("'a b' c"), ["a b", "c"]);
        assert_eq!(words("“a b” c"), ["a b", "c"]);
        assert_eq!(words("\"\" c"), ["", "c"]);
        assert_eq!(words("don't panic"), ["don't", "panic"]);
        assert_eq!(words("'tis fine"), ["'tis", "fine"]);
        // A quote closed inside a word does not end it.
        assert_eq!(words("\"a\"b c\" d"), ["a\"b c", "d"]);
        assert_eq!(words("\"a\"b"), ["\"a\"b"]);
    }

    #[test]
    fn any_text_splits_without_panicking() {
        for line in ["\"", "'", "“", "”x", "é'è' ü", "\u{0}\"\u{1F600}\" x"] {
            let _ = words(line);
        }
    }
}
