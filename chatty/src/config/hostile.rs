//! Hostile config files: whatever a file holds, loading it never panics, and what is refused is
//! refused with an error that names the file.

use std::path::Path;

use proptest::prelude::*;

use super::{ConfigError, LoadedConfig, load_with_env};

/// A config that uses every part of the format.
const FULL: &str = r#"
[sessions.chat]
answer_limit = { answers = 10, per_secs = 60 }

[sessions.chat.direct]
network = "office"
endpoint = "bot"

[sessions.side.xmpp]
jid = "bot@example.org"
password = { env = "BOT_PASSWORD" }
rooms = [{ jid = "lobby@muc.example.org", nick = "bot" }]

[sessions.mail.email]
address = "bot@example.org"
password = { file = "secret" }
smtp = { host = "smtp.example.org", port = 587 }
inbound = { protocol = "imap", host = "imap.example.org" }

[sessions.work.slack]
bot_token = { env = "SLACK_BOT_TOKEN" }
app_token = { inline = "xapp-1" }

[bots.echo]
echo = {}
sessions = ["chat", "side"]
logger = { path = "echo.db", busy_timeout_ms = 100 }

[bots.relay]
relay = { pairs = [["xmpp:a@b", "mailto:c@d"]], label = false }
sessions = ["mail"]

[bots.web]
web = { bind = "127.0.0.1:0" }
sessions = ["work"]
"#;

fn load_text(text: &str) -> (Result<LoadedConfig, ConfigError>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.toml");
    std::fs::write(&path, text).unwrap();
    let result = load_with_env(&path, "CHATTY_TEST_HOSTILE_NOTHING_");
    (result, path.display().to_string())
}

/// Every error names the file it is about.
fn names_the_file(error: &ConfigError, file: &str) -> bool {
    match error {
        ConfigError::Several(all) => all.iter().all(|e| names_the_file(e, file)),
        ConfigError::Unreadable { file: f, .. } => Path::new(f) == Path::new(file),
        ConfigError::Invalid { origin, .. } => origin == file,
    }
}

fn mutate(text: &str, at: f64, how: u8, with: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let i = ((chars.len() as f64) * at) as usize % chars.len().max(1);
    match how % 4 {
        0 => {
            chars.splice(i..(i + 1).min(chars.len()), with.chars());
        }
        1 => {
            chars.drain(i..(i + with.len().max(1)).min(chars.len()));
        }
        2 => {
            chars.splice(i..i, with.chars());
        }
        _ => chars.truncate(i),
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_loads_or_is_refused_naming_the_file(text in "(?s).{0,400}") {
        let (result, file) = load_text(&text);
        if let Err(e) = result {
            prop_assert!(names_the_file(&e, &file), "{e}");
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn a_mutated_config_loads_or_is_refused_naming_the_file(
        at in 0.0..1.0f64,
        how in any::<u8>(),
        with in prop_oneof![
            Just("\"".to_owned()), Just("[".to_owned()), Just("]".to_owned()),
            Just("{".to_owned()), Just("=".to_owned()), Just("\n".to_owned()),
            Just("0".to_owned()), Just("-1".to_owned()), Just("99999999999999999999".to_owned()),
            Just("\u{0}".to_owned()), Just("é".to_owned()), Just("sessions".to_owned()),
            Just("[bots.x]\n".to_owned()), Just("true".to_owned()), ".{0,5}",
        ],
    ) {
        let text = mutate(FULL, at, how, &with);
        let (result, file) = load_text(&text);
        if let Err(e) = result {
            prop_assert!(names_the_file(&e, &file), "{e}");
        }
    }
}

#[test]
fn the_full_config_loads() {
    let (result, _) = load_text(FULL);
    let loaded = result.unwrap();
    assert_eq!(loaded.config.sessions.len(), 4);
    assert_eq!(loaded.config.bots.len(), 3);
}
