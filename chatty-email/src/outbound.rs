//! Outbound: a signal as a mail ([`mail`] maps it), sent over SMTP (lettre)
//! with the server's answer awaited: acceptance records the delivery status `Sent`, a rejection
//! is a [`Refusal`] with the SMTP code. An answer goes to the bot's own address too (one more
//! envelope recipient, see [`copies`](crate::copies)) when `answer_copies` is on.

mod mail;

use std::sync::OnceLock;

use chatty_core::driver::{Deliveries, lock};
use chatty_core::session::Refusal;
use chatty_core::{Body, DeliveryStatus, FailureKind, Revealed, Signal};
use lettre::address::Envelope;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::runtime::Handle;

use crate::config::{ConfigError, EmailConfig, TlsMode};
use crate::state::Shared;

/// The SMTP side of a session: the transport's settings, checked when the session is made, and
/// the transport itself, made at the first send. lettre's transport keeps a connection pool
/// that spawns Tokio tasks when it is made and when it is dropped, so it is made on the
/// runtime, and dropped there: a session can be made, and dropped unused, without a runtime.
pub(crate) struct Smtp {
    settings: AsyncSmtpTransportBuilder,
    transport: OnceLock<(AsyncSmtpTransport<Tokio1Executor>, Handle)>,
}

impl Smtp {
    /// The SMTP side for `config`; nothing connects and nothing is spawned yet.
    pub(crate) fn new(config: &EmailConfig, password: &Revealed) -> Result<Self, ConfigError> {
        let smtp = &config.smtp;
        let tls_parameters =
            || TlsParameters::new(smtp.host.clone()).map_err(|e| ConfigError::Smtp(e.into()));
        let tls = match smtp.tls {
            TlsMode::Starttls => Tls::Required(tls_parameters()?),
            TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
            TlsMode::Plaintext => Tls::None,
        };
        let mut settings =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                .port(smtp.port())
                .tls(tls)
                .timeout(Some(config.connect_timeout()));
        if smtp.auth {
            settings = settings.credentials(Credentials::new(
                config.login().to_owned(),
                password.expose().to_owned(),
            ));
        }
        Ok(Smtp {
            settings,
            transport: OnceLock::new(),
        })
    }

    /// The transport, made on the current runtime the first time.
    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        let (transport, _) = self
            .transport
            .get_or_init(|| (self.settings.clone().build(), Handle::current()));
        transport
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some((transport, runtime)) = self.transport.take() {
            // The pool spawns its shutdown: on the runtime it was made on (a runtime that has
            // shut down drops the task instead of panicking).
            let _entered = runtime.enter();
            drop(transport);
        }
    }
}

/// Sends one signal as a mail and waits for the SMTP server's answer; the delivery status
/// goes from `Pending` to `Sent` or `Failed`.
pub(crate) async fn send(
    shared: &Shared,
    smtp: &Smtp,
    deliveries: &Deliveries,
    signal: Signal,
) -> Result<(), Refusal> {
    if let Body::StatusChange(_) = &signal.body {
        return Err(Refusal::new(
            FailureKind::Rejected,
            "email carries no status changes (presence, rooms, typing)",
        ));
    }
    let outbound = {
        let threads = lock(&shared.threads);
        shared.mapper.outbound(&signal, &threads)?
    };
    let id = signal.meta.id.clone();
    let parse = |mail: &str| {
        mail.parse::<lettre::Address>().map_err(|e| {
            Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{mail} is not a mail address: {e}"),
            )
        })
    };
    let from = parse(&outbound.from)?;
    let mut to = outbound
        .to
        .iter()
        .map(|m| parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    if outbound.copy {
        // The copy to the bot's own mailbox, in the same transaction: the server's one
        // acceptance covers both, so the copy exists exactly when the answer left.
        to.push(from.clone());
    }
    let envelope = Envelope::new(Some(from), to)
        .map_err(|e| Refusal::new(FailureKind::Other, format!("no envelope: {e}")))?;
    deliveries.advance(&id, DeliveryStatus::Pending);
    match smtp.transport().send_raw(&envelope, &outbound.bytes).await {
        Ok(_) => {
            deliveries.advance(&id, DeliveryStatus::Sent);
            lock(&shared.threads).remember(id, outbound.thread);
            Ok(())
        }
        Err(e) => {
            let refusal = refusal(&e);
            deliveries.advance(
                &id,
                DeliveryStatus::Failed {
                    kind: refusal.kind,
                    message: refusal.message.clone(),
                },
            );
            Err(refusal)
        }
    }
}

/// The refusal for an SMTP error: permanent 5xx by code, temporary 4xx, or the connection.
fn refusal(error: &lettre::transport::smtp::Error) -> Refusal {
    let code = error.status().map(|c| c.to_string());
    let kind = match code.as_deref() {
        Some("550" | "551" | "553") => FailureKind::UnknownAddressee,
        Some("552") => FailureKind::TooLarge,
        Some("421" | "450" | "451" | "452") => FailureKind::RateLimited,
        Some(_) => FailureKind::Rejected,
        None => FailureKind::Unreachable,
    };
    match code {
        Some(code) => {
            Refusal::new(kind, format!("the SMTP server refused the mail: {error}")).with_code(code)
        }
        None => Refusal::new(kind, format!("the mail could not be sent: {error}")),
    }
}
