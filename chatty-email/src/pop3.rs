//! A small POP3 client of its own (RFC 1939 with UIDL, and STLS from RFC 2595), generic over
//! the stream: [`connect`](crate::connect) runs it over the same rustls stream as IMAP, the
//! [`inbound`](crate::inbound) loop polls with it. Why not a crate: see the crate README.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The longest status line accepted from the server (RFC 1939 allows 512 octets for
/// responses; listings get slack). Lines of a message (RETR) are not limited one by one.
const MAX_LINE: usize = 64 * 1024;

/// The largest message accepted from RETR (far above what mail servers accept: 25 to 50 MB
/// is usual).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// What went wrong in a POP3 exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Pop3Error {
    /// The server answered `-ERR`.
    #[error("the POP3 server answered -ERR {0}")]
    Negative(String),
    /// The server said something that is not POP3.
    #[error("not a POP3 answer: {0}")]
    Protocol(String),
    /// The connection failed or closed.
    #[error("the POP3 connection failed: {0}")]
    Io(String),
}

impl From<std::io::Error> for Pop3Error {
    fn from(e: std::io::Error) -> Self {
        Pop3Error::Io(e.to_string())
    }
}

/// A POP3 client over any stream.
#[derive(Debug)]
pub(crate) struct Pop3<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    /// A client over `stream`, before the greeting is read.
    pub(crate) fn new(stream: S) -> Self {
        Pop3 {
            stream: BufReader::new(stream),
        }
    }

    /// The underlying stream (for STLS).
    pub(crate) fn into_inner(self) -> S {
        self.stream.into_inner()
    }

    /// Reads one line without its CRLF.
    async fn line(&mut self) -> Result<Vec<u8>, Pop3Error> {
        let mut line = Vec::new();
        let n = AsyncReadExt::take(&mut self.stream, MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(Pop3Error::Io("the server closed the connection".into()));
        }
        if !line.ends_with(b"\n") {
            return Err(Pop3Error::Protocol(format!(
                "a line longer than {MAX_LINE} bytes"
            )));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        Ok(line)
    }

    /// Reads a status line: the text after `+OK`, or the error after `-ERR`.
    pub(crate) async fn status(&mut self) -> Result<String, Pop3Error> {
        let line = self.line().await?;
        let text = String::from_utf8_lossy(&line);
        if let Some(rest) = text.strip_prefix("+OK") {
            Ok(rest.trim().to_owned())
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            Err(Pop3Error::Negative(rest.trim().to_owned()))
        } else {
            Err(Pop3Error::Protocol(text.chars().take(200).collect()))
        }
    }

    /// Sends a command and reads its status line.
    pub(crate) async fn command(&mut self, command: &str) -> Result<String, Pop3Error> {
        let stream = self.stream.get_mut();
        stream.write_all(command.as_bytes()).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await?;
        self.status().await
    }

    /// Reads a multi-line body up to the terminating `.`, undoing dot-stuffing; lines end in
    /// CRLF. Its lines may be of any length (mails break RFC 5322's 998 often enough), the
    /// whole at most [`MAX_MESSAGE`] bytes.
    async fn multiline(&mut self) -> Result<Vec<u8>, Pop3Error> {
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let budget = MAX_MESSAGE.saturating_sub(out.len()) as u64 + 2;
            let n = AsyncReadExt::take(&mut self.stream, budget)
                .read_until(b'\n', &mut line)
                .await?;
            if !line.ends_with(b"\n") {
                return Err(if n as u64 == budget {
                    Pop3Error::Protocol(format!("a message larger than {MAX_MESSAGE} bytes"))
                } else {
                    Pop3Error::Io("the server closed the connection".into())
                });
            }
            line.pop();
            if line.ends_with(b"\r") {
                line.pop();
            }
            if line == b"." {
                return Ok(out);
            }
            let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
            out.extend_from_slice(unstuffed);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Logs in with USER and PASS.
    pub(crate) async fn login(&mut self, user: &str, password: &str) -> Result<(), Pop3Error> {
        if user.contains(['\r', '\n']) || password.contains(['\r', '\n']) {
            return Err(Pop3Error::Protocol(
                "a user name or password with a line break".into(),
            ));
        }
        self.command(&format!("USER {user}")).await?;
        self.command(&format!("PASS {password}")).await?;
        Ok(())
    }

    /// The unique ids of the messages in the maildrop, by message number.
    pub(crate) async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        self.command("UIDL").await?;
        let body = self.multiline().await?;
        let mut out = Vec::new();
        for line in String::from_utf8_lossy(&body).lines() {
            let mut words = line.split_whitespace();
            let (Some(number), Some(uid)) = (words.next(), words.next()) else {
                return Err(Pop3Error::Protocol(format!(
                    "a UIDL line without an id: {line}"
                )));
            };
            let number = number.parse().map_err(|_| {
                Pop3Error::Protocol(format!("a UIDL line without a number: {line}"))
            })?;
            out.push((number, uid.to_owned()));
        }
        Ok(out)
    }

    /// The message `number`, as it is on the server.
    pub(crate) async fn retr(&mut self, number: u32) -> Result<Vec<u8>, Pop3Error> {
        self.command(&format!("RETR {number}")).await?;
        self.multiline().await
    }

    /// The header of message `number` and `lines` lines of its body (TOP, an optional command
    /// of RFC 1939 that Dovecot, Courier and most servers have).
    pub(crate) async fn top(&mut self, number: u32, lines: u32) -> Result<Vec<u8>, Pop3Error> {
        self.command(&format!("TOP {number} {lines}")).await?;
        self.multiline().await
    }

    /// Marks the message `number` for deletion (done at QUIT).
    pub(crate) async fn dele(&mut self, number: u32) -> Result<(), Pop3Error> {
        self.command(&format!("DELE {number}")).await.map(drop)
    }

    /// Ends the session; deletions take effect.
    pub(crate) async fn quit(&mut self) -> Result<(), Pop3Error> {
        self.command("QUIT").await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Strategy as _;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, duplex};

    /// A scripted server: for each expected command, the answer to write.
    async fn scripted(script: Vec<(&'static str, &'static str)>) -> Pop3<tokio::io::DuplexStream> {
        let (client, server) = duplex(64 * 1024);
        tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(server);
            let mut read = BufReader::new(read);
            write.write_all(b"+OK ready\r\n").await.unwrap();
            for (expect, answer) in script {
                let mut line = String::new();
                read.read_line(&mut line).await.unwrap();
                assert_eq!(line.trim_end(), expect);
                write.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let mut pop = Pop3::new(client);
        assert_eq!(pop.status().await.unwrap(), "ready");
        pop
    }

    #[tokio::test]
    async fn login_uidl_retr_top_dele_quit() {
        let mut pop = scripted(vec![
            ("USER bot", "+OK\r\n"),
            ("PASS pw", "+OK logged in\r\n"),
            ("UIDL", "+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n"),
            (
                "RETR 2",
                "+OK 30 octets\r\nSubject: x\r\n\r\n..dotted\r\nplain\r\n.\r\n",
            ),
            ("TOP 1 0", "+OK\r\nSubject: y\r\n\r\n.\r\n"),
            ("DELE 2", "+OK deleted\r\n"),
            ("QUIT", "+OK bye\r\n"),
        ])
        .await;
        pop.login("bot", "pw").await.unwrap();
        assert_eq!(
            pop.uidl().await.unwrap(),
            [(1, "aaa".to_owned()), (2, "bbb".to_owned())]
        );
        assert_eq!(
            pop.retr(2).await.unwrap(),
            b"Subject: x\r\n\r\n.dotted\r\nplain\r\n"
        );
        assert_eq!(pop.top(1, 0).await.unwrap(), b"Subject: y\r\n\r\n");
        pop.dele(2).await.unwrap();
        pop.quit().await.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_password_is_a_negative_answer() {
        let mut pop = scripted(vec![
            ("USER bot", "+OK\r\n"),
            ("PASS nope", "-ERR [AUTH] Authentication failed.\r\n"),
        ])
        .await;
        assert_eq!(
            pop.login("bot", "nope").await,
            Err(Pop3Error::Negative("[AUTH] Authentication failed.".into()))
        );
    }

    #[tokio::test]
    async fn garbage_and_a_closed_connection_are_errors_not_panics() {
        let mut pop = scripted(vec![
            ("UIDL", "+OK\r\nnot-a-number x\r\n.\r\n"),
            ("NOOP", "HTTP/1.1 400\r\n"),
        ])
        .await;
        assert!(matches!(pop.uidl().await, Err(Pop3Error::Protocol(_))));
        assert!(matches!(
            pop.command("NOOP").await,
            Err(Pop3Error::Protocol(_))
        ));
        assert!(matches!(pop.command("STAT").await, Err(Pop3Error::Io(_))));
        let mut pop = scripted(vec![]).await;
        assert!(pop.login("a\r\nDELE 1", "x").await.is_err());
    }

    /// A server that writes `bytes` whatever it is asked, then hangs up.
    fn blurting(bytes: Vec<u8>) -> Pop3<tokio::io::DuplexStream> {
        let (client, mut server) = duplex(64 * 1024);
        tokio::spawn(async move {
            let _ = server.write_all(&bytes).await;
            let _ = server.shutdown().await;
            // Keep reading what the client sends, so that its writes never block.
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut server, &mut sink).await;
        });
        Pop3::new(client)
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(5), future).await
            })
            .expect("the client does not hang on a server that hung up")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 256,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever a server says (bytes, or lines that look like POP3), the client gives an
        /// answer or an error: no panic, no hang.
        #[test]
        fn any_server_answer_is_an_answer_or_an_error(
            bytes in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
                "((\\+OK|-ERR|\\.|[0-9]{1,12}|\\.\\.)?[ -~]{0,30}\r\n){0,40}"
                    .prop_map(String::into_bytes),
            ],
        ) {
            run(async {
                let mut pop = blurting(bytes);
                let _ = pop.status().await;
                let _ = pop.uidl().await;
                let _ = pop.retr(1).await;
                let _ = pop.quit().await;
            });
        }

        /// A message of any lines comes back from RETR as it was, dot-stuffing undone.
        #[test]
        fn retr_undoes_dot_stuffing(
            lines in proptest::collection::vec("[^\r\n]{0,100}", 0..30),
        ) {
            let mut answer = b"+OK\r\n".to_vec();
            let mut expected = Vec::new();
            for line in &lines {
                if line.starts_with('.') {
                    answer.push(b'.');
                }
                answer.extend_from_slice(line.as_bytes());
                answer.extend_from_slice(b"\r\n");
                expected.extend_from_slice(line.as_bytes());
                expected.extend_from_slice(b"\r\n");
            }
            answer.extend_from_slice(b".\r\n");
            let got = run(async { blurting(answer).retr(1).await });
            proptest::prop_assert_eq!(got, Ok(expected));
        }
    }

    #[tokio::test]
    async fn a_mail_with_a_line_longer_than_a_status_line_is_read() {
        let long = "x".repeat(MAX_LINE * 2);
        let answer = format!("+OK\r\nSubject: long\r\n\r\n{long}\r\n..{long}\r\n.\r\n");
        let got = blurting(answer.into_bytes()).retr(1).await.unwrap();
        assert_eq!(
            got,
            format!("Subject: long\r\n\r\n{long}\r\n.{long}\r\n").into_bytes()
        );
        // A message cut off by a closed connection is an I/O error, not a message.
        let cut = format!("+OK\r\nSubject: cut\r\n\r\n{long}");
        assert!(matches!(
            blurting(cut.into_bytes()).retr(1).await,
            Err(Pop3Error::Io(_))
        ));
    }

    #[tokio::test]
    async fn an_endless_line_is_a_protocol_error() {
        let mut pop = blurting(vec![b'+'; MAX_LINE + 10]);
        assert!(matches!(pop.status().await, Err(Pop3Error::Protocol(_))));
    }
}
