//! The line codec: CRLF-framed IRC lines on tokio-util's [`Decoder`]/[`Encoder`], with the
//! length rules of RFC 1459 and IRCv3 message-tags.
//!
//! A message is at most 512 bytes with its CRLF; the tags in front of it do not count toward
//! that: a server may send up to 8191 bytes of tags (the `@` and the space after them
//! included), a client up to 4094 bytes (plus the `@` and the space). Input ending lines with a
//! bare LF is read as well. A line that is not UTF-8 is read as Latin-1 (ISO 8859-1), as irssi
//! and WeeChat do by default: old clients still send it, and servers pass it on as it is. A line
//! that is too long or not a message is an error *for that line* ([`LineError`]): the decoder
//! goes on with the next one, and never panics.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::line::{FormatError, Line, ParseError};

/// The longest message in bytes, its CRLF included, tags not counted (RFC 1459, 2.3).
pub const MAX_MESSAGE: usize = 512;
/// The most bytes of tags a server may send in front of a message, the `@` and the trailing
/// space included (message-tags).
pub const MAX_SERVER_TAGS: usize = 8191;
/// The most bytes of tags a client may send, the `@` and the trailing space included: 4094
/// bytes of tag data plus those two (message-tags).
pub const MAX_CLIENT_TAGS: usize = 4096;

/// Why one line could not be read or written; the connection goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line (or its tags) is longer than IRC allows; it was skipped.
    #[error("a line of {length} bytes or more{part} passed the limit of {limit} bytes")]
    TooLong {
        /// Bytes seen (at least).
        length: usize,
        /// The limit passed.
        limit: usize,
        /// Which part: `""` for the message, `" of tags"` for the tags.
        part: &'static str,
    },
    /// The line is not an IRC message.
    #[error("a line is not an IRC message: {0}")]
    Malformed(#[from] ParseError),
    /// The message cannot be formatted (outbound only).
    #[error("a message cannot be sent: {0}")]
    Unformattable(#[from] FormatError),
}

/// Frames IRC lines: decodes bytes into [`Line`]s and encodes [`Line`]s with CRLF.
///
/// Each decoded item is a `Result`: a line that is too long (more than 512 bytes with its CRLF,
/// tags not counted; more than [`MAX_SERVER_TAGS`] of tags) or not a message is a [`LineError`]
/// for that line alone, and the next line is read as usual. A line that is not UTF-8 is decoded
/// as Latin-1 (each byte the character of that number). Lines ending in a bare LF are read too;
/// empty lines are skipped. Encoding refuses what a client may not send ([`encode_line`]).
///
/// ```
/// use bytes::BytesMut;
/// use chatty_irc::proto::IrcCodec;
/// use tokio_util::codec::Decoder;
///
/// let mut codec = IrcCodec::default();
/// let mut input = BytesMut::from(&b"PING :a\r\n:src\nPRIVMSG #c :caf\xe9\r\n"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap().unwrap().unwrap().params, ["a"]);
/// assert!(codec.decode(&mut input).unwrap().unwrap().is_err()); // not a message
/// let latin1 = codec.decode(&mut input).unwrap().unwrap().unwrap();
/// assert_eq!(latin1.params, ["#c", "café"]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct IrcCodec {
    /// Skipping the rest of an over-long line (its error was reported).
    discarding: bool,
}

impl IrcCodec {
    /// The longest line the decoder buffers before it gives up on it.
    pub const MAX_LINE: usize = MAX_SERVER_TAGS + MAX_MESSAGE;
}

/// Checks one received line's bytes (line ending removed) and parses it.
fn read_line(bytes: &[u8]) -> Result<Line, LineError> {
    let message_len = if bytes.first() == Some(&b'@') {
        let tags = bytes
            .iter()
            .position(|&b| b == b' ')
            .map_or(bytes.len(), |i| i + 1);
        if tags > MAX_SERVER_TAGS {
            return Err(LineError::TooLong {
                length: tags,
                limit: MAX_SERVER_TAGS,
                part: " of tags",
            });
        }
        bytes.len() - tags
    } else {
        bytes.len()
    };
    if message_len + 2 > MAX_MESSAGE {
        return Err(LineError::TooLong {
            length: message_len + 2,
            limit: MAX_MESSAGE,
            part: "",
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.parse()?),
        Err(_) => Ok(latin1(bytes).parse()?),
    }
}

/// `bytes` read as Latin-1 (ISO 8859-1): each byte is the character of its number.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Formats `line` for sending and checks the client's limits: the text without CRLF.
pub fn encode_line(line: &Line) -> Result<String, LineError> {
    let text = line.format()?;
    let tags = if text.starts_with('@') {
        text.find(' ').map_or(text.len(), |i| i + 1)
    } else {
        0
    };
    if tags > MAX_CLIENT_TAGS {
        return Err(LineError::TooLong {
            length: tags,
            limit: MAX_CLIENT_TAGS,
            part: " of tags",
        });
    }
    if text.len() - tags + 2 > MAX_MESSAGE {
        return Err(LineError::TooLong {
            length: text.len() - tags + 2,
            limit: MAX_MESSAGE,
            part: "",
        });
    }
    Ok(text)
}

impl Decoder for IrcCodec {
    type Item = Result<Line, LineError>;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        loop {
            let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                if buf.len() > Self::MAX_LINE {
                    let length = buf.len();
                    buf.clear();
                    if !self.discarding {
                        self.discarding = true;
                        return Ok(Some(Err(LineError::TooLong {
                            length,
                            limit: Self::MAX_LINE,
                            part: "",
                        })));
                    }
                }
                return Ok(None);
            };
            let line = buf.split_to(end + 1);
            if std::mem::take(&mut self.discarding) {
                // The end of a line reported too long already.
                continue;
            }
            let mut bytes = &line[..end];
            if let [rest @ .., b'\r'] = bytes {
                bytes = rest;
            }
            if bytes.iter().all(|&b| b == b' ' || b == b'\r') {
                // Empty lines are ignored (RFC 2812, 2.3.1).
                continue;
            }
            return Ok(Some(read_line(bytes)));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if let Some(item) = self.decode(buf)? {
            return Ok(Some(item));
        }
        if buf.is_empty() || std::mem::take(&mut self.discarding) {
            buf.clear();
            return Ok(None);
        }
        // The last line, without its line ending.
        let line = buf.split_to(buf.len());
        let bytes = line.strip_suffix(b"\r").unwrap_or(&line);
        if bytes.iter().all(|&b| b == b' ') {
            return Ok(None);
        }
        Ok(Some(read_line(bytes)))
    }
}

impl Encoder<&Line> for IrcCodec {
    type Error = std::io::Error;

    fn encode(&mut self, line: &Line, buf: &mut BytesMut) -> Result<(), Self::Error> {
        let text = encode_line(line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        buf.reserve(text.len() + 2);
        buf.extend_from_slice(text.as_bytes());
        buf.extend_from_slice(b"\r\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Vec<Result<Line, LineError>> {
        let mut codec = IrcCodec::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn a_line_not_utf8_is_latin1() {
        let out = decode_all(b"PRIVMSG #c :caf\xe9 \xa3 5\r\nPRIVMSG #c :caf\xc3\xa9\r\n");
        assert_eq!(out[0].as_ref().unwrap().params, ["#c", "café £ 5"]);
        assert_eq!(
            out[1].as_ref().unwrap().params,
            ["#c", "café"],
            "UTF-8 first"
        );
        // Every byte is a character: nothing in Latin-1 is left undecoded.
        let all: Vec<u8> = (0x20..=0xff).collect();
        assert_eq!(latin1(&all).chars().count(), all.len());
    }

    #[test]
    fn crlf_lf_and_a_last_line_without_ending() {
        let out = decode_all(b"PING a\r\nPING b\n\r\n\nPING c");
        let params: Vec<_> = out
            .into_iter()
            .map(|l| l.unwrap().params[0].clone())
            .collect();
        assert_eq!(params, ["a", "b", "c"]);
    }

    #[test]
    fn lengths_per_message_tags() {
        // 510 bytes of message plus CRLF: fine; one more: too long.
        let body = format!("PRIVMSG #a :{}", "x".repeat(510 - 12));
        assert_eq!(body.len(), 510);
        let ok = decode_all(format!("{body}\r\n").as_bytes());
        assert!(ok[0].is_ok());
        let long = decode_all(format!("{body}x\r\nPING z\r\n").as_bytes());
        assert!(matches!(
            long[0],
            Err(LineError::TooLong { limit: 512, .. })
        ));
        assert_eq!(long[1].as_ref().unwrap().command, "PING");
        // Tags do not count toward the 512 bytes.
        let tags = format!("@a={} ", "t".repeat(4000));
        let ok = decode_all(format!("{tags}{body}\r\n").as_bytes());
        assert!(ok[0].is_ok(), "{ok:?}");
        let tags = format!("@a={} ", "t".repeat(MAX_SERVER_TAGS));
        let long = decode_all(format!("{tags}PING x\r\n").as_bytes());
        assert!(matches!(
            long[0],
            Err(LineError::TooLong {
                part: " of tags",
                ..
            })
        ));
    }

    #[test]
    fn an_endless_line_is_reported_once_and_skipped() {
        let mut input = vec![b'x'; IrcCodec::MAX_LINE * 3];
        input.extend_from_slice(b"\r\nPING after\r\n");
        let mut codec = IrcCodec::default();
        let mut out = Vec::new();
        for chunk in input.chunks(1000) {
            let mut buf = BytesMut::new();
            buf.extend_from_slice(chunk);
            // Feed in pieces like a socket would.
            out.push(buf);
        }
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        for piece in out {
            buf.extend_from_slice(&piece);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                items.push(item);
            }
        }
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(matches!(items[0], Err(LineError::TooLong { .. })));
        assert_eq!(items[1].as_ref().unwrap().params, ["after"]);
    }

    #[test]
    fn encoding_checks_the_client_limits() {
        let mut codec = IrcCodec::default();
        let mut buf = BytesMut::new();
        codec
            .encode(&Line::new("PRIVMSG", ["#a", "hi there"]), &mut buf)
            .unwrap();
        assert_eq!(&buf[..], b"PRIVMSG #a :hi there\r\n");
        let long = Line::new("PRIVMSG", ["#a".to_owned(), "x".repeat(500)]);
        assert!(codec.encode(&long, &mut buf).is_err());
        let tags = Line::new("TAGMSG", ["#a"]).with_tag("+x", Some(&"v".repeat(4092)));
        assert!(matches!(
            encode_line(&tags),
            Err(LineError::TooLong { limit: 4096, .. })
        ));
        let injected = Line::new("PRIVMSG", ["#a", "hi\r\nQUIT"]);
        assert!(matches!(
            encode_line(&injected),
            Err(LineError::Unformattable(_))
        ));
    }
}
