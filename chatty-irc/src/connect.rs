//! Connecting: TCP (and TLS), registration (CAP negotiation, SASL, nick fallback), then the
//! [writer](crate::writer) task that sends the channel joins and, paced, everything the bot
//! sends.

use std::sync::Arc;

use chatty_core::driver::{Failure, Link};
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{ConnectionErrorKind, DeliveryStatus, Signal, SystemError};
use tokio::io::ReadHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;

use crate::net::{self, Io, QuickAck, lost, write_line};
use crate::parts::SessionParts;
use crate::proto::{IrcCodec, Line, Registration, RegistrationError};
use crate::writer;

/// The lines read from the server.
pub(crate) type Reader = FramedRead<ReadHalf<Box<dyn Io>>, IrcCodec>;

/// A registered IRC connection (opaque): the lines to read, and the task writing.
pub struct Connection {
    pub(crate) reader: Reader,
    pub(crate) writer: WriterTask,
    /// Lines the writer sends ahead of the paced queue (`PONG`).
    pub(crate) urgent: mpsc::UnboundedSender<Line>,
    /// Quick acknowledgements, switched on again after each read.
    pub(crate) quick: QuickAck,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// The writer task; stopped when dropped, so that the next connection's writer takes the queue.
#[derive(Debug)]
pub(crate) struct WriterTask(pub(crate) JoinHandle<Result<(), String>>);

impl Drop for WriterTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The component name of the session's system errors.
pub(crate) const COMPONENT: &str = "chatty-irc";

/// Connects, registers and starts the writer (which joins the configured channels first).
pub(crate) async fn connect(
    session: Arc<SessionParts>,
    link: &Link,
) -> Result<Connection, Failure> {
    net::install_crypto_provider();
    let config = &session.shared.config;
    let password = config
        .load_password()
        .map_err(|e| Failure::new(ConnectionErrorKind::Other, e.to_string()).permanent())?;
    let sasl = config
        .load_sasl()
        .map_err(|e| Failure::new(ConnectionErrorKind::Other, e.to_string()).permanent())?;
    let mut joins = Vec::new();
    for channel in &config.channels {
        let key = match channel.key.as_ref().map(chatty_core::Secret::reveal) {
            Some(Err(e)) => {
                let cause = format!("channel {}: key: {e}", channel.name);
                return Err(Failure::new(ConnectionErrorKind::Other, cause).permanent());
            }
            Some(Ok(key)) => Some(key.expose().to_owned()),
            None => None,
        };
        let mut params = vec![channel.name.clone()];
        params.extend(key);
        joins.push(Line::new("JOIN", params));
    }
    let mut registration = Registration::new(
        &config.nick,
        config.username(),
        &config.realname,
        password.map(|p| p.expose().to_owned()),
        sasl,
    );
    let attempt = async {
        let (io, quick) = net::connect(config).await?;
        let (read, mut write) = tokio::io::split(io);
        let mut reader = FramedRead::new(read, IrcCodec::default());
        for line in registration.start() {
            write_line(&mut write, &line).await?;
        }
        let registered = loop {
            let line = match reader.next().await {
                None => return Err(lost("the server closed the connection during registration")),
                Some(Err(e)) => return Err(lost(&e.to_string())),
                Some(Ok(Err(e))) => {
                    report(link, &e.to_string()).await;
                    continue;
                }
                Some(Ok(Ok(line))) => line,
            };
            let progress = registration.handle(&line).map_err(refused)?;
            for line in &progress.send {
                write_line(&mut write, line).await?;
            }
            if let Some(registered) = progress.registered {
                break registered;
            }
        };
        Ok((reader, write, registered, quick))
    };
    let (reader, write, registered, quick) =
        tokio::time::timeout(config.connect_timeout(), attempt)
            .await
            .map_err(|_| {
                Failure::new(
                    ConnectionErrorKind::Unreachable,
                    format!(
                        "no welcome from {}:{} within {:?}",
                        config.server,
                        config.port(),
                        config.connect_timeout()
                    ),
                )
            })??;
    tracing::info!(session = %config.name, nick = %registered.nick, caps = ?registered.caps, "registered");
    let written = {
        let mut live = session.shared.live();
        let written = live.reset(&registered.nick);
        live.caps = registered.caps;
        live.connected = true;
        written
    };
    // Written on the connection before, their echoes lost with it.
    for id in written {
        session.shared.msgids().unechoed(&id);
        session
            .driver
            .deliveries()
            .advance(&id, DeliveryStatus::Sent);
    }
    let (urgent, urgent_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(writer::write_loop(session.clone(), write, joins, urgent_rx));
    Ok(Connection {
        reader,
        writer: WriterTask(writer),
        urgent,
        quick,
    })
}

/// A registration the server refused.
fn refused(error: RegistrationError) -> Failure {
    let kind = match error {
        RegistrationError::SaslUnavailable
        | RegistrationError::SaslFailed(_)
        | RegistrationError::BadPassword(_) => ConnectionErrorKind::Authentication,
        RegistrationError::Nick(_) | RegistrationError::Refused(_) => ConnectionErrorKind::Protocol,
    };
    let permanent = error.is_permanent();
    let failure = Failure::new(kind, error.to_string());
    if permanent {
        failure.permanent()
    } else {
        failure
    }
}

/// Tells the bot about a line that could not be read (the connection goes on).
pub(crate) async fn report(link: &Link, error: &str) {
    tracing::warn!(error, "a line from the IRC server was skipped");
    let body = SystemError::new(COMPONENT, error);
    let _ = link.push(Signal::internal(link.own(), body)).await;
}
