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

/// Writes `text` to a config file in a fresh directory and loads it, which must work: the
/// directory (kept while the test runs), the file and what was loaded.
fn load(text: &str) -> (tempfile::TempDir, PathBuf, LoadedConfig) {
    let (dir, path) = file(text);
    let loaded = load_quiet(&path).unwrap();
    (dir, path, loaded)
}

/// Checks that loading `text` fails with exactly the file's path, `: ` and `after`.
fn assert_error(text: &str, after: &str) {
    let (message, path) = error(text);
    assert_eq!(message, format!("{path}: {after}"));
}

/// Checks that loading `text` fails with an error that starts with the file's path, `: ` and
/// `start`; returns the error for more checks.
fn error_starting(text: &str, start: &str) -> String {
    let (message, path) = error(text);
    assert!(
        message.starts_with(&format!("{path}: {start}")),
        "{message}"
    );
    message
}

/// Checks that loading `text` fails with an error that contains each of `parts`; returns the
/// error for more checks.
fn error_containing(text: &str, parts: &[&str]) -> String {
    let (message, _) = error(text);
    for part in parts {
        assert!(message.contains(part), "{message}");
    }
    message
}

/// The keys of the secrets in `config`, as `chatty check` names them.
fn secret_keys(config: &Config) -> Vec<String> {
    secrets(config).into_iter().map(|(k, _)| k).collect()
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
    let (_dir, path, loaded) = load(GOOD);
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
    assert_error(
        &GOOD.replace("echo = {}", "echo = {}\nsesions = []"),
        "key `bots.echo.sesions`: unknown key `sesions`, expected one of: sessions, \
             echo, relay, process, proxy, rust, terminal, web, nats, settings, logger, synchronizer",
    );
    error_starting(
        &GOOD.replace("jid =", "jidd = \"x\"\njid ="),
        "key `sessions.side.xmpp.jidd`: unknown key `jidd`, expected one of: jid, password, server",
    );
}

#[test]
fn a_wrong_type_is_an_error_naming_the_key_and_what_was_expected() {
    assert_error(
        &GOOD.replace(
            "password = { env = \"BOT_PASSWORD\" }",
            "password = { env = \"BOT_PASSWORD\" }\nport = \"high\"",
        ),
        "key `sessions.side.xmpp.port`: invalid type: found string \"high\", expected u16",
    );
}

#[test]
fn a_bare_password_is_refused_without_repeating_it() {
    let message = error_starting(
        &GOOD.replace("{ env = \"BOT_PASSWORD\" }", "\"hunter2\""),
        "key `sessions.side.xmpp.password`: ",
    );
    assert!(
        message.contains("{ env = \\\"VARIABLE\\\" }") || message.contains("{ env ="),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn references_and_kinds_are_checked() {
    assert_error(
        &GOOD.replace(r#"["chat", "side"]"#, r#"["chat", "nope"]"#),
        "key `bots.echo.sessions[1]`: unknown session `nope`, expected one of: chat, side",
    );
    let (message, _) = error(&GOOD.replace("echo = {}", "echo = {}\nproxy = { remote = \"x:y\" }"));
    assert!(
        message.ends_with("key `bots.echo`: 2 bot kinds (echo, proxy): expected exactly one"),
        "{message}"
    );
    error_containing(
        &GOOD.replace("echo = {}", ""),
        &["key `bots.echo`: no bot kind"],
    );
    let twice = format!("{GOOD}\n[bots.other]\necho = {{}}\nsessions = [\"chat\"]\n");
    let (message, _) = error(&twice);
    assert!(
        message.ends_with("key `bots.other.sessions[0]`: session `chat` serves bot `echo` already: a session serves one bot"),
        "{message}"
    );
    error_containing(
        &GOOD.replace(
            "[sessions.chat.direct]\nendpoint = \"bot\"",
            "[sessions.chat]",
        ),
        &["key `sessions.chat`: no platform"],
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

/// The name of the XMPP session `key` in `loaded`.
#[cfg(feature = "xmpp")]
fn xmpp_name(loaded: &LoadedConfig, key: &str) -> String {
    loaded.config.sessions[key]
        .xmpp_config()
        .unwrap()
        .name
        .clone()
}

#[cfg(feature = "xmpp")]
#[test]
fn a_session_is_named_after_its_key_unless_it_sets_a_name() {
    let (_dir, _, loaded) = load(TWO_ACCOUNTS);
    assert_eq!(xmpp_name(&loaded, "one"), "one");
    assert_eq!(xmpp_name(&loaded, "two"), "two");

    let (_dir, _, loaded) = load(&TWO_ACCOUNTS.replace(
        "[sessions.two.xmpp]\n",
        "[sessions.two.xmpp]\nname = \"xmpp\"\n",
    ));
    assert_eq!(xmpp_name(&loaded, "one"), "one");
    assert_eq!(
        xmpp_name(&loaded, "two"),
        "xmpp",
        "a `name` that is set is kept"
    );
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
    error_starting(
        &both_named,
        "key `sessions.two`: has the name `chat`, as `sessions.one` has",
    );
    // A key that is another session's explicit name clashes too.
    error_containing(
        &TWO_ACCOUNTS.replace(
            "[sessions.two.xmpp]\n",
            "[sessions.two.xmpp]\nname = \"one\"\n",
        ),
        &["`sessions.one`", "key `sessions.two`"],
    );
}

#[test]
fn two_direct_sessions_on_one_network_serving_one_bot_are_an_error() {
    error_starting(
        r#"
[sessions.a.direct]
endpoint = "a"
[sessions.b.direct]
endpoint = "b"
[bots.echo]
echo = {}
sessions = ["a", "b"]
"#,
        "key `sessions.b`: is on the direct network `direct`, as `sessions.a` is",
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
    error_containing(
        &dotted,
        &["key `sessions.my chat`: `my chat` cannot name a session"],
    );
    let named = dotted.replace(
        "[sessions.\"my chat\".xmpp]\n",
        "[sessions.\"my chat\".xmpp]\nname = \"mine\"\n",
    );
    let (_dir, _, loaded) = load(&named);
    assert_eq!(xmpp_name(&loaded, "my chat"), "mine");
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
        let (_dir, _, loaded) = load(&with(setting));
        assert_eq!(loaded.config.sessions["chat"].answer_limit, Some(expected));
    }
    error_containing(
        &with("{ answers = 5 }"),
        &["sessions.chat.answer_limit", "per_secs"],
    );
    error_containing(&with("{ answers = 0, per_secs = 60 }"), &["at least 1"]);
    error_containing(&with("\"often\""), &["`false`, `true` or"]);
}

/// The config types are the same in every build: a platform table is read into its platform's
/// config at load.
#[cfg(feature = "xmpp")]
#[test]
fn a_platform_table_is_read_into_its_platforms_config() {
    let (_dir, _, loaded) = load(TWO_ACCOUNTS);
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
    let (_dir, path, loaded) = load(IRC);
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
    let keys = secret_keys(&loaded.config);
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
    let (_dir, _, loaded) = load(&named);
    let irc = loaded.config.sessions["chat"].irc_config().unwrap();
    assert_eq!(irc.name, "libera", "a `name` that is set is kept");
}

/// Unknown keys in an `irc` table (and in its `sasl` and `channels`) are refused, naming the
/// key; so are a bare password and a TLS mode IRC does not have.
#[cfg(feature = "irc")]
#[test]
fn an_irc_table_refuses_unknown_keys_naming_them() {
    error_starting(
        &IRC.replace("nick =", "nik = \"x\"\nnick ="),
        "key `sessions.chat.irc.nik`: unknown key `nik`, expected one of: server, \
             port, tls, ca_file, nick",
    );
    error_starting(
        &IRC.replace("sasl = {", "sasl = { acount = \"bot\","),
        "key `sessions.chat.irc.sasl.acount`: unknown key `acount`",
    );
    let message = error_starting(
        &IRC.replace(
            "{ name = \"#chatty\" }",
            "{ name = \"#chatty\", pass = \"x\" }",
        ),
        "key `sessions.chat.irc.channels",
    );
    assert!(message.contains("unknown key `pass`"), "{message}");
    let message = error_starting(
        &IRC.replace("{ env = \"IRC_SERVER_PASSWORD\" }", "\"hunter2\""),
        "key `sessions.chat.irc.password`: ",
    );
    assert!(!message.contains("hunter2"), "{message}");
    error_starting(
        &IRC.replace("nick =", "tls = \"starttls\"\nnick ="),
        "key `sessions.chat.irc.tls`: ",
    );
    let message = error_starting(
        &IRC.replace("server = \"irc.example.net\"\n", ""),
        "key `sessions.chat.irc",
    );
    assert!(message.contains("server"), "{message}");
}

#[test]
fn the_journal_is_on_by_default_in_a_state_directory_beside_the_file() {
    let (_dir, path, loaded) = load(GOOD);
    let journal = &loaded.config.journal;
    assert!(journal.enabled);
    assert_eq!(journal.durability, Durability::Normal);
    let state = state_dir(&path, loaded.config.state_dir.as_deref());
    assert_eq!(state, path.parent().unwrap().join("chatty.state"));
    assert_eq!(
        journal.file(loaded.dir(), &state),
        path.parent().unwrap().join("chatty.state/journal.sqlite")
    );

    let (_dir, path, loaded) = load(&format!(
        "state_dir = \"var\"\n[journal]\ndurability = \"full\"\n{GOOD}"
    ));
    assert_eq!(loaded.config.journal.durability, Durability::Full);
    let state = state_dir(&path, loaded.config.state_dir.as_deref());
    assert_eq!(state, path.parent().unwrap().join("var"));

    error_containing(
        &format!("[journal]\ndurability = \"fsync\"\n{GOOD}"),
        &["journal.durability"],
    );
    error_containing(
        &format!("[journal]\nenable = false\n{GOOD}"),
        &["unknown key `enable`"],
    );
}

#[test]
fn the_journal_and_a_logger_take_a_postgres_url_instead_of_a_path() {
    let (_dir, path, loaded) = load(&format!(
        "[journal]\nurl = \"postgres://chatty@db.example.org/bots\"\n\
         password = {{ file = \"db-password\" }}\nschema = \"support\"\n{GOOD}"
    ));
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
    let keys = secret_keys(&loaded.config);
    assert!(keys.contains(&"journal.password".to_owned()), "{keys:?}");

    error_containing(
        &format!("[journal]\npath = \"j.sqlite\"\nurl = \"postgres://db/bots\"\n{GOOD}"),
        &["key `journal.url`: both `path` and `url`"],
    );
    error_containing(
        &format!("[journal]\nschema = \"s\"\n{GOOD}"),
        &["key `journal.schema`", "set `url`"],
    );
    error_containing(
        &format!("[journal]\nurl = \"mysql://db/bots\"\n{GOOD}"),
        &["postgres://"],
    );
    let message = error_containing(
        &format!("[journal]\nurl = \"postgres://db/bots\"\npassword = \"hunter2\"\n{GOOD}"),
        &["journal.password"],
    );
    assert!(!message.contains("hunter2"), "{message}");

    let both = GOOD.replace(
        "logger = { path = \"echo.db\" }",
        "logger = { path = \"echo.db\", url = \"postgres://db/bots\" }",
    );
    error_containing(&both, &["key `bots.echo.logger.url`: both"]);
    let postgres = GOOD.replace(
        "logger = { path = \"echo.db\" }",
        "logger = { url = \"postgres://db/bots\", schema = \"echo_log\" }",
    );
    let (_dir, _, loaded) = load(&postgres);
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
    let (_dir, path, loaded) = load(HUB);
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
    assert_error(
        &HUB.replace(
            r#"hub = "support"
partitions"#,
            r#"hub = "sup port"
partitions"#,
        ),
        "key `sessions.hub.nats`: NATS config: the hub name \"sup port\" is not 1 to 64 \
             letters, digits, `-` or `_`",
    );
    error_containing(
        &HUB.replace("partitions = 8", "partitions = 8\nhubb = 1"),
        &["key `sessions.hub.nats.hubb`: unknown key `hubb`"],
    );
    error_containing(
        &HUB.replace("user = \"worker\"\n", ""),
        &["key `sessions.hub.nats`: NATS config: `password` is set without `user`"],
    );
    error_containing(
        &HUB.replace("nats = { url", "echo = {}\nnats = { url"),
        &["key `bots.gateway`: 2 bot kinds (echo, nats): expected exactly one"],
    );
}

#[test]
fn the_state_table_names_a_postgres_database() {
    let (_dir, _, loaded) = load(&format!(
        "{GOOD}\n[state]\nurl = \"postgres://chatty@db.example.org/bots\"\nschema = \"bots\"\n\
         password = {{ env = \"DB_PASSWORD\" }}\n"
    ));
    let state = loaded.config.state.as_ref().unwrap();
    assert_eq!(state.schema.as_deref(), Some("bots"));
    assert!(
        secrets(&loaded.config)
            .iter()
            .any(|(key, _)| key == "state.password")
    );

    assert_error(
        &format!("{GOOD}\n[state]\nurl = \"mysql://db/bots\"\n"),
        "key `state.url`: expected a postgres:// or postgresql:// URL",
    );
    error_containing(
        &format!("{GOOD}\n[state]\nschema = \"bots\"\n"),
        &["key `state`: missing key `url`"],
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
    let (_dir, path, loaded) = load(MATRIX);
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
    let keys = secret_keys(&loaded.config);
    assert_eq!(keys, ["sessions.room.matrix.password"]);

    error_starting(
        &MATRIX.replace("user =", "usr = \"x\"\nuser ="),
        "key `sessions.room.matrix.usr`: unknown key `usr`",
    );
}
