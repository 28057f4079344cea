//! The `chatty` program killed in the middle of a burst of 1 000 XMPP messages: the echo bot with
//! the Logger, on an XMPP session, its journal on by default. A person (a raw XMPP client written
//! here, over the test Prosody's plaintext port: no Chatty and no tokio-xmpp code in it, in the
//! test's process, not the bot's) sends the burst (a third with an origin-id, a third with only a
//! stanza id, a third with no id) and keeps sending while the bot is dead; the bot process is
//! SIGKILLed once some answers arrived and started again a second later with the same config.
//! Once every message is answered and nothing more comes, each must have exactly one answer: none
//! lost, none twice.
//!
//! Needs the test Prosody (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`), with
//! its archive (MAM) on, as the test servers run it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chatty_test::servers::{XmppServer, xmpp_account, xmpp_server};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How many messages the person sends.
const BURST: usize = 1000;
/// How many answers must have arrived before the kill.
const KILL_AFTER: usize = 300;
/// How long the bot stays dead.
const DEAD_FOR: Duration = Duration::from_secs(1);
/// The time between two messages of the burst.
const PACE: Duration = Duration::from_millis(3);
/// How many messages may wait for their answer before the kill: the person keeps pace with the
/// bot, so that the burst goes on through the kill (then at full pace: what the bot may have
/// lost must not hold the rest back).
const WINDOW: usize = 200;
/// How long nothing must come, once every message is answered, to count.
const QUIET: Duration = Duration::from_secs(6);
/// The longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_and_repeats_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = xmpp_server();
    let (bot_jid, bot_password) = xmpp_account();
    let (person_jid, person_password) = xmpp_account();
    let config = config(dir.path(), &server, &bot_jid, &bot_password);
    let logs = [dir.path().join("run-1.log"), dir.path().join("run-2.log")];
    let mut child = start(&config, &logs[0]);
    let mut person = Person::connect(&server, &person_jid, &person_password).await;
    person.warm_up(&bot_jid, &mut child, &logs[0]).await;

    let run = format!("x{}", std::process::id());
    let text = |i: usize| format!("{run}-{i:04}");
    let mut answers: BTreeMap<usize, usize> = BTreeMap::new();
    let mut errors = 0;
    let mut sent = 0;
    let mut answered_at_kill = None;
    let mut killed_at = None;
    let mut restarted = false;
    let started = Instant::now();
    let mut last_answer = Instant::now();
    let mut pace = tokio::time::interval(PACE);
    loop {
        let answered: usize = answers.values().sum();
        let killed = killed_at.is_some();
        tokio::select! {
            _ = pace.tick(), if sent < BURST && (killed || sent < answered + WINDOW) => {
                person.send(&bot_jid, &text(sent), Ids::of(sent)).await;
                sent += 1;
            }
            element = person.stanzas.recv() => {
                let element = element.expect("the person's stream is open");
                match person.handle(&element).await {
                    Some(Heard::Answer(body)) => {
                        if let Some(i) = (body.len() == run.len() + 5 && body.starts_with(&run))
                            .then(|| body[run.len() + 1..].parse::<usize>().ok())
                            .flatten()
                            .filter(|i| *i < BURST)
                        {
                            *answers.entry(i).or_default() += 1;
                            last_answer = Instant::now();
                        }
                    }
                    Some(Heard::Error) => errors += 1,
                    None => {}
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let total: usize = answers.values().sum();
        match (killed_at, restarted) {
            (None, _) if total >= KILL_AFTER => {
                child.kill().expect("SIGKILL");
                child.wait().unwrap();
                answered_at_kill = Some((total, sent));
                killed_at = Some(Instant::now());
            }
            (Some(at), false) if at.elapsed() >= DEAD_FOR => {
                child = start(&config, &logs[1]);
                restarted = true;
            }
            _ => {}
        }
        let alive = killed_at.is_none() || restarted;
        if alive && let Some(status) = child.try_wait().unwrap() {
            let log = &logs[usize::from(restarted)];
            panic!("chatty ended by itself ({status}):\n{}", tail(log));
        }
        let done = restarted && answers.len() >= BURST && last_answer.elapsed() >= QUIET;
        if done || started.elapsed() > DEADLINE {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let (at_kill, sent_at_kill) = answered_at_kill.unwrap_or((0, 0));
    let lost: Vec<usize> = (0..BURST).filter(|i| !answers.contains_key(i)).collect();
    let twice: BTreeMap<&usize, &usize> = answers.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{sent} of {BURST} sent; killed with {at_kill} answers and {sent_at_kill} sent, restarted {DEAD_FOR:?} later; \
         {} answers for {} messages, lost {}, answered twice {}, {errors} errors",
        answers.values().sum::<usize>(),
        answers.len(),
        lost.len(),
        twice.len(),
    );
    let report = || {
        format!(
            "lost {}; twice {twice:?}\n--- first run:\n{}\n--- second run:\n{}",
            ranges(&lost),
            tail(&logs[0]),
            tail(&logs[1])
        )
    };
    assert!(restarted, "never killed: {} answers", answers.len());
    assert!(
        at_kill < BURST && sent_at_kill < BURST,
        "the kill came after the burst: {}",
        report()
    );
    assert!(
        lost.is_empty() && twice.is_empty(),
        "{} lost, {} answered twice: {}",
        lost.len(),
        twice.len(),
        report()
    );
}

/// The config file of the echo bot on the account `jid`, in `dir` (the journal beside it, by
/// default).
fn config(dir: &Path, server: &XmppServer, jid: &str, password: &str) -> PathBuf {
    let path = dir.join("bot.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[sessions.chat]
answer_limit = false

[sessions.chat.xmpp]
jid = "{jid}"
password = {{ inline = "{password}" }}
server = "{host}"
port = {port}
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000

[bots.echo]
sessions = ["chat"]
echo = {{}}
logger = {{ path = "echo.db" }}
"#,
            host = server.host,
            port = server.port,
        ),
    )
    .unwrap();
    path
}

/// Starts `chatty run config`, its log in `log`.
fn start(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("the chatty program starts")
}

/// `numbers` (ascending) as ranges: `3-7, 9`.
fn ranges(numbers: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// The last lines of a log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Which ids a message of the burst carries.
#[derive(Debug, Clone, Copy)]
enum Ids {
    /// An origin-id (XEP-0359) and a stanza id.
    Origin,
    /// Only a stanza id.
    Stanza,
    /// None.
    None,
}

impl Ids {
    /// Those of message `i`.
    fn of(i: usize) -> Ids {
        [Ids::Origin, Ids::Stanza, Ids::None][i % 3]
    }
}

/// What a stanza from the server was, for the test.
enum Heard {
    /// A message with a body (an answer).
    Answer(String),
    /// An error message.
    Error,
}

/// The person: a raw XMPP client over plaintext (the test Prosody allows PLAIN without TLS),
/// reading top-level elements in a task of its own.
struct Person {
    writer: OwnedWriteHalf,
    stanzas: mpsc::UnboundedReceiver<String>,
}

impl Person {
    /// Logs in as `jid`, binds a resource and sends its presence; returns once the server has
    /// answered a ping sent after it (so it has processed the presence).
    async fn connect(server: &XmppServer, jid: &str, password: &str) -> Person {
        let (user, domain) = jid.split_once('@').expect("a JID with a local part");
        let tcp = TcpStream::connect((server.host.as_str(), server.port))
            .await
            .expect("the test Prosody answers");
        tcp.set_nodelay(true).unwrap();
        let (mut reader, writer) = tcp.into_split();
        let (tx, stanzas) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut scanner = Scanner::default();
            let mut chunk = vec![0; 64 * 1024];
            loop {
                match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        for element in scanner.feed(&chunk[..n]) {
                            if tx.send(element).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let mut person = Person { writer, stanzas };
        let header = format!(
            "<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        );
        person.write(&header).await;
        person.until("<stream:features").await;
        let plain = base64(format!("\0{user}\0{password}").as_bytes());
        person
            .write(&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
            ))
            .await;
        let answer = person.until("").await;
        assert!(answer.starts_with("<success"), "login refused: {answer}");
        person.write(&header).await;
        person.until("<stream:features").await;
        person
            .write(
                "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
                 <resource>crash-test</resource></bind></iq>",
            )
            .await;
        let bound = person.until("<iq").await;
        assert!(bound.contains("type='result'"), "no resource: {bound}");
        person.write("<presence/>").await;
        person
            .write("<iq type='get' id='ping'><ping xmlns='urn:xmpp:ping'/></iq>")
            .await;
        while !person.until("<iq").await.contains("id='ping'") {}
        person
    }

    async fn write(&mut self, xml: &str) {
        self.writer
            .write_all(xml.as_bytes())
            .await
            .expect("the person's stream is open");
    }

    /// The next element that starts with `start`, skipping others (within 10 s).
    async fn until(&mut self, start: &str) -> String {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let element = self.stanzas.recv().await.expect("the stream is open");
                if element.starts_with(start) {
                    return element;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {start:?} from the server within 10 s"))
    }

    /// Sends the chat message `text` to `to`, with the ids `ids` says.
    async fn send(&mut self, to: &str, text: &str, ids: Ids) {
        let xml = match ids {
            Ids::Origin => format!(
                "<message to='{to}' type='chat' id='s-{text}'><body>{text}</body>\
                 <origin-id xmlns='urn:xmpp:sid:0' id='o-{text}'/></message>"
            ),
            Ids::Stanza => format!(
                "<message to='{to}' type='chat' id='s-{text}'><body>{text}</body></message>"
            ),
            Ids::None => format!("<message to='{to}' type='chat'><body>{text}</body></message>"),
        };
        self.write(&xml).await;
    }

    /// What `element` was: a message's body, an error; requests (disco#info, say) are refused.
    async fn handle(&mut self, element: &str) -> Option<Heard> {
        if element.starts_with("<iq") {
            let ask = attr(element, "type").is_some_and(|t| t == "get" || t == "set");
            if let (true, Some(id), Some(from)) = (ask, attr(element, "id"), attr(element, "from"))
            {
                let refusal = format!(
                    "<iq type='error' id='{id}' to='{from}'><error type='cancel'>\
                     <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                     </error></iq>"
                );
                self.write(&refusal).await;
            }
            return None;
        }
        if !element.starts_with("<message") {
            return None;
        }
        if attr(element, "type").as_deref() == Some("error") {
            return Some(Heard::Error);
        }
        let body = element.split_once("<body")?.1.split_once('>')?.1;
        let body = body.split_once("</body>")?.0;
        Some(Heard::Answer(body.to_owned()))
    }

    /// Says hello to the bot until it answers (it may still be logging in: what it missed
    /// before its first start is not replayed).
    async fn warm_up(&mut self, bot: &str, child: &mut Child, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for n in 0.. {
            assert!(
                Instant::now() < deadline,
                "no answer to the warm-up within a minute:\n{}",
                tail(log)
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("chatty ended by itself ({status}):\n{}", tail(log));
            }
            self.send(bot, &format!("warm-up-{n}"), Ids::Origin).await;
            let wait = tokio::time::sleep(Duration::from_secs(1));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    element = self.stanzas.recv() => {
                        let element = element.expect("the person's stream is open");
                        if let Some(Heard::Answer(body)) = self.handle(&element).await
                            && body.starts_with("warm-up-")
                        {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// The value of the attribute `name` in `element`'s start tag.
fn attr(element: &str, name: &str) -> Option<String> {
    let tag = &element[..element.find('>')?];
    for quote in ['\'', '"'] {
        let key = format!(" {name}={quote}");
        if let Some(at) = tag.find(&key) {
            let rest = &tag[at + key.len()..];
            return rest.find(quote).map(|end| rest[..end].to_owned());
        }
    }
    None
}

/// Base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Splits the server's side of the stream into its top-level elements (stanzas, features, SASL
/// answers), as text. Enough for what Prosody sends: tags whose attribute values hold no `>`.
#[derive(Default)]
struct Scanner {
    buf: Vec<u8>,
    /// Where scanning goes on.
    pos: usize,
    /// How deep the scan is: 1 inside the stream, 2 inside a top-level element.
    depth: usize,
    /// Where the top-level element being read starts.
    start: usize,
}

impl Scanner {
    /// The elements completed by `data`.
    fn feed(&mut self, data: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(data);
        let mut done = Vec::new();
        while let Some(lt) = self.buf[self.pos..].iter().position(|b| *b == b'<') {
            let lt = self.pos + lt;
            let Some(gt) = self.buf[lt..].iter().position(|b| *b == b'>') else {
                self.pos = lt;
                break;
            };
            let gt = lt + gt;
            let tag = &self.buf[lt..=gt];
            if tag.starts_with(b"<?") || tag.starts_with(b"<!") {
            } else if tag.starts_with(b"<stream:stream") {
                self.depth = 1;
            } else if tag.starts_with(b"</") {
                if self.depth == 2 {
                    done.push(String::from_utf8_lossy(&self.buf[self.start..=gt]).into_owned());
                }
                self.depth = self.depth.saturating_sub(1);
            } else if tag.ends_with(b"/>") {
                if self.depth == 1 {
                    done.push(String::from_utf8_lossy(tag).into_owned());
                }
            } else {
                if self.depth == 1 {
                    self.start = lt;
                }
                self.depth += 1;
            }
            self.pos = gt + 1;
        }
        if !self.buf[self.pos..].contains(&b'<') {
            self.pos = self.buf.len();
        }
        // Keep only what is still needed.
        let keep = if self.depth >= 2 {
            self.start
        } else {
            self.pos
        };
        self.buf.drain(..keep);
        self.pos -= keep;
        self.start = self.start.saturating_sub(keep);
        done
    }
}

#[test]
fn the_scanner_splits_stanzas_across_reads() {
    let mut scanner = Scanner::default();
    let stream = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x'>\
        <stream:features><mechanisms><mechanism>PLAIN</mechanism></mechanisms></stream:features>\
        <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\
        <stream:stream id='y'><message from='a@b' type='chat'><body>hi</body></message>";
    let mut elements = Vec::new();
    for piece in stream.as_bytes().chunks(7) {
        elements.extend(scanner.feed(piece));
    }
    assert_eq!(elements.len(), 3, "{elements:?}");
    assert!(elements[0].starts_with("<stream:features>"));
    assert_eq!(
        elements[1],
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    );
    assert_eq!(
        elements[2],
        "<message from='a@b' type='chat'><body>hi</body></message>"
    );
    assert_eq!(attr(&elements[2], "type").as_deref(), Some("chat"));
    assert_eq!(base64(b"\0t00\0secret-t00"), "AHQwMABzZWNyZXQtdDAw");
}
