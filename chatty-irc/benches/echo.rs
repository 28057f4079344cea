//! Echo round trips through the test InspIRCd: a Chatty bot (an `IrcSession` behind a `Router`)
//! against a bare echo written directly on tokio and `tokio_util::codec::LinesCodec` (what a
//! hand-written client does with no framework), in the same run, driven by one raw client with a
//! window of private messages in flight.
//!
//! chatty-irc is its own IRC client (no third-party IRC client library underneath), so the bare
//! baseline is the same protocol with no framework: read a line, and if it is a PRIVMSG, answer
//! the sender with a PRIVMSG.
//!
//! ```sh
//! scripts/test-servers &                      # InspIRCd on loopback (plain port 16667)
//! eval "$(scripts/test-servers env)"
//! cargo bench -p chatty-irc --bench echo      # CHATTY_BENCH_N=2000 CHATTY_BENCH_WINDOW=32 CHATTY_BENCH_RUNS=3
//! ```
//!
//! `CHATTY_BENCH_ONLY=chatty|journal|logger` runs that Chatty bot alone, without the bare echoes
//! (for a profiler).
//!
//! Prints round trips per second for each and the ratios. The process's CPU time per round trip
//! (its threads' schedstat, `chatty_test::load::threads_cpu_time`) is printed too: the driver is
//! the same for every echoing side, so the differences are the echoing side's (InspIRCd runs in
//! its own process, on the same 2 cores).
//!
//! The echoing sides:
//! - **bare**: registers without IRCv3 capabilities and answers `PRIVMSG nick :text`;
//! - **same wire**: a bare echo that does on the wire what the session does: it asks for the
//!   capabilities the session asks for (message-tags, server-time, echo-message, batch,
//!   labeled-response), labels each answer (`@label=cN`), and reads the server's echo of it;
//! - **chatty**: an `IrcSession` (no pacing) behind a `Router` with an echo bot; also with the
//!   journal (SQLite, in a temporary directory), and with the journal and the Logger on one
//!   database, as the runner runs it with a `logger`.

use std::time::{Duration, Instant};

use chatty_core::reexports::futures::{SinkExt, StreamExt as _};
use chatty_irc::proto::WANTED_CAPS;
use chatty_irc::{IrcConfig, IrcSession, TlsMode};
use chatty_test::load::{
    Durable, EchoUntil, Measured, bench_only, echo_router, ended, env_or, print_ratios,
    print_writer, threads_cpu_time,
};
use chatty_test::servers::irc_server;
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LinesCodec};

/// What the driver sends when it is done: the echoing side ends its session (`QUIT`).
const QUIT: &str = "/quit";

/// A raw IRC connection: lines over TCP (`LinesCodec` strips the `\r`; lines sent end in
/// `\r` so that they go out with CRLF).
type Lines = Framed<TcpStream, LinesCodec>;

/// The parts of an IRC line the echoes need: the source's nick, the command, the first
/// parameter and the trailing one (no full parser: a hand-written client does this much).
struct Parsed<'a> {
    nick: Option<&'a str>,
    command: &'a str,
    target: &'a str,
    trailing: &'a str,
}

fn parse(line: &str) -> Parsed<'_> {
    let mut rest = line;
    if rest.starts_with('@') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r);
    }
    let mut nick = None;
    if let Some(source) = rest.strip_prefix(':') {
        let (source, r) = source.split_once(' ').unwrap_or((source, ""));
        nick = Some(source.split('!').next().unwrap_or(source));
        rest = r;
    }
    let (command, params) = rest.split_once(' ').unwrap_or((rest, ""));
    let (middle, trailing) = params.split_once(" :").unwrap_or((params, ""));
    let trailing = trailing_or(params, trailing);
    let target = middle.split(' ').next().unwrap_or("");
    Parsed {
        nick,
        command,
        target,
        trailing,
    }
}

/// The trailing parameter, also when it is the whole parameter list (`PING :token`).
fn trailing_or<'a>(params: &'a str, trailing: &'a str) -> &'a str {
    if trailing.is_empty() {
        params.strip_prefix(':').unwrap_or(trailing)
    } else {
        trailing
    }
}

/// Sends one line (CRLF added) and flushes.
async fn say(lines: &mut Lines, line: &str) {
    lines.send(format!("{line}\r")).await.expect("writing");
}

/// Connects as `nick` (Nagle off, as the session sets it), asking for `caps` if any, and waits
/// for the welcome.
async fn connect(nick: &str, caps: &[&str]) -> Lines {
    let server = irc_server();
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .expect("the test InspIRCd");
    tcp.set_nodelay(true).unwrap();
    let mut lines = Framed::new(tcp, LinesCodec::new());
    if !caps.is_empty() {
        say(&mut lines, &format!("CAP REQ :{}", caps.join(" "))).await;
    }
    say(&mut lines, &format!("NICK {nick}")).await;
    say(&mut lines, &format!("USER {nick} 0 * :bench")).await;
    loop {
        let line = lines.next().await.expect("connected").expect("a line");
        let p = parse(&line);
        match p.command {
            "PING" => say(&mut lines, &format!("PONG :{}", p.trailing)).await,
            "CAP" => say(&mut lines, "CAP END").await,
            "001" => return lines,
            "433" | "432" | "ERROR" => panic!("registering as {nick}: {line}"),
            _ => {}
        }
    }
}

/// A nick no other run uses.
fn nick(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id())
}

/// The bare echo: answers every PRIVMSG to it with its text, until [`QUIT`]. With `labels`,
/// each answer carries a `label` tag as the session's do (and the server's echo of it, with
/// echo-message, is read and skipped, as the session does).
async fn bare_echo(mut lines: Lines, own: String, labels: bool) {
    let mut label = 0u64;
    while let Some(Ok(line)) = lines.next().await {
        let p = parse(&line);
        match p.command {
            "PING" => say(&mut lines, &format!("PONG :{}", p.trailing)).await,
            "PRIVMSG" if p.target == own => {
                let Some(from) = p.nick.filter(|n| *n != own) else {
                    continue;
                };
                if p.trailing == QUIT {
                    say(&mut lines, "QUIT :done").await;
                    break;
                }
                let answer = if labels {
                    label += 1;
                    format!("@label=c{label} PRIVMSG {from} :{}", p.trailing)
                } else {
                    format!("PRIVMSG {from} :{}", p.trailing)
                };
                say(&mut lines, &answer).await;
            }
            _ => {}
        }
    }
}

/// Sends `n` private messages to `to` with `window` in flight, and returns the seconds until
/// every echo came back.
async fn drive(driver: &mut Lines, to: &str, n: usize, window: usize) -> f64 {
    // Warm up: one round trip (the echoing side may still be registering: InspIRCd registers a
    // client in its once-a-second loop, and a message to a nick not there yet is a 401).
    loop {
        say(driver, &format!("PRIVMSG {to} :warm")).await;
        let answered = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(line)) = driver.next().await {
                let p = parse(&line);
                if p.command == "PING" {
                    say(driver, &format!("PONG :{}", p.trailing)).await;
                } else if p.command == "PRIVMSG" && p.nick == Some(to) && p.trailing == "warm" {
                    return;
                }
            }
        })
        .await;
        if answered.is_ok() {
            break;
        }
    }
    let start = Instant::now();
    let (mut sent, mut received) = (0, 0);
    while received < n {
        if sent < n && sent - received < window {
            while sent < n && sent - received < window {
                driver
                    .feed(format!("PRIVMSG {to} :m{sent}\r"))
                    .await
                    .expect("writing");
                sent += 1;
            }
            SinkExt::<String>::flush(driver).await.expect("writing");
        }
        let line = match tokio::time::timeout(Duration::from_secs(10), driver.next()).await {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(e))) => panic!("the driver's connection: {e}"),
            Ok(None) => panic!("the server closed the driver's connection"),
            Err(_) => panic!("no echo from {to} for 10 s after {received} of {n} ({sent} sent)"),
        };
        let p = parse(&line);
        match p.command {
            "PING" => say(driver, &format!("PONG :{}", p.trailing)).await,
            "PRIVMSG" if p.nick == Some(to) && p.trailing.starts_with('m') => received += 1,
            "401" | "404" | "ERROR" => panic!("after {received} of {n}: {line}"),
            _ => {}
        }
    }
    start.elapsed().as_secs_f64()
}

/// Drives `n` round trips to `to` from a fresh driver (Nagle off, no capabilities).
async fn measure(to: &str, n: usize, window: usize) -> Measured {
    let mut driver = connect(&nick("d"), &[]).await;
    let measured = Measured::run(n, threads_cpu_time, drive(&mut driver, to, n, window)).await;
    say(&mut driver, &format!("PRIVMSG {to} :{QUIT}")).await;
    say(&mut driver, "QUIT :done").await;
    measured
}

/// A bare echo; with `same_wire`, with the session's capabilities and labels.
async fn bare(same_wire: bool, n: usize, window: usize) -> Measured {
    let own = nick("e");
    let caps: Vec<&str> = if same_wire {
        WANTED_CAPS.to_vec()
    } else {
        Vec::new()
    };
    let lines = connect(&own, &caps).await;
    let task = tokio::spawn(bare_echo(lines, own.clone(), same_wire));
    let measured = measure(&own, n, window).await;
    ended(task).await;
    measured
}

/// A Chatty bot echoing: an `IrcSession` (plain text, no pacing) behind a `Router`, with what
/// `durable` says.
async fn chatty(n: usize, window: usize, durable: Durable) -> Measured {
    let server = irc_server();
    let own = nick("c");
    let config = IrcConfig::new(&server.host, &own)
        .with_tls(TlsMode::Plaintext)
        .with_port(server.port)
        .with_pacing(1, Duration::ZERO);
    let mut router = echo_router(IrcSession::new(config).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut bot = chatty_core::BoxBot::new(EchoUntil(QUIT));
    let mut stats = None;
    if durable != Durable::Nothing {
        let state = chatty_log::StateConfig::new(dir.path().join("state.sqlite"));
        let db = chatty_log::StateDb::open(&state).await.unwrap();
        stats = Some(db.clone());
        router = router.journal(db.journal("bench").await.unwrap());
        if durable == Durable::JournalAndLogger {
            let store = db.log_store().with_queued_records(true);
            bot = chatty_core::BoxBot::new(chatty_core::LayerExt::wrap(
                EchoUntil(QUIT),
                chatty_log::LoggerLayer::new(store),
            ));
        }
    }
    let task = tokio::spawn(async move {
        let _ = router.run(bot).await;
        drop(dir);
    });
    let measured = measure(&own, n, window).await;
    ended(task).await;
    if let Some(db) = stats {
        let stats = db.stats();
        print_writer(stats.commits, stats.writes);
    }
    measured
}

#[tokio::main]
async fn main() {
    let n = env_or("CHATTY_BENCH_N", 2_000);
    let window = env_or("CHATTY_BENCH_WINDOW", 32);
    let runs = env_or("CHATTY_BENCH_RUNS", 3);
    if let Some((only, durable)) = bench_only(&[], |durable| durable) {
        for run in 1..=runs {
            let m = chatty(n, window, durable).await;
            println!("run {run}: {only} {}", m.show(0, 4));
        }
        return;
    }
    println!("echo round trips through InspIRCd: {n} per run, {window} in flight, {runs} runs");
    println!("(rt/s, and the whole process's CPU time per round trip)");
    for run in 1..=runs {
        let plain = bare(false, n, window).await;
        let wire = bare(true, n, window).await;
        let chatty_bare = chatty(n, window, Durable::Nothing).await;
        let journal = chatty(n, window, Durable::Journal).await;
        let logged = chatty(n, window, Durable::JournalAndLogger).await;
        let show = |m: &Measured| m.show(0, 4);
        println!(
            "run {run}: bare {}  bare, same wire {}",
            show(&plain),
            show(&wire)
        );
        println!(
            "       chatty {}  chatty+journal {}  chatty+journal+logger {}",
            show(&chatty_bare),
            show(&journal),
            show(&logged),
        );
        print_ratios(&[
            ("chatty/(same wire)", &chatty_bare, &wire),
            ("chatty/bare", &chatty_bare, &plain),
            ("+journal", &journal, &wire),
            ("+journal+logger", &logged, &wire),
        ]);
    }
}
