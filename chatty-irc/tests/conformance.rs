//! The session conformance suite (`chatty_test::conformance`) against the test InspIRCd (IRCv3:
//! message-tags, server-time, msgid, echo-message, labeled-response): two sessions with nicks of
//! their own, talking in private (`scripts/test` starts the server; see the crate README to run
//! only this crate's tests).
//!
//! What IRC cannot carry (subjects, HTML, media, attachments, files, edits, user-defined
//! signals) is checked as refused by the send, as the session's capabilities say; typing and
//! a reaction (a `TAGMSG`, naming the msgid the echo of the message reacted to brought) are
//! carried (the server has message-tags).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chatty_core::Address;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_irc::{IrcConfig, IrcSession, TlsMode};
use chatty_test::servers::irc_server;
use chatty_test::{Pair, Side};

/// Two sessions on the test InspIRCd, each with a nick no other session uses.
struct IrcPair;

/// A nick no other running test uses: the process id and a counter, lower case (so that the
/// address the other side sees is the one built here), 15 bytes at most.
fn unique_nick(side: char) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("cf{side}{}x{n}", std::process::id())
}

/// A plain-text session as a fresh nick, unpaced (the test server has no flood limits on
/// loopback), reconnecting quickly; and its address.
fn side(which: char) -> Side {
    let server = irc_server();
    let nick = unique_nick(which);
    let config = IrcConfig::new(&server.host, &nick)
        .with_tls(TlsMode::Plaintext)
        .with_port(server.port)
        .with_pacing(50, Duration::ZERO)
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2));
    let session = IrcSession::new(config).expect("a valid config");
    Side {
        address: format!("irc:{nick};kind=individual")
            .parse()
            .expect("a valid address"),
        session: Arc::new(session),
    }
}

impl Pair for IrcPair {
    fn connect(&self) -> BoxFuture<'_, (Side, Side)> {
        Box::pin(async { (side('a'), side('b')) })
    }

    /// A nick nobody has: the server answers the message with `401 ERR_NOSUCHNICK` (labelled
    /// with the message's label under labeled-response), which the session maps to a
    /// `SendFailure` naming the message.
    fn unknown_address(&self) -> Option<Address> {
        let nobody = format!("irc:nobody{};kind=individual", std::process::id());
        Some(nobody.parse().expect("a valid address"))
    }

    /// InspIRCd 3 completes a registration in its once-a-second loop: a session starts about a
    /// second after it connects.
    fn wait(&self) -> Duration {
        Duration::from_secs(15)
    }

    /// IRC carries no id of the sender's: the receiver's id is the server's `msgid` tag (a new
    /// id on a server without it). Replies (`+draft/reply`) are not carried either.
    fn ids_kept(&self) -> bool {
        false
    }
}

chatty_test::session_conformance_tests!(IrcPair);
