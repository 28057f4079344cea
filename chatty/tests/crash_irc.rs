//! The `chatty` program killed in the middle of a burst of 1 000 IRC messages: the echo bot with
//! the Logger, on an IRC session in a channel of the test InspIRCd, its journal on by default. A
//! person (a raw IRC client written here, over the plaintext port: no Chatty code in it, in the
//! test's process, not the bot's) says the burst in the channel and keeps saying it while the bot
//! is dead; the bot process is SIGKILLed once some answers arrived and started again a second
//! later with the same config. What was said while it was away comes back from the channel's
//! history (InspIRCd's `chanhistory`, replayed on join; `+H 5000:1d` on the test server). Once
//! every message is answered and nothing more comes, each must have exactly one answer: none
//! lost, none twice.
//!
//! Needs the test InspIRCd (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`).

use std::collections::BTreeMap;
use std::time::Duration;

use chatty_test::servers::irc_server;
use common::crash::Chatty;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

mod common;

/// How many messages the person says.
const MESSAGES: usize = 1000;
/// How many answers must have arrived before the kill.
const KILL_AFTER: usize = 300;
/// How long the bot stays dead.
const DEAD_FOR: Duration = Duration::from_secs(1);
/// The time between two sends of [`PER_TICK`] messages.
const PACE: Duration = Duration::from_millis(5);
/// How many messages go at once.
const PER_TICK: usize = 20;
/// How many messages may wait for their answer while the bot runs (the person keeps pace with
/// the bot until the kill, then says the rest at full pace).
const WINDOW: usize = 200;
/// How long nothing must come, once every message is answered, to count.
const QUIET: Duration = Duration::from_secs(6);
/// The longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_and_repeats_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let id = std::process::id() % 100_000;
    let (channel, bot, person) = (format!("#crash{id}"), format!("cb{id}"), format!("cp{id}"));
    let (mut write, mut heard) = Person::connect(&person).await;
    say(&mut write, &format!("JOIN {channel}")).await;
    // The channel exists (with its history mode) before the bot joins it.
    while heard.recv().await.expect("connected").command != "366" {}

    let mut chatty = Chatty::start(dir.path(), &config(&bot, &channel), "info");
    warm_up(&mut write, &mut heard, &channel, &bot, &mut chatty).await;

    let run = format!("x{id}");
    let text = |i: usize| format!("{run}-{i:04}");
    let number = |body: &str| {
        (body.len() == run.len() + 5 && body.starts_with(&run))
            .then(|| body[run.len() + 1..].parse::<usize>().ok())
            .flatten()
    };
    let mut answers: BTreeMap<usize, usize> = BTreeMap::new();
    let mut sent = 0;
    let started = Instant::now();
    let mut last_answer = Instant::now();
    let mut pace = tokio::time::interval(PACE);
    loop {
        let answered: usize = answers.values().sum();
        tokio::select! {
            _ = pace.tick(), if sent < MESSAGES && (chatty.killed() || sent < answered + WINDOW) => {
                // A few at a time, so that many are on their way when the bot is killed.
                let limit = if chatty.killed() { MESSAGES } else { answered + WINDOW };
                for _ in 0..PER_TICK {
                    if sent >= limit.min(MESSAGES) {
                        break;
                    }
                    say(&mut write, &format!("PRIVMSG {channel} :{}", text(sent))).await;
                    sent += 1;
                }
            }
            line = heard.recv() => {
                let line = line.expect("the person's connection is open");
                if line.command == "PRIVMSG" && line.nick == bot && line.target == channel
                    && let Some(i) = number(&line.text).filter(|i| *i < MESSAGES)
                {
                    *answers.entry(i).or_default() += 1;
                    last_answer = Instant::now();
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let total: usize = answers.values().sum();
        chatty.step(total, sent, KILL_AFTER, DEAD_FOR);
        let done =
            chatty.restarted() && answers.len() >= MESSAGES && last_answer.elapsed() >= QUIET;
        if done || started.elapsed() > DEADLINE {
            break;
        }
    }
    chatty.stop();

    chatty.assert_burst(MESSAGES, sent, DEAD_FOR, &answers);
}

/// The config file of the echo bot as `nick` in `channel` (no pacing: the test server has no
/// flood limits on loopback).
fn config(nick: &str, channel: &str) -> String {
    let server = irc_server();
    format!(
        r#"
[sessions.chat]
answer_limit = false

[sessions.chat.irc]
server = "{host}"
port = {port}
tls = "plaintext"
nick = "{nick}"
channels = [{{ name = "{channel}" }}]
pace_interval_ms = 0
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000

[bots.echo]
sessions = ["chat"]
echo = {{}}
logger = {{}}
"#,
        host = server.host,
        port = server.port
    )
}

/// Says `warm-up-N` in the channel every second until the bot answers one (it may still be
/// connecting: what was said before it first joined is not given to it).
async fn warm_up(
    write: &mut Out,
    heard: &mut mpsc::UnboundedReceiver<Heard>,
    channel: &str,
    bot: &str,
    chatty: &mut Chatty,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        assert!(
            Instant::now() < deadline,
            "no answer to the warm-up within a minute:\n{}",
            chatty.tail()
        );
        chatty.check();
        say(write, &format!("PRIVMSG {channel} :warm-up-{n}")).await;
        let wait = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                line = heard.recv() => {
                    let line = line.expect("the person's connection is open");
                    if line.nick == bot && line.text.starts_with("warm-up-") {
                        return;
                    }
                }
            }
        }
    }
}

/// A line the person heard, as far as the test needs it.
#[derive(Debug)]
struct Heard {
    nick: String,
    command: String,
    target: String,
    text: String,
}

impl Heard {
    /// `:nick!user@host COMMAND target :text` (tags and anything else left out).
    fn parse(line: &str) -> Heard {
        let line = match line.strip_prefix('@') {
            Some(tagged) => tagged.split_once(' ').map_or("", |(_, rest)| rest),
            None => line,
        };
        let (source, rest) = match line.strip_prefix(':') {
            Some(sourced) => sourced.split_once(' ').unwrap_or((sourced, "")),
            None => ("", line),
        };
        let nick = source.split('!').next().unwrap_or_default().to_owned();
        let (head, text) = rest.split_once(" :").unwrap_or((rest, ""));
        let mut words = head.split(' ');
        let command = words.next().unwrap_or_default().to_owned();
        let target = words.next().unwrap_or_default().to_owned();
        Heard {
            nick,
            command,
            target,
            text: text.to_owned(),
        }
    }
}

/// The person's connection: a task writing the lines the test (and PONGs) hand it, and a task
/// reading, answering PINGs.
struct Person;

impl Person {
    /// Connects and registers as `nick`: where the lines to send go, and what is heard.
    async fn connect(nick: &str) -> (Out, mpsc::UnboundedReceiver<Heard>) {
        let server = irc_server();
        let socket = TcpStream::connect((server.host.as_str(), server.port))
            .await
            .expect("the test IRC server");
        let (read, mut write) = socket.into_split();
        let (out, mut lines_out) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(line) = lines_out.recv().await {
                if write
                    .write_all(format!("{line}\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let pong = out.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(token) = line.strip_prefix("PING ") {
                    let _ = pong.send(format!("PONG {token}"));
                    continue;
                }
                if tx.send(Heard::parse(&line)).is_err() {
                    break;
                }
            }
        });
        let mut out = Out(out);
        say(&mut out, &format!("NICK {nick}")).await;
        say(&mut out, &format!("USER {nick} 0 * :the person")).await;
        while rx.recv().await.expect("connected").command != "001" {}
        (out, rx)
    }
}

/// Where the person's lines go (to its writing task).
struct Out(mpsc::UnboundedSender<String>);

/// Sends one line (CRLF added).
async fn say(out: &mut Out, line: &str) {
    out.0
        .send(line.to_owned())
        .expect("the person's connection is open");
}

#[test]
fn heard_lines_are_read() {
    let line = Heard::parse("@time=x;msgid=y :cb1!cb1@127.0.0.1 PRIVMSG #crash1 :x1-0001");
    assert_eq!(
        (
            line.nick.as_str(),
            line.command.as_str(),
            line.target.as_str(),
            line.text.as_str()
        ),
        ("cb1", "PRIVMSG", "#crash1", "x1-0001")
    );
    assert_eq!(Heard::parse(":srv 001 cp1 :Welcome").command, "001");
}
