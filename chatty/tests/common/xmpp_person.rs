//! The person of the XMPP crash tests: a raw XMPP client over the test Prosody's plaintext port
//! (the test Prosody allows PLAIN without TLS), with no Chatty and no tokio-xmpp code in it, run
//! in the test's process (not the bot's).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chatty_test::servers::{XmppServer, xmpp_account, xmpp_server};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::crash::Chatty;

/// Which ids a message of the burst carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ids {
    /// An origin-id (XEP-0359) and a stanza id.
    Origin,
    /// Only a stanza id.
    Stanza,
    /// None.
    None,
}

impl Ids {
    /// Those of message `i`.
    pub(crate) fn of(i: usize) -> Ids {
        [Ids::Origin, Ids::Stanza, Ids::None][i % 3]
    }
}

/// The start of an XMPP crash test: `chatty` running in `dir`, with `RUST_LOG` set to
/// `rust_log`, the config `config(jid, password)` of the bot on a pool account, and a person on
/// another pool account, whose hello the bot has answered (`hello` tells the answer, see
/// [`Person::warm_up`]). The program, the person and the bot's JID.
pub(crate) async fn start(
    dir: &Path,
    config: impl FnOnce(&str, &str) -> String,
    rust_log: &str,
    hello: fn(&str) -> bool,
) -> (Chatty, Person, String) {
    let server = xmpp_server();
    let (bot_jid, bot_password) = xmpp_account();
    let (person_jid, person_password) = xmpp_account();
    let mut chatty = Chatty::start(dir, &config(&bot_jid, &bot_password), rust_log);
    let mut person = Person::connect(&server, &person_jid, &person_password).await;
    person.warm_up(&bot_jid, &mut chatty, hello).await;
    (chatty, person, bot_jid)
}

/// How a burst of an XMPP crash test goes.
pub(crate) struct Burst {
    /// How many messages the person sends.
    pub(crate) messages: usize,
    /// How many answers must have arrived before the kill.
    pub(crate) kill_after: usize,
    /// How long the bot stays dead.
    pub(crate) dead_for: Duration,
    /// The time between two messages.
    pub(crate) pace: Duration,
    /// How many messages may wait for their answer while the bot runs: the person keeps pace
    /// with the bot, so that the burst goes on through the kill (and at full pace while the bot
    /// is dead: what the bot may have lost must not hold the rest back).
    pub(crate) window: usize,
    /// Whether the window holds again once the bot is back (else the rest goes at full pace).
    pub(crate) window_after_restart: bool,
    /// How long nothing must come, once every message is answered, to count.
    pub(crate) quiet: Duration,
    /// The longest the whole exchange may take.
    pub(crate) deadline: Duration,
}

/// What came back of a burst.
pub(crate) struct Outcome {
    /// How many answers each message got (those with none are missing).
    pub(crate) answers: BTreeMap<usize, usize>,
    /// How many messages were sent.
    pub(crate) sent: usize,
    /// How many error messages came.
    pub(crate) errors: usize,
    /// The message whose answer came last before the kill (the kill follows its arrival).
    pub(crate) latest_at_kill: Option<usize>,
}

/// What a stanza from the server was, for the test.
pub(crate) enum Heard {
    /// A message with a body (an answer).
    Answer(String),
    /// An error message.
    Error,
}

/// The person: a raw XMPP client over plaintext, reading top-level elements in a task of its
/// own.
pub(crate) struct Person {
    writer: OwnedWriteHalf,
    /// The top-level elements from the server, as text.
    pub(crate) stanzas: mpsc::UnboundedReceiver<String>,
}

impl Person {
    /// Logs in as `jid`, binds a resource and sends its presence; returns once the server has
    /// answered a ping sent after it (so it has processed the presence).
    pub(crate) async fn connect(server: &XmppServer, jid: &str, password: &str) -> Person {
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
    pub(crate) async fn send(&mut self, to: &str, text: &str, ids: Ids) {
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
    pub(crate) async fn handle(&mut self, element: &str) -> Option<Heard> {
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

    /// Sends `burst` to `bot` (run by `chatty`): message `i` is `text(i)` with the ids `ids(i)`;
    /// `number` reads the number of the message an answer answers. Kills `chatty` and starts
    /// it again as `burst` says, and returns once every message has an answer and nothing more
    /// came for `burst.quiet` (or after `burst.deadline`); `chatty` is stopped then.
    pub(crate) async fn burst(
        &mut self,
        bot: &str,
        chatty: &mut Chatty,
        burst: &Burst,
        text: impl Fn(usize) -> String,
        ids: fn(usize) -> Ids,
        number: impl Fn(&str) -> Option<usize>,
    ) -> Outcome {
        let mut answers: BTreeMap<usize, usize> = BTreeMap::new();
        let mut errors = 0;
        let mut sent = 0;
        let started = Instant::now();
        let mut last_answer = Instant::now();
        let mut latest = None;
        let mut latest_at_kill = None;
        let mut pace = tokio::time::interval(burst.pace);
        loop {
            let answered: usize = answers.values().sum();
            let full_pace = if burst.window_after_restart {
                chatty.dead()
            } else {
                chatty.killed()
            };
            tokio::select! {
                _ = pace.tick(), if sent < burst.messages
                    && (full_pace || sent < answered + burst.window) => {
                    self.send(bot, &text(sent), ids(sent)).await;
                    sent += 1;
                }
                element = self.stanzas.recv() => {
                    let element = element.expect("the person's stream is open");
                    match self.handle(&element).await {
                        Some(Heard::Answer(body)) => {
                            if let Some(i) = number(&body).filter(|i| *i < burst.messages) {
                                *answers.entry(i).or_default() += 1;
                                last_answer = Instant::now();
                                latest = Some(i);
                            }
                        }
                        Some(Heard::Error) => errors += 1,
                        None => {}
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let total: usize = answers.values().sum();
            if chatty.step(total, sent, burst.kill_after, burst.dead_for) {
                latest_at_kill = latest;
            }
            let done = chatty.restarted()
                && answers.len() >= burst.messages
                && last_answer.elapsed() >= burst.quiet;
            if done || started.elapsed() > burst.deadline {
                break;
            }
        }
        chatty.stop();
        Outcome {
            answers,
            sent,
            errors,
            latest_at_kill,
        }
    }

    /// Says hello to the bot `bot` (run by `chatty`) until it answers (it may still be logging
    /// in: what it missed before its first start is not replayed); `hello` tells the answer to a
    /// hello (the bot's answer to the body `warm-up-N`).
    pub(crate) async fn warm_up(
        &mut self,
        bot: &str,
        chatty: &mut Chatty,
        hello: fn(&str) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for n in 0.. {
            assert!(
                Instant::now() < deadline,
                "no answer to the warm-up within a minute:\n{}",
                chatty.tail()
            );
            chatty.check();
            self.send(bot, &format!("warm-up-{n}"), Ids::Origin).await;
            let wait = tokio::time::sleep(Duration::from_secs(1));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    element = self.stanzas.recv() => {
                        let element = element.expect("the person's stream is open");
                        if let Some(Heard::Answer(body)) = self.handle(&element).await
                            && hello(&body)
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
pub(crate) fn attr(element: &str, name: &str) -> Option<String> {
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
pub(crate) fn base64(bytes: &[u8]) -> String {
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
pub(crate) struct Scanner {
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
    pub(crate) fn feed(&mut self, data: &[u8]) -> Vec<String> {
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
