//! The runner: builds sessions and bots from a config file and runs them until interrupted.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::session::Session;
use chatty_core::{Address, Bot, BotError, BoxBot, Router};
use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;

use crate::config::{self, BotConfig, ConfigError, LoadedConfig};

#[cfg(feature = "dispatch")]
mod dispatch;
mod hubs;
mod journal;
mod logger;
mod sessions;
mod web;
use sessions::{Networks, build_session, command_prefixes};
use web::make_web;

/// The most signals a config may ask a queue to hold (a Synchronizer's `capacity`, a process
/// bot's `in_hand`): room for each is made up front, so a larger number would only exhaust
/// memory.
const MAX_QUEUE: usize = 1_000_000;

/// How long the sessions may take to end in order after an interrupt before the runner stops
/// waiting.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

type Factory = Box<dyn Fn(&BotContext<'_>) -> Result<BoxBot, BotError> + Send + Sync>;

/// A registered Rust bot type.
struct Registered {
    factory: Factory,
    /// Whether it runs behind a Synchronizer (registered with [`Runner::sync_bot`]).
    synchronized: bool,
    /// Whether it reads its sessions' `command_prefix` (registered with `Runner::dispatcher`).
    takes_prefixes: bool,
}

/// What a bot factory knows: the bot's name in the config, its settings, and where it keeps its
/// state.
#[derive(Debug)]
pub struct BotContext<'a> {
    name: &'a str,
    loaded: &'a LoadedConfig,
    /// The journal's database, when the run has a journal.
    store: Option<Arc<dyn chatty_core::state::KeyValueStore>>,
    /// The `command_prefix` of each of its sessions that sets one, by session name.
    command_prefixes: Vec<(String, String)>,
}

impl BotContext<'_> {
    /// The bot's name in the config (`bots.NAME`).
    pub fn name(&self) -> &str {
        self.name
    }

    /// Where the bot keeps what it must remember across signals and restarts, under its name:
    /// in the PostgreSQL database `[state]` names (shared by every process of the bot), else in
    /// the journal's database (the state directory's SQLite file, or PostgreSQL with `[journal]
    /// url`), written through the journal's writer. With neither (the journal off), and for
    /// `chatty check`, in memory: gone when the process ends.
    ///
    /// ```no_run
    /// use chatty::prelude::*;
    /// use chatty::Runner;
    /// use chatty::state::State;
    ///
    /// /// Tells each person how many messages they sent, across restarts.
    /// struct Counter(State);
    ///
    /// impl Bot for Counter {
    ///     async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
    ///         while let Some(signal) = inbound.next().await {
    ///             let (Body::Message(_), Some(from)) = (&signal.body, &signal.meta.origin) else {
    ///                 continue;
    ///             };
    ///             let key = format!("count/{from}");
    ///             let count = self.0.get::<u64>(&key).await?.unwrap_or(0) + 1;
    ///             self.0.put(&key, &count).await?;
    ///             handle.send(signal.reply(Message::text(count.to_string()))).await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     Runner::new().bot("counter", |ctx| Ok(Counter(ctx.state()))).main()
    /// }
    /// ```
    pub fn state(&self) -> chatty_core::state::State {
        match &self.store {
            Some(store) => chatty_core::state::State::shared(store.clone(), self.name),
            None => chatty_core::state::State::in_memory(self.name),
        }
    }

    /// The prefix of text commands each of the bot's sessions sets (`[sessions.X]
    /// command_prefix`), as (session name, prefix).
    pub fn command_prefixes(&self) -> &[(String, String)] {
        &self.command_prefixes
    }

    /// The bot's `settings` table as a `T` (from an empty table when there is none).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and key, when the settings do not fit `T`.
    pub fn settings<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let has = self
            .loaded
            .config
            .bots
            .get(self.name)
            .is_some_and(|b| b.settings.is_some());
        if has {
            self.loaded.extract(&format!("bots.{}.settings", self.name))
        } else {
            serde_json::from_value(serde_json::json!({})).map_err(|e| ConfigError::Invalid {
                origin: self.loaded.file.display().to_string(),
                key: format!("bots.{}.settings", self.name),
                message: format!("missing: {e}"),
            })
        }
    }
}

/// Builds sessions and bots from a config file and runs them: the `chatty` binary, and the
/// `main` of a program that adds its own bots.
///
/// ```no_run
/// use chatty::prelude::*;
/// use chatty::Runner;
///
/// /// Answers "ping" with "pong".
/// struct PingBot;
///
/// impl Bot for PingBot {
///     async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
///         while let Some(signal) = inbound.next().await {
///             if matches!(&signal.body, Body::Message(m) if m.text == "ping") {
///                 handle.send(signal.reply(Message::text("pong"))).await?;
///             }
///         }
///         Ok(())
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     // `chatty run CONFIG` with `[bots.NAME] rust = "ping"` in the config runs a PingBot.
///     Runner::new().bot("ping", |_| Ok(PingBot)).main()
/// }
/// ```
#[derive(Default)]
pub struct Runner {
    registered: BTreeMap<String, Registered>,
    #[cfg(feature = "direct")]
    networks: BTreeMap<String, chatty_direct::Network>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("registered", &self.registered.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Parser)]
#[command(
    name = "chatty",
    version,
    about = "Runs Chatty bots on the sessions a config file names."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every bot of CONFIG until interrupted (Ctrl-C or SIGTERM end every session in order).
    Run {
        /// The config file (TOML); `CHATTY_…` environment variables override its keys.
        config: PathBuf,
    },
    /// Checks CONFIG (keys, references, secrets, session settings) without connecting.
    Check {
        /// The config file (TOML).
        config: PathBuf,
    },
}

/// One bot, built: its sessions and the bot itself.
struct Built {
    name: String,
    sessions: Vec<Arc<dyn Session>>,
    /// Answer limits the config sets, by session name (`None`: no limit).
    answer_limits: Vec<(String, Option<chatty_core::AnswerLimit>)>,
    bot: BoxBot,
    /// The hub it is a gateway to, and those of its worker sessions.
    hubs: hubs::Hubs,
}

impl Runner {
    /// A runner that knows the built-in bots only.
    pub fn new() -> Self {
        Runner::default()
    }

    /// Registers a Rust bot type under `name`: `[bots.X] rust = "NAME"` runs the bot `factory`
    /// makes.
    #[must_use]
    pub fn bot<B, F>(mut self, name: &str, factory: F) -> Self
    where
        B: Bot,
        F: Fn(&BotContext<'_>) -> Result<B, BotError> + Send + Sync + 'static,
    {
        self.registered.insert(
            name.to_owned(),
            Registered {
                factory: Box::new(move |ctx| factory(ctx).map(BoxBot::new)),
                synchronized: false,
                takes_prefixes: false,
            },
        );
        self
    }

    /// Uses `network` for the config's direct sessions on the network of that name, so that the
    /// program (a test, a chat window of its own) can take part in it.
    ///
    /// ```
    /// use chatty::Runner;
    /// use chatty::direct::Network;
    ///
    /// let network = Network::named("office");
    /// let runner = Runner::new().network(network.clone());
    /// // `[sessions.x.direct] network = "office"` sessions are endpoints of `network`.
    /// # let _ = runner;
    /// ```
    #[cfg(feature = "direct")]
    #[must_use]
    pub fn network(mut self, network: chatty_direct::Network) -> Self {
        self.networks.insert(network.name().to_owned(), network);
        self
    }

    /// Registers a synchronous (blocking) bot type under `name`; it runs behind a Synchronizer,
    /// whose queue capacity `[bots.X] synchronizer = { capacity = N }` sets.
    #[cfg(feature = "sync")]
    #[must_use]
    pub fn sync_bot<S, F>(mut self, name: &str, factory: F) -> Self
    where
        S: chatty_sync::SyncBot,
        F: Fn(&BotContext<'_>) -> Result<S, BotError> + Send + Sync + 'static,
    {
        self.registered.insert(
            name.to_owned(),
            Registered {
                factory: Box::new(move |ctx| {
                    let bot = factory(ctx)?;
                    let settings = ctx
                        .loaded
                        .config
                        .bots
                        .get(ctx.name)
                        .and_then(|b| b.synchronizer.clone())
                        .unwrap_or_default();
                    let mut synchronizer = chatty_sync::Synchronizer::new(bot)
                        .with_thread_name(format!("chatty-bot-{}", ctx.name));
                    if let Some(capacity) = settings.capacity {
                        if !(1..=MAX_QUEUE).contains(&capacity) {
                            let cause =
                                format!("synchronizer: capacity must be from 1 to {MAX_QUEUE}");
                            return Err(cause.into());
                        }
                        synchronizer = synchronizer.with_capacity(capacity);
                    }
                    Ok(BoxBot::new(synchronizer))
                }),
                synchronized: true,
                takes_prefixes: false,
            },
        );
        self
    }

    /// Runs the command line (`chatty run CONFIG`, `chatty check CONFIG`) and returns the exit
    /// code: 0 on success, 1 on a failed run, 2 on a bad config.
    pub fn main(self) -> ExitCode {
        let cli = Cli::parse();
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("chatty: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        match cli.command {
            Command::Check { config } => match runtime.block_on(self.check(&config)) {
                Ok(summary) => {
                    println!("{}: ok ({summary})", config.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            },
            Command::Run { config } => {
                let loaded = match config::load(&config) {
                    Ok(loaded) => loaded,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                };
                init_tracing(&loaded);
                match runtime.block_on(self.run_loaded(&loaded, interrupted())) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(RunError::Config(e)) => {
                        eprintln!("{e}");
                        ExitCode::from(2)
                    }
                    Err(e) => {
                        eprintln!("chatty: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }

    /// Checks a config file without connecting: keys, references, bot kinds, secrets (read, not
    /// shown), and each session's and bot's own settings. Returns a one-line summary.
    ///
    /// # Errors
    /// The first problem, naming the file and key.
    pub async fn check(&self, file: &Path) -> Result<String, ConfigError> {
        let loaded = config::load(file)?;
        for (key, secret) in config::secrets(&loaded.config) {
            secret.reveal().map_err(|e| ConfigError::Invalid {
                origin: loaded.file.display().to_string(),
                key,
                message: e.to_string(),
            })?;
        }
        let built = self
            .build(&loaded, logger::Stores::Closed, None)
            .await
            .map_err(|e| match e {
                RunError::Config(e) => e,
                other => ConfigError::Invalid {
                    origin: loaded.file.display().to_string(),
                    key: "(top)".into(),
                    message: other.to_string(),
                },
            })?;
        Ok(format!(
            "{} session{}, {} bot{}",
            loaded.config.sessions.len(),
            if loaded.config.sessions.len() == 1 {
                ""
            } else {
                "s"
            },
            built.len(),
            if built.len() == 1 { "" } else { "s" },
        ))
    }

    /// Loads `file` and runs every bot until `shutdown` completes; then every session ends in
    /// order (initiate session end, about to end, ended) and the run returns.
    ///
    /// # Errors
    /// A bad config, a session or logger that cannot be set up, or a bot that failed.
    pub async fn run_file(
        &self,
        file: &Path,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let loaded = config::load(file)?;
        self.run_loaded(&loaded, shutdown).await
    }

    async fn run_loaded(
        &self,
        loaded: &LoadedConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        if loaded.config.bots.is_empty() {
            return Err(RunError::Config(ConfigError::Invalid {
                origin: loaded.file.display().to_string(),
                key: "bots".into(),
                message: "no bots: nothing to run".into(),
            }));
        }
        let journal = journal::open(loaded).await.map_err(|message| {
            RunError::Config(ConfigError::Invalid {
                origin: loaded.file.display().to_string(),
                key: "journal".into(),
                message,
            })
        })?;
        let state = journal::open_state(loaded).await.map_err(|message| {
            RunError::Config(ConfigError::Invalid {
                origin: loaded.file.display().to_string(),
                key: "state".into(),
                message,
            })
        })?;
        // The bots' state: in `[state]`'s database, else in the journal's.
        let store = state
            .as_ref()
            .map(|state| state.store.clone())
            .or_else(|| journal.as_ref().map(journal::RunJournal::key_values));
        let built = self
            .build(loaded, logger::Stores::Open(journal.as_ref()), store)
            .await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut runs = tokio::task::JoinSet::new();
        for Built {
            name,
            sessions,
            answer_limits,
            bot,
            hubs,
        } in built
        {
            let mut router = Router::new();
            for session in sessions {
                router = router.shared_session(session);
            }
            for (session, limit) in answer_limits {
                router = router.answer_limit(&session, limit);
            }
            if let Some(journal) = &journal {
                router = router
                    .shared_journal(hubs.journal(journal.journal.clone()))
                    .journal_scope(&name);
            }
            let mut stop = stop_rx.clone();
            runs.spawn(async move {
                // A gateway runs only while it holds its hub; a standby waits here.
                let hold = tokio::select! {
                    hold = hubs.hold() => hold,
                    _ = stop.wait_for(|s| *s) => return (name, Ok(())),
                };
                let hold = match hold {
                    Ok(hold) => Arc::new(hold),
                    Err(e) => return (name, Err(e.into())),
                };
                let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let shutdown = {
                    let (hold, lost) = (hold.clone(), lost.clone());
                    async move {
                        tokio::select! {
                            _ = stop.wait_for(|s| *s) => {}
                            () = hold.lost() => lost.store(true, std::sync::atomic::Ordering::Relaxed),
                        }
                    }
                };
                tracing::info!(bot = %name, "running");
                let mut result = router.run_until(bot, shutdown).await;
                if lost.load(std::sync::atomic::Ordering::Relaxed) {
                    result = Err("it lost its hold on the NATS hub (another gateway may run it \
                                  now): its sessions were ended"
                        .into());
                }
                drop(hold);
                (name, result)
            });
        }
        let mut failures = Vec::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = false;
        loop {
            tokio::select! {
                () = &mut shutdown, if !stopping => {
                    tracing::info!("ending every session");
                    stopping = true;
                    let _ = stop_tx.send(true);
                }
                next = runs.join_next() => {
                    let Some(next) = next else { break };
                    match next {
                        Ok((name, Ok(()))) => tracing::info!(bot = %name, "stopped"),
                        Ok((name, Err(e))) => {
                            tracing::error!(bot = %name, "failed: {e}");
                            failures.push(format!("bot `{name}` failed: {e}"));
                        }
                        Err(e) => failures.push(format!("a bot panicked: {e}")),
                    }
                    if !stopping && runs.is_empty() {
                        break;
                    }
                }
                () = tokio::time::sleep(SHUTDOWN_GRACE), if stopping => {
                    failures.push(format!("sessions still running {SHUTDOWN_GRACE:?} after the interrupt"));
                    runs.abort_all();
                    break;
                }
            }
        }
        if let Some(journal) = &journal
            && let Err(e) = journal.finish().await
        {
            failures.push(format!("the journal: {e}"));
        }
        if let Some(state) = &state
            && let Err(e) = state.finish().await
        {
            failures.push(format!("the bots' state: {e}"));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(RunError::Failed(failures.join("; ")))
        }
    }

    /// Builds every bot and its sessions. `stores`: where the loggers' databases are opened
    /// (not for `check`, which must not create files).
    /// `store`: where the bots keep their state (in memory without one).
    async fn build(
        &self,
        loaded: &LoadedConfig,
        stores: logger::Stores<'_>,
        store: Option<Arc<dyn chatty_core::state::KeyValueStore>>,
    ) -> Result<Vec<Built>, RunError> {
        let open_stores = stores.open();
        // The bot whose Logger keeps its records in the journal's database, if one does.
        let mut in_journal = None;
        let file = &loaded.file;
        let invalid = |key: String, message: String| {
            RunError::Config(ConfigError::Invalid {
                origin: file.display().to_string(),
                key,
                message,
            })
        };
        let mut networks = Networks {
            #[cfg(feature = "direct")]
            by_name: self.networks.clone(),
        };
        let mut workers = hubs::Workers::default();
        let mut sessions: BTreeMap<&str, Arc<dyn Session>> = BTreeMap::new();
        for (name, session) in &loaded.config.sessions {
            let built = build_session(name, session, &mut networks, &mut workers, loaded)
                .map_err(|message| invalid(format!("sessions.{name}"), message))?;
            sessions.insert(name, built);
        }
        let mut out = Vec::new();
        for (name, bot_config) in &loaded.config.bots {
            let kind = config::kind_of(file, name, bot_config)?;
            let takes_prefixes = bot_config
                .rust
                .as_ref()
                .and_then(|r| self.registered.get(r))
                .is_some_and(|r| r.takes_prefixes);
            let command_prefixes =
                command_prefixes(name, bot_config, takes_prefixes, &sessions, loaded)
                    .map_err(|(key, message)| invalid(key, message))?;
            let ctx = BotContext {
                name,
                loaded,
                store: store.clone(),
                command_prefixes,
            };
            if bot_config.synchronizer.is_some()
                && !bot_config
                    .rust
                    .as_ref()
                    .and_then(|r| self.registered.get(r))
                    .is_some_and(|r| r.synchronized)
            {
                return Err(invalid(
                    format!("bots.{name}.synchronizer"),
                    "only a bot registered with Runner::sync_bot runs behind a synchronizer".into(),
                ));
            }
            let made = if kind == "web" {
                make_web(bot_config, open_stores)
                    .await
                    .map_err(MakeError::Other)
            } else {
                self.make_bot(kind, bot_config, &ctx, loaded)
            };
            let bot = made.map_err(|error| match error {
                MakeError::Config(e) => RunError::Config(e),
                MakeError::Other(message) => invalid(format!("bots.{name}.{kind}"), message),
            })?;
            let bot = logger::wrap(bot, bot_config, loaded, stores, &mut in_journal, name)
                .await
                .map_err(|message| invalid(format!("bots.{name}.logger"), message))?;
            let bot_sessions: Vec<Arc<dyn Session>> = bot_config
                .sessions
                .iter()
                .filter_map(|s| sessions.get(s.as_str()).cloned())
                .collect();
            let answer_limits = bot_config
                .sessions
                .iter()
                .filter_map(|key| {
                    let setting = loaded.config.sessions.get(key)?.answer_limit?;
                    let session = sessions.get(key.as_str())?;
                    Some((session.name().to_owned(), setting.router_setting()?))
                })
                .collect();
            out.push(Built {
                name: name.clone(),
                sessions: bot_sessions,
                answer_limits,
                bot,
                hubs: hubs::Hubs::of(bot_config, &workers),
            });
        }
        Ok(out)
    }

    fn make_bot(
        &self,
        kind: &str,
        bot: &BotConfig,
        ctx: &BotContext<'_>,
        loaded: &LoadedConfig,
    ) -> Result<BoxBot, MakeError> {
        let address = |text: &str| -> Result<Address, String> {
            text.parse()
                .map_err(|e| format!("`{text}` is not an address: {e}"))
        };
        match kind {
            "echo" => Ok(BoxBot::new(crate::EchoBot)),
            "relay" => {
                let relay = bot.relay.as_ref().ok_or("missing")?;
                let mut out = crate::RelayBot::new().label(relay.label);
                for [a, b] in &relay.pairs {
                    out = out.pair(address(a)?, address(b)?);
                }
                Ok(BoxBot::new(out))
            }
            "process" => {
                let p = bot.process.as_ref().ok_or("missing")?;
                if p.restart_min_ms == 0 || p.restart_min_ms > p.restart_max_ms {
                    return Err(
                        "restart_min_ms must be at least 1 and at most restart_max_ms".into(),
                    );
                }
                if !(1..=MAX_QUEUE).contains(&p.in_hand) {
                    return Err(format!("in_hand must be from 1 to {MAX_QUEUE}").into());
                }
                // Relative to the config file's directory.
                let dir = loaded
                    .dir()
                    .join(p.dir.as_deref().unwrap_or(Path::new(".")));
                let mut process = crate::ProcessBot::new(ctx.name(), &p.command)
                    .args(p.args.iter().cloned())
                    .dir(dir)
                    .restart_backoff(
                        Duration::from_millis(p.restart_min_ms),
                        Duration::from_millis(p.restart_max_ms),
                    )
                    .in_hand(p.in_hand);
                for (key, value) in &p.env {
                    process = process.env(key, value);
                }
                Ok(BoxBot::new(process))
            }
            #[cfg(feature = "proxy")]
            "proxy" => {
                let p = bot.proxy.as_ref().ok_or("missing")?;
                let mut proxy = chatty_proxy::Proxy::new(address(&p.remote)?);
                if let Some(local) = &p.local {
                    proxy = proxy.local(address(local)?);
                }
                Ok(BoxBot::new(proxy))
            }
            #[cfg(feature = "nats")]
            "nats" => {
                let config = bot.nats_config().cloned().ok_or("missing")?;
                Ok(BoxBot::new(chatty_nats::NatsGateway::new(config)))
            }
            #[cfg(feature = "client")]
            "terminal" => {
                let t = bot.terminal.as_ref().ok_or("missing")?;
                let mut client = chatty_client::TerminalClient::new();
                if let Some(to) = &t.talk_to {
                    client = client.talk_to(address(to)?);
                }
                Ok(BoxBot::new(client))
            }
            "rust" => {
                let wanted = bot.rust.as_deref().unwrap_or_default();
                let Some(registered) = self.registered.get(wanted) else {
                    let known: Vec<&str> = self.registered.keys().map(String::as_str).collect();
                    return Err(MakeError::Other(format!(
                        "no Rust bot is registered as `{wanted}` in this program{}",
                        if known.is_empty() {
                            " (it registers none: run it with a program that calls Runner::bot)"
                                .to_owned()
                        } else {
                            format!("; it has: {}", known.join(", "))
                        }
                    )));
                };
                (registered.factory)(ctx).map_err(|e| match e.downcast::<ConfigError>() {
                    Ok(config) => MakeError::Config(*config),
                    Err(other) => MakeError::Other(other.to_string()),
                })
            }
            other => Err(MakeError::Other(format!(
                "bots of kind `{other}` are not compiled into this program: build chatty with the feature `{other}`"
            ))),
        }
    }
}

/// Why a bot could not be made.
#[derive(Debug)]
enum MakeError {
    /// A config error of its own (from its settings): passed on as it is.
    Config(ConfigError),
    /// Anything else: named with the bot's kind key.
    Other(String),
}

impl From<String> for MakeError {
    fn from(message: String) -> Self {
        MakeError::Other(message)
    }
}

impl From<&str> for MakeError {
    fn from(message: &str) -> Self {
        MakeError::Other(message.to_owned())
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config is bad.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A bot failed, or the sessions did not end in time.
    #[error("{0}")]
    Failed(String),
}

/// Completes on Ctrl-C or SIGTERM.
async fn interrupted() {
    {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs to standard error (`RUST_LOG` filters; `info` by default), except when a terminal window
/// owns the screen.
fn init_tracing(loaded: &LoadedConfig) {
    if loaded.config.bots.values().any(|b| b.terminal.is_some()) {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
