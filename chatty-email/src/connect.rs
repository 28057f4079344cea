//! Connecting and logging in to the inbound server, IMAP or POP3: TCP, then TLS (implicit, or
//! STARTTLS / STLS after the greeting, over [`net`](crate::net)), then the login: the
//! [`Connection`] the serve loop reads. SMTP connects per send ([`outbound`](crate::outbound)).

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::Failure;
use tokio_rustls::TlsConnector;

use crate::config::{ImapConfig, InboundConfig, Pop3Config, TlsMode};
use crate::imap::Imap;
use crate::net::{Stream, tcp, tls};
use crate::pop3::{Pop3, Pop3Error};
use crate::state::Shared;

/// A logged-in inbound client: what [`connect`] hands to the serve loop (the session's
/// `Protocol::Connection`).
#[derive(Debug)]
pub struct Connection(pub(crate) Client);

/// The inbound client inside a [`Connection`].
#[derive(Debug)]
pub(crate) enum Client {
    /// An IMAP session, the folder not selected yet.
    Imap(Box<Imap>),
    /// A POP3 session in the transaction state.
    Pop3(Pop3<Stream>),
}

/// Connects to the configured inbound server and logs in. A wrong password is a transient
/// [`Failure`] of kind `Authentication` (tried again with backoff, as every failure here:
/// a password may be fixed on the server while the session waits).
pub(crate) async fn connect(shared: &Shared) -> Result<Connection, Failure> {
    let client = match &shared.config.inbound {
        InboundConfig::Imap(config) => Ok(Client::Imap(Box::new(imap(config, shared).await?))),
        InboundConfig::Pop3(config) => Ok(Client::Pop3(pop3(config, shared).await?)),
    };
    client.map(Connection)
}

/// The TLS connector, or a failure if the config asked for TLS and there is none.
fn connector(shared: &Shared) -> Result<&TlsConnector, Failure> {
    shared
        .tls
        .as_ref()
        .ok_or_else(|| Failure::new(ConnectionErrorKind::Tls, "no TLS configuration"))
}

/// Connects, secures and logs in to the IMAP server.
pub(crate) async fn imap(config: &ImapConfig, shared: &Shared) -> Result<Imap, Failure> {
    let timeout = shared.config.connect_timeout();
    let host = config.host.as_str();
    let port = config.port();
    let tcp = tcp(host, port, timeout).await?;
    let stream = match config.tls {
        TlsMode::Implicit => tls(connector(shared)?, host, tcp, timeout).await?,
        TlsMode::Starttls | TlsMode::Plaintext => Stream::Plain(tcp),
    };
    let mut client = async_imap::Client::new(stream);
    let greeting = tokio::time::timeout(timeout, client.read_response()).await;
    match greeting {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => {
            return Err(Failure::new(
                ConnectionErrorKind::Unreachable,
                format!("{host}:{port} closed the connection before its IMAP greeting"),
            ));
        }
        Ok(Err(e)) => {
            return Err(Failure::new(
                ConnectionErrorKind::Protocol,
                format!("no IMAP greeting from {host}:{port}: {e}"),
            ));
        }
        Err(_) => {
            return Err(Failure::new(
                ConnectionErrorKind::Unreachable,
                format!("no IMAP greeting from {host}:{port} within {timeout:?}"),
            ));
        }
    }
    if config.tls == TlsMode::Starttls {
        let upgrade =
            tokio::time::timeout(timeout, client.run_command_and_check_ok("STARTTLS", None));
        match upgrade.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(Failure::new(
                    ConnectionErrorKind::Tls,
                    format!("{host}:{port} refused STARTTLS: {e}"),
                ));
            }
            Err(_) => {
                return Err(Failure::new(
                    ConnectionErrorKind::Tls,
                    format!("{host}:{port} did not answer STARTTLS within {timeout:?}"),
                ));
            }
        }
        let Stream::Plain(tcp) = client.into_inner() else {
            return Err(Failure::new(
                ConnectionErrorKind::Tls,
                "STARTTLS on a connection that is TLS already",
            ));
        };
        client = async_imap::Client::new(tls(connector(shared)?, host, tcp, timeout).await?);
    }
    let login = client.login(shared.config.login(), shared.password.expose());
    match tokio::time::timeout(timeout, login).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((error, _))) => {
            use async_imap::error::Error as E;
            let kind = match &error {
                E::No(_) | E::Bad(_) => ConnectionErrorKind::Authentication,
                E::Io(_) | E::ConnectionLost => ConnectionErrorKind::Unreachable,
                _ => ConnectionErrorKind::Protocol,
            };
            Err(Failure::new(
                kind,
                format!(
                    "IMAP login as {} at {host}:{port} failed: {error}",
                    shared.config.login()
                ),
            ))
        }
        Err(_) => Err(Failure::new(
            ConnectionErrorKind::Unreachable,
            format!("the IMAP login at {host}:{port} did not finish within {timeout:?}"),
        )),
    }
}

/// A failure of a POP3 exchange: I/O is `Unreachable`, garbage `Protocol`, and a `-ERR`
/// answer `kind`.
pub(crate) fn pop3_failure(kind: ConnectionErrorKind, error: &Pop3Error, what: &str) -> Failure {
    let kind = match error {
        Pop3Error::Io(_) => ConnectionErrorKind::Unreachable,
        Pop3Error::Protocol(_) => ConnectionErrorKind::Protocol,
        Pop3Error::Negative(_) => kind,
    };
    Failure::new(kind, format!("{what}: {error}"))
}

/// Connects, secures and logs in to the POP3 server.
pub(crate) async fn pop3(config: &Pop3Config, shared: &Shared) -> Result<Pop3<Stream>, Failure> {
    let timeout = shared.config.connect_timeout();
    let host = config.host.as_str();
    let port = config.port();
    let attempt = async {
        let tcp = tcp(host, port, timeout).await?;
        let stream = match config.tls {
            TlsMode::Implicit => tls(connector(shared)?, host, tcp, timeout).await?,
            TlsMode::Starttls | TlsMode::Plaintext => Stream::Plain(tcp),
        };
        let mut client = Pop3::new(stream);
        client.status().await.map_err(|e| {
            pop3_failure(
                ConnectionErrorKind::Protocol,
                &e,
                &format!("no POP3 greeting from {host}:{port}"),
            )
        })?;
        if config.tls == TlsMode::Starttls {
            client.command("STLS").await.map_err(|e| {
                pop3_failure(
                    ConnectionErrorKind::Tls,
                    &e,
                    &format!("{host}:{port} refused STLS"),
                )
            })?;
            let Stream::Plain(tcp) = client.into_inner() else {
                return Err(Failure::new(
                    ConnectionErrorKind::Tls,
                    "STLS on a connection that is TLS already",
                ));
            };
            client = Pop3::new(tls(connector(shared)?, host, tcp, timeout).await?);
        }
        client
            .login(shared.config.login(), shared.password.expose())
            .await
            .map_err(|e| {
                pop3_failure(
                    ConnectionErrorKind::Authentication,
                    &e,
                    &format!(
                        "POP3 login as {} at {host}:{port} failed",
                        shared.config.login()
                    ),
                )
            })?;
        Ok(client)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Failure::new(
            ConnectionErrorKind::Unreachable,
            format!("no POP3 session with {host}:{port} within {timeout:?}"),
        )),
    }
}
