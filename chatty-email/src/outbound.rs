//! Outbound: a signal as a mail ([`convert`](crate::convert) maps it), sent over SMTP (lettre)
//! with the server's answer awaited: acceptance records the delivery status `Sent`, a rejection
//! is a [`Refusal`] with the SMTP code.

use chatty_core::driver::{Deliveries, lock};
use chatty_core::{Body, DeliveryStatus, FailureKind, Refusal, Revealed, Signal};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{ConfigError, EmailConfig, TlsMode};
use crate::state::Shared;

/// The SMTP transport of a session.
pub(crate) type Smtp = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP transport for the configuration.
pub(crate) fn transport(config: &EmailConfig, password: &Revealed) -> Result<Smtp, ConfigError> {
    let smtp = &config.smtp;
    let tls_parameters =
        || TlsParameters::new(smtp.host.clone()).map_err(|e| ConfigError::Smtp(e.to_string()));
    let tls = match smtp.tls {
        TlsMode::Starttls => Tls::Required(tls_parameters()?),
        TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
        TlsMode::Plaintext => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port())
        .tls(tls)
        .timeout(Some(config.connect_timeout()));
    if smtp.auth {
        builder = builder.credentials(Credentials::new(
            config.login().to_owned(),
            password.expose().to_owned(),
        ));
    }
    Ok(builder.build())
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
    let to = outbound
        .to
        .iter()
        .map(|m| parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(Some(from), to)
        .map_err(|e| Refusal::new(FailureKind::Other, format!("no envelope: {e}")))?;
    deliveries.advance(&id, DeliveryStatus::Pending);
    match smtp.send_raw(&envelope, &outbound.bytes).await {
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
