//! For the web window's tests: a bot that answers, shows typing and sends files; the window on
//! a direct network; a WebSocket tab; plain HTTP requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chatty_client::WebClient;
use chatty_core::session::Session;
use chatty_core::{
    Body, BotError, Choice, File, Message, Router, Signal, Status, StatusChange, TypingState,
    from_fn,
};
use chatty_direct::Network;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const WAIT: Duration = Duration::from_secs(20);

/// The bytes of the file the bot sends with its bytes.
pub const HELLO: &[u8] = b"hello from the echo bot\n";
/// The bytes of the file the bot sends by URL.
pub const BY_URL: &[u8] = b"fetched by URL\n";

/// The question the bot asks on `ask`: [`QUESTION`] with these options (a label that looks like
/// HTML, which the page must show as text).
pub fn priority() -> Choice {
    Choice::new("priority")
        .option("low", "Low")
        .option("high", "High <b>now</b>")
}

/// The text of the bot's question.
pub const QUESTION: &str = "How urgent is it?";

/// The bot `direct:bot`: in the room `lobby`; shows that it is typing while someone types to it
/// (typing both ways) and before each answer; echoes messages (`echo: TEXT`); `files` makes it
/// send `hello.txt` (bytes) and `by-url.txt` (a URL); a file is acknowledged with its size;
/// `ask` makes it ask [`QUESTION`] with the options of [`priority`], and an answer with `chosen`
/// set is acknowledged as `chose VALUE for CHOICE (in response to ID): TEXT`.
pub fn echo_bot(network: &Network) -> impl chatty_core::Bot {
    let lobby = network.channel("lobby");
    let files = network.clone();
    from_fn(move |signal: Signal, handle| {
        let files = files.clone();
        let lobby = lobby.clone();
        async move {
            let typing = |conversation, state| {
                Signal::new(StatusChange::new(Status::Typing {
                    conversation,
                    state,
                }))
            };
            match &signal.body {
                Body::SessionStarted(_) => {
                    let join = StatusChange::new(Status::InRoom {
                        room: lobby,
                        present: true,
                        role: None,
                    });
                    handle.send(Signal::new(join)).await?;
                    return Ok(());
                }
                Body::StatusChange(change) => {
                    // Typing to the bot: it shows that it is typing too.
                    if let (
                        Status::Typing {
                            state: TypingState::Composing,
                            conversation,
                        },
                        Some(origin),
                    ) = (&change.status, &signal.meta.origin)
                        && !conversation.kind().is_shared()
                    {
                        handle
                            .send(typing(origin.clone(), TypingState::Composing))
                            .await?;
                    }
                    return Ok(());
                }
                _ => {}
            }
            let Some(conversation) = signal.reply_addresses().into_iter().next() else {
                return Ok(());
            };
            let answer: Body = match &signal.body {
                Body::Message(m) if m.text.trim() == "ask" => {
                    Message::text(QUESTION).with_choice(priority()).into()
                }
                Body::Message(Message {
                    chosen: Some(chosen),
                    text,
                    ..
                }) => Message::text(format!(
                    "chose {} for {} (in response to {}): {text}",
                    chosen.value,
                    chosen.choice,
                    signal
                        .meta
                        .response_to
                        .as_ref()
                        .map_or("nothing", |id| id.as_str()),
                ))
                .into(),
                Body::Message(m) if m.text.trim() == "files" => {
                    let bytes = File::bytes("hello.txt", Some("text/plain"), HELLO);
                    handle.send(signal.reply(bytes)).await?;
                    let url = files.publish_file(BY_URL);
                    File::url("by-url.txt", Some("text/plain"), url).into()
                }
                Body::Message(m) => Message::text(format!("echo: {}", m.text)).into(),
                Body::File(f) => {
                    let size = match &f.content {
                        chatty_core::Content::Bytes { data } => data.len(),
                        _ => 0,
                    };
                    Message::text(format!("got your file {} ({size} bytes)", f.name)).into()
                }
                _ => return Ok(()),
            };
            handle
                .send(typing(conversation.clone(), TypingState::Composing))
                .await?;
            handle.send(signal.reply(answer)).await?;
            Ok(())
        }
    })
}

/// The bot and a web window (`direct:you`, guests `direct:NAME`) on one direct network.
pub struct Web {
    pub network: Network,
    pub address: SocketAddr,
    pub url: String,
    pub token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    pub window: JoinHandle<Result<(), BotError>>,
    stop_bot: Option<oneshot::Sender<()>>,
    pub bot: JoinHandle<Result<(), BotError>>,
}

impl Web {
    pub async fn start() -> Web {
        Web::start_with(WebClient::local().await.expect("binds 127.0.0.1"), None).await
    }

    /// Runs `client` (already bound) as `direct:you`, talking to the bot; guests allowed.
    pub async fn start_with(client: WebClient, token: Option<String>) -> Web {
        let network = Network::new();
        let (stop_bot, bot_stopped) = oneshot::channel::<()>();
        let bot = tokio::spawn(Router::new().session(network.endpoint("bot")).run_until(
            echo_bot(&network),
            async {
                let _ = bot_stopped.await;
            },
        ));
        let guests = network.clone();
        let client = client.talk_to(network.address("bot")).guests(move |name| {
            if name == "bot" || name == "you" {
                return Err(format!("{name} is taken"));
            }
            let session = guests
                .try_endpoint_with(name, chatty_core::Capabilities::all())
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(session) as Arc<dyn Session>)
        });
        let address = client.local_addr();
        let url = client.url();
        let (stop, stopped) = oneshot::channel::<()>();
        let window = tokio::spawn(Router::new().session(network.endpoint("you")).run_until(
            client,
            async {
                let _ = stopped.await;
            },
        ));
        Web {
            network,
            address,
            url,
            token,
            stop: Some(stop),
            window,
            stop_bot: Some(stop_bot),
            bot,
        }
    }

    /// `path` with the token added, if there is one.
    pub fn path(&self, path: &str) -> String {
        match &self.token {
            Some(t) if path.contains('?') => format!("{path}&token={t}"),
            Some(t) => format!("{path}?token={t}"),
            None => path.to_owned(),
        }
    }

    /// A tab: the WebSocket at `/ws` (as `person`, if given).
    pub async fn tab(&self, person: Option<&str>) -> Tab {
        let path = match person {
            Some(p) => format!("/ws?as={p}"),
            None => "/ws".to_owned(),
        };
        let url = format!("ws://{}{}", self.address, self.path(&path));
        Tab::connect(&url).await.expect("the WebSocket opens")
    }

    /// A tab (as `person`, if given) once its session has started.
    pub async fn started_tab(&self, person: Option<&str>) -> Tab {
        let mut tab = self.tab(person).await;
        tab.until_started().await;
        tab
    }

    /// `GET path` with no further headers (the token is not added).
    pub async fn get(&self, path: &str) -> Response {
        http(self.address, "GET", path, &[], None).await
    }

    /// `POST path` of a form with the file `name` of type `media_type` (see [`multipart`]), as
    /// the page uploads; the token is not added.
    pub async fn upload(&self, path: &str, name: &str, media_type: &str, data: &[u8]) -> Response {
        let (kind, body) = multipart(name, media_type, data);
        http(self.address, "POST", path, &[], Some((&kind, &body))).await
    }

    /// Stops the window and the bot; the window's run must end cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, &mut self.window)
            .await
            .expect("the window stops")
            .expect("the window did not panic")
            .expect("the window's run ends without error");
        let _ = self.stop_bot.take().unwrap().send(());
        let _ = tokio::time::timeout(WAIT, &mut self.bot).await;
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket tab of the window, as a browser's script would use it.
pub struct Tab {
    socket: Socket,
    /// The latest `view` message.
    pub view: Value,
    /// The latest `people` message.
    pub people: Value,
    /// The `error` messages received.
    pub errors: Vec<String>,
}

impl Tab {
    /// Opens the WebSocket at `url` as the page would: with the page's own `Origin`.
    pub async fn connect(url: &str) -> Result<Tab, tokio_tungstenite::tungstenite::Error> {
        let authority = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or_default();
        Tab::connect_from(url, Some(&format!("http://{authority}"))).await
    }

    /// Opens the WebSocket at `url` with `origin` as its `Origin` header (none if `None`).
    pub async fn connect_from(
        url: &str,
        origin: Option<&str>,
    ) -> Result<Tab, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = url.into_client_request()?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().expect("an origin header"));
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Tab {
            socket,
            view: Value::Null,
            people: Value::Null,
            errors: Vec::new(),
        })
    }

    pub async fn send_json(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(WsMessage::text(text))
            .await
            .expect("the tab sends");
    }

    pub async fn send_raw(&mut self, message: WsMessage) {
        self.socket.send(message).await.expect("the tab sends");
    }

    /// Reads the next message; `None` when the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message within the wait")?;
            match message.ok()? {
                WsMessage::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("the server sent bad JSON ({e}): {text}"));
                    match value["type"].as_str() {
                        Some("view") => self.view = value.clone(),
                        Some("people") => self.people = value.clone(),
                        Some("error") => self
                            .errors
                            .push(value["message"].as_str().unwrap_or_default().to_owned()),
                        other => panic!("unknown message type {other:?}: {value}"),
                    }
                    return Some(value);
                }
                WsMessage::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Reads messages until the latest view satisfies `check`; panics with the last view
    /// otherwise.
    pub async fn until(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !check(&self.view) {
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "no view where {what} within {WAIT:?}; last view: {}",
                    self.view
                );
            }
            if self.next().await.is_none() {
                panic!(
                    "the socket closed before {what}; last view: {}; errors: {:?}",
                    self.view, self.errors
                );
            }
        }
        self.view.clone()
    }

    /// Says `text` in the shown conversation, as the page's input box does on Enter.
    pub async fn say(&mut self, text: &str) {
        self.send_json(json!({"type": "say", "text": text})).await;
    }

    /// Reads messages until the session has started (the view has the tab's address); that view.
    pub async fn until_started(&mut self) -> Value {
        self.until("started", |v| !v["you"].is_null()).await
    }

    /// Reads messages until the view's own address is `address`; that view.
    pub async fn until_you(&mut self, what: &str, address: &str) -> Value {
        self.until(what, |v| v["you"].as_str() == Some(address))
            .await
    }

    /// Reads messages until the view has an entry of `kind` with `text` in its text (see
    /// [`has_entry`]); that view.
    pub async fn until_entry(&mut self, what: &str, kind: &str, text: &str) -> Value {
        self.until(what, |v| has_entry(v, kind, text)).await
    }

    /// Reads messages until an error message arrives; returns it.
    pub async fn error(&mut self) -> String {
        let before = self.errors.len();
        while self.errors.len() == before {
            self.next()
                .await
                .expect("an error message before the socket closes");
        }
        self.errors.last().cloned().unwrap()
    }
}

/// Whether some entry of `view` has `text` in its text.
pub fn has_entry(view: &Value, kind: &str, text: &str) -> bool {
    entries(view)
        .iter()
        .any(|e| e["kind"] == kind && e["text"].as_str().is_some_and(|t| t.contains(text)))
}

/// Whether some entry of `view` is from `from` with exactly `text` as its text.
pub fn has_said(view: &Value, from: &str, text: &str) -> bool {
    entries(view)
        .iter()
        .any(|e| e["from"] == from && e["text"] == text)
}

/// The names of the people in a `people` message, in its order.
pub fn people_names(people: &Value) -> Vec<String> {
    people["people"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

pub fn entries(view: &Value) -> Vec<Value> {
    view["entries"].as_array().cloned().unwrap_or_default()
}

/// The conversation with the given display name in `view`.
pub fn conversation<'a>(view: &'a Value, name: &str) -> Option<&'a Value> {
    view["conversations"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

/// Says `ask` in `tab` (the bot asks [`QUESTION`]) and reads until the bot's question is shown; that view.
pub async fn ask(tab: &mut Tab) -> Value {
    tab.say("ask").await;
    tab.until("the question", |v| question(v).is_some()).await
}

/// The bot's question in `view`, if it is shown.
pub fn question(view: &Value) -> Option<Value> {
    entries(view)
        .into_iter()
        .find(|e| e["from"] == "bot" && e["text"] == QUESTION)
}

/// A plain HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request (connection closed after it); `body` with its content type.
pub async fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Response {
    let mut stream = TcpStream::connect(address).await.expect("connects");
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    if !extra_headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    if !extra_headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("connection"))
    {
        request.push_str("Connection: close\r\n");
    }
    for (name, value) in extra_headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((kind, data)) = body {
        request.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            data.len()
        ));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    if let Some((_, data)) = body {
        bytes.extend_from_slice(data);
    }
    // A server that refuses a large body may answer and close before reading all of it.
    let written = stream.write_all(&bytes).await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("the response within the wait");
    if raw.is_empty() {
        panic!("no response: write {written:?}, read {read:?}");
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .expect("a chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// A multipart/form-data body with one file field `file`: (content type, body).
pub fn multipart(name: &str, media_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "chatty-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
