//! Connecting: a login, then the stanza stream over it (which binds a resource), the bot's
//! presence, and the wait for the server's echo of it: then the session is ready.
//!
//! The first login of a connection is the driver's to try again when it fails. Once the stream
//! is up, tokio-xmpp reconnects by itself whenever the connection is lost (resuming the stream
//! with XEP-0198 where the server still can); its logins go through the connector made here,
//! which reports each failure as a connection error through the link and waits with the core
//! [`Backoff`] in between.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::driver::{Backoff, Failure, Link};
use chatty_core::reexports::futures::StreamExt as _;
use chatty_core::{ConnectionErrorKind, Revealed};
use sasl::common::Credentials;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::stanzastream::{self, Event, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts};

use crate::config::{TlsMode, XmppConfig};
use crate::inbound;
use crate::marker::{MARK, Marker, RoomMarkers};
use crate::reaction_marks;
use crate::state::{Connection, Shared};
use crate::tcp;

/// How many stanzas the stanza stream queues each way.
const STREAM_QUEUE: usize = 16;

/// Installs rustls's ring provider as the process default, once (an error means a provider is
/// installed already, which is fine).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Connects and logs in, binds a resource, sends the bot's presence (joining its rooms again,
/// sending again what a lost stream did not deliver) and waits for the server's echo of the
/// presence: until the server has processed it, messages to the bare JID do not reach this
/// resource, and the bot would miss the first ones. Any other stanza, or the connect timeout,
/// ends the wait too.
pub(crate) async fn connect(shared: &Shared, link: &Link) -> Result<Connection, Failure> {
    install_crypto_provider();
    let password = shared
        .config
        .load_password()
        .map_err(|e| Failure::new(ConnectionErrorKind::Other, e.to_string()).permanent())?;
    let mut live = shared.live().await;
    if live.marker.is_none() && link.sink().is_journaled() {
        live.marker = Some(Marker::spawn(link.clone(), MARK.to_owned()));
        live.room_markers = RoomMarkers::new(link.clone());
        shared.confirm_sends();
        reaction_marks::restore(&shared.mapper, link).await;
        let _ = shared.journal_link.set(link.clone());
    }
    if !live.rooms_wanted {
        want_rooms(shared)?;
        live.rooms_wanted = true;
    }
    let login = Login::new(&shared.config, &shared.jid, password);
    let first = login.attempt().await?;
    let (min, max) = shared.config.reconnect_backoff();
    let connector = login.connector(first, Backoff::new(min, max), link.clone());
    let connection = Connection::new(StanzaStream::new(connector, STREAM_QUEUE), live);
    ready(shared, connection, link).await
}

/// Wants the configured rooms (their passwords read now: one that cannot be read ends the
/// session).
fn want_rooms(shared: &Shared) -> Result<(), Failure> {
    for room in &shared.config.rooms {
        let password = match room.password.as_ref().map(chatty_core::Secret::reveal) {
            Some(Err(e)) => {
                let cause = format!("room {}: password: {e}", room.jid);
                return Err(Failure::new(ConnectionErrorKind::Other, cause).permanent());
            }
            Some(Ok(password)) => Some(password),
            None => None,
        };
        if let Ok(jid) = BareJid::new(&room.jid) {
            let nick = room
                .nick
                .clone()
                .unwrap_or_else(|| shared.mapper.default_nick().to_owned());
            shared.mapper.state().want_room(jid, nick, password);
        }
    }
    Ok(())
}

/// Waits until the stream is bound and the server echoed the presence (or sent anything else),
/// or the connect timeout passed since the binding.
async fn ready(
    shared: &Shared,
    mut connection: Connection,
    link: &Link,
) -> Result<Connection, Failure> {
    let timeout = shared.config.connect_timeout();
    let mut deadline = Instant::now() + timeout;
    loop {
        let event = tokio::select! {
            () = tokio::time::sleep_until(deadline) => None,
            event = connection.stream.next() => Some(event),
        };
        let bound = connection.bound.is_some();
        match event {
            None if bound => {
                tracing::debug!("no echo of the initial presence; starting anyway");
                return Ok(connection);
            }
            None => {
                let cause = format!("no resource bound within {timeout:?}");
                return Err(Failure::new(ConnectionErrorKind::Unreachable, cause));
            }
            Some(None) => return Err(inbound::stream_closed()),
            Some(Some(Event::Stream(StreamEvent::Suspended))) if !bound => {
                let cause = "the connection was lost before a resource was bound";
                return Err(Failure::new(ConnectionErrorKind::Unreachable, cause));
            }
            Some(Some(Event::Stream(event))) => {
                if matches!(event, StreamEvent::Reset { .. }) {
                    deadline = Instant::now() + timeout;
                }
                inbound::stream::event(shared, &mut connection, link, event).await;
            }
            Some(Some(Event::Stanza(stanza))) => {
                connection.early.push(stanza);
                if bound {
                    return Ok(connection);
                }
            }
        }
    }
}

/// Everything a login needs.
struct Login {
    identity: Jid,
    password: Revealed,
    /// `host:port`, for messages.
    target: String,
    timeout: Duration,
    server: tcp::Connector,
}

/// The stanza stream's connector: called for the first connection and after every loss.
type Reconnector =
    Box<dyn FnMut(Option<String>, oneshot::Sender<stanzastream::Connection>) + Send + 'static>;

impl Login {
    /// The login of the account `jid` as `config` says.
    fn new(config: &XmppConfig, jid: &BareJid, password: Revealed) -> Self {
        let identity: Jid = match &config.resource {
            Some(resource) => match jid.with_resource_str(resource) {
                Ok(full) => full.into(),
                Err(e) => {
                    tracing::warn!(resource, "ignoring an invalid resource: {e}");
                    jid.clone().into()
                }
            },
            None => jid.clone().into(),
        };
        let domain = jid.domain().as_str().to_owned();
        let host = config.server.clone().unwrap_or(domain);
        let default_port = match config.tls {
            TlsMode::Direct => 5223,
            TlsMode::Starttls | TlsMode::Plaintext => 5222,
        };
        let port = config.port.unwrap_or(default_port);
        let dns = match (&config.server, config.port, config.tls) {
            (None, None, TlsMode::Direct) => DnsConfig::srv_xmpps(&host),
            (None, None, _) => DnsConfig::srv_default_client(&host),
            _ => DnsConfig::no_srv(&host, port),
        };
        Login {
            identity,
            password,
            target: format!("{host}:{port}"),
            timeout: config.connect_timeout(),
            server: tcp::Connector {
                dns,
                tls: config.tls,
            },
        }
    }

    /// One attempt to connect and log in, within the connect timeout.
    async fn attempt(&self) -> Result<stanzastream::Connection, Failure> {
        let login = login(
            self.server.clone(),
            self.identity.clone(),
            &self.password,
            self.timeout,
        );
        match tokio::time::timeout(self.timeout, login).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(Failure::new(
                classify(&e),
                format!("connecting to {} as {}: {e}", self.target, self.identity),
            )),
            Err(_) => Err(Failure::new(
                ConnectionErrorKind::Unreachable,
                format!(
                    "no connection to {} as {} within {:?} (no answer, or a login that does not finish)",
                    self.target, self.identity, self.timeout
                ),
            )),
        }
    }

    /// The stanza stream's connector: `first` for the first connection, then a login after
    /// every loss, tried again after each failure.
    fn connector(
        self,
        first: stanzastream::Connection,
        backoff: Backoff,
        link: Link,
    ) -> Reconnector {
        let login = Arc::new(self);
        let mut first = Some(first);
        Box::new(move |_location, slot| {
            if let Some(connection) = first.take() {
                let _ = slot.send(connection);
                return;
            }
            let (login, link) = (login.clone(), link.clone());
            tokio::spawn(async move { login.retry(slot, backoff, &link).await });
        })
    }

    /// Logs in until it succeeds or the stream is gone, reporting each failure with its cause
    /// and when the next attempt comes.
    async fn retry(
        &self,
        mut slot: oneshot::Sender<stanzastream::Connection>,
        mut backoff: Backoff,
        link: &Link,
    ) {
        loop {
            let failure = tokio::select! {
                result = self.attempt() => match result {
                    Ok(connection) => {
                        let _ = slot.send(connection);
                        return;
                    }
                    Err(failure) => failure,
                },
                () = slot.closed() => return,
            };
            let wait = backoff.next_wait();
            tracing::warn!(kind = ?failure.kind(), retry_in = ?wait, "{failure}");
            if link.connection_error(&failure, Some(wait)).await.is_err() {
                // The bot stopped listening: the driver stops the session, which drops the
                // stream.
                slot.closed().await;
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = slot.closed() => return,
            }
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
) -> Result<stanzastream::Connection, tokio_xmpp::Error> {
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
    Ok(stanzastream::Connection {
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
