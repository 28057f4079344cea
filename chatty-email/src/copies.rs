//! Copies of the bot's answers in its own mailbox: how the session tells, after a crash,
//! whether the answer that was leaving when the process died left.
//!
//! Under a journal the router records an answer as about to leave, the session sends it, and
//! the router records that it left. A kill between the SMTP server's acceptance and that last
//! record leaves the router unsure, and after the restart it asks the session
//! ([`Protocol::sent`](chatty_core::driver::Protocol::sent)). Nothing in SMTP says whether a
//! server took a mail before, and an IMAP `APPEND` to a Sent folder after the acceptance has
//! the same window. So an answer goes out with the bot's own address as one more envelope
//! recipient (not in the header), in the same SMTP transaction: the server's one acceptance
//! covers both, and the copy in the bot's mailbox exists exactly when the answer was taken.
//!
//! - **Marked**: an answer with a copy carries `X-Chatty-Copy: NAME` (the session name; the
//!   person gets the same header, which is harmless). A mail is a copy of this session's answer
//!   when its `From:` is the bot's own address and it carries that marker with this session's
//!   name ([`Mapper::copy_id`]). Only answers (signals with `response_to`, the ones the router
//!   journals and asks about) get a copy: other mail is never asked about, and a copy of it
//!   would only fill the mailbox.
//! - **Never the bot's**: the serve loop reads past copies (the cursor moves over them as over
//!   any mail) without handing them to the bot, whatever their header says otherwise
//!   (`Auto-Submitted`, threads, delivery reports): no signal, no thread memory.
//! - **Kept a while, then deleted**: a copy stays in the mailbox (IMAP: flagged `\Seen`
//!   whatever `handled` says; POP3: whatever `delete` says) until the session has been past it
//!   for `answer_copies_kept_ms` (one hour by default), counted from when the session first
//!   read past it in this process, so that a restart never deletes the copy it is about to be
//!   asked about: the first sweep comes that long after the session's first read (`Sweep`, in `sweep.rs`).
//! - **Asked after a restart** ([`sent`]): IMAP searches the folder for the answer's
//!   Message-ID (`UID SEARCH HEADER Message-ID`), POP3 reads the header (`TOP n 0`) of the
//!   newest [`POP3_SCAN`] messages; each on a connection of its own, again every
//!   [`SENT_RETRY`] until [`SENT_WAIT`] after the session was made (delivery through the
//!   server's queue lags a little; the answer was taken before the process started). Found:
//!   `Some(true)`; not found by then: `Some(false)`; no answer copies, or the server failed:
//!   `None` (sent again).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chatty_core::driver::{Failure, lock};
use chatty_core::{ConnectionErrorKind, Signal};
use futures::TryStreamExt as _;

use crate::config::{ImapConfig, InboundConfig, Pop3Config};
use crate::connect;
use crate::ids::wire_id;
use crate::imap::{self, Caps, Imap, lost, quoted, uid_set};
use crate::mapper::Mapper;
use crate::net::Stream;
use crate::pop3::{Pop3, Pop3Error};
use crate::state::Shared;

/// The header that marks an answer sent with a copy to the bot's own mailbox; its value is the
/// session name.
pub const HEADER_COPY: &str = "X-Chatty-Copy";

/// Until how long after the session was made [`sent`] looks again for a copy not found yet.
pub(crate) const SENT_WAIT: Duration = Duration::from_secs(10);

/// How long [`sent`] waits between two looks.
pub(crate) const SENT_RETRY: Duration = Duration::from_millis(500);

/// How many of the newest POP3 messages [`sent`] reads the header of (once each).
pub(crate) const POP3_SCAN: usize = 500;

impl Mapper {
    /// Whether `signal` goes with a copy to the bot's own mailbox: an answer, copies on.
    pub(crate) fn wants_copy(&self, signal: &Signal) -> bool {
        self.copies() && signal.meta.response_to.is_some()
    }

    /// The Message-ID (without angle brackets; empty if it has none) of `raw` if it is a copy
    /// of one of this session's answers: `From:` the bot's own address and `X-Chatty-Copy:`
    /// this session's name. Only the header is read.
    pub(crate) fn copy_id(&self, raw: &[u8]) -> Option<String> {
        let mail = self.parser.parse_headers(raw)?;
        let from = mail.from()?.first()?.address()?;
        if !from.eq_ignore_ascii_case(&self.own_mail) {
            return None;
        }
        let marked = mail.headers_raw().any(|(name, value)| {
            name.eq_ignore_ascii_case(HEADER_COPY) && value.trim() == self.name()
        });
        marked.then(|| mail.message_id().unwrap_or_default().to_owned())
    }

    /// Whether `raw` is a copy of one of this session's answers ([`copy_id`](Mapper::copy_id)).
    pub(crate) fn is_copy(&self, raw: &[u8]) -> bool {
        self.copy_id(raw).is_some()
    }
}

/// IMAP: deletes the copies the session read past long enough ago, if a sweep is due (the
/// cursor at `last` under `validity`).
pub(crate) async fn sweep_imap(
    shared: &Shared,
    session: &mut Imap,
    caps: &Caps,
    validity: u32,
    last: u32,
) -> Result<(), Failure> {
    let due = lock(&shared.sweep).imap_due(validity, last);
    let Some(upto) = due.filter(|upto| *upto > 0) else {
        return Ok(());
    };
    let own = quoted(&shared.mapper.own_mail)
        .map_err(|e| Failure::new(ConnectionErrorKind::Protocol, e))?;
    let candidates: Vec<u32> = session
        .uid_search(format!("UID 1:{upto} FROM {own}"))
        .await
        .map_err(lost)?
        .into_iter()
        .collect();
    let copies = copies_among(&shared.mapper, session, candidates, None)
        .await
        .map_err(lost)?;
    if !copies.is_empty() {
        imap::delete(session, &uid_set(&copies), caps).await?;
        tracing::debug!(copies = copies.len(), "copies of answers deleted");
    }
    Ok(())
}

/// Of the mails `uids`, the ones that are copies of this session's answers (with the
/// Message-ID `wire`, if given), ascending; their headers are fetched.
async fn copies_among(
    mapper: &Mapper,
    session: &mut Imap,
    mut uids: Vec<u32>,
    wire: Option<&str>,
) -> Result<Vec<u32>, async_imap::error::Error> {
    if uids.is_empty() {
        return Ok(uids);
    }
    uids.sort_unstable();
    let fetched: Vec<_> = session
        .uid_fetch(uid_set(&uids), "(UID BODY.PEEK[HEADER])")
        .await?
        .try_collect()
        .await?;
    let mut copies: Vec<u32> = fetched
        .iter()
        .filter(|f| f.uid.is_some_and(|uid| uids.contains(&uid)))
        .filter(|f| {
            let id = f.header().and_then(|h| mapper.copy_id(h));
            id.is_some_and(|id| wire.is_none_or(|wire| id == wire))
        })
        .filter_map(|f| f.uid)
        .collect();
    copies.sort_unstable();
    copies.dedup();
    Ok(copies)
}

/// Whether the answer `signal` left: its copy is in the bot's mailbox (`Some(true)`), or not
/// there by [`SENT_WAIT`] after the session was made (`Some(false)`); `None` without answer
/// copies, for a signal that got none, or when the server cannot be asked.
pub(crate) async fn sent(shared: &Shared, signal: &Signal) -> Option<bool> {
    if !shared.mapper.wants_copy(signal) {
        return None;
    }
    let wire = wire_id(&signal.meta.id);
    let deadline = shared.created + SENT_WAIT;
    // A server that hangs is asked no longer than that, and the answer goes again.
    let limit = SENT_WAIT + 3 * shared.config.connect_timeout();
    let look = async {
        match &shared.config.inbound {
            InboundConfig::Imap(config) => sent_imap(config, shared, &wire, deadline).await,
            InboundConfig::Pop3(config) => sent_pop3(config, shared, &wire, deadline).await,
        }
    };
    let found = tokio::time::timeout(limit, look).await.ok().flatten();
    tracing::info!(id = %signal.meta.id, ?found, "asked the mailbox whether an answer left");
    found
}

/// [`sent`] over IMAP: the folder opened read-only on a connection of its own, searched by
/// Message-ID until the copy is there or `deadline` passed.
async fn sent_imap(
    config: &ImapConfig,
    shared: &Shared,
    wire: &str,
    deadline: Instant,
) -> Option<bool> {
    let mut session = connect::imap(config, shared).await.ok()?;
    let result = async {
        let search = format!("HEADER Message-ID {}", quoted(&format!("<{wire}>")).ok()?);
        session.examine(&config.folder).await.ok()?;
        loop {
            let found: Vec<u32> = session
                .uid_search(&search)
                .await
                .ok()?
                .into_iter()
                .collect();
            let copies = copies_among(&shared.mapper, &mut session, found, Some(wire))
                .await
                .ok()?;
            if !copies.is_empty() {
                return Some(true);
            }
            if Instant::now() >= deadline {
                // Not found on a connection that was still open (a search on a closed one
                // answers nothing, as if nothing were found).
                imap::answered_whole(&mut session).await.ok()?;
                return Some(false);
            }
            tokio::time::sleep(SENT_RETRY).await;
            // Lets the server announce what arrived meanwhile.
            session.noop().await.ok()?;
            while session.unsolicited_responses.try_recv().is_ok() {}
        }
    }
    .await;
    let _ = session.logout().await;
    result
}

/// [`sent`] over POP3: the header of each of the newest [`POP3_SCAN`] messages not read yet,
/// on a connection of its own (the listing is the maildrop at login: a new one each look),
/// until the copy is there or `deadline` passed.
async fn sent_pop3(
    config: &Pop3Config,
    shared: &Shared,
    wire: &str,
    deadline: Instant,
) -> Option<bool> {
    let mut read: HashSet<String> = HashSet::new();
    loop {
        let mut client = connect::pop3(config, shared).await.ok()?;
        let found = look_pop3(&mut client, &shared.mapper, wire, &mut read).await;
        let _ = client.quit().await;
        match found {
            Ok(true) => return Some(true),
            Ok(false) if Instant::now() >= deadline => return Some(false),
            Ok(false) => tokio::time::sleep(SENT_RETRY).await,
            Err(_) => return None,
        }
    }
}

/// One look through the newest messages of a POP3 maildrop for the copy `wire`; `read` holds
/// the UIDLs whose header was read already.
async fn look_pop3(
    client: &mut Pop3<Stream>,
    mapper: &Mapper,
    wire: &str,
    read: &mut HashSet<String>,
) -> Result<bool, Pop3Error> {
    let listing = client.uidl().await?;
    for (number, uid) in listing.iter().rev().take(POP3_SCAN) {
        if !read.insert(uid.clone()) {
            continue;
        }
        let header = client.top(*number, 0).await?;
        if mapper.copy_id(&header).is_some_and(|id| id == wire) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use chatty_core::{Address, Message, Signal};

    use super::*;
    use crate::config::PLATFORM;
    use crate::mapper::Threads;

    fn mapper(name: &str) -> Mapper {
        Mapper::new(name, "bot@example.org")
            .unwrap()
            .with_copies(true)
    }

    fn question() -> Signal {
        let mut question =
            Signal::message("a question").to(Address::new(PLATFORM, "bot@example.org").unwrap());
        question.meta.origin = Some(Address::new(PLATFORM, "alice@example.org").unwrap());
        question.meta.id = "q-1@example.org".into();
        question
    }

    #[test]
    fn an_answer_is_marked_and_goes_to_the_bot_too_and_other_mail_not() {
        let bot = mapper(PLATFORM);
        let answer = question().reply(Message::text("an answer"));
        let out = bot.outbound(&answer, &Threads::default()).unwrap();
        assert!(out.copy, "an answer gets a copy");
        assert_eq!(out.to, ["alice@example.org"], "the header's recipients");
        let text = String::from_utf8_lossy(&out.bytes);
        assert!(text.contains("X-Chatty-Copy: mailto\r\n"), "{text}");
        assert!(!text.contains("To: <bot@"), "not in the header: {text}");
        assert_eq!(
            bot.copy_id(&out.bytes).as_deref(),
            Some(wire_id(&answer.meta.id).as_str())
        );

        // A mail that answers nothing: no copy, no marker.
        let first =
            Signal::message("hello").to(Address::new(PLATFORM, "alice@example.org").unwrap());
        let out = bot.outbound(&first, &Threads::default()).unwrap();
        assert!(!out.copy);
        assert!(!String::from_utf8_lossy(&out.bytes).contains(HEADER_COPY));
        assert_eq!(bot.copy_id(&out.bytes), None);

        // Copies off: an answer neither.
        let off = Mapper::new(PLATFORM, "bot@example.org").unwrap();
        let out = off.outbound(&answer, &Threads::default()).unwrap();
        assert!(!out.copy);
        assert!(!off.wants_copy(&answer));
        assert!(!String::from_utf8_lossy(&out.bytes).contains(HEADER_COPY));
    }

    #[test]
    fn a_copy_is_from_the_own_address_with_this_session_s_marker() {
        let bot = mapper("work");
        let mail = |from: &str, marker: &str| {
            format!(
                "Return-Path: <bot@example.org>\r\nDelivered-To: bot@example.org\r\n\
                 From: {from}\r\nTo: alice@example.org\r\nMessage-ID: <a~work~0@chatty.invalid>\r\n\
                 {marker}Subject: Re: hi\r\n\r\nan answer\r\n"
            )
            .into_bytes()
        };
        let copy = mail("Bot <bot@example.org>", "x-chatty-copy:  work \r\n");
        assert_eq!(
            bot.copy_id(&copy).as_deref(),
            Some("a~work~0@chatty.invalid")
        );
        assert!(bot.is_copy(&mail("<BOT@example.org>", "X-Chatty-Copy: work\r\n")));
        // Not from the bot, another session's marker, a marker that only starts alike, none.
        for (from, marker) in [
            ("alice@example.org", "X-Chatty-Copy: work\r\n"),
            ("robot@example.org", "X-Chatty-Copy: work\r\n"),
            ("bot@example.org", "X-Chatty-Copy: mailto\r\n"),
            ("bot@example.org", "X-Chatty-Copy: workshop\r\n"),
            ("bot@example.org", "X-Chatty-Copy-Not: work\r\n"),
            ("bot@example.org", ""),
        ] {
            assert!(!bot.is_copy(&mail(from, marker)), "{from} {marker:?}");
        }
        assert!(!bot.is_copy(b""));
        assert!(!bot.is_copy(b"\xff\xfe garbage"));
    }
}
