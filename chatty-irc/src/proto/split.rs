//! Splitting a long text into PRIVMSGs that fit IRC's 512 bytes once the server has put its
//! relay prefix (`:nick!user@host PRIVMSG target :`) in front.

/// The longest host name assumed while the server has not told the bot its own (RFC 1035's 63
/// bytes for a label, rounded up: cloaks and IPv6 addresses fit).
pub const UNKNOWN_HOST_LEN: usize = 64;
/// The longest user name (ident) assumed when it is not known, with the `~` servers add.
pub const UNKNOWN_USER_LEN: usize = 11;

/// The bytes of the prefix a server puts before a relayed message:
/// `:nick!user@host COMMAND target :` (command `PRIVMSG` or `NOTICE`). Unknown parts count at
/// their longest ([`UNKNOWN_USER_LEN`], [`UNKNOWN_HOST_LEN`]).
///
/// ```
/// use chatty_irc::proto::relay_prefix_len;
///
/// let len = relay_prefix_len("bot", Some("bot"), Some("host"), "PRIVMSG", "#chat");
/// assert_eq!(len, ":bot!bot@host PRIVMSG #chat :".len());
/// ```
pub fn relay_prefix_len(
    nick: &str,
    user: Option<&str>,
    host: Option<&str>,
    command: &str,
    target: &str,
) -> usize {
    let user = user.map_or(UNKNOWN_USER_LEN, str::len);
    let host = host.map_or(UNKNOWN_HOST_LEN, str::len);
    // ":" nick "!" user "@" host " " command " " target " :"
    1 + nick.len() + 1 + user + 1 + host + 1 + command.len() + 1 + target.len() + 2
}

/// The bytes left for text in one message after `prefix` bytes of relay prefix (and the CRLF),
/// at least 8 so that every text makes progress.
pub fn text_budget(prefix: usize) -> usize {
    (super::codec::MAX_MESSAGE - 2)
        .saturating_sub(prefix)
        .max(8)
}

/// Splits `text` into parts of at most `budget` bytes each, on UTF-8 boundaries.
///
/// Each line of the text (IRC carries no line breaks) starts a new part; empty lines are left
/// out (IRC cannot send an empty message). A line longer than `budget` is cut at its last space
/// in the second half of the part, else at the last character that fits. The space stays at
/// the *start* of the next part, so that the parts put back together give the line again (and
/// servers that strip trailing spaces, like ngircd, do not lose it).
///
/// ```
/// use chatty_irc::proto::split_text;
///
/// assert_eq!(split_text("hello big world", 10), ["hello big", " world"]);
/// assert_eq!(split_text("one\r\n\ntwo", 10), ["one", "two"]);
/// assert_eq!(split_text("ééééé", 4), ["éé", "éé", "é"]);
/// ```
pub fn split_text(text: &str, budget: usize) -> Vec<String> {
    let budget = budget.max(4);
    let mut parts = Vec::new();
    for line in text.split('\n') {
        let mut rest = line.strip_suffix('\r').unwrap_or(line);
        while rest.len() > budget {
            let mut cut = budget;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let space = if rest.as_bytes()[cut] == b' ' {
                Some(cut)
            } else {
                rest[..cut].rfind(' ')
            };
            if let Some(at) = space.filter(|&at| at * 2 >= cut && at > 0) {
                cut = at;
            }
            if cut == 0 {
                // Unreachable with a budget of 4 (a char is at most 4 bytes); progress anyway.
                cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
            }
            parts.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
        if !rest.is_empty() {
            parts.push(rest.to_owned());
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefers_spaces_and_keeps_them() {
        let text = "aaaa bbbb cccc dddd";
        let parts = split_text(text, 10);
        assert_eq!(parts, ["aaaa bbbb", " cccc dddd"]);
        assert_eq!(parts.concat(), text);
        // A space too early is not taken: the part would be mostly empty.
        assert_eq!(
            split_text("a bbbbbbbbbbbbbbb", 10),
            ["a bbbbbbbb", "bbbbbbb"]
        );
    }

    #[test]
    fn budget_from_the_relay_prefix() {
        let prefix = relay_prefix_len("bot", None, None, "PRIVMSG", "#chat");
        assert_eq!(prefix, 1 + 3 + 1 + 11 + 1 + 64 + 1 + 7 + 1 + 5 + 2);
        assert_eq!(text_budget(prefix), 510 - prefix);
        assert_eq!(text_budget(600), 8);
    }

    proptest! {
        #[test]
        fn parts_fit_and_reassemble(text in "[a-zé€😀 \n]{0,300}", budget in 4usize..60) {
            let parts = split_text(&text, budget);
            for part in &parts {
                prop_assert!(part.len() <= budget);
                prop_assert!(!part.is_empty());
                prop_assert!(!part.contains('\n'));
            }
            let lines: String = text.split('\n').collect();
            prop_assert_eq!(parts.concat(), lines);
        }
    }
}
