//! TCP and TLS for the inbound protocols: rustls with ring, the system roots plus
//! `SSL_CERT_FILE` (rustls-native-certs), and a stream that is plain or TLS.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::Failure;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A TLS connector trusting the system roots and `SSL_CERT_FILE`, with ring as the provider.
pub(crate) fn tls_connector() -> Result<TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(format!(
            "no trusted root certificates could be loaded ({} errors)",
            loaded.errors.len()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A connection, in plaintext or TLS.
pub(crate) enum Stream {
    /// Plain TCP (before STARTTLS, or by explicit opt-in).
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Plain(_) => f.write_str("Stream::Plain"),
            Stream::Tls(_) => f.write_str("Stream::Tls"),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens a TCP connection to `host:port` within `timeout`.
pub(crate) async fn tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Failure> {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(Failure::new(
            ConnectionErrorKind::Unreachable,
            format!("cannot connect to {host}:{port}: {e}"),
        )),
        Err(_) => Err(Failure::new(
            ConnectionErrorKind::Unreachable,
            format!("no connection to {host}:{port} within {timeout:?}"),
        )),
    }
}

/// Wraps `tcp` in TLS for `host`, checking its certificate.
pub(crate) async fn tls(
    connector: &TlsConnector,
    host: &str,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<Stream, Failure> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        Failure::new(
            ConnectionErrorKind::Tls,
            format!("`{host}` is not a server name for TLS: {e}"),
        )
    })?;
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(Stream::Tls(Box::new(stream))),
        Ok(Err(e)) => Err(Failure::new(
            ConnectionErrorKind::Tls,
            format!("the TLS handshake with {host} failed: {e}"),
        )),
        Err(_) => Err(Failure::new(
            ConnectionErrorKind::Tls,
            format!("the TLS handshake with {host} did not finish within {timeout:?}"),
        )),
    }
}
