//! [`TestPlatform`] and its builder: what it gives, and what it does with what it is sent.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::recorded::Recorded;
use crate::address::Address;
use crate::driver::{Backoff, Driver, Failure};
use crate::signal::Signal;

/// What the platform gives on its `n`th connection (1 for the first).
pub(super) struct Giving(pub(super) Arc<dyn Fn(usize) -> Vec<Signal> + Send + Sync>);

impl fmt::Debug for Giving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Giving(..)")
    }
}

/// When the platform refuses what it is sent.
#[derive(Debug)]
pub(super) enum Refusing {
    Never,
    /// Once a connection has stopped as asked ([`TestPlatform::has_stopped`]).
    OnceEnded,
    Always,
}

/// A platform for tests, made a session by the driver like any protocol: a builder says what it
/// gives and what it does with what it is sent; the test keeps the [`Recorded`] handles.
///
/// By default, named `name` on the platform `test`, it connects at once, gives nothing, waits
/// for [`Link::stopping`](crate::driver::Link::stopping), takes every signal sent at once
/// ([`outbound`](TestPlatform::outbound)), and cannot tell whether an answer left
/// ([`Protocol::sent`](crate::driver::Protocol::sent) is `None`). Each connection serves
/// until the session is to stop, or until the test [drops it](TestPlatform::drop_connection).
///
/// ```
/// use std::time::Duration;
/// use chatty_core::testing::{TestPlatform, messages};
///
/// // Gives m0, m1, m2 twice on every connection, fed to the journal rather than pushed one
/// // by one; each send takes 10 ms, and is refused once the session has ended.
/// let platform = TestPlatform::new("test")
///     .giving(messages(3))
///     .rounds(2)
///     .feeding()
///     .sends_taking(Duration::from_millis(10))
///     .refusing_once_ended();
/// let (sent, refused) = (platform.outbound(), platform.refused());
/// # let _ = (sent, refused);
/// ```
#[derive(Debug)]
pub struct TestPlatform {
    pub(super) driver: Driver,
    pub(super) name: String,
    // What each connection gives, and how.
    pub(super) giving: Giving,
    pub(super) rounds: usize,
    pub(super) feeding: bool,
    pub(super) marking: bool,
    pub(super) chattering: bool,
    pub(super) pace: Option<Duration>,
    // Connecting: the attempts that fail first, the address learnt, the connections made.
    pub(super) failures: Mutex<VecDeque<Failure>>,
    pub(super) own: Option<Address>,
    pub(super) connections: AtomicUsize,
    // What it does with a signal sent.
    pub(super) delay: Option<Duration>,
    pub(super) refusing: Refusing,
    pub(super) confirmed: Option<watch::Receiver<usize>>,
    pub(super) says_sent: Option<bool>,
    // What the test sees and does.
    pub(super) outbound: Recorded,
    pub(super) refused: Recorded,
    pub(super) stopped: AtomicBool,
    pub(super) drops: broadcast::Sender<()>,
}

impl TestPlatform {
    /// The session `name` on the platform `test`, as described [above](TestPlatform).
    pub fn new(name: impl Into<String>) -> Self {
        TestPlatform {
            driver: Driver::default(),
            name: name.into(),
            giving: Giving(Arc::new(|_| Vec::new())),
            rounds: 1,
            feeding: false,
            marking: false,
            chattering: false,
            pace: None,
            failures: Mutex::default(),
            own: None,
            connections: AtomicUsize::new(0),
            delay: None,
            refusing: Refusing::Never,
            confirmed: None,
            says_sent: None,
            outbound: Recorded::default(),
            refused: Recorded::default(),
            stopped: AtomicBool::new(false),
            drops: broadcast::channel(4).0,
        }
    }

    /// Gives `signals` on every connection, as a platform that keeps no cursor gives everything
    /// again (see [`messages`](super::messages)). It stops giving at the first one
    /// [`Link::push`](crate::driver::Link::push) refuses: the session is ending.
    #[must_use]
    pub fn giving(self, signals: Vec<Signal>) -> Self {
        self.giving_each_connection(move |_| signals.clone())
    }

    /// Gives what `signals` makes for each connection: `signals(n)` on the `n`th (1 for the
    /// first), to tell a test which connection gave what.
    ///
    /// ```
    /// use chatty_core::Signal;
    /// use chatty_core::testing::TestPlatform;
    ///
    /// // "1.0" on the first connection, "2.0" on the second, …
    /// let platform = TestPlatform::new("test")
    ///     .giving_each_connection(|n| vec![Signal::message(format!("{n}.0"))]);
    /// # let _ = platform;
    /// ```
    #[must_use]
    pub fn giving_each_connection(
        mut self,
        signals: impl Fn(usize) -> Vec<Signal> + Send + Sync + 'static,
    ) -> Self {
        self.giving = Giving(Arc::new(signals));
        self
    }

    /// Gives its signals `rounds` times on each connection (once by default), as a platform
    /// that delivers again what it was not told of in time.
    #[must_use]
    pub fn rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds;
        self
    }

    /// Hands its signals on with [`Link::feed`](crate::driver::Link::feed) (not waiting for
    /// each to be durable) and waits for [`Link::synced`](crate::driver::Link::synced) once
    /// after each round, where by default it pushes them one by one.
    #[must_use]
    pub fn feeding(mut self) -> Self {
        self.feeding = true;
        self
    }

    /// After each signal it gives, sets its journal mark `given` to the signal's id: with
    /// [`feeding`](TestPlatform::feeding) by [`Link::feed_mark`](crate::driver::Link::feed_mark)
    /// (in order, not waiting), else by [`Link::set_mark`](crate::driver::Link::set_mark).
    #[must_use]
    pub fn marking(mut self) -> Self {
        self.marking = true;
        self
    }

    /// Waits `pace` before giving each signal (a platform whose people write one message at a
    /// time), where by default it gives them all at once: for measuring each signal's way
    /// through, without queues.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use chatty_core::testing::{TestPlatform, messages};
    /// use chatty_core::{Body, Router, Signal, from_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let platform = TestPlatform::new("test")
    ///     .giving(messages(3))
    ///     .paced(Duration::from_millis(20));
    /// let start = Instant::now();
    /// let bot = from_fn(|signal: Signal, handle| async move {
    ///     if matches!(&signal.body, Body::Message(m) if m.text == "m2") {
    ///         handle.end_sessions("done").await?;
    ///     }
    ///     Ok(())
    /// });
    /// Router::new().session(platform).run(bot).await.unwrap();
    /// assert!(start.elapsed() >= Duration::from_millis(60));
    /// # }
    /// ```
    #[must_use]
    pub fn paced(mut self, pace: Duration) -> Self {
        self.pace = Some(pace);
        self
    }

    /// After its signals, goes on pushing messages as fast as it can until the session is to
    /// stop (what is refused once the session is ending stays with the platform).
    #[must_use]
    pub fn chattering(mut self) -> Self {
        self.chattering = true;
        self
    }

    /// The first connection attempts fail with `failures`, in order; the attempts after them
    /// succeed.
    ///
    /// ```
    /// use chatty_core::ConnectionErrorKind;
    /// use chatty_core::driver::Failure;
    /// use chatty_core::testing::TestPlatform;
    ///
    /// let refused = Failure::new(ConnectionErrorKind::Authentication, "not authorized");
    /// let platform = TestPlatform::new("test").failing_to_connect([refused.permanent()]);
    /// # let _ = platform;
    /// ```
    #[must_use]
    pub fn failing_to_connect(self, failures: impl IntoIterator<Item = Failure>) -> Self {
        crate::driver::lock(&self.failures).extend(failures);
        self
    }

    /// The bot's own address, which the platform tells only once connected (as Slack's
    /// `auth.test` does): before the first connection the session knows none.
    #[must_use]
    pub fn learning_own(mut self, own: Address) -> Self {
        self.own = Some(own);
        self
    }

    /// Waits between reconnection attempts as `backoff` says (a short one for tests that
    /// fail to connect).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.driver = Driver::new(backoff);
        self
    }

    /// Each signal sent takes `delay` to reach the platform.
    #[must_use]
    pub fn sends_taking(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Refuses what it is sent as unreachable once a connection has stopped as the session
    /// was to ([`has_stopped`](TestPlatform::has_stopped)); the refused signals go to
    /// [`refused`](TestPlatform::refused).
    #[must_use]
    pub fn refusing_once_ended(mut self) -> Self {
        self.refusing = Refusing::OnceEnded;
        self
    }

    /// Refuses everything it is sent as unreachable, into [`refused`](TestPlatform::refused).
    #[must_use]
    pub fn refusing_all(mut self) -> Self {
        self.refusing = Refusing::Always;
        self
    }

    /// Takes each signal handed on at once, but confirms the `n`th (1 for the first, in the
    /// order taken) only once `up_to` says `n` or more: the test confirms as it goes.
    /// [`send`](crate::driver::Protocol::send) waits for the confirmation.
    ///
    /// ```
    /// use chatty_core::testing::TestPlatform;
    ///
    /// let (confirm, up_to) = tokio::sync::watch::channel(0);
    /// let platform = TestPlatform::new("test").confirming(up_to);
    /// // … once the first three signals handed on should count as gone:
    /// confirm.send(3).unwrap();
    /// # let _ = platform;
    /// ```
    #[must_use]
    pub fn confirming(mut self, up_to: watch::Receiver<usize>) -> Self {
        self.confirmed = Some(up_to);
        self
    }

    /// What [`Protocol::sent`](crate::driver::Protocol::sent) answers for every signal asked
    /// of it: whether the platform shows that an answer left (`None`, the default: it cannot
    /// tell).
    #[must_use]
    pub fn says_sent(mut self, sent: Option<bool>) -> Self {
        self.says_sent = sent;
        self
    }

    /// Every signal the platform took (sent, or handed on), in order.
    pub fn outbound(&self) -> Recorded {
        self.outbound.clone()
    }

    /// Every signal the platform refused, in order.
    pub fn refused(&self) -> Recorded {
        self.refused.clone()
    }

    /// Whether a connection has stopped because the session was to stop
    /// ([`Link::stopping`](crate::driver::Link::stopping)).
    pub fn has_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Drops the connection being served, as a network would: `serve` fails as unreachable,
    /// and the driver connects again. `false` if no connection was being served.
    pub fn drop_connection(&self) -> bool {
        self.drops.send(()).is_ok()
    }
}
