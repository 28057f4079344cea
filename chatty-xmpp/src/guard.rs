//! A guard on the bytes the server sends, before tokio-xmpp's XML parser reads them.
//!
//! tokio-xmpp 6 parses the stream with rxml's default options, which refuse an attribute value
//! or a name longer than 8 192 bytes ("long name or reference") as an error of the whole
//! stream, not of one stanza. Servers pass such stanzas on (Prosody does), so one message from
//! anyone with a 9 000-character id broke the bot's connection; the server sent it again on the
//! resumed stream (XEP-0198), and after a fresh stream the catch-up fetched it again from the
//! archive: the bot never got back online. This guard shortens every attribute value and name
//! to [`MAX_TOKEN`] bytes on the way in: at a character boundary, never inside an entity
//! reference, and a name the same way in its start and end tags, so that the XML stays
//! well-formed. Text is left alone (rxml splits long text itself); what is written goes out
//! unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest attribute value or name let through, in bytes: well under rxml's 8 192, which
/// an entity reference at the cut cannot reach.
pub(crate) const MAX_TOKEN: usize = 4096;

/// Where in the XML the guard is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Character data between tags.
    #[default]
    Text,
    /// Just after `<`.
    Open,
    /// After `<!`, matching `[CDATA[` (how much of it so far).
    Bang(usize),
    /// In a CDATA section, matching `]]>` (how much of it so far).
    CData(usize),
    /// In a tag, outside quotes.
    Tag,
    /// In an attribute value quoted with this byte.
    Value(u8),
}

/// The guard's state across reads: a stream's bytes arrive in pieces.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    state: State,
    /// The length of the current name or value so far.
    run: usize,
    /// Past the limit: the rest of the current name or value is dropped.
    dropping: bool,
    /// Inside an entity reference (`&…;`) in a value.
    in_entity: bool,
}

impl Guard {
    /// Filters `bytes` in place; returns how many are kept (at the front).
    pub(crate) fn filter(&mut self, bytes: &mut [u8]) -> usize {
        let mut kept = 0;
        for i in 0..bytes.len() {
            let byte = bytes[i];
            if self.keep(byte) {
                bytes[kept] = byte;
                kept += 1;
            }
        }
        kept
    }

    fn keep(&mut self, byte: u8) -> bool {
        match self.state {
            State::Text => {
                if byte == b'<' {
                    self.state = State::Open;
                }
                true
            }
            State::Open => {
                self.end_run();
                if byte == b'!' {
                    self.state = State::Bang(0);
                    return true;
                }
                self.state = State::Tag;
                self.in_tag(byte)
            }
            State::Bang(matched) => {
                const CDATA: &[u8] = b"[CDATA[";
                if CDATA.get(matched) == Some(&byte) {
                    self.state = if matched + 1 == CDATA.len() {
                        State::CData(0)
                    } else {
                        State::Bang(matched + 1)
                    };
                    true
                } else {
                    // A comment or declaration: rxml refuses those anyway (XMPP forbids them).
                    self.state = State::Tag;
                    self.in_tag(byte)
                }
            }
            State::CData(matched) => {
                self.state = match (matched, byte) {
                    (0 | 1, b']') => State::CData(matched + 1),
                    (2, b']') => State::CData(2),
                    (2, b'>') => State::Text,
                    _ => State::CData(0),
                };
                true
            }
            State::Tag => self.in_tag(byte),
            State::Value(quote) => {
                if byte == quote {
                    self.state = State::Tag;
                    self.end_run();
                    return true;
                }
                let keep = self.bounded(byte, true);
                if keep {
                    match byte {
                        b'&' => self.in_entity = true,
                        b';' => self.in_entity = false,
                        _ => {}
                    }
                }
                keep
            }
        }
    }

    /// A byte in a tag, outside quotes: a delimiter, or part of a name.
    fn in_tag(&mut self, byte: u8) -> bool {
        match byte {
            b'>' => {
                self.state = State::Text;
                self.end_run();
                true
            }
            b'\'' | b'"' => {
                self.state = State::Value(byte);
                self.end_run();
                true
            }
            b' ' | b'\t' | b'\n' | b'\r' | b'=' | b'/' | b'?' | b'<' => {
                self.end_run();
                true
            }
            _ => self.bounded(byte, false),
        }
    }

    /// A byte of a name or value: kept up to the limit, then (from the next character that is
    /// not inside an entity reference) dropped to the end of the name or value.
    fn bounded(&mut self, byte: u8, value: bool) -> bool {
        if self.dropping {
            return false;
        }
        let continuation = byte & 0xC0 == 0x80;
        if self.run >= MAX_TOKEN && !continuation && !(value && self.in_entity) {
            self.dropping = true;
            return false;
        }
        self.run += 1;
        true
    }

    fn end_run(&mut self) {
        self.run = 0;
        self.dropping = false;
        self.in_entity = false;
    }
}

/// A byte stream whose incoming bytes pass the [`Guard`]; writes go through unchanged.
#[derive(Debug)]
pub(crate) struct Guarded<T> {
    inner: T,
    guard: Guard,
}

impl<T> Guarded<T> {
    /// Guards what `inner` reads.
    pub(crate) fn new(inner: T) -> Self {
        Guarded {
            inner,
            guard: Guard::default(),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let start = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let end = buf.filled().len();
            if end == start {
                return Poll::Ready(Ok(())); // the end of the stream
            }
            let kept = this.guard.filter(&mut buf.filled_mut()[start..end]);
            buf.set_filled(start + kept);
            if kept > 0 {
                return Poll::Ready(Ok(()));
            }
            // Everything read was dropped: read on (nothing read would mean the end).
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guarded bytes of `input`, fed in pieces of `piece` bytes.
    fn guarded(input: &str, piece: usize) -> String {
        let mut guard = Guard::default();
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece.max(1)) {
            let mut chunk = chunk.to_vec();
            let kept = guard.filter(&mut chunk);
            out.extend_from_slice(&chunk[..kept]);
        }
        String::from_utf8(out).expect("UTF-8 kept whole")
    }

    fn parses(xml: &str) -> bool {
        xml.parse::<tokio_xmpp::minidom::Element>().is_ok()
    }

    #[test]
    fn long_values_and_names_are_cut_and_the_xml_parses_again() {
        let long_id = "é".repeat(5000); // 10 000 bytes
        let long_name = "n".repeat(9000);
        let entities = "&amp;".repeat(2000);
        let text = "t".repeat(20_000);
        let xml = format!(
            "<message xmlns='jabber:client' id='{long_id}' type=\"chat\">\
             <body>{text}</body><{long_name} xmlns='urn:x' a=\"{entities}\"/>\
             <x xmlns='urn:y'><{long_name}>in</{long_name}></x></message>"
        );
        assert!(!parses(&xml), "rxml refuses it as it is");
        for piece in [1, 7, 4096, xml.len()] {
            let out = guarded(&xml, piece);
            assert!(parses(&out), "piece {piece}");
            let element: tokio_xmpp::minidom::Element = out.parse().unwrap();
            let id = element.attr("id").unwrap();
            assert!(
                id.len() <= MAX_TOKEN && long_id.starts_with(id),
                "{}",
                id.len()
            );
            assert_eq!(element.attr("type"), Some("chat"));
            assert_eq!(
                element.get_child("body", "jabber:client").unwrap().text(),
                text,
                "text is left alone"
            );
            let cut = "n".repeat(MAX_TOKEN);
            let odd = element.get_child(cut.as_str(), "urn:x").unwrap();
            let a = odd.attr("a").unwrap();
            assert!(a.chars().all(|c| c == '&'), "entities kept whole");
            assert!(
                a.len() >= MAX_TOKEN / 5 - 1 && a.len() <= MAX_TOKEN,
                "{}",
                a.len()
            );
        }
    }

    #[test]
    fn what_is_within_the_limit_passes_unchanged() {
        let xml = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                   xmlns:stream='http://etherx.jabber.org/streams' to='example.org'>\
                   <message from='a@example.org/x' id=\"it's\" a='say \"hi\"'>\
                   <body>a > b, 'quoted' \"too\" &lt;tag&gt;</body>\
                   <![CDATA[ <'\"> ]] ]]><x/></message>";
        let at_limit = format!("<m a='{}'/>", "v".repeat(MAX_TOKEN));
        for input in [xml, at_limit.as_str()] {
            for piece in [1, 3, 64, input.len()] {
                assert_eq!(guarded(input, piece), input, "piece {piece}");
            }
        }
    }

    #[tokio::test]
    async fn a_stream_reads_through_the_guard() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut server, client) = tokio::io::duplex(64);
        let mut guarded_client = Guarded::new(client);
        let long = "x".repeat(10_000);
        let sent = format!("<m id='{long}'>ok</m>");
        let writer = tokio::spawn(async move {
            server.write_all(sent.as_bytes()).await.unwrap();
            server.shutdown().await.unwrap();
            let mut echo = Vec::new();
            server.read_to_end(&mut echo).await.unwrap();
            echo
        });
        let mut got = String::new();
        guarded_client.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, format!("<m id='{}'>ok</m>", "x".repeat(MAX_TOKEN)));
        guarded_client
            .write_all(b"<out a='unchanged'/>")
            .await
            .unwrap();
        guarded_client.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"<out a='unchanged'/>");
    }
}
