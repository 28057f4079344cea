//! The web chat window: one page and a WebSocket, served by axum, for one person or several.
//!
//! [`WebClient`] is a bot, as [`TerminalClient`](crate::TerminalClient) is: its session's own
//! address is the person at the page. Each browser tab is attached to one person; with
//! [`WebClient::guests`], a tab that asks for a name nobody has yet (or that opens the page while
//! another tab already shows the first person) gets a person of its own, with a session the
//! embedder makes for that name. The model is the terminal window's [`ChatState`]: what a tab
//! types is a line of the input box (a message or a command), so both windows behave alike.
//!
//! The WebSocket protocol is in the crate's README ("The web window's protocol").

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router as HttpRouter;
use axum::body::Body as HttpBody;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Multipart, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chatty_core::{
    Address, AddressKind, Body, Bot, BotError, Content, DownloadFile, File, Handle, Inbound,
    Revealed, Router, Secret, SecretError, Session, Signal, SignalId,
};
use futures::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::client::{Flow, TICK, perform};
use crate::state::{Action, ChatState, Entry, EntryKind, FileRef, availability_word};

/// The largest file a tab may upload (16 MiB).
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;

/// The largest WebSocket message a tab may send (256 KiB): a line of text, not a file.
pub const MAX_WS_MESSAGE: usize = 256 * 1024;

/// How many people (the first one and guests) one web window serves at most.
pub const MAX_PEOPLE: usize = 64;

/// How many of the current conversation's newest entries a view carries (the count of earlier
/// ones is given as `earlier`).
pub const VIEW_ENTRIES: usize = 500;

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// How long a download by URL may take before the link answers with an error.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the window waits for its server and its guests to end when it stops.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The page: HTML with the style and the script put in at their markers.
const PAGE_HTML: &str = include_str!("web/index.html");
const PAGE_CSS: &str = include_str!("web/style.css");
const PAGE_JS: &str = include_str!("web/app.js");

/// Makes the session of a guest: called with the name a tab asked for (or was given), it returns
/// the session that serves that person, or why there is none.
type GuestSessions = Arc<dyn Fn(&str) -> Result<Arc<dyn Session>, String> + Send + Sync>;

/// Why a web window cannot start.
#[derive(Debug)]
pub enum WebError {
    /// The address is not a loopback address and no token was given.
    NeedsToken {
        /// The address asked for.
        address: SocketAddr,
    },
    /// The token is too short or has characters other than letters, digits and `-._~`.
    BadToken(String),
    /// The token could not be read (from its environment variable or file).
    Token(SecretError),
    /// Binding the address failed.
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::NeedsToken { address } => write!(
                f,
                "the web window listens on {address}, which is not a loopback address: it needs a token"
            ),
            WebError::BadToken(why) => write!(f, "bad token: {why}"),
            WebError::Token(e) => write!(f, "cannot read the token: {e}"),
            WebError::Bind { address, source } => write!(f, "cannot listen on {address}: {source}"),
        }
    }
}

impl std::error::Error for WebError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebError::Token(e) => Some(e),
            WebError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The token every request must carry: never shown by `Debug`.
#[derive(Clone, Debug)]
struct Token(Revealed);

impl Token {
    fn new(revealed: Revealed) -> Result<Token, WebError> {
        let token = revealed.expose();
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(WebError::BadToken(format!(
                "it must have at least {MIN_TOKEN_LEN} characters"
            )));
        }
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return Err(WebError::BadToken(
                "only letters, digits and - . _ ~ may be used (it goes in URLs)".into(),
            ));
        }
        Ok(Token(revealed))
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.expose().as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The web chat window: a person (or several, one per browser tab) in a browser as a bot.
///
/// [`WebClient::bind`] listens (on 127.0.0.1 unless told otherwise; anywhere else only with a
/// token); [`url`](WebClient::url) is the address to open; running it as a bot serves the page
/// and its WebSocket until the bot's sessions end or a tab types `/quit`.
///
/// ```no_run
/// use chatty_client::WebClient;
/// use chatty_core::Router;
/// use chatty_direct::Network;
///
/// # async fn example(network: Network) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let window = WebClient::bind("127.0.0.1:8080".parse()?, None).await?
///     .talk_to(network.address("bot"));
/// println!("open {}", window.url());
/// Router::new().session(network.endpoint("you")).run(window).await?;
/// # Ok(()) }
/// ```
pub struct WebClient {
    listener: TcpListener,
    local: SocketAddr,
    token: Option<Token>,
    state: ChatState,
    guests: Option<GuestSessions>,
}

impl fmt::Debug for WebClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebClient")
            .field("local", &self.local)
            .field("token", &self.token)
            .field("guests", &self.guests.is_some())
            .finish_non_exhaustive()
    }
}

impl WebClient {
    /// Listens on `address` (port 0 picks a free port). A token is needed for any address that
    /// is not a loopback address; with a token, every request (the page, the WebSocket, uploads,
    /// downloads) must carry it, as `?token=` or `Authorization: Bearer`.
    pub async fn bind(address: SocketAddr, token: Option<Secret>) -> Result<WebClient, WebError> {
        let token = match token {
            Some(secret) => Some(Token::new(secret.reveal().map_err(WebError::Token)?)?),
            None => None,
        };
        if token.is_none() && !address.ip().is_loopback() {
            return Err(WebError::NeedsToken { address });
        }
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| WebError::Bind { address, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| WebError::Bind { address, source })?;
        Ok(WebClient {
            listener,
            local,
            token,
            state: ChatState::new(),
            guests: None,
        })
    }

    /// Listens on 127.0.0.1 on a free port, with no token.
    pub async fn local() -> Result<WebClient, WebError> {
        WebClient::bind(SocketAddr::from(([127, 0, 0, 1], 0)), None).await
    }

    /// Opens the conversation with `address` (the bot to talk to) for every person of the window.
    #[must_use]
    pub fn talk_to(mut self, address: Address) -> Self {
        self.state.open(address);
        self
    }

    /// Lets tabs be further people: for a tab that asks for a name no person of the window has
    /// (`?as=NAME`), or that opens the page while another tab shows the first person, `sessions`
    /// is called with the name (asked for, or `guest-N`) and the person runs on the session it
    /// returns, until the window stops. Names are 1 to 32 letters, digits, `-`, `_` or `.`; at
    /// most [`MAX_PEOPLE`] people. `sessions` must refuse names that are not a person's to take
    /// (a bot's own endpoint, say).
    #[must_use]
    pub fn guests(
        mut self,
        sessions: impl Fn(&str) -> Result<Arc<dyn Session>, String> + Send + Sync + 'static,
    ) -> Self {
        self.guests = Some(Arc::new(sessions));
        self
    }

    /// The address the window listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The URL to open: `http://ADDRESS:PORT/`, with `?token=…` when there is a token.
    pub fn url(&self) -> String {
        match &self.token {
            Some(token) => format!("http://{}/?token={}", self.local, token.0.expose()),
            None => format!("http://{}/", self.local),
        }
    }

    /// The state every person of the window starts with.
    pub fn state(&self) -> &ChatState {
        &self.state
    }
}

impl Bot for WebClient {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let (shutdown, _) = watch::channel(false);
        let (roster, _) = watch::channel(Arc::<str>::from(""));
        let hub = Arc::new(Hub {
            token: self.token,
            people: Mutex::new(Vec::new()),
            roster,
            guests: self.guests,
            template: self.state.clone(),
            next_guest: AtomicUsize::new(1),
            shutdown,
            guest_runs: Mutex::new(Vec::new()),
        });
        let (person, commands) = hub.add_person(String::new(), true);
        let server = tokio::spawn(serve(self.listener, hub.clone()));
        let result = PersonLoop {
            state: self.state,
            person: person.clone(),
            commands,
            hub: hub.clone(),
            downloads: HashMap::new(),
        }
        .run(inbound, handle)
        .await;
        hub.shutdown.send_replace(true);
        hub.remove(&person);
        let guests: Vec<_> = std::mem::take(&mut *lock(&hub.guest_runs));
        let wait = async {
            let _ = server.await;
            for guest in guests {
                let _ = guest.await;
            }
        };
        if tokio::time::timeout(STOP_WAIT, wait).await.is_err() {
            tracing::warn!("the web window's server or guests did not stop within {STOP_WAIT:?}");
        }
        result
    }
}

/// Locks a mutex, carrying on with its data after a panic elsewhere (plain data stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the server shares: the token, the people and the stop signal.
struct Hub {
    token: Option<Token>,
    people: Mutex<Vec<Arc<Person>>>,
    /// The `people` message every tab gets when it changes.
    roster: watch::Sender<Arc<str>>,
    guests: Option<GuestSessions>,
    /// The state a guest starts with (the conversation with the bot open).
    template: ChatState,
    next_guest: AtomicUsize,
    shutdown: watch::Sender<bool>,
    guest_runs: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// One person of the window, as the tabs attached to it see it.
struct Person {
    /// The name tabs pick it by (`?as=NAME`): a guest's name, or the first person's own id once
    /// its session has started.
    name: Mutex<String>,
    own: Mutex<Option<Address>>,
    main: bool,
    commands: mpsc::Sender<Command>,
    /// The latest `view` message.
    view: watch::Sender<Arc<str>>,
    tabs: AtomicUsize,
}

impl Person {
    fn new(name: String, main: bool) -> (Arc<Person>, mpsc::Receiver<Command>) {
        let (commands, receiver) = mpsc::channel(64);
        let (view, _) = watch::channel(Arc::<str>::from(""));
        let person = Arc::new(Person {
            name: Mutex::new(name),
            own: Mutex::new(None),
            main,
            commands,
            view,
            tabs: AtomicUsize::new(0),
        });
        (person, receiver)
    }

    fn name(&self) -> String {
        lock(&self.name).clone()
    }

    fn answers_to(&self, wanted: &str) -> bool {
        if *lock(&self.name) == wanted {
            return true;
        }
        lock(&self.own)
            .as_ref()
            .is_some_and(|own| own.id() == wanted || own.to_string() == wanted)
    }
}

/// What a tab (or an upload or download request) asks of its person's loop.
enum Command {
    /// A line of the input box, submitted: a message or a command.
    Line(String),
    /// The input box now holds this text (typing notifications follow from it).
    Input(String),
    /// Show the conversation with this address.
    Open(String),
    /// Send an uploaded file to `to` (the current conversation if `None`).
    Upload {
        to: Option<String>,
        file: File,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The bytes of file `number` of conversation `conversation` (downloaded first when the file
    /// is a URL).
    Download {
        conversation: String,
        number: usize,
        reply: oneshot::Sender<Result<File, String>>,
    },
}

impl Hub {
    fn add_person(&self, name: String, main: bool) -> (Arc<Person>, mpsc::Receiver<Command>) {
        let (person, commands) = Person::new(name, main);
        lock(&self.people).push(person.clone());
        self.publish_roster();
        (person, commands)
    }

    fn remove(&self, person: &Arc<Person>) {
        lock(&self.people).retain(|p| !Arc::ptr_eq(p, person));
        self.publish_roster();
    }

    fn publish_roster(&self) {
        let people: Vec<Value> = lock(&self.people)
            .iter()
            .map(|p| {
                json!({
                    "name": p.name(),
                    "address": lock(&p.own)
                        .as_ref()
                        .map(|a| a.with_kind(AddressKind::Unknown).to_string()),
                })
            })
            .collect();
        let message = json!({
            "type": "people",
            "people": people,
            "guests": self.guests.is_some(),
        });
        self.roster.send_replace(message.to_string().into());
    }

    /// The person a new tab is attached to, counted as attached (so that two tabs opening at
    /// once are not both given the first person).
    fn pick(self: &Arc<Self>, wanted: Option<&str>) -> Result<Attached, String> {
        let mut people = lock(&self.people);
        let person = self.choose(&mut people, wanted)?;
        person.tabs.fetch_add(1, Ordering::SeqCst);
        Ok(Attached(person))
    }

    fn choose(
        self: &Arc<Self>,
        people: &mut MutexGuard<'_, Vec<Arc<Person>>>,
        wanted: Option<&str>,
    ) -> Result<Arc<Person>, String> {
        if let Some(wanted) = wanted {
            if let Some(person) = people.iter().find(|p| p.answers_to(wanted)) {
                return Ok(person.clone());
            }
            check_name(wanted)?;
            // Until the first person's session has started, its name is not known: a tab asking
            // for a name then must not make a guest who might be that person.
            if people.iter().any(|p| p.main && lock(&p.own).is_none()) {
                return Err(format!(
                    "the window's session has not started yet: {wanted} cannot be picked yet"
                ));
            }
            if self.guests.is_none() {
                let names: Vec<String> = people.iter().map(|p| p.name()).collect();
                return Err(format!(
                    "no person {wanted} here (this window serves {})",
                    names.join(", ")
                ));
            }
            return self.start_guest(people, wanted.to_owned());
        }
        let main = people.iter().find(|p| p.main).cloned();
        match main {
            Some(main) if main.tabs.load(Ordering::SeqCst) == 0 || self.guests.is_none() => {
                Ok(main)
            }
            _ if self.guests.is_some() => {
                // A guest no tab shows any more is the next tab's (a closed tab's person).
                if let Some(idle) = people
                    .iter()
                    .find(|p| !p.main && p.tabs.load(Ordering::SeqCst) == 0)
                {
                    return Ok(idle.clone());
                }
                let name = loop {
                    let n = self.next_guest.fetch_add(1, Ordering::SeqCst);
                    let name = format!("guest-{n}");
                    if !people.iter().any(|p| p.answers_to(&name)) {
                        break name;
                    }
                };
                self.start_guest(people, name)
            }
            Some(main) => Ok(main),
            None => Err("the window is closing".into()),
        }
    }

    /// Starts a guest called `name` (the people are locked by the caller).
    fn start_guest(
        self: &Arc<Self>,
        people: &mut MutexGuard<'_, Vec<Arc<Person>>>,
        name: String,
    ) -> Result<Arc<Person>, String> {
        let Some(sessions) = &self.guests else {
            return Err("this window has no guests".into());
        };
        if *self.shutdown.borrow() {
            return Err("the window is closing".into());
        }
        if people.len() >= MAX_PEOPLE {
            return Err(format!("this window serves {MAX_PEOPLE} people already"));
        }
        let session = sessions(&name)?;
        let (person, receiver) = Person::new(name, false);
        people.push(person.clone());
        let bot = PersonLoop {
            state: self.template.clone(),
            person: person.clone(),
            commands: receiver,
            hub: self.clone(),
            downloads: HashMap::new(),
        };
        let hub = self.clone();
        let gone = person.clone();
        let mut shutdown = self.shutdown.subscribe();
        let run = tokio::spawn(async move {
            let stop = async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            };
            let result = Router::new()
                .shared_session(session)
                .run_until(bot, stop)
                .await;
            if let Err(e) = result {
                tracing::warn!("a guest of the web window stopped: {e}");
            }
            hub.remove(&gone);
        });
        let mut runs = lock(&self.guest_runs);
        runs.retain(|r| !r.is_finished());
        runs.push(run);
        // The caller publishes the roster once the people are unlocked.
        Ok(person)
    }
}

/// Checks a person's name asked for by a tab.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a name: 1 to 32 letters, digits, -, _ or ."
        ))
    }
}

/// One person's loop: inbound signals, commands from its tabs and the clock, as the terminal
/// window's loop does with keys.
struct PersonLoop {
    state: ChatState,
    person: Arc<Person>,
    commands: mpsc::Receiver<Command>,
    hub: Arc<Hub>,
    /// Downloads by URL waiting for their file, by the id of the `DownloadFile` signal.
    downloads: HashMap<SignalId, oneshot::Sender<Result<File, String>>>,
}

impl Bot for PersonLoop {
    async fn run(mut self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        self.publish();
        loop {
            let actions = tokio::select! {
                signal = inbound.next() => match signal {
                    Some(signal) => self.apply(signal),
                    None => {
                        self.state.info("every session has ended");
                        break;
                    }
                },
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command, &handle).await,
                    None => break,
                },
                _ = tick.tick() => self.state.tick(Instant::now()),
            };
            for action in actions {
                if self.perform(&handle, action).await == Flow::Quit {
                    self.publish();
                    return Ok(());
                }
            }
            self.publish();
        }
        self.publish();
        Ok(())
    }
}

impl PersonLoop {
    fn apply(&mut self, signal: Signal) -> Vec<Action> {
        if let Some(id) = &signal.meta.response_to
            && let Some(reply) = self.downloads.remove(id)
        {
            let answer = match &signal.body {
                Body::File(file) if matches!(file.content, Content::Bytes { .. }) => {
                    Ok(file.clone())
                }
                Body::File(file) => Err(format!("the download of {} gave no bytes", file.name)),
                Body::SendFailure(failure) => Err(failure.message.clone()),
                Body::Unsupported(u) => Err(u.reason.clone()),
                _ => {
                    // Not the answer: keep waiting for it.
                    self.downloads.insert(id.clone(), reply);
                    return self.state.apply(&signal);
                }
            };
            let _ = reply.send(answer);
            return Vec::new();
        }
        let started = matches!(signal.body, Body::SessionStarted(_));
        let actions = self.state.apply(&signal);
        if started {
            let own = self.state.own_address().cloned();
            if self.person.main
                && let Some(own) = &own
            {
                *lock(&self.person.name) = own.id().to_owned();
            }
            *lock(&self.person.own) = own;
            self.hub.publish_roster();
        }
        actions
    }

    async fn command(&mut self, command: Command, handle: &Handle) -> Vec<Action> {
        match command {
            Command::Line(line) => {
                let word = line.split_whitespace().next().unwrap_or("");
                match word {
                    "/send" => {
                        self.state.error(
                            "the web window sends files by upload: use the file button below",
                        );
                        self.state.set_input("")
                    }
                    "/save" => {
                        self.state
                            .error("the web window saves files by their download links");
                        self.state.set_input("")
                    }
                    _ => self.state.submit_line(&line),
                }
            }
            Command::Input(text) => self.state.set_input(&text),
            Command::Open(address) => {
                match self.state.parse_address(&address) {
                    Ok(address) => {
                        self.state.open(address);
                    }
                    Err(e) => self.state.error(format!("cannot open {address}: {e}")),
                }
                Vec::new()
            }
            Command::Upload { to, file, reply } => {
                let to = match to {
                    Some(to) => self.state.parse_address(&to).map_err(|e| e.to_string()),
                    None => self
                        .state
                        .current()
                        .map(|c| c.address().clone())
                        .ok_or_else(|| "no conversation to send to".to_owned()),
                };
                match to {
                    Ok(to) => {
                        let signal = self.state.file_sent(&to, file);
                        match handle.send(signal).await {
                            Ok(_) => {
                                let _ = reply.send(Ok(()));
                            }
                            Err(e) => {
                                self.state.error(format!("not sent: {e}"));
                                let _ = reply.send(Err(e.to_string()));
                            }
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
                Vec::new()
            }
            Command::Download {
                conversation,
                number,
                reply,
            } => {
                self.download(&conversation, number, reply, handle).await;
                Vec::new()
            }
        }
    }

    async fn download(
        &mut self,
        conversation: &str,
        number: usize,
        reply: oneshot::Sender<Result<File, String>>,
        handle: &Handle,
    ) {
        let file = self
            .state
            .parse_address(conversation)
            .ok()
            .and_then(|a| self.state.conversation(&a))
            .and_then(|c| number.checked_sub(1).and_then(|i| c.files().get(i)))
            .cloned();
        let Some(file) = file else {
            let _ = reply.send(Err(format!("no file {number} in {conversation}")));
            return;
        };
        if let Content::Bytes { .. } = file.content {
            let _ = reply.send(Ok(file));
            return;
        }
        let mut request = Signal::new(DownloadFile { file });
        if let Some(own) = self.state.own_address() {
            request = request.to(own.clone());
        }
        let id = request.meta.id.clone();
        self.downloads.insert(id.clone(), reply);
        if let Err(e) = handle.send(request).await
            && let Some(reply) = self.downloads.remove(&id)
        {
            let _ = reply.send(Err(e.to_string()));
        }
    }

    async fn perform(&mut self, handle: &Handle, action: Action) -> Flow {
        match action {
            // A tab never reads or writes the server's disk.
            Action::SendFile { .. } => {
                self.state
                    .error("the web window sends files by upload: use the file button below");
                Flow::Continue
            }
            Action::SaveFile { .. } => {
                self.state
                    .error("the web window saves files by their download links");
                Flow::Continue
            }
            action => perform(&mut self.state, handle, action).await,
        }
    }

    fn publish(&mut self) {
        let view: Arc<str> = view(&self.state, &self.person.name()).into();
        self.person.view.send_if_modified(|old| {
            if *old == view {
                false
            } else {
                *old = view.clone();
                true
            }
        });
    }
}

/// The `view` message: what a tab shows.
fn view(state: &ChatState, person: &str) -> String {
    let current = state.current_index();
    let conversations: Vec<Value> = state
        .conversations()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "address": c.address().to_string(),
                "name": state.display_name(c.address()),
                "room": c.is_room(),
                "current": Some(i) == current,
                "unread": c.unread(),
                "presence": c.presence().map(|(availability, message)| json!({
                    "availability": availability_word(*availability),
                    "message": message,
                })),
                "members": c.members().iter().map(|m| state.display_name(m)).collect::<Vec<_>>(),
                "typing": c.typing().map(|a| state.display_name(a)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let entries = state.shown_entries();
    let earlier = entries.len().saturating_sub(VIEW_ENTRIES);
    json!({
        "type": "view",
        "person": person,
        "you": state.own_address().map(|a| a.with_kind(AddressKind::Unknown).to_string()),
        "connection": state.connection().to_string(),
        "conversations": conversations,
        "current": state.current().map(|c| c.address().to_string()),
        "earlier": earlier,
        "entries": entries[earlier..].iter().map(entry).collect::<Vec<_>>(),
    })
    .to_string()
}

fn entry(entry: &Entry) -> Value {
    let t = entry.time;
    let time = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    match &entry.kind {
        EntryKind::Message {
            from,
            mine,
            subject,
            text,
            attachments,
        } => json!({
            "kind": "message", "time": time, "from": from, "mine": mine, "subject": subject,
            "text": text, "files": attachments.iter().map(file).collect::<Vec<_>>(),
        }),
        EntryKind::File {
            from,
            mine,
            file: f,
        } => json!({
            "kind": "file", "time": time, "from": from, "mine": mine, "files": [file(f)],
        }),
        EntryKind::Status(text) => json!({"kind": "status", "time": time, "text": text}),
        EntryKind::Error(text) => json!({"kind": "error", "time": time, "text": text}),
        EntryKind::Info(text) => json!({"kind": "info", "time": time, "text": text}),
    }
}

fn file(file: &FileRef) -> Value {
    let (size, url) = match &file.file.content {
        Content::Bytes { data } => (Some(data.len() as u64), None),
        Content::Url { url, size } => (*size, Some(url.clone())),
    };
    json!({
        "number": file.number,
        "name": file.file.name,
        "media_type": file.file.media_type,
        "size": size,
        "url": url,
    })
}

// ---- the HTTP side ------------------------------------------------------------------------

/// Serves the page, the WebSocket, uploads and downloads until the window stops.
async fn serve(listener: TcpListener, hub: Arc<Hub>) {
    let page: Arc<str> = PAGE_HTML
        .replace("/*STYLE*/", PAGE_CSS)
        .replace("/*SCRIPT*/", PAGE_JS)
        .into();
    let app = HttpRouter::new()
        .route("/", get(move || page_response(page.clone())))
        .route("/ws", get(websocket))
        .route("/upload", post(upload))
        .route("/file", get(download))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024))
        .layer(middleware::from_fn_with_state(hub.clone(), authorize))
        .with_state(hub.clone());
    let mut shutdown = hub.shutdown.subscribe();
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::warn!("the web window's server failed: {e}");
    }
}

async fn page_response(page: Arc<str>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The token check: with a token, every request carries it (`?token=` or a bearer header).
async fn authorize(State(hub): State<Arc<Hub>>, request: Request, next: Next) -> Response {
    if let Some(token) = &hub.token {
        let from_header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let from_query = request
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
        let given = from_header.or(from_query);
        if !given.is_some_and(|g| token.matches(g)) {
            return (
                StatusCode::UNAUTHORIZED,
                "this chat window needs its token: open the URL it printed\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    #[serde(rename = "as")]
    person: Option<String>,
}

/// Whether the request's `Origin` (if any) is the page's own host: a page of another site may
/// not open the WebSocket (browsers send `Origin` on every WebSocket request).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    matches!((origin, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

async fn websocket(
    State(hub): State<Arc<Hub>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "the chat window's WebSocket is for its own page only\n",
        )
            .into_response();
    }
    upgrade
        .max_message_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| tab(socket, hub, query.person))
}

/// What a tab sends: see the README.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TabMessage {
    /// A line of the input box, submitted.
    Say { text: String },
    /// The input box's text changed.
    Input { text: String },
    /// Show a conversation.
    Open { conversation: String },
    /// Set one's own presence.
    Status {
        availability: String,
        #[serde(default)]
        message: Option<String>,
    },
}

fn error_message(text: &str) -> WsMessage {
    WsMessage::Text(json!({"type": "error", "message": text}).to_string().into())
}

/// Counts a tab attached to a person while it lives.
struct Attached(Arc<Person>);

impl Drop for Attached {
    fn drop(&mut self) {
        self.0.tabs.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One tab's WebSocket: the person's views and the roster out, the tab's messages in.
async fn tab(socket: WebSocket, hub: Arc<Hub>, wanted: Option<String>) {
    let (mut out, mut incoming) = socket.split();
    let attached = match hub.pick(wanted.as_deref().filter(|w| !w.is_empty())) {
        Ok(attached) => attached,
        Err(e) => {
            let _ = out.send(error_message(&e)).await;
            let _ = out.send(WsMessage::Close(None)).await;
            return;
        }
    };
    hub.publish_roster();
    let person = attached.0.clone();
    let mut views = person.view.subscribe();
    let mut roster = hub.roster.subscribe();
    let mut shutdown = hub.shutdown.subscribe();
    let first = [
        views.borrow_and_update().clone(),
        roster.borrow_and_update().clone(),
    ];
    for message in first.iter().filter(|m| !m.is_empty()) {
        if out
            .send(WsMessage::Text(message.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    loop {
        let outgoing = tokio::select! {
            changed = views.changed() => match changed {
                Ok(()) => views.borrow_and_update().clone(),
                Err(_) => {
                    let _ = out.send(error_message("this person has left")).await;
                    break;
                }
            },
            changed = roster.changed() => match changed {
                Ok(()) => roster.borrow_and_update().clone(),
                Err(_) => break,
            },
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            message = incoming.next() => match message {
                Some(Ok(WsMessage::Text(text))) => {
                    match handle_tab_message(&person, text.as_str()).await {
                        Ok(()) => continue,
                        Err(e) => {
                            if out.send(error_message(&e)).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    }
                }
                Some(Ok(WsMessage::Binary(_))) => {
                    if out.send(error_message("binary messages are not understood: send JSON text")).await.is_err() {
                        break;
                    }
                    continue;
                }
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
            },
        };
        if outgoing.is_empty() {
            continue;
        }
        if out
            .send(WsMessage::Text(outgoing.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = out.send(WsMessage::Close(None)).await;
}

/// Hands a tab's message to its person; an error is for that tab only.
async fn handle_tab_message(person: &Person, text: &str) -> Result<(), String> {
    let message: TabMessage =
        serde_json::from_str(text).map_err(|e| format!("not a message of this window: {e}"))?;
    let command = match message {
        TabMessage::Say { text } => Command::Line(text),
        TabMessage::Input { text } => Command::Input(text),
        TabMessage::Open { conversation } => Command::Open(conversation),
        TabMessage::Status {
            availability,
            message,
        } => {
            if availability.split_whitespace().count() != 1 {
                return Err(format!("`{availability}` is not an availability"));
            }
            let message = message.unwrap_or_default();
            Command::Line(format!("/status {availability} {message}"))
        }
    };
    person
        .commands
        .send(command)
        .await
        .map_err(|_| "this person has left".to_owned())
}

#[derive(Debug, Deserialize)]
struct FileQuery {
    #[serde(rename = "as")]
    person: String,
    #[serde(default)]
    to: Option<String>,
}

fn find_person(hub: &Hub, name: &str) -> Option<Arc<Person>> {
    lock(&hub.people)
        .iter()
        .find(|p| p.answers_to(name))
        .cloned()
}

fn no_person(name: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no person {name} here\n")).into_response()
}

/// `POST /upload?as=PERSON[&to=ADDRESS]` with a multipart field `file`: sends it.
async fn upload(
    State(hub): State<Arc<Hub>>,
    Query(query): Query<FileQuery>,
    mut multipart: Multipart,
) -> Response {
    let Some(person) = find_person(&hub, &query.person) else {
        return no_person(&query.person);
    };
    let field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            Ok(Some(_)) => continue,
            Ok(None) => {
                return (StatusCode::BAD_REQUEST, "no field `file` in the upload\n")
                    .into_response();
            }
            Err(e) => {
                return (e.status(), format!("bad upload: {}\n", e.body_text())).into_response();
            }
        }
    };
    let name = field
        .file_name()
        .filter(|n| !n.is_empty())
        .map_or_else(|| "file".to_owned(), str::to_owned);
    let media_type = field
        .content_type()
        .filter(|t| !t.is_empty() && *t != "application/octet-stream")
        .map(str::to_owned);
    let data = match field.bytes().await {
        Ok(data) => data,
        Err(e) => return (e.status(), format!("bad upload: {}\n", e.body_text())).into_response(),
    };
    let file = File {
        name,
        media_type,
        content: Content::Bytes { data },
    };
    let (reply, answer) = oneshot::channel();
    let command = Command::Upload {
        to: query.to,
        file,
        reply,
    };
    if person.commands.send(command).await.is_err() {
        return (StatusCode::GONE, "this person has left\n").into_response();
    }
    match answer.await {
        Ok(Ok(())) => (StatusCode::OK, "sent\n").into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("not sent: {e}\n")).into_response(),
        Err(_) => (StatusCode::GONE, "this person has left\n").into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct DownloadQuery {
    #[serde(rename = "as")]
    person: String,
    conversation: String,
    n: usize,
}

/// `GET /file?as=PERSON&conversation=ADDRESS&n=N`: file `N` of the conversation, as an
/// attachment (downloaded with a `DownloadFile` signal first when it is a URL).
async fn download(State(hub): State<Arc<Hub>>, Query(query): Query<DownloadQuery>) -> Response {
    let Some(person) = find_person(&hub, &query.person) else {
        return no_person(&query.person);
    };
    let (reply, answer) = oneshot::channel();
    let command = Command::Download {
        conversation: query.conversation,
        number: query.n,
        reply,
    };
    if person.commands.send(command).await.is_err() {
        return (StatusCode::GONE, "this person has left\n").into_response();
    }
    let file = match tokio::time::timeout(DOWNLOAD_TIMEOUT, answer).await {
        Ok(Ok(Ok(file))) => file,
        Ok(Ok(Err(e))) => return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
        Ok(Err(_)) => return (StatusCode::GONE, "this person has left\n").into_response(),
        Err(_) => {
            return (StatusCode::GATEWAY_TIMEOUT, "the download took too long\n").into_response();
        }
    };
    let Content::Bytes { data } = file.content else {
        return (StatusCode::BAD_GATEWAY, "the download gave no bytes\n").into_response();
    };
    let media_type = file
        .media_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = Response::new(HttpBody::from(data));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media_type);
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&file.name));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A received file is never run as a page of this window's origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `attachment; filename="…"; filename*=UTF-8''…`, the plain name limited to safe characters.
fn content_disposition(name: &str) -> HeaderValue {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_. ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}
