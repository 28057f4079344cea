//! Bots made with chatty-dispatch, registered by the function that makes one from its settings.

use serde::de::DeserializeOwned;

use super::Runner;

impl Runner {
    /// Registers a bot made with chatty-dispatch under `name`: `[bots.X] rust = "NAME"` runs the
    /// [`Dispatcher`](chatty_dispatch::Dispatcher) that `make` returns for the bot's `settings`
    /// table (read as an `S`; a table that does not fit is a config error naming the key, also
    /// for `chatty check`). The dispatcher keeps its state, timers and open questions where
    /// [`BotContext::state`](super::BotContext::state) says (the journal's database by default)
    /// unless it names a place of its own ([`Dispatcher::state`](chatty_dispatch::Dispatcher::state)),
    /// and takes the prefix of text commands each of its sessions sets (`[sessions.X]
    /// command_prefix`) over its own ([`Dispatcher::prefix_on`](chatty_dispatch::Dispatcher::prefix_on)).
    /// A bot without settings takes [`serde::de::IgnoredAny`]
    /// (`|_: IgnoredAny| Dispatcher::new()…`).
    ///
    /// ```no_run
    /// use chatty::Runner;
    /// use chatty::dispatch::prelude::*;
    ///
    /// /// `[bots.X] settings = { greeting = "Hello" }`.
    /// #[derive(serde::Deserialize)]
    /// struct Greeter {
    ///     greeting: String,
    /// }
    ///
    /// fn greeter(settings: Greeter) -> Dispatcher {
    ///     let hello = |Settings(me): Settings<Greeter>| async move { me.greeting.clone() };
    ///     Dispatcher::new().settings(settings).message(hello)
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     Runner::new().dispatcher("greeter", greeter).main()
    /// }
    /// ```
    #[must_use]
    pub fn dispatcher<S, F>(self, name: &str, make: F) -> Self
    where
        S: DeserializeOwned,
        F: Fn(S) -> chatty_dispatch::Dispatcher + Send + Sync + 'static,
    {
        let mut runner = self.bot(name, move |ctx| {
            let mut dispatcher = make(ctx.settings::<S>()?).default_state(ctx.state());
            for (session, prefix) in ctx.command_prefixes() {
                dispatcher = dispatcher.prefix_on(session, prefix);
            }
            Ok(dispatcher)
        });
        if let Some(registered) = runner.registered.get_mut(name) {
            registered.takes_prefixes = true;
        }
        runner
    }
}
