//! Loading config files: what is accepted, and the exact errors for what is not.

use std::path::PathBuf;

use super::*;
use chatty_core::Secret;

/// Writes `text` to a config file in a fresh directory.
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chatty.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Loads without looking at the real environment.
fn load_quiet(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load_with_env(path, "CHATTY_TEST_NOTHING_AT_ALL_")
}

fn error(text: &str) -> (String, String) {
    let (_dir, path) = file(text);
    let message = load_quiet(&path).unwrap_err().to_string();
    (message, path.display().to_string())
}

const GOOD: &str = r#"
[sessions.chat.direct]
endpoint = "bot"

[sessions.side.xmpp]
jid = "bot@example.org"
password = { env = "BOT_PASSWORD" }

[bots.echo]
echo = {}
sessions = ["chat", "side"]
logger = { path = "echo.db" }
"#;

#[test]
fn a_good_file_loads() {
    let (_dir, path) = file(GOOD);
    let loaded = load_quiet(&path).unwrap();
    assert_eq!(loaded.config.sessions.len(), 2);
    let echo = &loaded.config.bots["echo"];
    assert_eq!(echo.sessions, ["chat", "side"]);
    assert_eq!(kind_of(&path, "echo", echo).unwrap(), "echo");
    assert_eq!(
        loaded.config.sessions["chat"]
            .direct
            .as_ref()
            .unwrap()
            .network,
        "direct"
    );
    assert_eq!(loaded.dir(), path.parent().unwrap());
}

#[test]
fn an_unknown_key_is_an_error_naming_file_and_key() {
    let (message, path) = error(&GOOD.replace("echo = {}", "echo = {}\nsesions = []"));
    assert_eq!(
        message,
        format!(
            "{path}: key `bots.echo.sesions`: unknown key `sesions`, expected one of: sessions, \
             echo, relay, process, proxy, rust, terminal, web, nats, settings, logger, synchronizer"
        )
    );
    let (message, path) = error(&GOOD.replace("jid =", "jidd = \"x\"\njid ="));
    assert!(
        message.starts_with(&format!(
            "{path}: key `sessions.side.xmpp.jidd`: unknown key `jidd`, expected one of: jid, password, server"
        )),
        "{message}"
    );
}

#[test]
fn a_wrong_type_is_an_error_naming_the_key_and_what_was_expected() {
    let (message, path) = error(&GOOD.replace(
        "password = { env = \"BOT_PASSWORD\" }",
        "password = { env = \"BOT_PASSWORD\" }\nport = \"high\"",
    ));
    assert_eq!(
        message,
        format!(
            "{path}: key `sessions.side.xmpp.port`: invalid type: found string \"high\", expected u16"
        )
    );
}

#[test]
fn a_bare_password_is_refused_without_repeating_it() {
    let (message, path) = error(&GOOD.replace("{ env = \"BOT_PASSWORD\" }", "\"hunter2\""));
    assert!(
        message.starts_with(&format!("{path}: key `sessions.side.xmpp.password`: ")),
        "{message}"
    );
    assert!(
        message.contains("{ env = \\\"VARIABLE\\\" }") || message.contains("{ env ="),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn references_and_kinds_are_checked() {
    let (message, path) = error(&GOOD.replace(r#"["chat", "side"]"#, r#"["chat", "nope"]"#));
    assert_eq!(
        message,
        format!(
            "{path}: key `bots.echo.sessions[1]`: unknown session `nope`, expected one of: chat, side"
        )
    );
    let (message, _) = error(&GOOD.replace("echo = {}", "echo = {}\nproxy = { remote = \"x:y\" }"));
    assert!(
        message.ends_with("key `bots.echo`: 2 bot kinds (echo, proxy): expected exactly one"),
        "{message}"
    );
    let (message, _) = error(&GOOD.replace("echo = {}", ""));
    assert!(
        message.contains("key `bots.echo`: no bot kind"),
        "{message}"
    );
    let twice = format!("{GOOD}\n[bots.other]\necho = {{}}\nsessions = [\"chat\"]\n");
    let (message, _) = error(&twice);
    assert!(
        message.ends_with("key `bots.other.sessions[0]`: session `chat` serves bot `echo` already: a session serves one bot"),
        "{message}"
    );
    let (message, _) = error(&GOOD.replace(
        "[sessions.chat.direct]\nendpoint = \"bot\"",
        "[sessions.chat]",
    ));
    assert!(
        message.contains("key `sessions.chat`: no platform"),
        "{message}"
    );
}

#[test]
fn a_missing_file_says_so() {
    let message = load_quiet(Path::new("/nonexistent/chatty.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("/nonexistent/chatty.toml: cannot read it: "),
        "{message}"
    );
}

#[test]
fn broken_toml_names_the_file() {
    let (message, path) = error("[bots.echo\n");
    assert!(message.starts_with(&path), "{message}");
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail returns its own error type
fn environment_variables_override_keys() {
    let (_dir, path) = file(GOOD);
    // SAFETY-free: the variable names are unique to this test.
    let prefix = "CHATTY_CFGTEST_7311_";
    figment::Jail::expect_with(|jail| {
        jail.set_env(format!("{prefix}SESSIONS__SIDE__XMPP__PORT"), "5299");
        // Not a config key: ignored.
        jail.set_env(format!("{prefix}BOT_PASSWORD"), "hunter2");
        let loaded = load_with_env(&path, prefix).unwrap();
        assert_eq!(
            loaded.config.sessions["side"].xmpp_config().unwrap().port,
            Some(5299)
        );
        jail.set_env(format!("{prefix}SESSIONS__SIDE__XMPP__PORT"), "high");
        let message = load_with_env(&path, prefix).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("environment variable {prefix}SESSIONS__SIDE__XMPP__PORT: key `sessions.side.xmpp.port`: invalid type")),
            "{message}"
        );
        Ok(())
    });
}

const TWO_ACCOUNTS: &str = r#"
[sessions.one.xmpp]
jid = "bob@example.org"
password = { env = "BOB_PASSWORD" }

[sessions.two.xmpp]
jid = "carol@example.org"
password = { env = "CAROL_PASSWORD" }

[bots.echo]
echo = {}
sessions = ["one", "two"]
"#;

#[cfg(feature = "xmpp")]
#[test]
fn a_session_is_named_after_its_key_unless_it_sets_a_name() {
    let (_dir, path) = file(TWO_ACCOUNTS);
    let loaded = load_quiet(&path).unwrap();
    let name = |key: &str| {
        loaded.config.sessions[key]
            .xmpp_config()
            .unwrap()
            .name
            .clone()
    };
    assert_eq!(name("one"), "one");
    assert_eq!(name("two"), "two");

    let (_dir, path) = file(&TWO_ACCOUNTS.replace(
        "[sessions.two.xmpp]\n",
        "[sessions.two.xmpp]\nname = \"xmpp\"\n",
    ));
    let loaded = load_quiet(&path).unwrap();
    let name = |key: &str| {
        loaded.config.sessions[key]
            .xmpp_config()
            .unwrap()
            .name
            .clone()
    };
    assert_eq!(name("one"), "one");
    assert_eq!(name("two"), "xmpp", "a `name` that is set is kept");
}

#[cfg(feature = "xmpp")]
#[test]
fn two_sessions_of_one_platform_with_one_name_are_an_error_naming_both_keys() {
    let both_named = TWO_ACCOUNTS
        .replace(
            "[sessions.one.xmpp]\n",
            "[sessions.one.xmpp]\nname = \"chat\"\n",
        )
        .replace(
            "[sessions.two.xmpp]\n",
            "[sessions.two.xmpp]\nname = \"chat\"\n",
        );
    let (message, path) = error(&both_named);
    assert!(
        message.starts_with(&format!(
            "{path}: key `sessions.two`: has the name `chat`, as `sessions.one` has"
        )),
        "{message}"
    );
    // A key that is another session's explicit name clashes too.
    let (message, _) = error(&TWO_ACCOUNTS.replace(
        "[sessions.two.xmpp]\n",
        "[sessions.two.xmpp]\nname = \"one\"\n",
    ));
    assert!(message.contains("`sessions.one`"), "{message}");
    assert!(message.contains("key `sessions.two`"), "{message}");
}

#[test]
fn two_direct_sessions_on_one_network_serving_one_bot_are_an_error() {
    let (message, path) = error(
        r#"
[sessions.a.direct]
endpoint = "a"
[sessions.b.direct]
endpoint = "b"
[bots.echo]
echo = {}
sessions = ["a", "b"]
"#,
    );
    assert!(
        message.starts_with(&format!(
            "{path}: key `sessions.b`: is on the direct network `direct`, as `sessions.a` is"
        )),
        "{message}"
    );
    // Serving two bots, each has its own addresses: fine.
    let (_dir, path) = file(
        r#"
[sessions.a.direct]
endpoint = "a"
[sessions.b.direct]
endpoint = "b"
[bots.one]
echo = {}
sessions = ["a"]
[bots.two]
echo = {}
sessions = ["b"]
"#,
    );
    load_quiet(&path).unwrap();
}

#[cfg(feature = "xmpp")]
#[test]
fn a_key_that_cannot_name_a_session_needs_a_name() {
    let dotted = TWO_ACCOUNTS.replace("[sessions.two.xmpp]", "[sessions.\"my chat\".xmpp]");
    let dotted = dotted.replace(
        "sessions = [\"one\", \"two\"]",
        "sessions = [\"one\", \"my chat\"]",
    );
    let (message, _) = error(&dotted);
    assert!(
        message.contains("key `sessions.my chat`: `my chat` cannot name a session"),
        "{message}"
    );
    let named = dotted.replace(
        "[sessions.\"my chat\".xmpp]\n",
        "[sessions.\"my chat\".xmpp]\nname = \"mine\"\n",
    );
    let (_dir, path) = file(&named);
    let loaded = load_quiet(&path).unwrap();
    assert_eq!(
        loaded.config.sessions["my chat"]
            .xmpp_config()
            .unwrap()
            .name,
        "mine"
    );
}

#[test]
fn answer_limits_are_off_default_or_a_table() {
    let with = |setting: &str| {
        format!(
            "[sessions.chat]\nanswer_limit = {setting}\n[sessions.chat.direct]\nendpoint = \"bot\"\n"
        )
    };
    for (setting, expected) in [
        ("false", AnswerLimitConfig::Off),
        ("true", AnswerLimitConfig::Default),
        (
            "{ answers = 5, per_secs = 60 }",
            AnswerLimitConfig::Limit(chatty_core::AnswerLimit::new(
                5,
                std::time::Duration::from_secs(60),
            )),
        ),
    ] {
        let (_dir, path) = file(&with(setting));
        let loaded = load_quiet(&path).unwrap();
        assert_eq!(loaded.config.sessions["chat"].answer_limit, Some(expected));
    }
    let (message, _) = error(&with("{ answers = 5 }"));
    assert!(message.contains("sessions.chat.answer_limit"), "{message}");
    assert!(message.contains("per_secs"), "{message}");
    let (message, _) = error(&with("{ answers = 0, per_secs = 60 }"));
    assert!(message.contains("at least 1"), "{message}");
    let (message, _) = error(&with("\"often\""));
    assert!(message.contains("`false`, `true` or"), "{message}");
}

/// The config types are the same in every build: a platform table is read into its platform's
/// config at load.
#[cfg(feature = "xmpp")]
#[test]
fn a_platform_table_is_read_into_its_platforms_config() {
    let (_dir, path) = file(TWO_ACCOUNTS);
    let loaded = load_quiet(&path).unwrap();
    let session = &loaded.config.sessions["one"];
    assert!(session.xmpp.is_some() && session.email.is_none());
    assert_eq!(session.xmpp_config().unwrap().name, "one");
    assert!(format!("{session:?}").contains("XmppConfig"), "{session:?}");
}

#[cfg(feature = "irc")]
const IRC: &str = r##"
[sessions.chat.irc]
server = "irc.example.net"
nick = "chattybot"
password = { env = "IRC_SERVER_PASSWORD" }
ca_file = "test-ca.pem"
sasl = { password = { file = "irc-password" } }
channels = [{ name = "#chatty" }, { name = "#ops", key = { env = "OPS_KEY" } }]

[bots.echo]
echo = {}
sessions = ["chat"]
"##;

/// An `irc` table is read into chatty-irc's config, with its defaults, the key as the session
/// name, relative paths (CA file, secret files) made relative to the file, and its secrets
/// named for `chatty check`.
#[cfg(feature = "irc")]
#[test]
fn an_irc_table_is_read_with_its_defaults_and_named_after_its_key() {
    let (_dir, path) = file(IRC);
    let loaded = load_quiet(&path).unwrap();
    let dir = path.parent().unwrap();
    let session = &loaded.config.sessions["chat"];
    assert!(session.irc.is_some() && session.xmpp.is_none());
    let irc = session.irc_config().unwrap();
    assert_eq!(irc.name, "chat", "named after its key");
    assert_eq!(
        (irc.server.as_str(), irc.nick.as_str()),
        ("irc.example.net", "chattybot")
    );
    assert_eq!(irc.tls, chatty_irc::TlsMode::Direct);
    assert_eq!(irc.port(), 6697);
    assert_eq!(irc.username(), "chattybot");
    assert_eq!(irc.realname, "Chatty bot");
    assert_eq!((irc.pace_burst, irc.pace_interval_ms), (5, 1_000));
    assert_eq!(
        (
            irc.connect_timeout_ms,
            irc.reconnect_min_ms,
            irc.reconnect_max_ms
        ),
        (10_000, 1_000, 60_000)
    );
    assert_eq!(
        irc.ca_file.as_deref(),
        Some(dir.join("test-ca.pem").as_path())
    );
    let sasl = irc.sasl.as_ref().unwrap();
    assert_eq!(sasl.account, None);
    assert_eq!(sasl.password, Secret::file(dir.join("irc-password")));
    let channels: Vec<_> = irc.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(channels, ["#chatty", "#ops"]);
    assert_eq!(irc.channels[1].key, Some(Secret::env("OPS_KEY")));
    irc.validate().unwrap();
    let keys: Vec<String> = secrets(&loaded.config)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        [
            "sessions.chat.irc.password",
            "sessions.chat.irc.sasl.password",
            "sessions.chat.irc.channels[1].key"
        ]
    );

    let named = IRC.replace(
        "nick = \"chattybot\"",
        "nick = \"chattybot\"\nname = \"libera\"",
    );
    let (_dir, path) = file(&named);
    let loaded = load_quiet(&path).unwrap();
    let irc = loaded.config.sessions["chat"].irc_config().unwrap();
    assert_eq!(irc.name, "libera", "a `name` that is set is kept");
}

/// Unknown keys in an `irc` table (and in its `sasl` and `channels`) are refused, naming the
/// key; so are a bare password and a TLS mode IRC does not have.
#[cfg(feature = "irc")]
#[test]
fn an_irc_table_refuses_unknown_keys_naming_them() {
    let (message, path) = error(&IRC.replace("nick =", "nik = \"x\"\nnick ="));
    assert!(
        message.starts_with(&format!(
            "{path}: key `sessions.chat.irc.nik`: unknown key `nik`, expected one of: server, \
             port, tls, ca_file, nick"
        )),
        "{message}"
    );
    let (message, path) = error(&IRC.replace("sasl = {", "sasl = { acount = \"bot\","));
    assert!(
        message.starts_with(&format!(
            "{path}: key `sessions.chat.irc.sasl.acount`: unknown key `acount`"
        )),
        "{message}"
    );
    let (message, path) = error(&IRC.replace(
        "{ name = \"#chatty\" }",
        "{ name = \"#chatty\", pass = \"x\" }",
    ));
    assert!(
        message.starts_with(&format!("{path}: key `sessions.chat.irc.channels")),
        "{message}"
    );
    assert!(message.contains("unknown key `pass`"), "{message}");
    let (message, path) = error(&IRC.replace("{ env = \"IRC_SERVER_PASSWORD\" }", "\"hunter2\""));
    assert!(
        message.starts_with(&format!("{path}: key `sessions.chat.irc.password`: ")),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    let (message, path) = error(&IRC.replace("nick =", "tls = \"starttls\"\nnick ="));
    assert!(
        message.starts_with(&format!("{path}: key `sessions.chat.irc.tls`: ")),
        "{message}"
    );
    let (message, path) = error(&IRC.replace("server = \"irc.example.net\"\n", ""));
    assert!(
        message.starts_with(&format!("{path}: key `sessions.chat.irc")),
        "{message}"
    );
    assert!(message.contains("server"), "{message}");
}

#[test]
fn the_journal_is_on_by_default_in_a_state_directory_beside_the_file() {
    let (_dir, path) = file(GOOD);
    let loaded = load_quiet(&path).unwrap();
    let journal = &loaded.config.journal;
    assert!(journal.enabled);
    assert_eq!(journal.durability, Durability::Normal);
    let state = state_dir(&path, loaded.config.state_dir.as_deref());
    assert_eq!(state, path.parent().unwrap().join("chatty.state"));
    assert_eq!(
        journal.file(loaded.dir(), &state),
        path.parent().unwrap().join("chatty.state/journal.sqlite")
    );

    let (_dir, path) = file(&format!(
        "state_dir = \"var\"\n[journal]\ndurability = \"full\"\n{GOOD}"
    ));
    let loaded = load_quiet(&path).unwrap();
    assert_eq!(loaded.config.journal.durability, Durability::Full);
    let state = state_dir(&path, loaded.config.state_dir.as_deref());
    assert_eq!(state, path.parent().unwrap().join("var"));

    let (message, _) = error(&format!("[journal]\ndurability = \"fsync\"\n{GOOD}"));
    assert!(message.contains("journal.durability"), "{message}");
    let (message, _) = error(&format!("[journal]\nenable = false\n{GOOD}"));
    assert!(message.contains("unknown key `enable`"), "{message}");
}

#[test]
fn the_journal_and_a_logger_take_a_postgres_url_instead_of_a_path() {
    let (_dir, path) = file(&format!(
        "[journal]\nurl = \"postgres://chatty@db.example.org/bots\"\n\
         password = {{ file = \"db-password\" }}\nschema = \"support\"\n{GOOD}"
    ));
    let loaded = load_quiet(&path).unwrap();
    let journal = &loaded.config.journal;
    assert_eq!(
        journal.url.as_deref(),
        Some("postgres://chatty@db.example.org/bots")
    );
    assert_eq!(journal.schema.as_deref(), Some("support"));
    // A secret file's path is relative to the config's directory, as every secret's.
    assert_eq!(
        journal.password,
        Some(Secret::file(path.parent().unwrap().join("db-password")))
    );
    let keys: Vec<String> = secrets(&loaded.config)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.contains(&"journal.password".to_owned()), "{keys:?}");

    let (message, _) = error(&format!(
        "[journal]\npath = \"j.sqlite\"\nurl = \"postgres://db/bots\"\n{GOOD}"
    ));
    assert!(
        message.contains("key `journal.url`: both `path` and `url`"),
        "{message}"
    );
    let (message, _) = error(&format!("[journal]\nschema = \"s\"\n{GOOD}"));
    assert!(message.contains("key `journal.schema`"), "{message}");
    assert!(message.contains("set `url`"), "{message}");
    let (message, _) = error(&format!("[journal]\nurl = \"mysql://db/bots\"\n{GOOD}"));
    assert!(message.contains("postgres://"), "{message}");
    let (message, _) = error(&format!(
        "[journal]\nurl = \"postgres://db/bots\"\npassword = \"hunter2\"\n{GOOD}"
    ));
    assert!(message.contains("journal.password"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let both = GOOD.replace(
        "logger = { path = \"echo.db\" }",
        "logger = { path = \"echo.db\", url = \"postgres://db/bots\" }",
    );
    let (message, _) = error(&both);
    assert!(
        message.contains("key `bots.echo.logger.url`: both"),
        "{message}"
    );
    let postgres = GOOD.replace(
        "logger = { path = \"echo.db\" }",
        "logger = { url = \"postgres://db/bots\", schema = \"echo_log\" }",
    );
    let (_dir, path) = file(&postgres);
    let loaded = load_quiet(&path).unwrap();
    let logger = loaded.config.bots["echo"].logger.as_ref().unwrap();
    assert_eq!(logger.schema.as_deref(), Some("echo_log"));
}

#[cfg(feature = "nats")]
const HUB: &str = r#"
[sessions.chat.direct]
endpoint = "bot"

[sessions.hub.nats]
url = "nats://127.0.0.1:4222"
hub = "support"
partitions = 8
user = "worker"
password = { env = "HUB_PASSWORD" }

[bots.gateway]
nats = { url = "nats://127.0.0.1:4222", hub = "support", token = { file = "hub.token" } }
sessions = ["chat"]

[bots.echo]
echo = {}
sessions = ["hub"]
"#;

#[cfg(feature = "nats")]
#[test]
fn a_gateway_bot_and_a_worker_session_are_read_into_the_hubs_config() {
    let (_dir, path) = file(HUB);
    let loaded = load_quiet(&path).unwrap();
    let worker = loaded.config.sessions["hub"].nats_config().unwrap();
    assert_eq!((worker.hub.as_str(), worker.partitions), ("support", 8));
    assert_eq!(worker.user.as_deref(), Some("worker"));
    let gateway = &loaded.config.bots["gateway"];
    assert_eq!(kind_of(&path, "gateway", gateway).unwrap(), "nats");
    let hub = gateway.nats_config().unwrap();
    assert_eq!(hub.ack_wait_ms, chatty_nats::DEFAULT_ACK_WAIT_MS);
    assert_eq!(
        platform_of(&path, "hub", &loaded.config.sessions["hub"]).unwrap(),
        "nats"
    );
    // Both secrets are listed for `chatty check`, the file made relative to the config's.
    let secrets: Vec<String> = secrets(&loaded.config)
        .into_iter()
        .map(|(key, secret)| format!("{key}={secret:?}"))
        .collect();
    assert!(
        secrets
            .iter()
            .any(|s| s.starts_with("sessions.hub.nats.password=")),
        "{secrets:?}"
    );
    let token = secrets
        .iter()
        .find(|s| s.starts_with("bots.gateway.nats.token="))
        .unwrap();
    assert!(
        token.contains(&*path.parent().unwrap().join("hub.token").to_string_lossy()),
        "{token}"
    );
}

#[cfg(feature = "nats")]
#[test]
fn a_hub_table_that_cannot_work_is_an_error_naming_its_key() {
    let (message, file) = error(&HUB.replace(
        r#"hub = "support"
partitions"#,
        r#"hub = "sup port"
partitions"#,
    ));
    assert_eq!(
        message,
        format!(
            "{file}: key `sessions.hub.nats`: NATS config: the hub name \"sup port\" is not 1 to 64 \
             letters, digits, `-` or `_`"
        )
    );
    let (message, _) = error(&HUB.replace("partitions = 8", "partitions = 8\nhubb = 1"));
    assert!(
        message.contains("key `sessions.hub.nats.hubb`: unknown key `hubb`"),
        "{message}"
    );
    let (message, _) = error(&HUB.replace("user = \"worker\"\n", ""));
    assert!(
        message.contains("key `sessions.hub.nats`: NATS config: `password` is set without `user`"),
        "{message}"
    );
    let (message, _) = error(&HUB.replace("nats = { url", "echo = {}\nnats = { url"));
    assert!(
        message.contains("key `bots.gateway`: 2 bot kinds (echo, nats): expected exactly one"),
        "{message}"
    );
}

#[test]
fn the_state_table_names_a_postgres_database() {
    let (_dir, path) = file(&format!(
        "{GOOD}\n[state]\nurl = \"postgres://chatty@db.example.org/bots\"\nschema = \"bots\"\n\
         password = {{ env = \"DB_PASSWORD\" }}\n"
    ));
    let loaded = load_quiet(&path).unwrap();
    let state = loaded.config.state.as_ref().unwrap();
    assert_eq!(state.schema.as_deref(), Some("bots"));
    assert!(
        secrets(&loaded.config)
            .iter()
            .any(|(key, _)| key == "state.password")
    );

    let (message, file) = error(&format!("{GOOD}\n[state]\nurl = \"mysql://db/bots\"\n"));
    assert_eq!(
        message,
        format!("{file}: key `state.url`: expected a postgres:// or postgresql:// URL")
    );
    let (message, _) = error(&format!("{GOOD}\n[state]\nschema = \"bots\"\n"));
    assert!(
        message.contains("key `state`: missing key `url`"),
        "{message}"
    );
}

const MATRIX: &str = r##"
[sessions.room.matrix]
homeserver = "https://matrix.example.org"
user = "chattybot"
password = { file = "matrix-password" }
ca_file = "test-ca.pem"
rooms = ["#lobby:example.org"]

[bots.echo]
echo = {}
sessions = ["room"]
"##;

#[test]
fn a_matrix_table_is_read_with_its_defaults_named_after_its_key_and_refuses_unknown_keys() {
    let (_dir, path) = file(MATRIX);
    let loaded = load_quiet(&path).unwrap();
    let dir = path.parent().unwrap();
    let session = &loaded.config.sessions["room"];
    let matrix = session.matrix_config().unwrap();
    assert_eq!(matrix.name, "room", "named after its key");
    assert_eq!(matrix.homeserver, "https://matrix.example.org");
    assert_eq!(matrix.rooms, ["#lobby:example.org"]);
    assert_eq!(matrix.password, Secret::file(dir.join("matrix-password")));
    assert_eq!(
        matrix.ca_file.as_deref(),
        Some(dir.join("test-ca.pem").as_path())
    );
    assert_eq!(
        (matrix.connect_timeout_ms, matrix.sync_timeout_ms),
        (10_000, 30_000)
    );
    matrix.validate().unwrap();
    let keys: Vec<String> = secrets(&loaded.config)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["sessions.room.matrix.password"]);

    let (message, path) = error(&MATRIX.replace("user =", "usr = \"x\"\nuser ="));
    assert!(
        message.starts_with(&format!(
            "{path}: key `sessions.room.matrix.usr`: unknown key `usr`"
        )),
        "{message}"
    );
}
