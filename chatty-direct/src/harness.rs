//! The harness users test bots with: a bot on a direct network and people who talk to it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::reexports::async_channel;
use chatty_core::session::{InboundSink, Refusal, Session};
use chatty_core::{
    Address, Answer, Body, Bot, BotError, Capabilities, File, Message, Query, QueryError, Router,
    Signal, SignalId, now,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::network::Network;
use crate::session::DirectSession;

/// How long [`Person::next`] waits for a signal by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// A person on a direct network, driven by a test: says things, and sees what reaches them.
///
/// Their inbound queue is unbounded, so a bot never waits on a test that does not read.
pub struct Person {
    session: Arc<DirectSession>,
    sink: InboundSink,
    inbound: async_channel::Receiver<Signal>,
    run: JoinHandle<()>,
    wait: Duration,
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("address", self.address())
            .finish()
    }
}

impl Person {
    /// Connects the person `name` to `network` and waits until they are online.
    ///
    /// # Panics
    /// If the endpoint does not start within [`DEFAULT_WAIT`].
    pub async fn join(network: &Network, name: &str) -> Person {
        Person::join_with(network, name, Capabilities::all()).await
    }

    /// Connects the person `name`, whose endpoint takes only what `capabilities` allow (see
    /// [`Network::endpoint_with`]): a person on a platform without HTML, say, to test what a bot
    /// sends them.
    ///
    /// # Panics
    /// If the endpoint does not start within [`DEFAULT_WAIT`].
    pub async fn join_with(network: &Network, name: &str, capabilities: Capabilities) -> Person {
        let session = Arc::new(network.endpoint_with(name, capabilities));
        let (tx, inbound) = async_channel::unbounded();
        let sink = InboundSink::new(session.name(), tx);
        let run = tokio::spawn({
            let session = session.clone();
            let sink = sink.clone();
            async move {
                let _ = session.run(sink).await;
            }
        });
        let person = Person {
            session,
            sink,
            inbound,
            run,
            wait: DEFAULT_WAIT,
        };
        match person.next().await {
            Some(s) if matches!(s.body, Body::SessionStarted(_)) => person,
            other => panic!("{name} did not come online: {other:?}"),
        }
    }

    /// This person's address.
    pub fn address(&self) -> &Address {
        self.session.address()
    }

    /// Sets how long [`next`](Person::next) waits.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Sends a signal as this person; `sent` is set if missing.
    pub async fn send(&self, mut signal: Signal) -> Result<SignalId, Refusal> {
        signal.meta.sent.get_or_insert_with(now);
        let id = signal.meta.id.clone();
        Session::send(&*self.session, signal).await.map(|()| id)
    }

    /// Says `text` to `to`.
    ///
    /// # Panics
    /// If the network refuses it (no such addressee).
    pub async fn say(&self, to: &Address, text: impl Into<String>) -> SignalId {
        let signal = Signal::new(Message::text(text)).to(to.clone());
        match self.send(signal).await {
            Ok(id) => id,
            Err(e) => panic!("{} could not say it to {to}: {e}", self.address()),
        }
    }

    /// The next signal that reaches this person, or `None` if none comes within the wait.
    pub async fn next(&self) -> Option<Signal> {
        tokio::time::timeout(self.wait, self.inbound.recv())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// The next signal if one is already there.
    pub fn try_next(&self) -> Option<Signal> {
        self.inbound.try_recv().ok()
    }

    /// The next signal, which must be a message; returns the signal and its message.
    ///
    /// # Panics
    /// If nothing comes within the wait, or something other than a message comes.
    pub async fn expect_message(&self) -> (Signal, Message) {
        match self.next().await {
            Some(signal) => match &signal.body {
                Body::Message(message) => {
                    let message = message.clone();
                    (signal, message)
                }
                _ => panic!("{} expected a message, got {signal:?}", self.address()),
            },
            None => panic!(
                "{} expected a message, got nothing within {:?}",
                self.address(),
                self.wait
            ),
        }
    }

    /// Asks a query as this person; supported signals and features come from the endpoint's
    /// capabilities, as a router answers them.
    pub async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        let session = &*self.session;
        match Session::query(session, query.clone()).await {
            Err(e) if e.is_not_supported() => match query {
                Query::SupportedSignals { address } => Ok(Answer::SupportedSignals {
                    signals: Session::capabilities(session, Some(&address)).signals,
                }),
                Query::SupportedFeatures { address } => {
                    let caps = Session::capabilities(session, Some(&address));
                    Ok(Answer::SupportedFeatures {
                        features: caps.features,
                        degraded: caps.degraded,
                    })
                }
                _ => Err(e),
            },
            other => other,
        }
    }

    /// Fetches a file published on the network
    /// ([`Network::publish_file`](crate::Network::publish_file)) as this person; it comes back
    /// holding its bytes.
    pub async fn download(&self, file: File) -> Result<File, Refusal> {
        Session::download(&*self.session, file).await
    }

    /// Goes offline: what is sent to this person from now on waits for them.
    pub async fn leave(self) {
        let end = Signal::new(Body::InitiateSessionEnd(Default::default()));
        let _ = Session::send(&*self.session, end).await;
        let _ = self.run.await;
        drop(self.sink);
    }
}

/// A bot on a direct network with a person (`tester`) to talk to it: the harness to test bots
/// with.
///
/// ```
/// use chatty_core::{Body, Message, from_fn};
/// use chatty_direct::Harness;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let echo = from_fn(|signal, handle| async move {
///     if let Body::Message(m) = &signal.body {
///         handle.send(signal.reply(Message::text(format!("echo: {}", m.text)))).await?;
///     }
///     Ok(())
/// });
///
/// let harness = Harness::start(echo).await;
/// let asked = harness.say("hello").await;
/// let (reply, message) = harness.expect_message().await;
/// assert_eq!(message.text, "echo: hello");
/// assert_eq!(reply.meta.response_to, Some(asked));
/// harness.stop().await.unwrap();
/// # }
/// ```
pub struct Harness {
    network: Network,
    bot: Address,
    tester: Person,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), BotError>>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("bot", &self.bot)
            .field("tester", self.tester.address())
            .finish()
    }
}

impl Harness {
    /// Starts `bot` as `direct:bot` on a new network, with the person `direct:tester`.
    pub async fn start(bot: impl Bot) -> Harness {
        Harness::start_on(Network::new(), "bot", bot).await
    }

    /// Starts `bot` as the endpoint `name` of `network`, with the person `tester`.
    pub async fn start_on(network: Network, name: &str, bot: impl Bot) -> Harness {
        let endpoint = network.endpoint(name);
        let address = endpoint.address().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(Router::new().session(endpoint).run_until(bot, async move {
            let _ = stopped.await;
        }));
        let tester = Person::join(&network, "tester").await;
        Harness {
            network,
            bot: address,
            tester,
            stop: Some(stop),
            task,
        }
    }

    /// The network, to add people and channels.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The bot's address.
    pub fn bot(&self) -> &Address {
        &self.bot
    }

    /// The tester: the person the shortcuts below act as.
    pub fn tester(&self) -> &Person {
        &self.tester
    }

    /// Another person on the same network.
    pub async fn person(&self, name: &str) -> Person {
        Person::join(&self.network, name).await
    }

    /// The tester says `text` to the bot.
    pub async fn say(&self, text: impl Into<String>) -> SignalId {
        self.tester.say(&self.bot, text).await
    }

    /// The tester sends `signal`, to the bot if it names no addressee.
    pub async fn send(&self, mut signal: Signal) -> Result<SignalId, Refusal> {
        if signal.meta.addressees.is_empty() {
            signal.meta.addressees.push(self.bot.clone());
        }
        self.tester.send(signal).await
    }

    /// The next signal that reaches the tester.
    pub async fn next(&self) -> Option<Signal> {
        self.tester.next().await
    }

    /// The next signal to the tester, which must be a message.
    pub async fn expect_message(&self) -> (Signal, Message) {
        self.tester.expect_message().await
    }

    /// Ends the bot's session and returns what the bot's run returned.
    ///
    /// # Panics
    /// If the bot panicked.
    pub async fn stop(mut self) -> Result<(), BotError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.await {
            Ok(result) => result,
            Err(e) => panic!("the bot panicked: {e}"),
        }
    }
}
