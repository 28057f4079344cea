//! Connecting and logging in: one attempt after another, each failure reported as a
//! connection error with its cause, with jittered backoff in between.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::{ConnectionError, ConnectionErrorKind, Revealed};
use sasl::common::Credentials;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::stanzastream::Connection;
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts};

/// Installs rustls's ring provider as the process default, once (an error means a provider is
/// installed already, which is fine).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Everything one connection attempt needs; `connector` makes the stanza stream's connector.
pub(crate) struct Attempt {
    pub(crate) identity: Jid,
    pub(crate) password: Revealed,
    pub(crate) target: String,
    pub(crate) timeout: Duration,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) reports: mpsc::UnboundedSender<ConnectionError>,
}

/// The stanza stream's connector: called for the first connection and after every loss.
type Reconnector = Box<dyn FnMut(Option<String>, oneshot::Sender<Connection>) + Send + 'static>;

impl Attempt {
    /// A connector that tries `server` until it logs in, reporting each failure with its cause
    /// and waiting with jittered, capped exponential backoff in between.
    pub(crate) fn connector<C: ServerConnector>(self, server: C) -> Reconnector {
        let attempt = Arc::new(self);
        Box::new(move |_location, slot| {
            let attempt = attempt.clone();
            let server = server.clone();
            tokio::spawn(async move { attempt.run(server, slot).await });
        })
    }

    async fn run<C: ServerConnector>(&self, server: C, mut slot: oneshot::Sender<Connection>) {
        let mut delay = self.min;
        loop {
            let login = tokio::time::timeout(
                self.timeout,
                login(
                    server.clone(),
                    self.identity.clone(),
                    &self.password,
                    self.timeout,
                ),
            );
            let mut error = tokio::select! {
                result = login => match result {
                    Ok(Ok(connection)) => {
                        let _ = slot.send(connection);
                        return;
                    }
                    Ok(Err(e)) => ConnectionError {
                        kind: classify(&e),
                        cause: format!("connecting to {} as {}: {e}", self.target, self.identity),
                        retry_in: None,
                    },
                    Err(_) => ConnectionError {
                        kind: ConnectionErrorKind::Unreachable,
                        cause: format!(
                            "no connection to {} as {} within {:?} (no answer, or a login that does not finish)",
                            self.target, self.identity, self.timeout
                        ),
                        retry_in: None,
                    },
                },
                () = slot.closed() => return,
            };
            let wait = chatty_core::driver::jittered(delay);
            error.retry_in = Some(wait);
            tracing::warn!(kind = ?error.kind, retry_in = ?wait, "{}", error.cause);
            if self.reports.send(error).is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = slot.closed() => return,
            }
            delay = (delay * 2).min(self.max);
        }
    }
}

/// Connects and logs in (SASL), without binding a resource: what the stanza stream expects of
/// its connector. tokio-xmpp's own connector does the same but only logs its errors; here they
/// become connection error signals.
async fn login<C: ServerConnector>(
    server: C,
    jid: Jid,
    password: &Revealed,
    response_timeout: Duration,
) -> Result<Connection, tokio_xmpp::Error> {
    let timeouts = Timeouts {
        read_timeout: Duration::from_secs(60),
        response_timeout,
    };
    let (stream, channel_binding) = server.connect(&jid, ns::JABBER_CLIENT, timeouts).await?;
    let (features, stream) = stream.recv_features().await?;
    let username = jid
        .node()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let credentials = Credentials::default()
        .with_username(username)
        .with_password(password.expose())
        .with_channel_binding(channel_binding);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, credentials).await?;
    let stream = stream
        .send_header(StreamHeader {
            to: Some(Cow::Borrowed(jid.domain().as_str())),
            from: None,
            id: None,
        })
        .await?;
    let (features, stream) = stream.recv_features().await?;
    Ok(Connection {
        stream: stream.box_stream(),
        features,
        identity: jid,
    })
}

/// The kind of a connection failure.
fn classify(error: &tokio_xmpp::Error) -> ConnectionErrorKind {
    use tokio_xmpp::Error as E;
    use tokio_xmpp::error::ProtocolError;
    match error {
        E::Auth(_) => ConnectionErrorKind::Authentication,
        E::Connection(_) | E::Protocol(ProtocolError::NoTls) => ConnectionErrorKind::Tls,
        E::Io(e) => {
            let text = e.to_string().to_lowercase();
            if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
                ConnectionErrorKind::Tls
            } else {
                ConnectionErrorKind::Unreachable
            }
        }
        E::Disconnected | E::Addr(_) => ConnectionErrorKind::Unreachable,
        E::Protocol(_) | E::StreamError(_) | E::JidParse(_) => ConnectionErrorKind::Protocol,
        _ => ConnectionErrorKind::Other,
    }
}
