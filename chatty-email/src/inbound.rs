//! The serve loop: new mail read from the inbound server (IMAP IDLE or polling, POP3 polling),
//! each mail mapped to what the bot gets and pushed, the read cursor kept and saved, until the
//! session is to stop (then the state is saved and the connection closed politely) or the
//! connection is lost.

pub(crate) mod dsn;
mod mail;

use std::collections::BTreeSet;

use chatty_core::driver::{Deliveries, Failure, Link, lock};
use chatty_core::{ConnectionErrorKind, DeliveryStatus, FailureKind, SendFailure, Signal};

use crate::config::{ImapConfig, InboundConfig, Pop3Config};
use crate::connect::{self, Client, Connection, pop3_failure};
use crate::copies;
use crate::imap::{self, Caps, Imap};
use crate::mapper::{Inbound, system_error};
use crate::net::Stream;
use crate::pop3::{Pop3, Pop3Error};
use crate::state::Shared;
use crate::store::FolderState;

/// How many mails one FETCH asks for.
const FETCH_CHUNK: usize = 200;

/// Serves `connection` until the session is to stop (`Ok`) or the connection is lost; the
/// read cursor is saved either way.
pub(crate) async fn serve(
    shared: &Shared,
    deliveries: &Deliveries,
    connection: Connection,
    link: &Link,
) -> Result<(), Failure> {
    let context = Context {
        shared,
        deliveries,
        link,
    };
    shared.store.lock().await.load(link).await?;
    let result = match (&shared.config.inbound, connection.0) {
        (InboundConfig::Imap(config), Client::Imap(session)) => {
            read_imap(config, &context, *session).await
        }
        (InboundConfig::Pop3(config), Client::Pop3(client)) => {
            poll_pop3(config, &context, client).await
        }
        _ => Err(Failure::new(
            ConnectionErrorKind::Protocol,
            "a connection of another protocol than the configured one",
        )
        .permanent()),
    };
    let saved = shared.store.lock().await.save(link).await;
    if let Err(e) = saved {
        let _ = context.system_error(e).await;
    }
    result
}

/// What became of one mail read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Handed to the bot (durable in the journal, under one).
    Pushed,
    /// A copy of the bot's own answer: read past, never the bot's.
    Copy,
    /// The bot has stopped listening: not handed over.
    Stopped,
}

/// What the read loops deliver mail with.
struct Context<'a> {
    shared: &'a Shared,
    deliveries: &'a Deliveries,
    link: &'a Link,
}

impl Context<'_> {
    /// Pushes a signal; `false` once the bot has stopped listening.
    async fn push(&self, signal: Signal) -> bool {
        self.link.push(signal).await.is_ok()
    }

    /// Pushes a system error about something other than one mail (state file, folder).
    async fn system_error(&self, message: impl Into<String>) -> bool {
        let mut signal = system_error(message);
        signal.meta.origin = Some(self.shared.mapper.own().clone());
        self.push(signal).await
    }

    /// Turns one raw mail into what the bot gets (a signal, a send failure for a bounce, or a
    /// system error naming `place`) and pushes it; a copy of the bot's own answer is not the
    /// bot's (nothing is pushed or remembered of it).
    async fn deliver(&self, raw: &[u8], place: &str) -> Delivery {
        if self.shared.mapper.is_copy(raw) {
            return Delivery::Copy;
        }
        if self.deliver_mail(raw, place).await {
            Delivery::Pushed
        } else {
            Delivery::Stopped
        }
    }

    /// [`deliver`](Context::deliver) for a mail that is not a copy: `false` once the bot has
    /// stopped listening.
    async fn deliver_mail(&self, raw: &[u8], place: &str) -> bool {
        let (inbound, thread) = self.shared.mapper.inbound(raw);
        if let Some((id, thread)) = thread {
            lock(&self.shared.threads).remember(id, thread);
        }
        let signal = match inbound {
            Inbound::Signal(signal) => *signal,
            Inbound::Report(report, meta) => {
                let status = if report.failed {
                    DeliveryStatus::Failed {
                        kind: FailureKind::Bounced,
                        message: report.message.clone(),
                    }
                } else {
                    DeliveryStatus::Delivered
                };
                self.deliveries.advance(&report.original, status);
                if !report.failed {
                    return true;
                }
                let mut meta = *meta;
                meta.response_to = Some(report.original.clone());
                Signal {
                    meta,
                    body: {
                        let mut failure =
                            SendFailure::new(report.original, FailureKind::Bounced, report.message);
                        failure.code = report.status;
                        failure.into()
                    },
                }
            }
            Inbound::Malformed(reason) => {
                let mut signal = system_error(format!("{place}: {reason}"));
                signal.meta.origin = Some(self.shared.mapper.own().clone());
                signal
            }
        };
        self.push(signal).await
    }

    /// Records (and saves, if it changed) that `folder` was read up to `last`; `false` once the
    /// bot has stopped listening.
    async fn record(&self, folder: &str, validity: u32, last: u32) -> bool {
        let mut store = self.shared.store.lock().await;
        let state = FolderState {
            uid_validity: validity,
            last_uid: last,
        };
        if store.get().imap.get(folder) != Some(&state) {
            store.update(|s| {
                s.imap.insert(folder.to_owned(), state);
            });
        }
        let saved = store.save(self.link).await;
        drop(store);
        match saved {
            Ok(()) => true,
            Err(e) => self.system_error(e).await,
        }
    }
}

/// Logs out (the polite close); the loop is done.
async fn close(mut session: Imap) -> Result<(), Failure> {
    let _ = session.logout().await;
    Ok(())
}

/// Reads the folder: the mail after the last UID handed to the bot (the first time, the unseen
/// mail), then waits in IDLE or polls, until the session is to stop.
async fn read_imap(
    config: &ImapConfig,
    context: &Context<'_>,
    mut session: Imap,
) -> Result<(), Failure> {
    let link = context.link;
    let caps = Caps::of(&mut session, config).await?;
    let folder = imap::select(&mut session, &config.folder).await?;
    let validity = folder.validity;
    let known = context
        .shared
        .store
        .lock()
        .await
        .get()
        .imap
        .get(&config.folder)
        .copied();
    let mut last = match known {
        Some(state) if state.uid_validity == validity => Some(state.last_uid),
        Some(state) => {
            let message = format!(
                "the folder {:?} has a new UIDVALIDITY ({} instead of {}): its UIDs were reset, so its unseen mail is read again",
                config.folder, validity, state.uid_validity
            );
            if !context.system_error(message).await {
                return close(session).await;
            }
            None
        }
        None => None,
    };
    let mut next_hint = folder.uid_next;
    loop {
        let uids = imap::new_uids(&mut session, last).await?;
        if last.is_none() {
            // Everything below the first unseen mail, and seen mail after it, is old.
            let floor = next_hint.saturating_sub(1);
            let start = uids.first().map_or(floor, |first| first.saturating_sub(1));
            last = Some(start.min(floor));
        }
        for chunk in uids.chunks(FETCH_CHUNK) {
            let Some(handled_up_to) =
                fetch_chunk(config, context, &mut session, chunk, validity, &caps).await?
            else {
                return close(session).await;
            };
            let up_to = last.unwrap_or(0).max(handled_up_to);
            last = Some(up_to);
            if !context.record(&config.folder, validity, up_to).await || link.is_stopping() {
                return close(session).await;
            }
        }
        if let Some(last) = last {
            next_hint = next_hint.max(last.saturating_add(1));
            if !context.record(&config.folder, validity, last).await {
                return close(session).await;
            }
            copies::sweep_imap(context.shared, &mut session, &caps, validity, last).await?;
        }
        // New mail announced during the commands above (EXISTS): look again before waiting.
        if imap::announced(&mut session) && !link.is_stopping() {
            continue;
        }
        if link.is_stopping() {
            return close(session).await;
        }
        let poll = context.shared.config.inbound.poll_interval();
        if caps.idle {
            let (back, stopping) = imap::idle(session, poll, link).await?;
            session = back;
            if stopping {
                return close(session).await;
            }
        } else {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = link.stopping() => return close(session).await,
            }
        }
    }
}

/// Fetches the mails `uids`, hands them to the bot and marks them handled; the highest UID
/// handed over, or `None` once the bot has stopped listening.
async fn fetch_chunk(
    config: &ImapConfig,
    context: &Context<'_>,
    session: &mut Imap,
    uids: &[u32],
    validity: u32,
    caps: &Caps,
) -> Result<Option<u32>, Failure> {
    let Some(fetched) = fetch_givable(config, context, session, uids, validity).await? else {
        return Ok(None);
    };
    let mut highest = 0;
    let mut copies = Vec::new();
    for fetch in fetched {
        // A mail without a body was refused above (`fetch_givable` gives none).
        let (Some(uid), Some(raw)) = (fetch.uid, fetch.body()) else {
            continue;
        };
        let place = format!(
            "mail UID {uid} (UIDVALIDITY {validity}) in {:?}",
            config.folder
        );
        match context.deliver(raw, &place).await {
            Delivery::Pushed => {}
            Delivery::Copy => copies.push(uid),
            Delivery::Stopped => return Ok(None),
        }
        highest = highest.max(uid);
    }
    if highest == 0 {
        // Nothing came back (expunged meanwhile, or reported above as not given): the UIDs
        // asked for are done.
        return Ok(uids.last().copied());
    }
    // Copies stay where they are, seen, until they are swept (see `copies`), whatever
    // `handled` says: they are asked about after a restart.
    let done: Vec<u32> = {
        let refused = lock(&context.shared.unfetchable);
        let handed = |u: &u32| !copies.contains(u) && !refused.contains(&(validity, *u));
        uids.iter()
            .copied()
            .filter(|u| *u <= highest && handed(u))
            .collect()
    };
    if !done.is_empty() {
        imap::mark_handled(config, session, &imap::uid_set(&done), caps).await?;
    }
    if !copies.is_empty() {
        imap::flag_seen(session, &imap::uid_set(&copies)).await?;
    }
    Ok(Some(highest))
}

/// Fetches the mails `uids` but those the server would not give: each of these is reported
/// with a system error, once, and left in the folder as it is. `None` once the bot has stopped
/// listening.
///
/// async-imap ends a FETCH's answers at its tagged reply without reading its status, so a
/// server that could not give some mails (`NO`) looks like one that gave them all; Dovecot
/// answers a mail it cannot read with its UID and no body, then closes the connection (`BYE`).
/// So a mail missing from the answers but still in the folder, or answered without a body, is
/// one the server would not give. The chunk is then asked for again without it (after a
/// reconnection if the server closed the connection), so nothing of it is handed over twice.
async fn fetch_givable(
    config: &ImapConfig,
    context: &Context<'_>,
    session: &mut Imap,
    uids: &[u32],
    validity: u32,
) -> Result<Option<Vec<async_imap::types::Fetch>>, Failure> {
    loop {
        let asked: Vec<u32> = {
            let known = lock(&context.shared.unfetchable);
            let asked = uids.iter().copied();
            asked.filter(|u| !known.contains(&(validity, *u))).collect()
        };
        if asked.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let fetched = imap::fetch(session, &asked).await?;
        let bodiless: Vec<u32> = fetched
            .iter()
            .filter(|f| f.body().is_none())
            .filter_map(|f| f.uid)
            .collect();
        // Reported before anything else is asked: the connection may be closing.
        if !refuse(config, context, &bodiless, validity).await {
            return Ok(None);
        }
        let returned: Vec<u32> = fetched.iter().filter_map(|f| f.uid).collect();
        let missing = unreturned(&asked, &returned);
        let there = if missing.is_empty() {
            Vec::new()
        } else {
            imap::still_there(session, &missing).await?
        };
        if !refuse(config, context, &there, validity).await {
            return Ok(None);
        }
        if bodiless.is_empty() && there.is_empty() {
            return Ok(Some(fetched));
        }
    }
}

/// Remembers the mails `uids` as ones the server would not give, and reports each with a
/// system error; `false` once the bot has stopped listening.
async fn refuse(config: &ImapConfig, context: &Context<'_>, uids: &[u32], validity: u32) -> bool {
    lock(&context.shared.unfetchable).extend(uids.iter().map(|u| (validity, *u)));
    for uid in uids {
        let message = format!(
            "mail UID {uid} (UIDVALIDITY {validity}) in {:?} is in the folder but the server did \
             not give it (a damaged mail?): it is left there, not marked handled",
            config.folder
        );
        if !context.system_error(message).await {
            return false;
        }
    }
    true
}

/// The UIDs of `asked` (ascending) that are not in `returned`.
fn unreturned(asked: &[u32], returned: &[u32]) -> Vec<u32> {
    asked
        .iter()
        .copied()
        .filter(|uid| !returned.contains(uid))
        .collect()
}

/// Polls the maildrop: one connection per poll (a POP3 server locks the maildrop while a
/// client is connected), the first one `client`, until the session is to stop.
async fn poll_pop3(
    config: &Pop3Config,
    context: &Context<'_>,
    mut client: Pop3<Stream>,
) -> Result<(), Failure> {
    let link = context.link;
    loop {
        let polled = poll(config, context, &mut client)
            .await
            .map_err(|e| pop3_failure(ConnectionErrorKind::Protocol, &e, "POP3"))?;
        if !polled {
            return Ok(());
        }
        let saved = context.shared.store.lock().await.save(link).await;
        if let Err(e) = saved
            && !context.system_error(e).await
        {
            return Ok(());
        }
        if link.is_stopping() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(context.shared.config.inbound.poll_interval()) => {}
            () = link.stopping() => return Ok(()),
        }
        client = connect::pop3(config, context.shared).await?;
    }
}

/// One poll: hands the unseen messages to the bot, deletes them if configured, quits.
/// `Ok(false)` once the bot has stopped listening.
async fn poll(
    config: &Pop3Config,
    context: &Context<'_>,
    client: &mut Pop3<Stream>,
) -> Result<bool, Pop3Error> {
    let listing = client.uidl().await?;
    let mut store = context.shared.store.lock().await;
    // Forget UIDLs no longer on the server (deleted, or expired): the set stays small.
    let present: BTreeSet<&str> = listing.iter().map(|(_, uid)| uid.as_str()).collect();
    let gone = |uids: &BTreeSet<String>| uids.iter().any(|u| !present.contains(u.as_str()));
    if gone(&store.get().pop3_seen) || gone(&store.get().pop3_copies) {
        store.update(|s| {
            s.pop3_seen.retain(|u| present.contains(u.as_str()));
            s.pop3_copies.retain(|u| present.contains(u.as_str()));
        });
    }
    lock(&context.shared.pop3_refused).retain(|u| present.contains(u.as_str()));
    // Copies read past long enough ago (see `copies`): deleted at QUIT.
    let due = lock(&context.shared.sweep).pop3_due(&store.get().pop3_copies);
    if let Some(due) = due {
        for (number, uid) in &listing {
            if due.contains(uid) {
                client.dele(*number).await?;
            }
        }
    }
    for (number, uid) in &listing {
        if store.get().pop3_seen.contains(uid) || lock(&context.shared.pop3_refused).contains(uid) {
            continue;
        }
        if context.link.is_stopping() {
            break;
        }
        let place = format!("POP3 message {number} (UIDL {uid})");
        let raw = match client.retr(*number).await {
            Ok(raw) => raw,
            // The server will not give this one (Dovecot: "-ERR Message 2 expunged." for a
            // file it cannot read): reported once, left in the maildrop, the rest read on.
            Err(Pop3Error::Negative(why)) => {
                lock(&context.shared.pop3_refused).insert(uid.clone());
                let message = format!(
                    "{place} is in the maildrop but the server did not give it (-ERR {why}): \
                     it is left there"
                );
                if !context.system_error(message).await {
                    return Ok(false);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let delivery = context.deliver(&raw, &place).await;
        if delivery == Delivery::Stopped {
            return Ok(false);
        }
        let copy = delivery == Delivery::Copy;
        store.update(|s| {
            s.pop3_seen.insert(uid.clone());
            if copy {
                s.pop3_copies.insert(uid.clone());
            }
        });
        // A copy stays until it is swept, whatever `delete` says.
        if config.delete && !copy {
            client.dele(*number).await?;
        }
    }
    drop(store);
    client.quit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use chatty_core::Body;
    use chatty_core::reexports::async_channel;
    use chatty_core::session::InboundSink;

    use super::*;

    fn good(n: u32) -> Vec<u8> {
        format!(
            "From: alice@example.org\r\nTo: bot@example.org\r\nMessage-ID: <good-{n}@example.org>\r\n\r\ngood {n}\r\n"
        )
        .into_bytes()
    }

    /// A copy of the bot's own answer is read past (nothing pushed, no thread remembered);
    /// mail from the bot's address without this session's marker, or with it from someone
    /// else, is the bot's like any mail.
    #[tokio::test]
    async fn copies_of_the_bot_s_answers_are_not_the_bot_s() {
        let shared = Shared::new(crate::config::offline()).unwrap();
        let deliveries = Deliveries::default();
        let (tx, rx) = async_channel::unbounded();
        let own = Some(shared.mapper.own().clone());
        let sink = InboundSink::new("mailto", tx);
        assert!(
            sink.started(crate::config::PLATFORM, own.clone())
                .await
                .is_ok()
        );
        assert_eq!(
            rx.recv().await.unwrap().kind(),
            chatty_core::SignalKind::SessionStarted
        );
        let link = Link::detached(sink, own);
        let context = Context {
            shared: &shared,
            deliveries: &deliveries,
            link: &link,
        };
        let mail = |n: u32, from: &str, marker: &str| {
            format!(
                "Return-Path: <bot@example.org>\r\nDelivered-To: bot@example.org\r\n\
                 From: {from}\r\nTo: alice@example.org\r\nMessage-ID: <m-{n}@chatty.invalid>\r\n\
                 In-Reply-To: <q@example.org>\r\nAuto-Submitted: auto-replied\r\n{marker}\
                 Subject: Re: hi\r\n\r\nan answer\r\n"
            )
            .into_bytes()
        };
        let copy = mail(1, "bot@example.org", "X-Chatty-Copy: mailto\r\n");
        assert_eq!(context.deliver(&copy, "copy").await, Delivery::Copy);
        assert!(rx.try_recv().is_err(), "nothing for the bot");
        assert!(
            lock(&shared.threads).get(&"m-1".into()).is_none(),
            "no thread remembered"
        );
        for (n, from, marker) in [
            (2, "bot@example.org", ""),
            (3, "bot@example.org", "X-Chatty-Copy: other\r\n"),
            (4, "alice@example.org", "X-Chatty-Copy: mailto\r\n"),
        ] {
            let raw = mail(n, from, marker);
            assert_eq!(context.deliver(&raw, "mail").await, Delivery::Pushed);
            let got = rx.try_recv().expect("pushed");
            assert_eq!(got.meta.id.as_str(), format!("m-{n}"), "{from} {marker:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 128,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// A mail of any bytes between two good ones: the good ones arrive, in order, and the
        /// bad one is one signal (a message, a send failure or a system error naming where it
        /// was) or, for a delivery report of success, nothing.
        #[test]
        fn a_bad_mail_between_two_good_ones_loses_neither(
            bad in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let kinds = runtime.block_on(async {
                let shared = Shared::new(crate::config::offline()).unwrap();
                let deliveries = Deliveries::default();
                let (tx, rx) = async_channel::unbounded();
                let own = Some(shared.mapper.own().clone());
                let sink = InboundSink::new("mailto", tx);
                assert!(sink.started(crate::config::PLATFORM, own.clone()).await.is_ok());
                assert_eq!(rx.recv().await.unwrap().kind(), chatty_core::SignalKind::SessionStarted);
                let link = Link::detached(sink, own);
                let context = Context { shared: &shared, deliveries: &deliveries, link: &link };
                assert_eq!(context.deliver(&good(1), "mail 1").await, Delivery::Pushed);
                assert_ne!(context.deliver(&bad, "mail 2").await, Delivery::Stopped);
                assert_eq!(context.deliver(&good(2), "mail 3").await, Delivery::Pushed);
                let mut got = Vec::new();
                while let Ok(signal) = rx.try_recv() {
                    got.push(signal);
                }
                got
            });
            proptest::prop_assert!((2..=3).contains(&kinds.len()), "{kinds:?}");
            proptest::prop_assert_eq!(kinds[0].meta.id.as_str(), "good-1@example.org");
            proptest::prop_assert_eq!(kinds[kinds.len() - 1].meta.id.as_str(), "good-2@example.org");
            if let Some(Body::SystemError(e)) = kinds.get(1).map(|s| &s.body) && kinds.len() == 3 {
                proptest::prop_assert!(e.message.starts_with("mail 2: "), "{}", e.message);
            }
        }
    }
}
