//! The Socket Mode connection (api.slack.com/apis/socket-mode): the WebSocket at the URL
//! `apps.connections.open` answered, `ws://` (a local Slack) or `wss://` (Slack) with rustls and
//! ring, trusting the system roots and `SSL_CERT_FILE` (rustls-native-certs); its `hello`;
//! acknowledgements; and what a `disconnect` frame means.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::Failure;
use chatty_core::reexports::futures::{SinkExt as _, StreamExt as _};
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::Uri;

use crate::envelope::{self, Frame};

/// A byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open Socket Mode WebSocket.
pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// A Socket Mode connection that said `hello`: what `connect` hands to the serve loop (the
/// session's `Protocol::Connection`).
pub struct Connection {
    /// The WebSocket.
    pub(crate) socket: Socket,
    /// Frames that came before `hello` (none, as Slack documents it), to be served first.
    pub(crate) early: Vec<Frame>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("early", &self.early.len())
            .finish_non_exhaustive()
    }
}

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

/// Opens the WebSocket at `url` and waits for its `hello`, each within `timeout`.
pub(crate) async fn open(url: &str, timeout: Duration) -> Result<Connection, Failure> {
    let unreachable = |cause: String| Failure::new(ConnectionErrorKind::Unreachable, cause);
    let mut socket = match tokio::time::timeout(timeout, connect(url)).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(cause)) => return Err(unreachable(cause)),
        Err(_) => {
            return Err(unreachable(format!(
                "opening Socket Mode took longer than {timeout:?}"
            )));
        }
    };
    let mut early = Vec::new();
    let hello = async {
        loop {
            let text = match socket.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(close))) => return Err(closed(close.as_ref())),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(unreachable(format!("the connection failed: {e}"))),
                None => return Err(unreachable("the connection dropped".into())),
            };
            match envelope::parse(text.as_str()) {
                Frame::Hello => return Ok(()),
                Frame::Disconnect { reason } => {
                    return Err(disconnected(&reason).unwrap_or_else(|| {
                        unreachable(format!("Slack disconnected before hello (`{reason}`)"))
                    }));
                }
                frame => early.push(frame),
            }
        }
    };
    match tokio::time::timeout(timeout, hello).await {
        Ok(Ok(())) => Ok(Connection { socket, early }),
        Ok(Err(failure)) => Err(failure),
        Err(_) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
            Err(unreachable(format!(
                "no Socket Mode hello within {timeout:?}"
            )))
        }
    }
}

/// Acknowledges the envelope `envelope_id`.
pub(crate) async fn ack(socket: &mut Socket, envelope_id: &str) -> Result<(), Failure> {
    socket
        .send(Message::text(envelope::ack(envelope_id)))
        .await
        .map_err(|e| {
            // Unacknowledged: Slack sends it again on the next connection.
            Failure::new(
                ConnectionErrorKind::Unreachable,
                format!("acknowledging an envelope failed: {e}"),
            )
        })
}

/// Closes the socket politely, without waiting long for Slack.
pub(crate) async fn close(mut socket: Socket) {
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
}

/// The failure of a connection Slack closed.
pub(crate) fn closed(
    close: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>,
) -> Failure {
    let why = close
        .map(|c| format!(" ({} {})", c.code, c.reason))
        .unwrap_or_default();
    Failure::new(
        ConnectionErrorKind::Unreachable,
        format!("Slack closed the connection{why}"),
    )
}

/// What a `disconnect` frame (api.slack.com/apis/socket-mode#disconnect) means: `None` for
/// `warning` and `refresh_requested` (Slack announces the connection's end: open another at
/// once, quietly); a permanent failure for `link_disabled` (Socket Mode turned off for the app);
/// a lost connection for any other reason.
pub(crate) fn disconnected(reason: &str) -> Option<Failure> {
    match reason {
        "warning" | "refresh_requested" => None,
        "link_disabled" => Some(
            Failure::new(
                ConnectionErrorKind::Other,
                "Slack turned Socket Mode off for this app (disconnect: link_disabled): turn it \
                 on in the app's settings",
            )
            .permanent(),
        ),
        other => Some(Failure::new(
            ConnectionErrorKind::Unreachable,
            format!("Slack disconnected the connection (reason `{other}`)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_reasons_refresh_stop_or_lose_the_connection() {
        assert!(disconnected("warning").is_none());
        assert!(disconnected("refresh_requested").is_none());
        let disabled = disconnected("link_disabled").unwrap();
        assert!(disabled.is_permanent());
        assert_eq!(disabled.kind(), ConnectionErrorKind::Other);
        assert!(disabled.cause().contains("link_disabled"));
        let other = disconnected("too_many_connections").unwrap();
        assert!(!other.is_permanent());
        assert_eq!(other.kind(), ConnectionErrorKind::Unreachable);
    }
}
