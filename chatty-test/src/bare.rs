//! A session run without a router: its signals go straight into a channel, for tests of what
//! the session itself reports (connection errors with their retry times, the end in order).

use std::sync::Arc;
use std::time::Duration;

use chatty_core::reexports::async_channel;
use chatty_core::session::{InboundSink, Session};
use chatty_core::{Body, ConnectionErrorKind, SessionEnd, Signal, SignalKind};

/// A session running on a plain sink, and the signals it pushed.
///
/// ```no_run
/// # async fn example(session: impl chatty_core::session::Session + 'static) {
/// use std::time::Duration;
/// use chatty_test::bare::Bare;
///
/// let bare = Bare::run(session, "xmpp", Duration::from_secs(10));
/// let first = bare.next().await; // e.g. a connection error
/// bare.end().await; // about to end, then ended
/// # }
/// ```
#[derive(Debug)]
pub struct Bare<S> {
    session: Arc<S>,
    signals: async_channel::Receiver<Signal>,
    wait: Duration,
}

impl<S: Session + 'static> Bare<S> {
    /// Runs `session` on a sink that marks its signals with `scheme`; [`Bare::next`] and
    /// [`Bare::end`] wait up to `wait` for each signal.
    pub fn run(session: S, scheme: &str, wait: Duration) -> Self {
        let (tx, signals) = async_channel::unbounded();
        let session = Arc::new(session);
        let running = session.clone();
        let sink = InboundSink::new(scheme, tx);
        tokio::spawn(async move {
            let _ = running.run(sink).await;
        });
        Bare {
            session,
            signals,
            wait,
        }
    }

    /// The next signal the session pushed.
    ///
    /// # Panics
    /// If none comes within the wait, or the session stopped.
    pub async fn next(&self) -> Signal {
        tokio::time::timeout(self.wait, self.signals.recv())
            .await
            .expect("a signal in time")
            .expect("the session is running")
    }

    /// Checks that the next signal is a connection error of `kind` that came within `within`,
    /// says when the session tries again, and does not show `secret` (the password or token
    /// the test gave).
    ///
    /// # Panics
    /// If it is not.
    pub async fn expect_connection_error(
        &self,
        kind: ConnectionErrorKind,
        secret: &str,
        within: Duration,
    ) {
        let started = tokio::time::Instant::now();
        let first = self.next().await;
        let elapsed = started.elapsed();
        match &first.body {
            Body::ConnectionError(e) => {
                assert_eq!(e.kind, kind, "{e:?}");
                assert!(e.retry_in.is_some(), "it says when it tries again: {e:?}");
                assert!(!e.cause.contains(secret), "no secret: {}", e.cause);
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
        assert!(elapsed < within, "took {elapsed:?}");
    }

    /// Asks the session to end and checks that it says it is about to end, then that it ended.
    ///
    /// # Panics
    /// If it refuses the request, or the two signals do not come in that order within the wait.
    pub async fn end(&self) {
        self.session
            .send(Signal::new(Body::InitiateSessionEnd(SessionEnd::default())))
            .await
            .expect("the end request is accepted");
        let mut kinds = Vec::new();
        while let Ok(Ok(signal)) = tokio::time::timeout(self.wait, self.signals.recv()).await {
            kinds.push(signal.kind());
            if signal.kind() == SignalKind::SessionEnded {
                break;
            }
        }
        let ends: Vec<_> = kinds
            .iter()
            .filter(|k| matches!(k, SignalKind::SessionAboutToEnd | SignalKind::SessionEnded))
            .collect();
        assert_eq!(
            ends,
            [&SignalKind::SessionAboutToEnd, &SignalKind::SessionEnded],
            "{kinds:?}"
        );
    }
}
