//! The Socket Mode WebSocket: `ws://` (a local Slack) or `wss://` (Slack) with rustls and ring,
//! trusting the system roots and `SSL_CERT_FILE` (rustls-native-certs).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::http::Uri;

/// A byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open Socket Mode connection.
pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// A TLS connector trusting the system roots and `SSL_CERT_FILE`, with ring as the provider.
fn tls_connector() -> Result<TlsConnector, String> {
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

/// Opens the WebSocket at `url` (what `apps.connections.open` answered).
pub(crate) async fn connect(url: &str) -> Result<Socket, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a WebSocket URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(format!("`{url}` is not a ws:// or wss:// URL")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("`{url}` names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if tls {
        let name = ServerName::try_from(host.clone())
            .map_err(|e| format!("`{host}` is not a TLS server name: {e}"))?;
        let connector = tls_connector()?;
        Box::new(
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}:{port} failed: {e}"))?,
        )
    } else {
        Box::new(tcp)
    };
    let (socket, _response) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(|e| format!("the WebSocket handshake with {host}:{port} failed: {e}"))?;
    Ok(socket)
}
