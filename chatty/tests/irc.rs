//! The runner against the test InspIRCd: the `chatty` program running the built-in echo bot on
//! an `[sessions.NAME.irc]` table (SASL PLAIN with its password from an environment variable),
//! answering a person (a raw IRC client in the test) in a channel and in private, and ending
//! in order on SIGTERM; `chatty check` reading the same file's secrets.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chatty::irc::proto::Line;
use chatty_test::servers::{irc_account, irc_server};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::Command;
use tokio::time::timeout;

/// How long the test waits for one thing.
const WAIT: Duration = Duration::from_secs(20);

/// The variable the config names for the SASL password.
const PASSWORD_VAR: &str = "CHATTY_IRC_TEST_SASL_PASSWORD";

/// A name no other running test uses (the process id and a counter), lower case.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id())
}

/// A person's raw IRC client, in plain text, without IRCv3 capabilities.
struct Raw {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Raw {
    /// Connects to the test server and registers as `nick`.
    async fn connect(nick: &str) -> Raw {
        let server = irc_server();
        let socket = TcpStream::connect((server.host.as_str(), server.port))
            .await
            .expect("the test IRC server");
        let (read, write) = socket.into_split();
        let mut raw = Raw {
            read: BufReader::new(read),
            write,
        };
        raw.say(&format!("NICK {nick}")).await;
        raw.say(&format!("USER {nick} 0 * :raw client")).await;
        raw.until(|l| l.command == "001").await;
        raw
    }

    /// Sends one line (CRLF added).
    async fn say(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("writing");
    }

    /// The next line `want` accepts; PINGs are answered on the way.
    async fn until(&mut self, mut want: impl FnMut(&Line) -> bool) -> Line {
        timeout(WAIT, async {
            loop {
                let mut bytes = Vec::new();
                let n = self
                    .read
                    .read_until(b'\n', &mut bytes)
                    .await
                    .expect("reading");
                assert!(n > 0, "the server closed the connection");
                let text = String::from_utf8_lossy(&bytes);
                let Ok(line) = text.trim_end_matches(['\r', '\n']).parse::<Line>() else {
                    continue;
                };
                if line.command == "PING" {
                    let token = line.params.last().cloned().unwrap_or_default();
                    self.say(&format!("PONG :{token}")).await;
                    continue;
                }
                if want(&line) {
                    return line;
                }
            }
        })
        .await
        .expect("a line in time")
    }

    /// The next `PRIVMSG` from `nick`: its target and text.
    async fn privmsg_from(&mut self, nick: &str) -> (String, String) {
        let line = self
            .until(|l| l.command == "PRIVMSG" && l.nick() == Some(nick))
            .await;
        (
            line.param(0).unwrap_or_default().to_owned(),
            line.param(1).unwrap_or_default().to_owned(),
        )
    }
}

/// The config file: the echo bot on an IRC session keyed `chat`, in `channel`, its SASL
/// password from [`PASSWORD_VAR`].
fn write_config(dir: &Path, nick: &str, account: &str, channel: &str) -> std::path::PathBuf {
    let server = irc_server();
    let path = dir.join("echo.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[sessions.chat.irc]
server = "{host}"
port = {port}
tls = "plaintext"
nick = "{nick}"
sasl = {{ account = "{account}", password = {{ env = "{PASSWORD_VAR}" }} }}
channels = [{{ name = "{channel}" }}]
pace_interval_ms = 0
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000

[bots.echo]
echo = {{}}
sessions = ["chat"]
"#,
            host = server.host,
            port = server.port,
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_in_a_channel_and_in_private_and_ends_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (bot, person, channel) = (unique("echo"), unique("pers"), unique("#runner"));
    let (account, password) = irc_account();
    let path = write_config(dir.path(), &bot, &account, &channel);

    // `chatty check` reads the secrets: without the variable it names the key.
    let check = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("check")
        .arg(&path)
        .env_remove(PASSWORD_VAR)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{said}");
    assert!(said.contains("sessions.chat.irc.sasl.password"), "{said}");
    assert!(said.contains(PASSWORD_VAR), "{said}");
    let check = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("check")
        .arg(&path)
        .env(PASSWORD_VAR, &password)
        .output()
        .await
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // The person waits in the channel for the bot.
    let mut raw = Raw::connect(&person).await;
    raw.say(&format!("JOIN {channel}")).await;
    raw.until(|l| l.command == "366").await;
    let mut chatty = Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(&path)
        .env(PASSWORD_VAR, &password)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let joined = raw
        .until(|l| l.command == "JOIN" && l.nick() == Some(bot.as_str()))
        .await;
    assert_eq!(joined.param(0), Some(channel.as_str()));
    // Logged in with SASL, with the password from the environment: WHOIS shows the account
    // (330) before its end (318).
    raw.say(&format!("WHOIS {bot}")).await;
    let whois = raw
        .until(|l| l.command == "330" || l.command == "318")
        .await;
    assert_eq!(whois.command, "330", "logged in: {whois:?}");
    assert_eq!(whois.param(2), Some(account.as_str()), "{whois:?}");

    raw.say(&format!("PRIVMSG {channel} :hello channel")).await;
    assert_eq!(
        raw.privmsg_from(&bot).await,
        (channel.clone(), "hello channel".to_owned()),
        "echoed in the channel"
    );
    raw.say(&format!("PRIVMSG {bot} :hello bot")).await;
    assert_eq!(
        raw.privmsg_from(&bot).await,
        (person.clone(), "hello bot".to_owned()),
        "echoed in private"
    );

    // SIGTERM: the session ends in order (the bot quits) and the program exits cleanly.
    let pid = chatty.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    raw.until(|l| l.command == "QUIT" && l.nick() == Some(bot.as_str()))
        .await;
    let status = timeout(Duration::from_secs(30), chatty.wait())
        .await
        .expect("chatty ends within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    raw.say("QUIT :done").await;
}
