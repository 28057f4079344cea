//! The dispatcher: a [`Bot`] made of handlers, by what each handles.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::state::State;
use chatty_core::{Address, BotError, SignalKind};
use futures::future::BoxFuture;
use tower::util::BoxCloneSyncService;

use crate::command::CommandSpec;
use crate::context::Context;
use crate::handler::{Handler, erase};
use crate::keys::PeopleFn;
use crate::routes::Routes;
use crate::timers::Schedule;

/// The service a handler call is, for middleware ([`Dispatcher::layer`]): it takes the
/// [`Context`] and runs the handler the dispatcher chose for it.
pub type HandlerService = BoxCloneSyncService<Context, (), BotError>;

/// What a dispatcher calls with a handler's error ([`Dispatcher::on_error`]).
pub(crate) type ErrorFn =
    Arc<dyn Fn(Context, BotError) -> BoxFuture<'static, Result<(), BotError>> + Send + Sync>;

/// Turns the service of the layers inside into the service with this one around it.
pub(crate) type LayerFn = Arc<dyn Fn(HandlerService) -> HandlerService + Send + Sync>;

/// A bot made of handlers: commands, messages, files, status changes, user-defined and internal
/// signals, answers to questions and timers, each an async function whose arguments are
/// extractors (as in axum).
///
/// Signals of one conversation are handled one after the other, in the order they came;
/// conversations are handled at the same time, at most [`concurrency`](Dispatcher::concurrency)
/// handlers at once, so one slow answer never holds up other people. Under a router with a
/// journal, each signal is acknowledged once its handler has finished, so a signal cut short by
/// a crash is handled again after a restart.
///
/// ```
/// use chatty_dispatch::prelude::*;
///
/// /// The commands.
/// #[derive(clap::Parser)]
/// #[command(multicall = true)]
/// enum Cmd {
///     /// Answers pong.
///     Ping,
/// }
///
/// async fn ping(Command(cmd): Command<Cmd>) -> &'static str {
///     match cmd {
///         Cmd::Ping => "pong",
///     }
/// }
///
/// async fn echo(message: Message) -> String {
///     message.text
/// }
///
/// let bot = Dispatcher::new().command::<Cmd>().to(ping).message(echo);
/// # let _ = bot;
/// ```
pub struct Dispatcher {
    pub(crate) routes: Routes,
    pub(crate) settings: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) state: Option<State>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) concurrency: usize,
    pub(crate) queue: usize,
    pub(crate) typing_after: Option<Duration>,
    pub(crate) layers: Vec<LayerFn>,
    pub(crate) automatic: bool,
    pub(crate) on_error: Option<ErrorFn>,
    pub(crate) people: Option<PeopleFn>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("schedules", &self.schedules)
            .field("concurrency", &self.concurrency)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher::new()
    }
}

/// A command type waiting for its handler: [`Dispatcher::command`] then [`to`](CommandRoute::to).
#[must_use = "a command needs its handler: .to(handler)"]
pub struct CommandRoute<T> {
    dispatcher: Dispatcher,
    command: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for CommandRoute<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRoute")
            .field("command", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T: clap::Parser + Send + 'static> CommandRoute<T> {
    /// The handler of the command; it takes the parsed command as [`Command<T>`](crate::Command).
    pub fn to<Args>(mut self, handler: impl Handler<Args>) -> Dispatcher {
        self.dispatcher
            .routes
            .commands
            .push((CommandSpec::of::<T>(), erase(handler)));
        self.dispatcher
    }
}

impl Dispatcher {
    /// A dispatcher without handlers: commands start with `!`, the state is in memory, up to
    /// 32 handlers run at once, and the bot shows itself typing when a handler takes more than
    /// a second.
    pub fn new() -> Self {
        Dispatcher {
            routes: Routes {
                prefix: "!".to_owned(),
                help: true,
                ..Routes::default()
            },
            settings: None,
            state: None,
            schedules: Vec::new(),
            concurrency: 32,
            queue: 1024,
            typing_after: Some(Duration::from_secs(1)),
            layers: Vec::new(),
            automatic: false,
            on_error: None,
            people: None,
        }
    }

    /// The commands of type `T`, a type deriving [`clap::Parser`]: a message `!NAME ARGS…`
    /// (or a platform's own command, a Slack slash command) is parsed into a `T` and given to
    /// the handler set by [`to`](CommandRoute::to). A line that does not parse is answered with
    /// clap's error (what was expected, and the usage); `--help` and `!help NAME` with the help
    /// clap generates.
    ///
    /// A `T` with `#[command(multicall = true)]` is a set of commands, one per variant
    /// (`!ping`, `!say …`); otherwise `T` is one command (its name, `#[command(name = …)]`,
    /// then its subcommands: `!ticket open …`).
    pub fn command<T: clap::Parser + Send + 'static>(self) -> CommandRoute<T> {
        CommandRoute {
            dispatcher: self,
            command: PhantomData,
        }
    }

    /// The handler of messages that are not commands nor answers to a question.
    #[must_use]
    pub fn message<Args>(mut self, handler: impl Handler<Args>) -> Self {
        self.routes.messages = Some(erase(handler));
        self
    }

    /// The handler of files.
    #[must_use]
    pub fn file<Args>(mut self, handler: impl Handler<Args>) -> Self {
        self.routes.files = Some(erase(handler));
        self
    }

    /// The handler of status changes (presence, presence in rooms, typing).
    #[must_use]
    pub fn status<Args>(mut self, handler: impl Handler<Args>) -> Self {
        self.routes.status = Some(erase(handler));
        self
    }

    /// The handler of the user-defined signals named `name`; its payload is
    /// [`Payload<T>`](crate::Payload).
    #[must_use]
    pub fn user_defined<Args>(mut self, name: &str, handler: impl Handler<Args>) -> Self {
        self.routes
            .user_defined
            .insert(name.to_owned(), erase(handler));
        self
    }

    /// The handler of the user-defined signals no [`user_defined`](Dispatcher::user_defined)
    /// handler names.
    #[must_use]
    pub fn any_user_defined<Args>(mut self, handler: impl Handler<Args>) -> Self {
        self.routes.any_user_defined = Some(erase(handler));
        self
    }

    /// The handler of internal signals and send failures: sessions started and ended,
    /// connection errors, system errors, unsupported signals handed back.
    #[must_use]
    pub fn internal<Args>(mut self, handler: impl Handler<Args>) -> Self {
        self.routes.internal = Some(erase(handler));
        self
    }

    /// The handler of every signal of `kind`, before the handlers above.
    #[must_use]
    pub fn on<Args>(mut self, kind: SignalKind, handler: impl Handler<Args>) -> Self {
        self.routes.kinds.insert(kind, erase(handler));
        self
    }

    /// The handler of answers to the questions named `name` (a [`question`](crate::question)
    /// whose id is `name` or `name/…`); the answer is [`Picked<T>`](crate::Picked).
    #[must_use]
    pub fn choice<Args>(mut self, name: &str, handler: impl Handler<Args>) -> Self {
        self.routes.choices.insert(name.to_owned(), erase(handler));
        self
    }

    /// The handler of the one-off timers named `name`
    /// ([`ConversationTimers::after`](crate::ConversationTimers::after)); the payload is
    /// [`Fired<T>`](crate::Fired).
    #[must_use]
    pub fn timer<Args>(mut self, name: &str, handler: impl Handler<Args>) -> Self {
        self.routes.timers.insert(name.to_owned(), erase(handler));
        self
    }

    /// Runs `handler` on the schedule `cron`: five fields (minute, hour, day of month, month,
    /// day of week), or six with seconds first, in UTC. A firing missed while the bot was not
    /// running happens once when it starts. The handler's signal has no origin: it sends with
    /// its [`Handle`](chatty_core::Handle) to addresses it knows (from its settings).
    ///
    /// # Errors
    /// An expression croner does not parse, with croner's reason.
    pub fn every<Args>(
        mut self,
        cron: &str,
        name: &str,
        handler: impl Handler<Args>,
    ) -> Result<Self, BotError> {
        let schedule = Schedule::parse(name, cron).map_err(|e| {
            format!("the schedule `{name}`: `{cron}` is not a cron expression: {e}")
        })?;
        self.schedules.push(schedule);
        self.routes.timers.insert(name.to_owned(), erase(handler));
        Ok(self)
    }

    /// Who a person is, for [`PersonState`](crate::PersonState): `who` names the person an
    /// address belongs to, so that one person writing from Slack and from email (or from two
    /// accounts) has one set of values. An address it names no one keeps its own values. By
    /// default every address is a person of its own.
    ///
    /// ```
    /// use chatty_dispatch::Dispatcher;
    ///
    /// // Ann's accounts, from the bot's settings or a directory.
    /// let ann = [("slack", "U024BE7LH"), ("email", "ann@example.org")];
    /// let bot = Dispatcher::new().people(move |address| {
    ///     ann.contains(&(address.platform(), address.id())).then(|| "ann".to_owned())
    /// });
    /// # let _ = bot;
    /// ```
    #[must_use]
    pub fn people(
        mut self,
        who: impl Fn(&Address) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.people = Some(Arc::new(who));
        self
    }

    /// The bot's settings, for the [`Settings<T>`](crate::Settings) extractor.
    #[must_use]
    pub fn settings<T: Send + Sync + 'static>(mut self, settings: T) -> Self {
        self.settings = Some(Arc::new(settings));
        self
    }

    /// Where the state extractors and the timers keep their values: under the runner,
    /// `BotContext::state()` (the journal's database). In memory by default.
    #[must_use]
    pub fn state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Where the state goes unless [`Dispatcher::state`] named a place: what the runner gives
    /// a dispatcher it builds (`Runner::dispatcher`), so that a bot's own choice wins.
    ///
    /// ```
    /// use chatty_core::state::State;
    /// use chatty_dispatch::Dispatcher;
    ///
    /// let bot = Dispatcher::new().state(State::in_memory("mine"));
    /// let bot = bot.default_state(State::in_memory("the runner's")); // still "mine"
    /// # let _ = bot;
    /// ```
    #[must_use]
    pub fn default_state(mut self, state: State) -> Self {
        self.state.get_or_insert(state);
        self
    }

    /// The prefix of commands (`!` by default; `/` belongs to the client on Slack and in many
    /// chat windows). An empty prefix turns text commands off (a Slack slash command still
    /// arrives).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.routes.prefix);
        self
    }

    /// The prefix of commands from the session named `session` (its name in the config,
    /// `[sessions.NAME]`), or from a platform (`xmpp`, `mailto`, `slack`).
    #[must_use]
    pub fn prefix_on(mut self, session: &str, prefix: &str) -> Self {
        self.routes
            .prefixes
            .insert(session.to_owned(), prefix.to_owned());
        self
    }

    /// Whether messages and files a machine sent ([`Signal::is_automatic`](chatty_core::Signal::is_automatic):
    /// an out-of-office, a bounce, a mailing list, another bot) go to the handlers. Off by
    /// default: they are finished unanswered (neither handlers nor the dispatcher's own
    /// answers to commands), so that two responders never answer each other forever.
    #[must_use]
    pub fn automatic(mut self, handle: bool) -> Self {
        self.automatic = handle;
        self
    }

    /// What to do when a handler fails or panics, besides logging it (the default: nothing
    /// more): `f` gets the handler's context and the error, and may tell the person. The
    /// signal is finished either way.
    ///
    /// ```
    /// use chatty_dispatch::Dispatcher;
    ///
    /// let bot = Dispatcher::new().on_error(|cx, error| async move {
    ///     cx.reply(format!("Sorry, that went wrong: {error}")).await?;
    ///     Ok(())
    /// });
    /// # let _ = bot;
    /// ```
    #[must_use]
    pub fn on_error<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Context, BotError) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BotError>> + Send + 'static,
    {
        self.on_error = Some(Arc::new(move |cx, e| Box::pin(f(cx, e))));
        self
    }

    /// Whether `!help` lists the commands (on by default).
    #[must_use]
    pub fn help(mut self, on: bool) -> Self {
        self.routes.help = on;
        self
    }

    /// How many handlers run at once, across conversations (32 by default; at least 1).
    #[must_use]
    pub fn concurrency(mut self, handlers: usize) -> Self {
        self.concurrency = handlers.max(1);
        self
    }

    /// How many signals may wait or run at once before the dispatcher stops reading more
    /// (1 024 by default; at least 1): the bound on its memory.
    #[must_use]
    pub fn queue(mut self, signals: usize) -> Self {
        self.queue = signals.max(1);
        self
    }

    /// Shows the bot typing in the conversation when a handler of a message runs longer than
    /// `after` (`None`: never). One second by default.
    #[must_use]
    pub fn typing_after(mut self, after: Option<Duration>) -> Self {
        self.typing_after = after;
        self
    }

    /// Middleware around every handler call: a tower [`Layer`](tower::Layer) whose service
    /// takes the [`Context`] (a timeout, a rate limit, logging). The last layer added is the
    /// outermost.
    ///
    /// ```
    /// use chatty_dispatch::{Context, Dispatcher, HandlerService};
    /// use tower::ServiceExt;
    ///
    /// /// Logs each handler call.
    /// #[derive(Clone)]
    /// struct Log;
    ///
    /// impl tower::Layer<HandlerService> for Log {
    ///     type Service = HandlerService;
    ///     fn layer(&self, inner: HandlerService) -> HandlerService {
    ///         HandlerService::new(tower::service_fn(move |cx: Context| {
    ///             println!("handling {}", cx.signal().id());
    ///             inner.clone().oneshot(cx)
    ///         }))
    ///     }
    /// }
    ///
    /// let bot = Dispatcher::new().layer(Log);
    /// # let _ = bot;
    /// ```
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<HandlerService> + Send + Sync + 'static,
        L::Service: tower::Service<Context, Response = (), Error = BotError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<Context>>::Future: Send + 'static,
    {
        self.layers.push(Arc::new(move |inner| {
            HandlerService::new(layer.layer(inner))
        }));
        self
    }
}
