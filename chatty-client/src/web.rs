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

mod hosts;
mod http;
mod limits;
mod options;
mod people;
mod view;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use chatty_core::driver::lock;
use chatty_core::session::Session;
use chatty_core::{Address, Bot, BotError, Handle, Inbound, Secret};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::ChatState;

use self::hosts::Hosts;
use self::http::serve;
use self::limits::STOP_WAIT;
use self::options::Token;
use self::people::{GuestSessions, Hub, PersonLoop};

pub use limits::{GUEST_IDLE, MAX_PEOPLE, MAX_UPLOAD, MAX_WS_MESSAGE, MIN_TOKEN_LEN, VIEW_ENTRIES};
pub use options::{WebError, WebOptions};

/// The web chat window: a person (or several, one per browser tab) in a browser as a bot.
///
/// [`WebClient::bind`] (or [`WebClient::open`]) listens (on 127.0.0.1 unless told otherwise;
/// anywhere else only with a token); [`url`](WebClient::url) is the address to open; running it
/// as a bot serves the page and its WebSocket until the bot's sessions end or a tab types
/// `/quit`. Requests naming a host other than loopback names, the address it listens on and its
/// public names are refused (DNS rebinding).
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
    hosts: Hosts,
    state: ChatState,
    guests: Option<GuestSessions>,
    guest_idle: std::time::Duration,
}

impl fmt::Debug for WebClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebClient")
            .field("local", &self.local)
            .field("token", &self.token)
            .field("hosts", &self.hosts)
            .field("guests", &self.guests.is_some())
            .finish_non_exhaustive()
    }
}

impl WebClient {
    /// Listens on `address` (port 0 picks a free port). A token is needed for any address that
    /// is not a loopback address; with a token, every request (the page, the WebSocket, uploads,
    /// downloads) must carry it, as `?token=` or `Authorization: Bearer`. The same as
    /// [`WebClient::open`] without public names.
    pub async fn bind(address: SocketAddr, token: Option<Secret>) -> Result<WebClient, WebError> {
        let mut options = WebOptions::new(address);
        options.token = token;
        WebClient::open(options).await
    }

    /// Checks `options` as [`WebOptions::check`] does, and listens.
    pub async fn open(options: WebOptions) -> Result<WebClient, WebError> {
        let checked = options.checked()?;
        let address = options.bind;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| WebError::Bind { address, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| WebError::Bind { address, source })?;
        Ok(WebClient {
            listener,
            local,
            token: checked.token,
            hosts: checked.hosts,
            state: ChatState::new(),
            guests: None,
            guest_idle: GUEST_IDLE,
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
    /// returns, until the window stops or no tab has shown it for [`guest_idle`](WebClient::guest_idle).
    /// A new tab never gets a closed tab's guest. Names are 1 to 32 letters, digits, `-`, `_` or `.`; at
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

    /// How long a guest stays after its last tab closed ([`GUEST_IDLE`] by default): a reload
    /// within it finds the same person; after it the guest leaves (its session ends) and a tab
    /// asking for its name gets a new person. A new tab never takes over a closed tab's guest.
    #[must_use]
    pub fn guest_idle(mut self, idle: std::time::Duration) -> Self {
        self.guest_idle = idle;
        self
    }

    /// The address the window listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The URL to open, without the token (so that it can be printed and logged):
    /// `http://ADDRESS:PORT/` on a loopback or particular address, `http://NAME:PORT/` with the
    /// first public name, `http://127.0.0.1:PORT/` on an unspecified address (`0.0.0.0`). With a
    /// token, the person opens it with `?token=TOKEN` added.
    pub fn url(&self) -> String {
        let port = self.local.port();
        let ip = self.local.ip();
        if ip.is_loopback() {
            return format!("http://{}/", self.local);
        }
        if let Some(name) = self.hosts.first_public() {
            return if name.contains(':') {
                format!("http://[{name}]:{port}/")
            } else {
                format!("http://{name}:{port}/")
            };
        }
        if ip.is_unspecified() {
            return format!("http://{}/", SocketAddr::from((loopback_of(ip), port)));
        }
        format!("http://{}/", self.local)
    }

    /// Whether requests must carry a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
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
        let url = self.url();
        let hub = Arc::new(Hub {
            token: self.token,
            hosts: self.hosts,
            url,
            people: Mutex::new(Vec::new()),
            roster,
            guests: self.guests,
            template: self.state.clone(),
            next_guest: AtomicUsize::new(1),
            shutdown,
            guest_runs: Mutex::new(Vec::new()),
            guest_idle: self.guest_idle,
        });
        let (person, commands) = hub.add_person(String::new(), true);
        let server = tokio::spawn(serve(self.listener, hub.clone()));
        let result = PersonLoop {
            state: self.state,
            person: person.clone(),
            commands,
            hub: hub.clone(),
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

/// The loopback address of the same family as `ip`.
fn loopback_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    }
}
