//! The email session: one mailbox serving a bot, as a [`Protocol`] the driver runs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::driver::{Backoff, Driver, Failure, Link, Protocol};
use chatty_core::session::Refusal;
use chatty_core::{Address, Answer, AnswerLimit, Capabilities, Query, QueryError, Signal};

use crate::caps::CAPABILITIES;
use crate::config::{ConfigError, EmailConfig, PLATFORM};
use crate::connect::{self, Connection};
use crate::copies;
use crate::inbound;
use crate::outbound::{self, Smtp};
use crate::query;
use crate::state::Shared;

/// How long `serve` may take to close (save the state, log out) once asked to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many sent mails' delivery statuses are remembered: a bounce may come days later.
const DELIVERY_MEMORY: usize = 100_000;

/// A mailbox serving a bot: SMTP out, IMAP or POP3 in.
///
/// [`run`](chatty_core::session::Session::run) connects to the inbound server and pushes
/// `SessionStarted` (origin: the bot's own address, `mailto:bot@example.org;kind=individual`)
/// after the first login, then every new mail as a signal. A failed attempt (wrong password,
/// TLS refused, unreachable, no answer within the connect timeout) becomes a
/// [`ConnectionError`](chatty_core::ConnectionError) with its cause and the time of the next
/// attempt; attempts go on with jittered exponential backoff between the configured bounds. A
/// lost connection is a `ConnectionError` too, and reading resumes where it stopped (IMAP:
/// after the last UID handed to the bot; POP3: the UIDLs not seen).
///
/// [`send`](chatty_core::session::Session::send) sends one mail over SMTP and waits for the server's
/// answer: a rejection is a [`Refusal`] (the router turns it into a `SendFailure` naming the
/// signal); acceptance records the delivery status `Sent`. A bounce that arrives later in the
/// inbound mailbox becomes a `SendFailure` for the original signal and sets its status to
/// `Failed`.
pub struct EmailSession {
    driver: Driver,
    shared: Shared,
    smtp: Smtp,
}

impl fmt::Debug for EmailSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailSession")
            .field("address", self.shared.mapper.own())
            .field("name", &self.shared.config.name)
            .finish()
    }
}

impl EmailSession {
    /// A session for the mailbox in `config` (checked here, the password read and the state
    /// file loaded; nothing connects until `run`).
    pub fn new(config: EmailConfig) -> Result<Self, ConfigError> {
        let shared = Shared::new(config)?;
        let smtp = Smtp::new(&shared.config, &shared.password)?;
        let (min, max) = shared.config.reconnect_backoff();
        Ok(EmailSession {
            driver: Driver::new(Backoff::new(min, max))
                .with_stop_timeout(STOP_TIMEOUT)
                .with_delivery_memory(DELIVERY_MEMORY),
            shared,
            smtp,
        })
    }

    /// The bot's own address on this session: `mailto:address;kind=individual`.
    pub fn address(&self) -> &Address {
        self.shared.mapper.own()
    }
}

impl Protocol for EmailSession {
    type Connection = Connection;

    fn driver(&self) -> &Driver {
        &self.driver
    }

    fn name(&self) -> &str {
        &self.shared.config.name
    }

    fn platform(&self) -> &str {
        PLATFORM
    }

    fn own(&self) -> Option<Address> {
        Some(self.shared.mapper.own().clone())
    }

    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        CAPABILITIES
    }

    /// [`AnswerLimit::MAIL`]: 100 answers to one correspondent per hour, the guard against a
    /// loop with an automatic responder that ignores `Auto-Submitted`.
    fn answer_limit(&self) -> Option<AnswerLimit> {
        Some(AnswerLimit::MAIL)
    }

    async fn connect(self: Arc<Self>, _link: Link) -> Result<Connection, Failure> {
        connect::connect(&self.shared).await
    }

    async fn serve(self: Arc<Self>, connection: Connection, link: Link) -> Result<(), Failure> {
        inbound::serve(&self.shared, self.driver.deliveries(), connection, &link).await
    }

    async fn send(&self, signal: Signal) -> Result<(), Refusal> {
        outbound::send(&self.shared, &self.smtp, self.driver.deliveries(), signal).await
    }

    async fn query(&self, query: Query) -> Result<Answer, QueryError> {
        query::answer(&self.shared, query).await
    }

    /// Whether the answer `signal` left before a restart: its copy is in the bot's mailbox
    /// (`answer_copies`, on by default; IMAP searches the folder by Message-ID, POP3 reads the
    /// headers of the newest messages), looked for again until 10 s after the session was
    /// made; `None` without copies or when the server cannot be asked.
    async fn sent(&self, signal: &Signal) -> Option<bool> {
        copies::sent(&self.shared, signal).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No Tokio runtime here: a session can be made where the router is built (a config
    /// loader, `main` before the runtime starts); what needs a runtime comes with use.
    #[test]
    fn a_session_is_made_outside_a_runtime() {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let session = EmailSession::new(crate::config::offline()).unwrap();
        assert_eq!(session.address().id(), "bot@example.org");
        let session: std::sync::Arc<dyn chatty_core::session::Session> =
            std::sync::Arc::new(session);
        assert_eq!(session.name(), "mailto");
        drop(session);
    }

    /// A session whose send made its SMTP transport on a runtime is dropped after that runtime
    /// is gone without a panic.
    #[test]
    fn a_session_that_sent_outlives_its_runtime() {
        let session = EmailSession::new(crate::config::offline()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let alice = Address::new(PLATFORM, "alice@example.org").unwrap();
        let sent = runtime.block_on(session.send(Signal::message("hello").to(alice)));
        // Port 9 of the offline config: nobody answers.
        let refusal = sent.unwrap_err();
        assert_eq!(
            refusal.kind,
            chatty_core::FailureKind::Unreachable,
            "{refusal:?}"
        );
        drop(runtime);
        drop(session);
    }

    #[tokio::test]
    async fn the_answer_limit_is_the_mail_default() {
        let session = EmailSession::new(crate::config::offline()).unwrap();
        assert_eq!(session.answer_limit(), Some(AnswerLimit::MAIL));
        assert_ne!(AnswerLimit::MAIL, AnswerLimit::CHAT);
    }
}
