//! The TCP (and TLS) connection under the XML stream.
//!
//! tokio-xmpp's own connectors leave Nagle's algorithm on. A stanza stream writes small pieces
//! (a stanza, then a Stream Management `<r/>`, then an `<a/>`), and with Nagle each small write
//! waits for the peer's delayed ACK of the one before: about 40 ms on Linux, several times per
//! round trip, which held an echo through Prosody to about 11 round trips a second. This
//! connector does what tokio-xmpp's three do (same DNS, same STARTTLS and TLS code, same stream
//! headers) and sets `TCP_NODELAY` on the socket first. What the server sends passes the
//! [`guard`](crate::guard) on its way to the XML parser.

use std::borrow::Cow;

use sasl::common::ChannelBinding;
use tokio::io::{AsyncRead, AsyncWrite, BufStream};
use tokio_xmpp::Error;
use tokio_xmpp::connect::starttls::starttls;
use tokio_xmpp::connect::tls_common::establish_tls_connection;
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::error::ProtocolError;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::xmlstream::{PendingFeaturesRecv, StreamHeader, Timeouts, initiate_stream};

use crate::config::TlsMode;
use crate::guard::Guarded;

/// A byte stream the XML stream runs over: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to `dns` with `tls`, with `TCP_NODELAY` set.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub(crate) dns: DnsConfig,
    pub(crate) tls: TlsMode,
}

impl ServerConnector for Connector {
    type Stream = BufStream<Box<dyn Io>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), Error> {
        let tcp = self.dns.resolve().await?;
        tcp.set_nodelay(true)?;
        let domain = jid.domain().as_str();
        let header = |from: Option<Cow<'static, str>>| StreamHeader {
            to: Some(Cow::Owned(domain.to_owned())),
            from,
            id: None,
        };
        let (stream, channel_binding): (Box<dyn Io>, _) = match self.tls {
            TlsMode::Plaintext => (Box::new(tcp), ChannelBinding::None),
            TlsMode::Direct => {
                let (tls, binding) = establish_tls_connection(tcp, domain).await?;
                (Box::new(tls), binding)
            }
            TlsMode::Starttls => {
                let plain =
                    initiate_stream(BufStream::new(tcp), ns, header(None), timeouts).await?;
                let (features, plain) = plain.recv_features().await?;
                if !features.can_starttls() {
                    return Err(Error::Protocol(ProtocolError::NoTls));
                }
                let (tls, binding) = starttls(plain, domain).await?;
                (Box::new(tls), binding)
            }
        };
        // Like tokio-xmpp's direct TLS connector, name the account in the header over TLS (some
        // servers offer SASL2 only then).
        let from = match self.tls {
            TlsMode::Direct => Some(Cow::Owned(jid.to_bare().to_string())),
            TlsMode::Starttls | TlsMode::Plaintext => None,
        };
        // What the server sends passes the guard: an over-long attribute value or name would
        // otherwise break the whole stream in tokio-xmpp's parser (see `guard`).
        let stream: Box<dyn Io> = Box::new(Guarded::new(stream));
        let stream = initiate_stream(BufStream::new(stream), ns, header(from), timeouts).await?;
        Ok((stream, channel_binding))
    }
}
