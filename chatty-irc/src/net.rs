//! TCP and TLS under the IRC connection: rustls with ring, the system roots (and
//! `SSL_CERT_FILE`, through rustls-native-certs) plus the configured CA file.

use std::sync::Arc;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::Failure;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{IrcConfig, TlsMode};
use crate::proto::{Line, encode_line};

/// A byte stream the IRC lines run over: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Installs rustls's ring provider as the process default, once (an error means a provider is
/// installed already, which is fine).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS connector trusting the system roots, `SSL_CERT_FILE` and the config's CA file.
fn tls_connector(config: &IrcConfig) -> Result<TlsConnector, Failure> {
    let tls_failure = |cause: String| Failure::new(ConnectionErrorKind::Tls, cause);
    let mut roots = RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(loaded.certs);
    if let Some(path) = &config.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| tls_failure(format!("ca_file {}: {e}", path.display())).permanent())?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            let cause = format!("ca_file {}: no certificate in it", path.display());
            return Err(tls_failure(cause).permanent());
        }
    }
    if roots.is_empty() {
        return Err(tls_failure(format!(
            "no trusted root certificates could be loaded ({} errors)",
            loaded.errors.len()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_failure(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(tls)))
}

/// A second handle on the connection's TCP socket, to switch Linux's quick acknowledgements
/// back on after each read.
///
/// The server may hold a line for the bot until the bot acknowledged the last one it sent
/// (Nagle's algorithm, on at the server's end: InspIRCd sets no `TCP_NODELAY` on clients),
/// and the bot's kernel delays the acknowledgement of a line it does not answer (the echo of
/// its own message) by up to 40 ms: measured, a message for the bot waited about 42 ms at the
/// server whenever the bot's previous answer had been echoed. `TCP_QUICKACK` acknowledges at
/// once, but the kernel leaves quick mode again by itself, so it is set again after each read.
#[derive(Debug)]
pub(crate) struct QuickAck(Option<socket2::Socket>);

impl QuickAck {
    fn of(tcp: &TcpStream) -> QuickAck {
        use std::os::fd::AsFd as _;
        let socket = tcp
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(socket2::Socket::from);
        QuickAck(socket)
    }

    /// Acknowledges at once what comes next.
    pub(crate) fn again(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(socket) = &self.0 {
            let _ = socket.set_tcp_quickack(true);
        }
    }
}

/// Connects to the configured server, with TLS unless the config says plaintext.
pub(crate) async fn connect(config: &IrcConfig) -> Result<(Box<dyn Io>, QuickAck), Failure> {
    let address = (config.server.as_str(), config.port());
    let tcp = TcpStream::connect(address).await.map_err(|e| {
        Failure::new(
            ConnectionErrorKind::Unreachable,
            format!("{}:{}: {e}", config.server, config.port()),
        )
    })?;
    // Lines are small and each should leave at once.
    let _ = tcp.set_nodelay(true);
    let quick = QuickAck::of(&tcp);
    quick.again();
    match config.tls {
        TlsMode::Plaintext => Ok((Box::new(tcp), quick)),
        TlsMode::Direct => {
            let connector = tls_connector(config)?;
            let name = ServerName::try_from(config.server.clone()).map_err(|e| {
                Failure::new(ConnectionErrorKind::Tls, format!("{}: {e}", config.server))
                    .permanent()
            })?;
            let tls = connector.connect(name, tcp).await.map_err(|e| {
                Failure::new(
                    ConnectionErrorKind::Tls,
                    format!("TLS with {}: {e}", config.server),
                )
            })?;
            Ok((Box::new(tls), quick))
        }
    }
}

/// A connection lost (or never made): the driver tries again.
pub(crate) fn lost(cause: &str) -> Failure {
    Failure::new(ConnectionErrorKind::Unreachable, cause)
}

/// Writes one line with its CRLF.
pub(crate) async fn write_line(
    write: &mut WriteHalf<Box<dyn Io>>,
    line: &Line,
) -> Result<(), Failure> {
    let text = encode_line(line)
        .map_err(|e| Failure::new(ConnectionErrorKind::Protocol, e.to_string()))?;
    write
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .map_err(|e| lost(&e.to_string()))
}
