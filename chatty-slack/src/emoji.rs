//! Emoji names: Slack names emoji by name (`thumbsup`, `+1`, `tada`), never by the character,
//! so a reaction's key is carried as a name. A small table names the common emoji both ways;
//! a key that is a name already (`tada`, `:tada:`, a custom emoji's `partyparrot`) goes as
//! it is. Skin tones are `::skin-tone-2` … `::skin-tone-6` after the name, and the
//! modifiers U+1F3FB … U+1F3FF after the character.

/// The common emoji: the character (without its U+FE0F variation selector), the name Slack
/// gives it (emoji-data's `short_name`, as reactions made in Slack's clients carry it), and
/// the other names Slack takes for it.
const TABLE: &[(&str, &str, &[&str])] = &[
    ("👍", "+1", &["thumbsup"]),
    ("👎", "-1", &["thumbsdown"]),
    ("❤", "heart", &[]),
    ("😂", "joy", &[]),
    ("😄", "smile", &[]),
    ("😃", "smiley", &[]),
    ("😀", "grinning", &[]),
    ("😁", "grin", &[]),
    ("😆", "laughing", &["satisfied"]),
    ("😅", "sweat_smile", &[]),
    ("🤣", "rolling_on_the_floor_laughing", &[]),
    ("🙂", "slightly_smiling_face", &[]),
    ("😉", "wink", &[]),
    ("😊", "blush", &[]),
    ("😇", "innocent", &[]),
    ("😍", "heart_eyes", &[]),
    ("😘", "kissing_heart", &[]),
    ("😋", "yum", &[]),
    ("😌", "relieved", &[]),
    ("😏", "smirk", &[]),
    ("🤔", "thinking_face", &[]),
    ("🧐", "face_with_monocle", &[]),
    ("😐", "neutral_face", &[]),
    ("😮", "open_mouth", &[]),
    ("😲", "astonished", &[]),
    ("😢", "cry", &[]),
    ("😭", "sob", &[]),
    ("🥲", "smiling_face_with_tear", &[]),
    ("😡", "rage", &[]),
    ("😠", "angry", &[]),
    ("😱", "scream", &[]),
    ("😎", "sunglasses", &[]),
    ("🙄", "face_with_rolling_eyes", &[]),
    ("😬", "grimacing", &[]),
    ("🤯", "exploding_head", &[]),
    ("🥳", "partying_face", &[]),
    ("😴", "sleeping", &[]),
    ("🤗", "hugging_face", &[]),
    ("🫡", "saluting_face", &[]),
    ("🤷", "shrug", &[]),
    ("🙈", "see_no_evil", &[]),
    ("🙏", "pray", &[]),
    ("👏", "clap", &[]),
    ("🙌", "raised_hands", &[]),
    ("👋", "wave", &[]),
    ("👌", "ok_hand", &[]),
    ("✌", "v", &[]),
    (
        "🤞",
        "crossed_fingers",
        &["hand_with_index_and_middle_fingers_crossed"],
    ),
    ("🤝", "handshake", &[]),
    ("💪", "muscle", &[]),
    ("👀", "eyes", &[]),
    ("🎉", "tada", &[]),
    ("🔥", "fire", &[]),
    ("💯", "100", &[]),
    ("✅", "white_check_mark", &[]),
    ("✔", "heavy_check_mark", &[]),
    ("❌", "x", &[]),
    ("❗", "exclamation", &["heavy_exclamation_mark"]),
    ("❓", "question", &[]),
    ("➕", "heavy_plus_sign", &[]),
    ("➖", "heavy_minus_sign", &[]),
    ("⭐", "star", &[]),
    ("🌟", "star2", &[]),
    ("✨", "sparkles", &[]),
    ("🚀", "rocket", &[]),
    ("💡", "bulb", &[]),
    ("⚠", "warning", &[]),
    ("🚨", "rotating_light", &[]),
    ("🐛", "bug", &[]),
    ("💔", "broken_heart", &[]),
    ("💙", "blue_heart", &[]),
    ("💚", "green_heart", &[]),
    ("💛", "yellow_heart", &[]),
    ("💜", "purple_heart", &[]),
    ("🧡", "orange_heart", &[]),
    ("🖤", "black_heart", &[]),
    ("🤍", "white_heart", &[]),
    ("☕", "coffee", &[]),
    ("🍕", "pizza", &[]),
    ("🍺", "beer", &[]),
    ("🎂", "birthday", &[]),
    ("🏆", "trophy", &[]),
    ("🥇", "first_place_medal", &[]),
    ("👑", "crown", &[]),
    ("💩", "hankey", &["poop", "shit"]),
    ("🤖", "robot_face", &[]),
    ("👻", "ghost", &[]),
    ("⏳", "hourglass_flowing_sand", &[]),
    ("⌛", "hourglass", &[]),
    ("📌", "pushpin", &[]),
    ("📎", "paperclip", &[]),
    ("🔗", "link", &[]),
    ("💬", "speech_balloon", &[]),
    ("🆗", "ok", &[]),
    ("🆕", "new", &[]),
    ("🟢", "large_green_circle", &[]),
    ("🔴", "red_circle", &[]),
];

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
    let mut plain: String = key.chars().filter(|c| *c != VS16).collect();
    let mut tone = None;
    if let Some(last) = plain.chars().last()
        && TONES.contains(&last)
    {
        plain.pop();
        tone = Some(u32::from(last) - 0x1F3FB + 2);
    }
    let (_, name, _) = TABLE.iter().find(|(emoji, _, _)| *emoji == plain)?;
    Some(match tone {
        Some(n) => format!("{name}::skin-tone-{n}"),
        None => (*name).to_owned(),
    })
}

/// The key of a reaction Slack names `name`: the emoji for a name of the table (its skin tone
/// as a modifier), else the name itself (a custom emoji, one the table lacks).
pub(crate) fn key_of(name: &str) -> String {
    let (base, tone) = match name.split_once("::") {
        Some((base, tone)) => (base, tone_of(tone)),
        None => (name, None),
    };
    let found = TABLE
        .iter()
        .find(|(_, canonical, others)| *canonical == base || others.contains(&base));
    match found {
        Some((emoji, _, _)) => {
            let mut key = (*emoji).to_owned();
            if let Some(modifier) = tone.and_then(|n| char::from_u32(0x1F3FB + n - 2)) {
                key.push(modifier);
            }
            key
        }
        None => name.to_owned(),
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
            "🦩",
            "Tada",
            "two words",
            "x::skin-tone-9",
            "👍👍",
        ] {
            assert_eq!(name_of(unnamed), None, "{unnamed:?}");
        }
    }

    #[test]
    fn names_come_back_as_emoji_where_known() {
        assert_eq!(key_of("+1"), "👍");
        assert_eq!(key_of("thumbsup"), "👍");
        assert_eq!(key_of("+1::skin-tone-4"), "👍🏽");
        assert_eq!(key_of("partyparrot"), "partyparrot");
        for (emoji, name, _) in TABLE {
            assert_eq!(key_of(name), *emoji);
            assert_eq!(name_of(emoji).as_deref(), Some(*name));
            assert!(a_name(name), "{name}");
        }
    }
}
