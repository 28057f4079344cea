//! What the integration tests share: a bot that passes every signal to the test, waiting for
//! signals, and a raw IRC client (the person on the other side).

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{Body, Handle, Signal, from_fn};
use chatty_irc::proto::{IrcCodec, Line};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::codec::FramedRead;

/// How long a test waits for one thing.
pub const WAIT: Duration = Duration::from_secs(15);

/// A bot passing every signal (with its handle) to the test.
pub fn spy() -> (
    impl chatty_core::Bot,
    mpsc::UnboundedReceiver<(Signal, Handle)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let bot = from_fn(move |signal: Signal, handle: Handle| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((signal, handle));
            Ok(())
        }
    });
    (bot, rx)
}

/// The next signal `want` accepts (the others are skipped).
pub async fn next_where(
    rx: &mut mpsc::UnboundedReceiver<(Signal, Handle)>,
    mut want: impl FnMut(&Signal) -> bool,
) -> (Signal, Handle) {
    loop {
        let (signal, handle) = timeout(WAIT, rx.recv())
            .await
            .expect("a signal in time")
            .expect("the bot runs");
        if want(&signal) {
            return (signal, handle);
        }
    }
}

/// A message's text.
pub fn text(signal: &Signal) -> Option<&str> {
    match &signal.body {
        Body::Message(m) => Some(&m.text),
        _ => None,
    }
}

/// A name no other test (nor another run's leftovers) uses: `prefix` and a number, short
/// enough for ngircd's 9-byte nicks with a fallback `_`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let seed = std::process::id().wrapping_mul(31).wrapping_add(n * 7919);
    format!("{prefix}{:05}", seed % 100_000)
}

/// A person's raw IRC client, in plain text.
pub struct Raw {
    reader: FramedRead<OwnedReadHalf, IrcCodec>,
    write: OwnedWriteHalf,
    /// The nick.
    pub nick: String,
}

impl Raw {
    /// Connects to `host:port`, asks for `caps` (if any), registers as `nick`.
    pub async fn connect(host: &str, port: u16, nick: &str, caps: &[&str]) -> Raw {
        let socket = TcpStream::connect((host, port))
            .await
            .expect("the test server");
        let (read, write) = socket.into_split();
        let mut raw = Raw {
            reader: FramedRead::new(read, IrcCodec::default()),
            write,
            nick: nick.to_owned(),
        };
        if !caps.is_empty() {
            raw.say(&format!("CAP REQ :{}", caps.join(" "))).await;
        }
        raw.say(&format!("NICK {nick}")).await;
        raw.say(&format!("USER {nick} 0 * :raw client")).await;
        if !caps.is_empty() {
            raw.until(|l| l.command == "CAP").await;
            raw.say("CAP END").await;
        }
        raw.until(|l| l.command == "001").await;
        raw
    }

    /// Sends one line (CRLF added).
    pub async fn say(&mut self, line: &str) {
        self.say_bytes(line.as_bytes()).await;
    }

    /// Sends one line of raw bytes (CRLF added).
    pub async fn say_bytes(&mut self, line: &[u8]) {
        self.write.write_all(line).await.expect("writing");
        self.write.write_all(b"\r\n").await.expect("writing");
    }

    /// The next line `want` accepts; PINGs are answered on the way.
    pub async fn until(&mut self, mut want: impl FnMut(&Line) -> bool) -> Line {
        loop {
            let item = timeout(WAIT, self.reader.next())
                .await
                .expect("a line in time")
                .expect("the server is still connected")
                .expect("reading");
            let line = match item {
                Ok(line) => line,
                Err(e) => panic!("{e}"),
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
    }

    /// Joins `channel` and waits for the end of its names.
    pub async fn join(&mut self, channel: &str) {
        self.say(&format!("JOIN {channel}")).await;
        self.until(|l| l.command == "366").await;
    }
}
