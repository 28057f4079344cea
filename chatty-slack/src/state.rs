//! What the session's modules share: the configuration, the Web API clients (made at the first
//! connection), the connection once `auth.test` has named the bot, the memory of message
//! places, and the inbound ids seen.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use chatty_core::Revealed;
use chatty_core::driver::{Recent, lock};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::api::WebApi;
use crate::config::SlackConfig;
use crate::ids::Ids;
use crate::mapper::Mapper;

/// A plain HTTP client (hyper with rustls), for downloads.
pub(crate) type Http = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, String>;

/// How many event ids and message places are remembered to drop redeliveries.
const SEEN: usize = 10_000;

/// Which events and messages arrived lately (the last `SEEN` of each), across connections:
/// Slack sends again on the next connection what was not acknowledged on the last, and a
/// mention twice (`message` and `app_mention`). The inbound module reads payloads with it.
#[derive(Debug)]
pub(crate) struct Intake {
    /// `event_id`s.
    pub(crate) events: Recent<String, ()>,
    /// `CHANNEL/TS` of messages.
    pub(crate) places: Recent<String, ()>,
    /// The signal ids of clicks and slash commands (each made from its payload alone).
    pub(crate) actions: Recent<String, ()>,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            events: Recent::new(SEEN),
            places: Recent::new(SEEN),
            actions: Recent::new(SEEN),
        }
    }
}

/// The Web API clients and tokens, made once, when the session first connects.
#[derive(Debug)]
pub(crate) struct Web {
    /// The Web API with the bot token.
    pub(crate) api: WebApi,
    /// The Web API with the app-level token (Socket Mode).
    pub(crate) app: WebApi,
    /// Plain HTTP, for downloads.
    pub(crate) http: Http,
    /// The bot token, for downloads.
    pub(crate) bot_secret: Revealed,
}

/// A session's connection, once `auth.test` named the bot.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The clients.
    pub(crate) web: Arc<Web>,
    /// Addresses, and who the bot is.
    pub(crate) mapper: Mapper,
}

/// The session's shared state.
#[derive(Debug)]
pub(crate) struct State {
    /// The configuration.
    pub(crate) config: SlackConfig,
    web: Mutex<Option<Arc<Web>>>,
    conn: RwLock<Option<Arc<Conn>>>,
    /// Signal ids ↔ Slack places, and DM channels.
    pub(crate) ids: Mutex<Ids>,
    /// Which events and messages arrived already.
    pub(crate) intake: Mutex<Intake>,
    /// Held while a signal is being sent: signals go out one at a time, in order.
    pub(crate) sending: tokio::sync::Mutex<()>,
    /// Whether the configured channels were joined (once, at the first connection).
    pub(crate) joined: AtomicBool,
}

impl State {
    /// The state of a session for `config`, not connected.
    pub(crate) fn new(config: SlackConfig) -> Self {
        State {
            config,
            web: Mutex::new(None),
            conn: RwLock::new(None),
            ids: Mutex::new(Ids::default()),
            intake: Mutex::new(Intake::default()),
            sending: tokio::sync::Mutex::new(()),
            joined: AtomicBool::new(false),
        }
    }

    /// The connection, once `auth.test` named the bot.
    pub(crate) fn conn(&self) -> Option<Arc<Conn>> {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records the connection.
    pub(crate) fn set_conn(&self, conn: Arc<Conn>) {
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(conn);
    }

    /// The clients, made by `make` the first time.
    pub(crate) fn web<E>(&self, make: impl FnOnce() -> Result<Web, E>) -> Result<Arc<Web>, E> {
        let mut web = lock(&self.web);
        if let Some(web) = &*web {
            return Ok(web.clone());
        }
        let made = Arc::new(make()?);
        *web = Some(made.clone());
        Ok(made)
    }
}
