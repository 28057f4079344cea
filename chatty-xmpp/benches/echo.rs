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
//! Prints round trips per second for each and the ratio. The process's CPU time per round trip is
//! printed too: the driver is the same in both, so the difference is the echoing side's.

use std::time::{Duration, Instant};

use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{Body, Bot, BotError, Handle, Inbound, Message, Router};
use chatty_test::load::env_or;
use chatty_test::servers::{xmpp_account, xmpp_server};
use chatty_xmpp::{Secret, TlsMode, XmppConfig, XmppSession};
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message as XmppMessage, MessageType};
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Event, Stanza};

/// Answers every message with its text.
struct Echo;

impl Bot for Echo {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if let Body::Message(m) = &signal.body {
                handle
                    .send(signal.reply(Message::text(m.text.clone())))
                    .await?;
            }
        }
        Ok(())
    }
}

/// A bare client for a pool account, online with its presence sent.
async fn bare_client() -> (Client, Jid) {
    let server = xmpp_server();
    let (jid, password) = xmpp_account();
    let jid = Jid::new(&jid).unwrap();
    let mut client = Client::new_starttls(
        jid.clone(),
        password,
        DnsConfig::no_srv(&server.host, server.port),
        Timeouts::tight(),
    );
    while let Some(event) = client.next().await {
        if let Event::Online { .. } = event {
            break;
        }
    }
    client
        .send_stanza(Presence::available().into())
        .await
        .unwrap();
    (client, jid)
}

/// A bare echo: answers every chat message with its body, until the stream ends.
async fn bare_echo(mut client: Client) {
    while let Some(event) = client.next().await {
        if let Event::Stanza(Stanza::Message(m)) = event
            && m.type_ == MessageType::Chat
            && let (Some(from), Some((_, body))) = (m.from.clone(), m.get_best_body(vec![]))
        {
            let answer = XmppMessage::chat(Some(from)).with_body(Lang::new(), body.clone());
            if client.send_stanza(answer.into()).await.is_err() {
                return;
            }
        }
    }
}

/// Sends `n` messages to `to` with `window` in flight, and returns the seconds until every echo
/// came back.
async fn drive(driver: &mut Client, to: &Jid, n: usize, window: usize) -> f64 {
    // Warm up: one round trip (the echo side may still be logging in).
    loop {
        let ping = XmppMessage::chat(Some(to.clone())).with_body(Lang::new(), "warm".into());
        driver.send_stanza(ping.into()).await.unwrap();
        let answered = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(event) = driver.next().await {
                if let Event::Stanza(Stanza::Message(m)) = event
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
            driver.send_stanza(m.into()).await.unwrap();
            sent += 1;
        }
        match tokio::time::timeout(Duration::from_secs(10), driver.next()).await {
            Ok(Some(Event::Stanza(Stanza::Message(m)))) if m.get_best_body(vec![]).is_some() => {
                received += 1;
            }
            Ok(Some(Event::Stanza(Stanza::Message(m)))) if m.type_ == MessageType::Error => {
                panic!("an echo failed after {received} of {n}: {m:?}");
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the driver's stream ended"),
            Err(_) => panic!("no echo for 10 s after {received} of {n} ({sent} sent)"),
        }
    }
    start.elapsed().as_secs_f64()
}

/// The process's CPU time (user + system), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the command's name.
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n = env_or("CHATTY_BENCH_N", 2_000);
    let window = env_or("CHATTY_BENCH_WINDOW", 32);
    let runs = env_or("CHATTY_BENCH_RUNS", 3);
    println!("echo round trips through Prosody: {n} per run, {window} in flight, {runs} runs");
    for run in 1..=runs {
        // Bare: a tokio-xmpp client echoing.
        let (echo, echo_jid) = bare_client().await;
        let bare_task = tokio::spawn(bare_echo(echo));
        let (mut driver, _) = bare_client().await;
        let cpu = cpu_seconds();
        let bare = drive(&mut driver, &echo_jid, n, window).await;
        let bare_cpu = cpu_seconds() - cpu;
        bare_task.abort();
        drop(driver);

        // Chatty: an XmppSession behind a Router, with an echo bot.
        let server = xmpp_server();
        let (jid, password) = xmpp_account();
        let config = XmppConfig::new(&jid, Secret::inline(password))
            .with_server(server.host, server.port)
            .with_tls(TlsMode::Starttls);
        let router = Router::new().session(XmppSession::new(config).unwrap());
        let chatty_task = tokio::spawn(async move {
            let _ = router.run(Echo).await;
        });
        let (mut driver, _) = bare_client().await;
        let cpu = cpu_seconds();
        let chatty = drive(&mut driver, &Jid::new(&jid).unwrap(), n, window).await;
        let chatty_cpu = cpu_seconds() - cpu;
        chatty_task.abort();

        let rate = |secs: f64| n as f64 / secs;
        println!(
            "run {run}: bare {:>6.0} rt/s ({:.3} ms CPU/rt)   chatty {:>6.0} rt/s ({:.3} ms CPU/rt)   chatty/bare {:.2}",
            rate(bare),
            bare_cpu * 1000.0 / n as f64,
            rate(chatty),
            chatty_cpu * 1000.0 / n as f64,
            bare / chatty,
        );
    }
}
