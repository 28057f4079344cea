//! Echo round trips through the test Prosody: a Chatty bot (an `XmppSession` behind a `Router`)
//! against a bare tokio-xmpp client doing the same echo, in the same run, driven by the same bare
//! tokio-xmpp client with a window of messages in flight.
//!
//! ```sh
//! scripts/test-servers &                      # Prosody on loopback
//! eval "$(scripts/test-servers env)"
//! cargo bench -p chatty-xmpp --bench echo     # CHATTY_BENCH_N=2000 CHATTY_BENCH_WINDOW=32 CHATTY_BENCH_RUNS=3
//! ```
//!
//! `CHATTY_BENCH_ONLY=chatty|journal|logger` runs that Chatty bot alone, without the bare echoes
//! (for a profiler).
//!
//! Prints round trips per second for each and the ratio. The process's CPU time per round trip is
//! printed too: the driver is the same in both, so the difference is the echoing side's.
//!
//! The Chatty bot runs three ways: bare (no journal), with the journal (SQLite, in a temporary
//! directory), and with the journal and the Logger on one database (the Logger's records queued
//! behind the journal's writes), as the runner runs it by default with a `logger`.

use std::time::{Duration, Instant};

use chatty_test::load::{
    Durable, EchoUntil, Measured, bench_only, cpu_time, echo_router, ended, env_or, print_ratios,
    print_writer,
};
use chatty_test::servers::{xmpp_account, xmpp_server};
use chatty_test::xmpp::{Nagle, PlainClient};
use chatty_xmpp::{Secret, TlsMode, XmppConfig, XmppSession};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::parsers::message::{Lang, Message as XmppMessage, MessageType};

/// What the driver sends when it is done: the echoing side ends its session cleanly (a session
/// that only disappears stays in the server's Stream Management hibernation for minutes, still
/// counted as online, and its queued copies of later messages bounce when it expires).
const QUIT: &str = "/quit";

/// A bare echo: answers every chat message with its body, until [`QUIT`]. With `rich`, the
/// answer is what a Chatty session sends (to the bare JID, with a receipt request, an origin-id
/// and a reply reference): the same work for the server, without Chatty's code.
async fn bare_echo(mut client: PlainClient, rich: bool) {
    let mut count = 0u64;
    while let Some(stanza) = client.next().await {
        if let Stanza::Message(m) = stanza
            && m.type_ == MessageType::Chat
            && let (Some(from), Some((_, body))) = (m.from.clone(), m.get_best_body(vec![]))
        {
            if body == QUIT {
                break;
            }
            // Chatty's answer goes to the bare JID (the person, not one of their clients) and
            // refers to the message it answers, whose id Chatty makes up when it has none.
            let to: Jid = if rich {
                from.to_bare().into()
            } else {
                from.clone()
            };
            let mut answer = XmppMessage::chat(Some(to)).with_body(Lang::new(), body.clone());
            if rich {
                count += 1;
                let id = format!("{count:016x}-{count:016x}");
                let answered =
                    m.id.as_ref()
                        .map_or_else(|| format!("{:016x}-in", count), |i| i.0.clone());
                let attr = |name: &str| NcName::try_from(name).unwrap();
                answer.id = Some(tokio_xmpp::parsers::message::Id(id.clone()));
                answer
                    .payloads
                    .push(Element::builder("request", "urn:xmpp:receipts").build());
                answer.payloads.push(
                    Element::builder("origin-id", "urn:xmpp:sid:0")
                        .attr(attr("id"), id)
                        .build(),
                );
                answer.payloads.push(
                    Element::builder("reply", "urn:xmpp:reply:0")
                        .attr(attr("to"), from.to_bare().to_string())
                        .attr(attr("id"), answered)
                        .build(),
                );
            }
            client.send(answer).await;
        }
    }
    client.close().await;
}

/// Sends `n` messages to `to` with `window` in flight, and returns the seconds until every echo
/// came back.
async fn drive(driver: &mut PlainClient, to: &Jid, n: usize, window: usize) -> f64 {
    let to_s = to.to_string();
    // Warm up: one round trip (the echo side may still be logging in).
    loop {
        let ping = XmppMessage::chat(Some(to.clone())).with_body(Lang::new(), "warm".into());
        driver.send(ping).await;
        let answered = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(stanza) = driver.next().await {
                if let Stanza::Message(m) = stanza
                    && m.get_best_body(vec![]).is_some()
                {
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
        while sent < n && sent - received < window {
            let m = XmppMessage::chat(Some(to.clone())).with_body(Lang::new(), format!("m{sent}"));
            driver.send(m).await;
            sent += 1;
        }
        match tokio::time::timeout(Duration::from_secs(10), driver.next()).await {
            Ok(Some(Stanza::Message(m))) if m.get_best_body(vec![]).is_some() => {
                received += 1;
            }
            Ok(Some(Stanza::Message(m))) if m.type_ == MessageType::Error => {
                panic!("an echo from {to_s} failed after {received} of {n}: {m:?}");
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the driver's stream ended"),
            Err(_) => panic!("no echo from {to_s} for 10 s after {received} of {n} ({sent} sent)"),
        }
    }
    start.elapsed().as_secs_f64()
}

/// Drives `n` round trips to `to` from a fresh driver (Nagle off, so that the driver adds no
/// delay of its own).
async fn measure(to: &Jid, n: usize, window: usize) -> Measured {
    let (jid, password) = xmpp_account();
    let mut driver = PlainClient::connect_with(&jid, &password, Nagle::Off).await;
    let measured = Measured::run(n, cpu_time, drive(&mut driver, to, n, window)).await;
    let quit = XmppMessage::chat(Some(to.clone())).with_body(Lang::new(), QUIT.into());
    driver.send(quit).await;
    driver.close().await;
    measured
}

/// A bare tokio-xmpp client echoing, with Nagle's algorithm `nagle` (and Chatty's stanza with
/// `rich`).
async fn bare(nagle: Nagle, rich: bool, n: usize, window: usize) -> Measured {
    let (jid, password) = xmpp_account();
    let echo = PlainClient::connect_with(&jid, &password, nagle).await;
    let echo_jid = echo.jid().to_bare().into();
    println!("  bare echo ({nagle:?}): {echo_jid}");
    let task = tokio::spawn(bare_echo(echo, rich));
    let measured = measure(&echo_jid, n, window).await;
    ended(task).await;
    measured
}

/// What a Chatty echo bot runs with: what [`Durable`] says, or the journal in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Journal {
    /// Nothing, the journal, or the journal and the Logger (SQLite).
    Durable(Durable),
    /// The journal in memory (`MemoryJournal`): the journal's path without the storage.
    Memory,
}

/// A Chatty bot echoing: an `XmppSession` behind a `Router`, with what `journal` says.
async fn chatty(n: usize, window: usize, journal: Journal) -> Measured {
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let config = XmppConfig::new(&jid, Secret::inline(password))
        .with_server(server.host, server.port)
        .with_tls(TlsMode::Starttls);
    let mut router = echo_router(XmppSession::new(config).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut bot = chatty_core::BoxBot::new(EchoUntil(QUIT));
    let mut stats = None;
    if journal == Journal::Memory {
        router = router.journal(chatty_core::journal::MemoryJournal::new());
    } else if let Journal::Durable(durable) = journal
        && durable != Durable::Nothing
    {
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
    println!("  chatty echo: {jid}");
    let measured = measure(&Jid::new(&jid).unwrap(), n, window).await;
    ended(task).await;
    if let Some(db) = stats {
        let stats = db.stats();
        print_writer(stats.commits, stats.writes);
    }
    measured
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n = env_or("CHATTY_BENCH_N", 2_000);
    let window = env_or("CHATTY_BENCH_WINDOW", 32);
    let runs = env_or("CHATTY_BENCH_RUNS", 3);
    // One Chatty run alone, for profiling: `memory`, `chatty`, `journal` or `logger`.
    if let Some((only, journal)) = bench_only(&[("memory", Journal::Memory)], Journal::Durable) {
        for run in 1..=runs {
            let m = chatty(n, window, journal).await;
            println!("run {run}: {only} {}", m.show(0, 3));
        }
        return;
    }
    println!("echo round trips through Prosody: {n} per run, {window} in flight, {runs} runs");
    println!("(rt/s, and the whole process's CPU time per round trip)");
    for run in 1..=runs {
        let default = bare(Nagle::On, false, n, window).await;
        let nodelay = bare(Nagle::Off, false, n, window).await;
        let rich = bare(Nagle::Off, true, n, window).await;
        let chatty_bare = chatty(n, window, Journal::Durable(Durable::Nothing)).await;
        let journal = chatty(n, window, Journal::Durable(Durable::Journal)).await;
        let logged = chatty(n, window, Journal::Durable(Durable::JournalAndLogger)).await;
        let show = |m: &Measured| m.show(0, 3);
        println!(
            "run {run}: bare {}  bare+nodelay {}  bare+nodelay, Chatty's stanza {}",
            show(&default),
            show(&nodelay),
            show(&rich),
        );
        println!(
            "       chatty {}  chatty+journal {}  chatty+journal+logger {}",
            show(&chatty_bare),
            show(&journal),
            show(&logged),
        );
        print_ratios(&[
            ("chatty/(same stanza)", &chatty_bare, &rich),
            ("+journal", &journal, &rich),
            ("+journal+logger", &logged, &rich),
        ]);
    }
}
