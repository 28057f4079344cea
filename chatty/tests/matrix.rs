//! The runner against the test Synapse: the `chatty` program running the built-in echo bot on a
//! `[sessions.NAME.matrix]` table (its password from an environment variable), answering a
//! person (a probe on a Matrix session with an account of its own) in a direct chat the person
//! opens, and ending in order on SIGTERM; `chatty check` reading the same file's secret.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chatty::matrix::{MatrixConfig, MatrixSession};
use chatty::prelude::*;
use chatty::{Router, Secret};
use chatty_test::servers::{matrix_account, matrix_server};
use chatty_test::{Probe, ProbeRemote};
use tokio::process::Command;
use tokio::time::timeout;

/// The variable the config names for the bot's password.
const PASSWORD_VAR: &str = "CHATTY_MATRIX_TEST_PASSWORD";

/// The config file: the echo bot on a Matrix session keyed `chat`, logging in as `user`.
fn write_config(dir: &Path, user: &str) -> std::path::PathBuf {
    let server = matrix_server();
    let path = dir.join("echo.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[sessions.chat.matrix]
homeserver = "{url}"
user = "{user}"
password = {{ env = "{PASSWORD_VAR}" }}
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000

[bots.echo]
echo = {{}}
sessions = ["chat"]
"#,
            url = server.url,
        ),
    )
    .unwrap();
    path
}

/// A person: a probe on a Matrix session as a pool account; the probe and its handle.
async fn person() -> (ProbeRemote, Handle) {
    let server = matrix_server();
    let account = matrix_account();
    let config = MatrixConfig::new(&server.url, &account.user, Secret::inline(account.password));
    let (probe, mut remote) = Probe::new();
    let router = Router::new().session(MatrixSession::new(config).unwrap());
    tokio::spawn(async move {
        let _ = router.run(probe).await;
    });
    remote.started().await;
    let handle = remote.handle().await;
    (remote, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_in_a_direct_chat_and_ends_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let bot = matrix_account();
    let path = write_config(dir.path(), &bot.user);

    // `chatty check` reads the secret: without the variable it names the key.
    let check = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("check")
        .arg(&path)
        .env_remove(PASSWORD_VAR)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{said}");
    assert!(said.contains("sessions.chat.matrix.password"), "{said}");
    assert!(said.contains(PASSWORD_VAR), "{said}");

    let mut chatty = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(&path)
        .env(PASSWORD_VAR, &bot.password)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // The person opens a direct chat with the bot by writing to it, once: the bot (maybe still
    // logging in) accepts the invitation and answers what was said between the invitation and
    // its join.
    let (probe, handle) = person().await;
    let to: Address = format!("matrix:{};kind=individual", bot.user_id)
        .parse()
        .unwrap();
    handle.say(&to, "hello bot").await.unwrap();
    let mut answered = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Some(signal) = probe
        .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if let Body::Message(m) = &signal.body
            && m.text == "hello bot"
        {
            answered = Some(signal);
            break;
        }
    }
    let answer = answered.expect("the bot answers within a minute");
    let origin = answer.meta.origin.expect("the answer's origin");
    assert_eq!(origin.id(), bot.user_id, "the bot answered");

    // SIGTERM: the program ends cleanly.
    let pid = chatty.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = timeout(Duration::from_secs(30), chatty.wait())
        .await
        .expect("chatty ends within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
