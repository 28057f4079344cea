//! Emoji names: Slack names emoji by name (`thumbsup`, `+1`, `tada`), never by the character,
//! so a reaction's key is carried as a name. Every emoji of Unicode 15.1 is named both ways
//! by emoji-data's names, the ones Slack's clients use (`data/emoji.tsv`, made by
//! `scripts/gen-slack-emoji` from iamcal's emoji-data, MIT, see `data/EMOJI-DATA-LICENSE`);
//! a key that is a name already (`tada`, `:tada:`, a custom emoji's `partyparrot`) goes as it
//! is. Skin tones are `::skin-tone-2` … `::skin-tone-6` after the name, and the modifiers
//! U+1F3FB … U+1F3FF after the emoji's first character (`👍🏽`, `👩🏽‍💻`).
//!
//! No crate carries these names: the `emojis` crate has GitHub's (gemoji), which differ from
//! Slack's for many emoji (`thinking` for `thinking_face`, `rofl` for
//! `rolling_on_the_floor_laughing`).

use std::collections::HashMap;
use std::sync::LazyLock;

/// emoji-data's emoji, one per line: the emoji (emoji-data's `unified`), the name Slack gives
/// it (`short_name`, as reactions made in Slack's clients carry it), the other names Slack
/// takes for it (space-separated), and `t` where it takes one skin tone.
const DATA: &str = include_str!("../data/emoji.tsv");

/// An emoji of [`DATA`].
#[derive(Debug, Clone, Copy)]
struct Emoji {
    /// As emoji-data writes it (fully qualified: `❤️` with its U+FE0F).
    emoji: &'static str,
    /// Slack's name for it.
    name: &'static str,
    /// Whether it takes one skin tone.
    tones: bool,
}

/// [`DATA`], looked up both ways.
struct Table {
    /// By the emoji without U+FE0F.
    by_emoji: HashMap<String, Emoji>,
    /// By each of its names.
    by_name: HashMap<&'static str, Emoji>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut table = Table {
        by_emoji: HashMap::new(),
        by_name: HashMap::new(),
    };
    for line in DATA.lines() {
        let mut fields = line.split('\t');
        let (Some(emoji), Some(name), Some(others), Some(tones)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let entry = Emoji {
            emoji,
            name,
            tones: tones == "t",
        };
        table.by_emoji.insert(plain(emoji), entry);
        for name in std::iter::once(name).chain(others.split_whitespace()) {
            table.by_name.insert(name, entry);
        }
    }
    table
});

/// `emoji` without its U+FE0F variation selectors.
fn plain(emoji: &str) -> String {
    emoji.chars().filter(|c| *c != VS16).collect()
}

/// The variation selector that asks for the emoji presentation (`❤️` is `❤` and U+FE0F).
const VS16: char = '\u{FE0F}';
/// The skin tone modifiers, U+1F3FB (Slack's `skin-tone-2`) to U+1F3FF (`skin-tone-6`).
const TONES: std::ops::RangeInclusive<char> = '\u{1F3FB}'..='\u{1F3FF}';

/// Whether `name` has the form of a Slack emoji name: lower-case letters, digits, `_`, `-`,
/// `+`, `'`, at most 100 of them.
fn a_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '+' | '\'')
        })
}

/// The skin tone number (2 … 6) of a `skin-tone-N` suffix.
fn tone_of(suffix: &str) -> Option<u32> {
    suffix
        .strip_prefix("skin-tone-")
        .and_then(|n| n.parse().ok())
        .filter(|n| (2..=6).contains(n))
}

/// The Slack name of a reaction key: a name already (with or without colons, with a skin tone
/// or not), or an emoji of the table (with a skin tone modifier or not). `None` for what cannot
/// be named.
pub(crate) fn name_of(key: &str) -> Option<String> {
    let key = key.trim();
    let bare = key
        .strip_prefix(':')
        .and_then(|k| k.strip_suffix(':'))
        .unwrap_or(key);
    let (base, tone) = match bare.split_once("::") {
        Some((base, tone)) => (base, Some(tone)),
        None => (bare, None),
    };
    if a_name(base) {
        return match tone {
            None => Some(base.to_owned()),
            Some(t) => tone_of(t).map(|n| format!("{base}::skin-tone-{n}")),
        };
    }
    let mut chars: Vec<char> = key.chars().filter(|c| *c != VS16).collect();
    // One skin tone, right after the first character (`👍🏽`, `👩🏽‍💻`); a tone alone is an
    // emoji of its own (`skin-tone-4`).
    let mut tone = None;
    if chars.len() > 1 && TONES.contains(&chars[1]) {
        tone = Some(u32::from(chars.remove(1)) - 0x1F3FB + 2);
    }
    if chars.len() > 1 && chars.iter().any(|c| TONES.contains(c)) {
        return None;
    }
    let plain: String = chars.into_iter().collect();
    let found = TABLE.by_emoji.get(&plain)?;
    match tone {
        None => Some(found.name.to_owned()),
        Some(n) if found.tones => Some(format!("{}::skin-tone-{n}", found.name)),
        Some(_) => None,
    }
}

/// The key of a reaction Slack names `name`: the emoji for one of emoji-data's names (its skin
/// tone as a modifier after the first character), else the name itself (a custom emoji).
pub(crate) fn key_of(name: &str) -> String {
    let (base, tone) = match name.split_once("::") {
        Some((base, tone)) => (base, tone_of(tone)),
        None => (name, None),
    };
    let Some(found) = TABLE.by_name.get(base) else {
        return name.to_owned();
    };
    match tone.and_then(|n| char::from_u32(0x1F3FB + n - 2)) {
        Some(modifier) if found.tones => {
            let mut chars = found.emoji.chars();
            let mut key: String = chars.next().into_iter().collect();
            key.push(modifier);
            // The modifier asks for the emoji presentation itself: a U+FE0F after the first
            // character goes (`✌️` → `✌🏽`).
            key.push_str(chars.as_str().strip_prefix(VS16).unwrap_or(chars.as_str()));
            key
        }
        _ => found.emoji.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_and_names_are_named() {
        assert_eq!(name_of("👍").as_deref(), Some("+1"));
        assert_eq!(name_of("❤️").as_deref(), Some("heart"));
        assert_eq!(name_of("❤").as_deref(), Some("heart"));
        assert_eq!(name_of("👍🏽").as_deref(), Some("+1::skin-tone-4"));
        assert_eq!(name_of("🤔").as_deref(), Some("thinking_face"));
        assert_eq!(name_of("🦀").as_deref(), Some("crab"));
        assert_eq!(name_of("🦩").as_deref(), Some("flamingo"));
        assert_eq!(name_of("🇫🇷").as_deref(), Some("fr"));
        assert_eq!(name_of("👩‍💻").as_deref(), Some("female-technologist"));
        assert_eq!(
            name_of("👩🏽‍💻").as_deref(),
            Some("female-technologist::skin-tone-4")
        );
        assert_eq!(name_of("✌🏿").as_deref(), Some("v::skin-tone-6"));
        assert_eq!(name_of("🏽").as_deref(), Some("skin-tone-4"));
        assert_eq!(name_of("tada").as_deref(), Some("tada"));
        assert_eq!(name_of(":tada:").as_deref(), Some("tada"));
        assert_eq!(
            name_of(":thumbsup::skin-tone-2:").as_deref(),
            Some("thumbsup::skin-tone-2")
        );
        assert_eq!(name_of("partyparrot").as_deref(), Some("partyparrot"));
        for unnamed in [
            "",
            "::",
            "Tada",
            "two words",
            "x::skin-tone-9",
            "👍👍",
            // A tone on an emoji that takes none, two tones, a tone out of place.
            "🦀🏽",
            "🧑🏻‍🤝‍🧑🏿",
            "👩‍💻🏽",
            // Not an emoji.
            "a\u{200D}b",
        ] {
            assert_eq!(name_of(unnamed), None, "{unnamed:?}");
        }
    }

    #[test]
    fn names_come_back_as_emoji_where_known() {
        assert_eq!(key_of("+1"), "👍");
        assert_eq!(key_of("thumbsup"), "👍");
        assert_eq!(key_of("+1::skin-tone-4"), "👍🏽");
        assert_eq!(key_of("heart"), "❤\u{FE0F}");
        assert_eq!(key_of("v::skin-tone-6"), "✌🏿");
        assert_eq!(key_of("female-technologist::skin-tone-4"), "👩🏽‍💻");
        assert_eq!(key_of("thinking_face"), "🤔");
        assert_eq!(key_of("partyparrot"), "partyparrot");
        // A tone on an emoji that takes none: the emoji.
        assert_eq!(key_of("crab::skin-tone-3"), "🦀");
    }

    #[test]
    fn every_emoji_and_name_of_the_data_goes_both_ways() {
        let lines = DATA.lines().count();
        assert!(lines > 1800, "{lines} emoji");
        assert_eq!(TABLE.by_emoji.len(), lines, "an emoji twice in the data");
        for (name, found) in &TABLE.by_name {
            assert!(a_name(name), "{name}");
            assert_eq!(key_of(name), found.emoji, "{name}");
            assert_eq!(name_of(found.emoji).as_deref(), Some(found.name), "{name}");
            if found.tones {
                for n in 2..=6 {
                    let toned = format!("{name}::skin-tone-{n}");
                    let key = key_of(&toned);
                    let back = format!("{}::skin-tone-{n}", found.name);
                    assert_eq!(name_of(&key).as_deref(), Some(&*back), "{toned}");
                }
            }
        }
    }
}
