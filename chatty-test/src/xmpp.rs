//! A plain tokio-xmpp client, with no Chatty code in it: the other end of the interop tests and
//! the bare side of the XMPP benchmark.
//!
//! It drives tokio-xmpp's `StanzaStream` from one task, as `chatty-xmpp`'s session does, and not
//! through `tokio_xmpp::Client`: in tokio-xmpp 6.0.0 the client's worker reads the stream through
//! `StanzaReceiver`, whose `poll_next` returns `Pending` without registering a waker when a send
//! holds the stream's lock. A stanza that arrives during a send then waits until something else
//! wakes the worker, which may be never: the client "stalls", its ping unanswered.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt as _;
use sasl::common::ChannelBinding;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::starttls::starttls;
use tokio_xmpp::connect::tls_common::TlsStream;
use tokio_xmpp::connect::{DnsConfig, ServerConnector, StartTlsServerConnector};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::disco::DiscoInfoResult;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::stanzastream::{Event, StanzaStage, StanzaState, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::{PendingFeaturesRecv, StreamHeader, Timeouts, initiate_stream};

use crate::servers::xmpp_server;

/// How long the client waits for the server before it panics.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Whether the client's socket leaves Nagle's algorithm on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nagle {
    /// tokio-xmpp's default.
    On,
    /// `TCP_NODELAY`, as `chatty-xmpp`'s session sets it.
    Off,
}

/// tokio-xmpp's STARTTLS connector, with `TCP_NODELAY` set on the socket.
#[derive(Debug, Clone)]
struct NoDelay(DnsConfig);

impl ServerConnector for NoDelay {
    type Stream = BufStream<TlsStream<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), tokio_xmpp::Error> {
        let tcp = self.0.resolve().await?;
        tcp.set_nodelay(true)?;
        let header = || StreamHeader {
            to: Some(Cow::Owned(jid.domain().to_string())),
            from: None,
            id: None,
        };
        let plain = initiate_stream(BufStream::new(tcp), ns, header(), timeouts).await?;
        let (_, plain) = plain.recv_features().await?;
        let (tls, binding) = starttls(plain, jid.domain().as_str()).await?;
        let stream = initiate_stream(BufStream::new(tls), ns, header(), timeouts).await?;
        Ok((stream, binding))
    }
}

/// A plain XMPP client for one account on the test server, online with its presence sent.
#[derive(Debug)]
pub struct PlainClient {
    stream: StanzaStream,
    jid: Jid,
    /// Stanzas read while waiting for an IQ's answer, handed out first.
    stash: VecDeque<Stanza>,
    next_id: u64,
}

impl PlainClient {
    /// Logs in as `jid` over STARTTLS on the test server, sends its initial presence, and returns
    /// once the server has processed it (the answer to a ping sent after it is the sign: stanzas
    /// of one stream are handled in order).
    ///
    /// # Panics
    /// If the login or the ping do not succeed within 10 s.
    pub async fn connect(jid: &str, password: &str) -> PlainClient {
        Self::connect_with(jid, password, Nagle::On).await
    }

    /// [`connect`](Self::connect), with Nagle's algorithm on (tokio-xmpp's default) or off.
    pub async fn connect_with(jid: &str, password: &str, nagle: Nagle) -> PlainClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = xmpp_server();
        let account = Jid::new(jid).expect("a valid JID");
        let dns = DnsConfig::no_srv(&server.host, server.port);
        let (password, timeouts) = (password.to_owned(), Timeouts::tight());
        let stream = match nagle {
            Nagle::On => StanzaStream::new_c2s(
                StartTlsServerConnector::from(dns),
                account,
                password,
                timeouts,
                16,
            ),
            Nagle::Off => StanzaStream::new_c2s(NoDelay(dns), account, password, timeouts, 16),
        };
        let mut client = PlainClient {
            stream,
            jid: Jid::new(jid).expect("a valid JID"),
            stash: VecDeque::new(),
            next_id: 0,
        };
        let online = tokio::time::timeout(WAIT, async {
            while let Some(event) = client.stream.next().await {
                if let Event::Stream(StreamEvent::Reset { bound_jid, .. }) = event {
                    return Some(bound_jid);
                }
            }
            None
        })
        .await;
        match online {
            Ok(Some(bound)) => client.jid = bound,
            Ok(None) => panic!("{jid}: the stream ended before login"),
            Err(_) => panic!("{jid}: not online within {WAIT:?}"),
        }
        client.send(Presence::available()).await;
        let pong = client.iq(Iq::from_get("", Ping)).await;
        assert!(
            matches!(pong, Iq::Result { .. }),
            "{jid}: the server answers a ping: {pong:?}"
        );
        client
    }

    /// The full JID the server bound.
    pub fn jid(&self) -> &Jid {
        &self.jid
    }

    /// Sends `stanza` and returns once it is written to the stream.
    ///
    /// # Panics
    /// If the stream fails before it is written.
    pub async fn send(&mut self, stanza: impl Into<Stanza>) {
        let mut token = self.stream.send(Box::new(stanza.into())).await;
        match token.wait_for(StanzaStage::Sent).await {
            Some(StanzaState::Sent { .. } | StanzaState::Acked { .. }) => {}
            other => panic!("{}: a stanza was not sent: {other:?}", self.jid),
        }
    }

    /// The next stanza from the server, or `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Stanza> {
        if let Some(stanza) = self.stash.pop_front() {
            return Some(stanza);
        }
        loop {
            match self.stream.next().await? {
                Event::Stanza(stanza) => return Some(stanza),
                Event::Stream(_) => {}
            }
        }
    }

    /// The next message that matches `wanted`, skipping everything else.
    ///
    /// # Panics
    /// If none comes within 10 s, or the stream ends.
    pub async fn next_message(&mut self, wanted: impl Fn(&Message) -> bool) -> Message {
        let jid = self.jid.clone();
        tokio::time::timeout(WAIT, async {
            while let Some(stanza) = self.next().await {
                if let Stanza::Message(message) = stanza
                    && wanted(&message)
                {
                    return message;
                }
            }
            panic!("{jid}: the stream ended");
        })
        .await
        .unwrap_or_else(|_| panic!("{}: no such message within {WAIT:?}", self.jid))
    }

    /// The next message with a body.
    pub async fn next_body(&mut self) -> Message {
        self.next_message(|m| !m.bodies.is_empty()).await
    }

    /// Sends `iq` (a get or set; its id is replaced by a fresh one) and returns the answer.
    /// Stanzas that arrive meanwhile are kept for [`next`](Self::next).
    ///
    /// # Panics
    /// If no answer comes within 10 s.
    pub async fn iq(&mut self, mut iq: Iq) -> Iq {
        self.next_id += 1;
        let id = format!("plain-{}", self.next_id);
        match &mut iq {
            Iq::Get { id: own, .. }
            | Iq::Set { id: own, .. }
            | Iq::Result { id: own, .. }
            | Iq::Error { id: own, .. } => own.clone_from(&id),
        }
        self.send(iq).await;
        let jid = self.jid.clone();
        let stash = &mut self.stash;
        let stream = &mut self.stream;
        tokio::time::timeout(WAIT, async {
            while let Some(event) = stream.next().await {
                match event {
                    Event::Stanza(Stanza::Iq(answer))
                        if answer.id() == id
                            && matches!(answer, Iq::Result { .. } | Iq::Error { .. }) =>
                    {
                        return answer;
                    }
                    Event::Stanza(other) => stash.push_back(other),
                    Event::Stream(_) => {}
                }
            }
            panic!("{jid}: the stream ended before the answer to {id}");
        })
        .await
        .unwrap_or_else(|_| panic!("{}: no answer to an IQ within {WAIT:?}", self.jid))
    }

    /// Waits for the next disco#info request (XEP-0030) and answers it with `info` (its `node`
    /// set to the one asked about); returns that node. Other stanzas are kept for
    /// [`next`](Self::next).
    ///
    /// # Panics
    /// If none comes within 10 s.
    pub async fn answer_disco(&mut self, mut info: DiscoInfoResult) -> Option<String> {
        let jid = self.jid.clone();
        let stash = &mut self.stash;
        let stream = &mut self.stream;
        let (from, id, node) = tokio::time::timeout(WAIT, async {
            while let Some(event) = stream.next().await {
                match event {
                    Event::Stanza(Stanza::Iq(Iq::Get {
                        from, id, payload, ..
                    })) if payload.is("query", ns::DISCO_INFO) => {
                        return (from, id, payload.attr("node").map(str::to_owned));
                    }
                    Event::Stanza(other) => stash.push_back(other),
                    Event::Stream(_) => {}
                }
            }
            panic!("{jid}: the stream ended before a disco#info request");
        })
        .await
        .unwrap_or_else(|_| panic!("{}: no disco#info request within {WAIT:?}", self.jid));
        info.node.clone_from(&node);
        let answer = Iq::Result {
            from: None,
            to: from,
            id,
            payload: Some(info.into()),
        };
        self.send(answer).await;
        node
    }

    /// Closes the stream (`</stream:stream>`) and waits until the server has closed its side.
    pub async fn close(self) {
        self.stream.close().await;
    }
}
