//! The runner in-process, on direct networks: process bots (restarts, bad lines), Rust bots with
//! settings, built-in bots, proxies, and shutdown in order. The `chatty` binary's `check` is
//! tested for the exact errors of bad config files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chatty::direct::{Network, Person};
use chatty::prelude::*;
use chatty::{BotContext, Runner};

mod common;
use common::running::Running;

/// A config file in a fresh directory.
fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chatty.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Says `text` to `to`, waiting (up to 10 s) until the runner, which builds its sessions after
/// it starts, has made the endpoint.
async fn say(person: &Person, to: &chatty::Address, text: impl Into<String>) -> chatty::SignalId {
    let text = text.into();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match person
            .send(Signal::message(text.clone()).to(to.clone()))
            .await
        {
            Ok(id) => return id,
            Err(refusal) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{to} never came: {refusal:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn expect_text(person: &Person) -> (Signal, String) {
    let (signal, message) = person.expect_message().await;
    (signal, message.text)
}

/// Replaces `from` with `to` in the config file at `path`.
fn rewrite(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// Why `runner` refuses to run `path` (it must refuse before it starts).
async fn run_error(runner: Runner, path: &Path) -> String {
    runner
        .run_file(path, std::future::pending())
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn a_python_process_bot_answers_and_survives_its_crashes() {
    let network = Network::named("proc");
    let counter = tempfile::tempdir().unwrap();
    let counter_file = counter.path().join("starts");
    let script = repo().join("chatty/tests/process/crashy.py");
    let (_dir, path) = config(&format!(
        r#"
[sessions.local.direct]
network = "proc"
endpoint = "bot"

[bots.crashy]
sessions = ["local"]
process = {{ command = "python3", args = [{script:?}], restart_min_ms = 1000, env = {{ CRASHY_COUNTER = {counter:?} }} }}
"#,
        script = script.display().to_string(),
        counter = counter_file.display().to_string(),
    ));
    let running = Running::start(Runner::new().network(network.clone()), path);
    let alice = Person::join(&network, "alice").await;
    let bot = network.address("bot");

    let asked = say(&alice, &bot, "hello").await;
    let (answer, text) = expect_text(&alice).await;
    assert_eq!(text, "1: hello");
    assert_eq!(answer.meta.response_to, Some(asked));

    // It crashes on "crash"; what is said while it is down (it restarts after 1 s) waits for
    // the next process, in order. (What a process had read but not handled when it crashed is
    // gone with it: sent right after "crash", these would be in its input buffer.)
    say(&alice, &bot, "crash").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..5 {
        say(&alice, &bot, format!("after {i}")).await;
    }
    for i in 0..5 {
        assert_eq!(expect_text(&alice).await.1, format!("2: after {i}"));
    }

    // Lines that are not the protocol are reported to the process and change nothing else.
    say(&alice, &bot, "garbage").await;
    assert_eq!(expect_text(&alice).await.1, "2: garbage");
    say(&alice, &bot, "still there?").await;
    assert_eq!(expect_text(&alice).await.1, "2: still there?");

    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_python_example_bot_reverses_text() {
    let network = Network::named("reverse");
    let script = repo().join("examples/process/reverse.py");
    let (_dir, path) = config(&format!(
        r#"
[sessions.local.direct]
network = "reverse"
endpoint = "bot"

[bots.reverse]
sessions = ["local"]
process = {{ command = "python3", args = [{script:?}] }}
"#,
        script = script.display().to_string(),
    ));
    let running = Running::start(Runner::new().network(network.clone()), path);
    let alice = Person::join(&network, "alice").await;
    say(&alice, &network.address("bot"), "stressed").await;
    assert_eq!(expect_text(&alice).await.1, "desserts");
    // What a machine sent is not answered: the next answer is to the next person's message.
    let mut away = Signal::message("I am away").to(network.address("bot"));
    away.meta.automatic = Some(chatty::Automatic::Replied);
    alice.send(away).await.unwrap();
    say(&alice, &network.address("bot"), "live").await;
    assert_eq!(expect_text(&alice).await.1, "evil");
    running.stop().await.unwrap();
}

/// Greets with the greeting from its settings.
struct Greeter {
    greeting: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GreeterSettings {
    greeting: String,
}

impl Bot for Greeter {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if let Body::Message(m) = &signal.body {
                let text = format!("{}, {}", self.greeting, m.text);
                handle.send(signal.reply(Message::text(text))).await?;
            }
        }
        Ok(())
    }
}

fn greeter_runner(network: &Network) -> Runner {
    Runner::new()
        .network(network.clone())
        .bot("greeter", |ctx: &BotContext<'_>| {
            let settings: GreeterSettings = ctx.settings()?;
            Ok(Greeter {
                greeting: settings.greeting,
            })
        })
}

#[tokio::test]
async fn a_rust_bot_is_found_by_name_and_gets_its_settings() {
    let network = Network::named("rust");
    let (_dir, path) = config(
        r#"
[sessions.local.direct]
network = "rust"
endpoint = "bot"

[bots.hello]
sessions = ["local"]
rust = "greeter"
settings = { greeting = "Good morning" }
"#,
    );
    let running = Running::start(greeter_runner(&network), path.clone());
    let alice = Person::join(&network, "alice").await;
    say(&alice, &network.address("bot"), "Alice").await;
    assert_eq!(expect_text(&alice).await.1, "Good morning, Alice");
    running.stop().await.unwrap();

    // Settings that do not fit are named by file and key.
    rewrite(&path, "greeting = ", "greting = ");
    let err = run_error(greeter_runner(&network), &path).await;
    assert_eq!(
        err,
        format!(
            "{}: key `bots.hello.settings.greting`: unknown key `greting`, expected one of: greeting",
            path.display()
        )
    );
    // An unregistered name says what the program has.
    let err = run_error(Runner::new().bot("other", |_| Ok(chatty::EchoBot)), &path).await;
    assert!(
        err.ends_with("key `bots.hello.rust`: no Rust bot is registered as `greeter` in this program; it has: other"),
        "{err}"
    );
}

#[tokio::test]
async fn a_relay_and_an_echo_bot_from_one_file() {
    let network = Network::named("two");
    let (_dir, path) = config(
        r#"
[sessions.echo.direct]
network = "two"
endpoint = "echo"

[sessions.relay.direct]
network = "two"
endpoint = "relay"

[bots.echo]
sessions = ["echo"]
echo = {}

[bots.relay]
sessions = ["relay"]
relay = { pairs = [["direct+two:alice", "direct+two:bob"]] }
"#,
    );
    let running = Running::start(Runner::new().network(network.clone()), path);
    let alice = Person::join(&network, "alice").await;
    let bob = Person::join(&network, "bob").await;
    say(&alice, &network.address("echo"), "ping").await;
    assert_eq!(expect_text(&alice).await.1, "ping");
    say(&alice, &network.address("relay"), "hi bob").await;
    assert_eq!(expect_text(&bob).await.1, "alice: hi bob");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_proxy_from_the_config_reaches_a_remote_echo_bot() {
    // The echo bot and the proxy's far side on one network, alice and the proxy's near side on
    // another: alice only ever talks to the proxy.
    let near = Network::named("near");
    let far = Network::named("far");
    let (_dir, path) = config(
        r#"
[sessions.echo.direct]
network = "far"
endpoint = "echo"

[sessions.proxy-near.direct]
network = "near"
endpoint = "proxy"

[sessions.proxy-far.direct]
network = "far"
endpoint = "proxy"

[bots.echo]
sessions = ["echo"]
echo = {}

[bots.proxy]
sessions = ["proxy-near", "proxy-far"]
proxy = { remote = "direct+far:echo" }
"#,
    );
    let running = Running::start(Runner::new().network(near.clone()).network(far), path);
    let alice = Person::join(&near, "alice").await;
    let asked = say(&alice, &near.address("proxy"), "through the proxy").await;
    let (answer, text) = expect_text(&alice).await;
    assert_eq!(text, "through the proxy");
    assert_eq!(answer.meta.response_to, Some(asked));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_the_sessions_and_the_bot_says_goodbye() {
    /// Says goodbye to everyone it talked to when its session is about to end.
    struct Polite;
    impl Bot for Polite {
        async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
            let mut seen = Vec::new();
            while let Some(signal) = inbound.next().await {
                match &signal.body {
                    Body::Message(_) => seen.extend(signal.meta.origin.clone()),
                    Body::SessionAboutToEnd(_) => {
                        for who in &seen {
                            handle.say(who, "goodbye").await?;
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }
    let network = Network::named("bye");
    let (_dir, path) = config(
        r#"
[sessions.local.direct]
network = "bye"
endpoint = "bot"

[bots.polite]
sessions = ["local"]
rust = "polite"
"#,
    );
    let runner = Runner::new()
        .network(network.clone())
        .bot("polite", |_| Ok(Polite));
    let running = Running::start(runner, path);
    let alice = Person::join(&network, "alice").await;
    say(&alice, &network.address("bot"), "hi").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.stop().await.unwrap();
    assert_eq!(expect_text(&alice).await.1, "goodbye");
}

/// Runs `chatty check FILE` and returns (exit code, stdout, stderr).
fn check(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("check")
        .arg(path)
        .env_remove("CHATTY_SESSIONS__CHAT__XMPP__PASSWORD")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const XMPP_ECHO: &str = r#"
[sessions.chat.xmpp]
jid = "bot@example.org"
password = { file = "password" }

[bots.echo]
sessions = ["chat"]
echo = {}
"#;

#[test]
fn chatty_check_accepts_a_good_file_without_connecting() {
    let (dir, path) = config(XMPP_ECHO);
    std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
    let (code, out, err) = check(&path);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, format!("{}: ok (1 session, 1 bot)\n", path.display()));
}

#[test]
fn chatty_check_gives_the_exact_error_of_each_bad_file() {
    let cases = [
        (
            "unknown key",
            XMPP_ECHO.replace(
                "echo = {}",
                "echo = {}\nlogger = { path = \"x.db\", flush = true }",
            ),
            "key `bots.echo.logger.flush`: unknown key `flush`, expected one of: path, url, password, schema, busy_timeout_ms, sync_every_record",
        ),
        (
            "wrong type",
            XMPP_ECHO.replace("sessions = [\"chat\"]", "sessions = \"chat\""),
            "key `bots.echo.sessions`: invalid type: found string \"chat\", expected a sequence",
        ),
        (
            "missing secret file",
            XMPP_ECHO.replace("{ file = \"password\" }", "{ file = \"missing\" }"),
            "key `sessions.chat.xmpp.password`: cannot read the secret file DIR/missing: No such file or directory (os error 2)",
        ),
    ];
    for (what, text, expected) in cases {
        let (dir, path) = config(&text);
        std::fs::write(dir.path().join("password"), "s3cret").unwrap();
        let expected = expected.replace("DIR", &dir.path().display().to_string());
        let (code, out, err) = check(&path);
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert_eq!(err, format!("{}: {expected}\n", path.display()), "{what}");
    }
}

/// A free port on loopback (bound and released: nothing else of this test takes it meanwhile).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn an_operator_takes_over_a_bots_session_in_the_web_window() {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let network = Network::named("takeover");
    let port = free_port();
    let (_dir, path) = config(&format!(
        r#"
[sessions.local.direct]
network = "takeover"
endpoint = "bot"

[bots.operator]
sessions = ["local"]
web = {{ bind = "127.0.0.1:{port}" }}
"#
    ));
    let running = Running::start(Runner::new().network(network.clone()), path);
    let alice = Person::join(&network, "alice").await;
    let bot = network.address("bot");
    // The window listens once the runner has built it.
    let mut socket = None;
    for _ in 0..100 {
        // As the page does: with its own origin (the window refuses a WebSocket without one).
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = format!("ws://127.0.0.1:{port}/ws")
            .into_client_request()
            .unwrap();
        let origin = format!("http://127.0.0.1:{port}").parse().unwrap();
        request.headers_mut().insert("Origin", origin);
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => {
                socket = Some(ws);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let mut socket = socket.expect("the web window listens");
    say(&alice, &bot, "hello, is anyone there?").await;

    // The operator sees alice's message in the window…
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(Ws::Text(text))) = socket.next().await {
            if text.contains("hello, is anyone there?") {
                return;
            }
        }
        panic!("the window's socket closed");
    })
    .await;
    assert!(seen.is_ok(), "the operator never saw alice's message");
    // …and answers her as the bot.
    let open = serde_json::json!({"type": "open", "conversation": alice.address().to_string()});
    socket
        .send(Ws::Text(open.to_string().into()))
        .await
        .unwrap();
    let say = serde_json::json!({"type": "say", "text": "yes, a person: how can I help?"});
    socket.send(Ws::Text(say.to_string().into())).await.unwrap();
    let (answer, text) = expect_text(&alice).await;
    assert_eq!(text, "yes, a person: how can I help?");
    assert_eq!(answer.meta.origin.as_ref(), Some(&bot));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_web_window_open_to_other_machines_needs_a_token() {
    let (_dir, path) = config(
        r#"
[sessions.local.direct]
endpoint = "bot"

[bots.operator]
sessions = ["local"]
web = { bind = "0.0.0.0:8080" }
"#,
    );
    let err = run_error(Runner::new(), &path).await;
    assert_eq!(
        err,
        format!(
            "{}: key `bots.operator.web`: bind: 0.0.0.0:8080 is reachable from other machines: set a token (token = {{ env = \"…\" }})",
            path.display()
        )
    );
}

#[tokio::test]
async fn chatty_check_refuses_every_web_window_that_run_refuses() {
    let window = |settings: &str| {
        format!(
            r#"
[sessions.local.direct]
endpoint = "bot"

[bots.operator]
sessions = ["local"]
web = {{ {settings} }}
"#
        )
    };
    let cases = [
        (
            r#"bind = "0.0.0.0:8080""#,
            "bind: 0.0.0.0:8080 is reachable from other machines: set a token (token = { env = \"…\" })",
        ),
        (
            r#"bind = "127.0.0.1:0", token = { inline = "short" }"#,
            "token: it must have at least 16 characters",
        ),
        (
            r#"bind = "0.0.0.0:0", token = { inline = "0123456789abcdef 0123" }"#,
            "token: only letters, digits and - . _ ~ may be used (it goes in URLs)",
        ),
        (
            r#"bind = "127.0.0.1:0", public_names = ["chat.example.org"]"#,
            "public_names: they make the window reachable from other machines: set a token (token = { env = \"…\" })",
        ),
        (
            r#"bind = "0.0.0.0:0", token = { inline = "0123456789abcdef" }, public_names = ["https://chat.example.org"]"#,
            "public_names: `https://chat.example.org` is not a host name or IP address (give it without scheme, port or path: chat.example.org)",
        ),
        (
            r#"bind = "127.0.0.1:0", talk_to = "no colon here""#,
            "talk_to: `no colon here` is not an address",
        ),
        (
            r#"bind = "localhost:8080""#,
            "bind: `localhost:8080` is not an address like 127.0.0.1:8080",
        ),
    ];
    for (settings, expected) in cases {
        let (_dir, path) = config(&window(settings));
        let prefix = format!("{}: key `bots.operator.web`: {expected}", path.display());
        let (code, out, err) = check(&path);
        assert_eq!(code, 2, "check of {settings}: {out}{err}");
        assert!(err.starts_with(&prefix), "check of {settings}: {err}");
        let run = run_error(Runner::new(), &path).await;
        assert!(run.starts_with(&prefix), "run of {settings}: {run}");
    }
    // And what run accepts, check accepts.
    let (_dir, path) = config(&window(
        r#"bind = "0.0.0.0:0", token = { inline = "0123456789abcdef" }, public_names = ["chat.example.org"]"#,
    ));
    let (code, out, err) = check(&path);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
}

#[test]
fn the_web_token_is_never_printed_or_logged() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    let token = "printed-never-0123456789";
    let port = free_port();
    let (_dir, path) = config(&format!(
        r#"
[sessions.local.direct]
endpoint = "bot"

[bots.operator]
sessions = ["local"]
web = {{ bind = "127.0.0.1:{port}", token = {{ env = "CHATTY_TEST_WEB_TOKEN" }} }}
"#
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(&path)
        .env("CHATTY_TEST_WEB_TOKEN", token)
        .env("RUST_LOG", "trace")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Every line of its standard error (the log and what it prints), read as it comes.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let announced = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no URL printed; so far: {seen:#?}"));
        seen.push(line.clone());
        if line.contains("the web chat window is at") {
            break line;
        }
    };
    assert_eq!(
        announced,
        format!(
            "chatty: the web chat window is at http://127.0.0.1:{port}/: open it with ?token=TOKEN added, the token from env CHATTY_TEST_WEB_TOKEN"
        )
    );
    // The page with the token, and without it.
    for (query, status) in [(format!("/?token={token}"), "200"), ("/".to_owned(), "401")] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET {query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status}")),
            "{response}"
        );
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    seen.extend(lines.try_iter());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "{status:?}: {seen:#?}");
    let all = format!("{stdout}{}", seen.join("\n"));
    assert!(
        all.contains("web chat window") && all.contains("ending every session"),
        "the log was captured: {all}"
    );
    assert!(!all.contains(token), "the token was printed:\n{all}");
}

/// A blocking bot that answers with the capacity of its queue, to show the synchronizer's
/// settings came from the config.
struct Blocking;

impl chatty::sync::SyncBot for Blocking {
    fn run(
        self,
        inbound: chatty::sync::SignalQueue,
        handle: chatty::sync::BlockingHandle,
    ) -> Result<(), BotError> {
        let capacity = inbound.capacity();
        for signal in &inbound {
            if let Body::Message(m) = &signal.body {
                let text = format!("capacity {capacity}: {}", m.text);
                handle.send(signal.reply(Message::text(text)))?;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_bot_runs_behind_the_synchronizer_the_config_sets_up() {
    let network = Network::named("blocking");
    let (_dir, path) = config(
        r#"
[sessions.local.direct]
network = "blocking"
endpoint = "bot"

[bots.blocking]
sessions = ["local"]
rust = "blocking"
synchronizer = { capacity = 4 }
"#,
    );
    let runner = Runner::new()
        .network(network.clone())
        .sync_bot("blocking", |_| Ok(Blocking));
    let running = Running::start(runner, path.clone());
    let alice = Person::join(&network, "alice").await;
    say(&alice, &network.address("bot"), "hi").await;
    assert_eq!(expect_text(&alice).await.1, "capacity 4: hi");
    running.stop().await.unwrap();

    // Synchronizer settings for a bot that is not blocking are an error naming the key.
    rewrite(&path, "rust = \"blocking\"", "echo = {}");
    let err = run_error(Runner::new(), &path).await;
    assert_eq!(
        err,
        format!(
            "{}: key `bots.blocking.synchronizer`: only a bot registered with Runner::sync_bot runs behind a synchronizer",
            path.display()
        )
    );
}

#[tokio::test]
async fn sizes_that_would_exhaust_memory_or_overflow_are_config_errors() {
    let bot = |settings: &str| {
        format!(
            r#"
[sessions.local.direct]
endpoint = "bot"

[bots.b]
sessions = ["local"]
{settings}
"#
        )
    };
    let cases = [
        (
            r#"process = { command = "python3", in_hand = 3000000000000000000 }"#,
            "in_hand must be from 1 to 1000000",
        ),
        (
            r#"process = { command = "python3", in_hand = 0 }"#,
            "in_hand must be from 1 to 1000000",
        ),
        (
            "rust = \"blocking\"\nsynchronizer = { capacity = 9223372036854775807 }",
            "synchronizer: capacity must be from 1 to 1000000",
        ),
        (
            "rust = \"blocking\"\nsynchronizer = { capacity = 0 }",
            "synchronizer: capacity must be from 1 to 1000000",
        ),
        (
            "echo = {}\nlogger = { path = \"l.db\", busy_timeout_ms = 2147483648 }",
            "busy_timeout_ms must be at most 2147483647",
        ),
    ];
    for (settings, expected) in cases {
        let (_dir, path) = config(&bot(settings));
        let runner = Runner::new().sync_bot("blocking", |_| Ok(Blocking));
        let err = runner.check(&path).await.unwrap_err().to_string();
        assert!(err.contains(expected), "check of {settings}: {err}");
        let runner = Runner::new().sync_bot("blocking", |_| Ok(Blocking));
        let run = run_error(runner, &path).await;
        assert!(run.contains(expected), "run of {settings}: {run}");
    }
}
