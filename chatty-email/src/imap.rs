//! Inbound mail over IMAP (async-imap over tokio-rustls): IDLE where the server offers it,
//! polling otherwise; UIDVALIDITY + last UID kept so that nothing is lost or repeated.

use std::time::Duration;

use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session as ImapSession};
use chatty_core::{ConnectionErrorKind, History, Page};
use futures::TryStreamExt as _;
use tokio::sync::watch;

use crate::config::{Handled, ImapConfig, TlsMode};
use crate::net::{self, ConnectFailure, Stream};
use crate::session::{Context, Outcome, Shared};
use crate::state::FolderState;

/// How many mails one FETCH asks for.
const FETCH_CHUNK: usize = 200;

type Imap = ImapSession<Stream>;

fn lost(error: async_imap::error::Error) -> ConnectFailure {
    use async_imap::error::Error as E;
    let kind = match &error {
        E::Io(_) | E::ConnectionLost => ConnectionErrorKind::Unreachable,
        _ => ConnectionErrorKind::Protocol,
    };
    ConnectFailure::new(kind, format!("IMAP: {error}"))
}

/// Connects, secures and logs in.
pub(crate) async fn connect(config: &ImapConfig, shared: &Shared) -> Result<Imap, ConnectFailure> {
    let timeout = shared.config.connect_timeout();
    let host = config.host.as_str();
    let port = config.port();
    let tcp = net::tcp(host, port, timeout).await?;
    let tls = || {
        shared
            .tls
            .as_ref()
            .ok_or_else(|| ConnectFailure::new(ConnectionErrorKind::Tls, "no TLS configuration"))
    };
    let stream = match config.tls {
        TlsMode::Implicit => net::tls(tls()?, host, tcp, timeout).await?,
        TlsMode::Starttls | TlsMode::Plaintext => Stream::Plain(tcp),
    };
    let mut client = Client::new(stream);
    let greeting = tokio::time::timeout(timeout, client.read_response()).await;
    match greeting {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => {
            return Err(ConnectFailure::new(
                ConnectionErrorKind::Unreachable,
                format!("{host}:{port} closed the connection before its IMAP greeting"),
            ));
        }
        Ok(Err(e)) => {
            return Err(ConnectFailure::new(
                ConnectionErrorKind::Protocol,
                format!("no IMAP greeting from {host}:{port}: {e}"),
            ));
        }
        Err(_) => {
            return Err(ConnectFailure::new(
                ConnectionErrorKind::Unreachable,
                format!("no IMAP greeting from {host}:{port} within {timeout:?}"),
            ));
        }
    }
    if config.tls == TlsMode::Starttls {
        let upgrade =
            tokio::time::timeout(timeout, client.run_command_and_check_ok("STARTTLS", None));
        match upgrade.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(ConnectFailure::new(
                    ConnectionErrorKind::Tls,
                    format!("{host}:{port} refused STARTTLS: {e}"),
                ));
            }
            Err(_) => {
                return Err(ConnectFailure::new(
                    ConnectionErrorKind::Tls,
                    format!("{host}:{port} did not answer STARTTLS within {timeout:?}"),
                ));
            }
        }
        let Stream::Plain(tcp) = client.into_inner() else {
            return Err(ConnectFailure::new(
                ConnectionErrorKind::Tls,
                "STARTTLS on a connection that is TLS already",
            ));
        };
        client = Client::new(net::tls(tls()?, host, tcp, timeout).await?);
    }
    let login = client.login(shared.config.login(), shared.password.expose());
    match tokio::time::timeout(timeout, login).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((error, _))) => {
            use async_imap::error::Error as E;
            let kind = match &error {
                E::No(_) | E::Bad(_) => ConnectionErrorKind::Authentication,
                E::Io(_) | E::ConnectionLost => ConnectionErrorKind::Unreachable,
                _ => ConnectionErrorKind::Protocol,
            };
            Err(ConnectFailure::new(
                kind,
                format!(
                    "IMAP login as {} at {host}:{port} failed: {error}",
                    shared.config.login()
                ),
            ))
        }
        Err(_) => Err(ConnectFailure::new(
            ConnectionErrorKind::Unreachable,
            format!("the IMAP login at {host}:{port} did not finish within {timeout:?}"),
        )),
    }
}

/// A UID set for commands: ascending UIDs, runs as ranges (`1:5,8,10:12`).
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// What the server can do that matters here.
struct Caps {
    idle: bool,
    uidplus: bool,
    moves: bool,
}

/// Connects and reads until stopped or the connection fails.
pub(crate) async fn run(
    config: &ImapConfig,
    context: &Context,
    stop: &mut watch::Receiver<bool>,
) -> Outcome {
    let session = match connect(config, &context.shared).await {
        Ok(session) => session,
        Err(failure) => {
            return Outcome::Failed {
                connected: false,
                failure,
            };
        }
    };
    if !context.started().await {
        return Outcome::BotGone;
    }
    let mut served = false;
    match serve(config, context, stop, session, &mut served).await {
        Ok(outcome) => outcome,
        // A failure before the folder was read once (a folder that does not exist) counts as a
        // failed attempt, so that its retries back off.
        Err(failure) => Outcome::Failed {
            connected: served,
            failure,
        },
    }
}

async fn serve(
    config: &ImapConfig,
    context: &Context,
    stop: &mut watch::Receiver<bool>,
    mut session: Imap,
    served: &mut bool,
) -> Result<Outcome, ConnectFailure> {
    let caps = session.capabilities().await.map_err(lost)?;
    let caps = Caps {
        idle: config.idle && caps.has_str("IDLE"),
        uidplus: caps.has_str("UIDPLUS"),
        moves: caps.has_str("MOVE"),
    };
    let mailbox = session.select(&config.folder).await.map_err(|e| {
        ConnectFailure::new(
            ConnectionErrorKind::Protocol,
            format!("cannot select the folder {:?}: {e}", config.folder),
        )
    })?;
    let validity = mailbox.uid_validity.unwrap_or(0);
    let known = context
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
                return Ok(Outcome::BotGone);
            }
            None
        }
        None => None,
    };
    let mut next_hint = mailbox.uid_next.unwrap_or(1);
    loop {
        // New mail: after the last UID handed to the bot or, the first time, what is unseen.
        let mut uids: Vec<u32> = match last {
            Some(last) => session
                .uid_search(format!("UID {}:*", last.saturating_add(1)))
                .await
                .map_err(lost)?
                .into_iter()
                .filter(|uid| *uid > last)
                .collect(),
            None => session
                .uid_search("UNSEEN")
                .await
                .map_err(lost)?
                .into_iter()
                .collect(),
        };
        uids.sort_unstable();
        *served = true;
        if last.is_none() {
            // Everything below the first unseen mail, and seen mail after it, is old.
            let floor = next_hint.saturating_sub(1);
            let start = uids.first().map_or(floor, |first| first.saturating_sub(1));
            last = Some(start.min(floor));
            if uids.is_empty() {
                last = Some(floor);
            }
        }
        for chunk in uids.chunks(FETCH_CHUNK) {
            match fetch_chunk(config, context, &mut session, chunk, validity, &caps).await? {
                Some(handled_up_to) => {
                    let up_to = last.unwrap_or(0).max(handled_up_to);
                    last = Some(up_to);
                    if !record(context, &config.folder, validity, up_to).await {
                        return Ok(Outcome::BotGone);
                    }
                }
                None => return Ok(Outcome::BotGone),
            }
            if *stop.borrow() {
                let _ = session.logout().await;
                return Ok(Outcome::Stopped);
            }
        }
        if let Some(last) = last {
            next_hint = next_hint.max(last.saturating_add(1));
            if !record(context, &config.folder, validity, last).await {
                return Ok(Outcome::BotGone);
            }
        }
        // New mail announced during the commands above (EXISTS): look again before waiting.
        let mut announced = false;
        while let Ok(response) = session.unsolicited_responses.try_recv() {
            announced |= matches!(
                response,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            );
        }
        if announced && !*stop.borrow() {
            continue;
        }
        if *stop.borrow() {
            let _ = session.logout().await;
            return Ok(Outcome::Stopped);
        }
        let poll = context.shared.config.inbound.poll_interval();
        if caps.idle {
            let (back, stopping) = idle(session, poll, stop).await?;
            session = back;
            if stopping {
                let _ = session.logout().await;
                return Ok(Outcome::Stopped);
            }
        } else {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {
                    let _ = session.logout().await;
                    return Ok(Outcome::Stopped);
                }
            }
        }
    }
}

/// Records (and saves, if it changed) that the folder was read up to `last`; `false` once the
/// bot has stopped listening.
async fn record(context: &Context, folder: &str, validity: u32, last: u32) -> bool {
    let mut store = context.store.lock().await;
    let state = FolderState {
        uid_validity: validity,
        last_uid: last,
    };
    if store.get().imap.get(folder) != Some(&state) {
        store.update(|s| {
            s.imap.insert(folder.to_owned(), state);
        });
    }
    let saved = store.save();
    drop(store);
    match saved {
        Ok(()) => true,
        Err(e) => context.system_error(e).await,
    }
}

/// Waits in IDLE until the server reports a change, `poll` passes or the session is asked to
/// stop (then `true`).
async fn idle(
    session: Imap,
    poll: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<(Imap, bool), ConnectFailure> {
    let mut handle = session.idle();
    handle.init().await.map_err(lost)?;
    let outcome = {
        let (wait, _interrupt) = handle.wait_with_timeout(poll);
        tokio::select! {
            result = wait => Some(result),
            _ = stop.changed() => None,
        }
    };
    let session = handle.done().await.map_err(lost)?;
    match outcome {
        None => Ok((session, true)),
        Some(Ok(_)) => Ok((session, false)),
        Some(Err(e)) => Err(lost(e)),
    }
}

/// Fetches the mails `uids`, hands them to the bot and marks them handled; the highest UID
/// handed over, or `None` once the bot has stopped listening.
async fn fetch_chunk(
    config: &ImapConfig,
    context: &Context,
    session: &mut Imap,
    uids: &[u32],
    validity: u32,
    caps: &Caps,
) -> Result<Option<u32>, ConnectFailure> {
    let set = uid_set(uids);
    let mut fetched: Vec<_> = session
        .uid_fetch(&set, "(UID BODY.PEEK[])")
        .await
        .map_err(lost)?
        .try_collect()
        .await
        .map_err(lost)?;
    fetched.sort_by_key(|f| f.uid.unwrap_or(0));
    let mut highest = 0;
    for fetch in &fetched {
        let Some(uid) = fetch.uid else {
            continue;
        };
        if !uids.contains(&uid) {
            // An unsolicited FETCH (a flag change): not one asked for.
            continue;
        }
        let raw = fetch.body().unwrap_or_default();
        let place = format!(
            "mail UID {uid} (UIDVALIDITY {validity}) in {:?}",
            config.folder
        );
        if !context.deliver(raw, &place).await {
            return Ok(None);
        }
        highest = highest.max(uid);
    }
    if highest == 0 {
        // Nothing came back (expunged meanwhile): the UIDs asked for are done.
        return Ok(uids.last().copied());
    }
    let done: Vec<u32> = uids.iter().copied().filter(|u| *u <= highest).collect();
    mark_handled(config, session, &uid_set(&done), caps).await?;
    Ok(Some(highest))
}

/// Marks, moves or deletes the mails `set` as configured.
async fn mark_handled(
    config: &ImapConfig,
    session: &mut Imap,
    set: &str,
    caps: &Caps,
) -> Result<(), ConnectFailure> {
    match &config.handled {
        Handled::Keep => Ok(()),
        Handled::Seen => store_flags(session, set, "+FLAGS.SILENT (\\Seen)").await,
        Handled::Delete => {
            store_flags(session, set, "+FLAGS.SILENT (\\Deleted)").await?;
            expunge(session, set, caps).await
        }
        Handled::MoveTo(folder) => {
            if caps.moves {
                session.uid_mv(set, folder).await.map_err(lost)
            } else {
                session.uid_copy(set, folder).await.map_err(lost)?;
                store_flags(session, set, "+FLAGS.SILENT (\\Deleted)").await?;
                expunge(session, set, caps).await
            }
        }
    }
}

async fn store_flags(session: &mut Imap, set: &str, flags: &str) -> Result<(), ConnectFailure> {
    let _: Vec<_> = session
        .uid_store(set, flags)
        .await
        .map_err(lost)?
        .try_collect()
        .await
        .map_err(lost)?;
    Ok(())
}

async fn expunge(session: &mut Imap, set: &str, caps: &Caps) -> Result<(), ConnectFailure> {
    if caps.uidplus {
        let _: Vec<_> = session
            .uid_expunge(set)
            .await
            .map_err(lost)?
            .try_collect()
            .await
            .map_err(lost)?;
    } else {
        let _: Vec<_> = session
            .expunge()
            .await
            .map_err(lost)?
            .try_collect()
            .await
            .map_err(lost)?;
    }
    Ok(())
}

/// The signals of the mails in the folder from `from`, newest first: at most `page.limit`,
/// older than the mail `page.before` if given; and the next page if there are older ones. A
/// connection of its own, with the folder opened read-only (EXAMINE).
pub(crate) async fn history(
    config: &ImapConfig,
    shared: &Shared,
    from: &str,
    page: &Page,
) -> Result<History, String> {
    let mut session = connect(config, shared).await.map_err(|f| f.cause)?;
    let result = history_on(config, shared, &mut session, from, page).await;
    let _ = session.logout().await;
    result
}

/// An IMAP quoted string; text with control characters, quotes or backslashes is refused.
fn quoted(text: &str) -> Result<String, String> {
    if text
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(format!("{text:?} cannot be searched for"));
    }
    Ok(format!("\"{text}\""))
}

async fn history_on(
    config: &ImapConfig,
    shared: &Shared,
    session: &mut Imap,
    from: &str,
    page: &Page,
) -> Result<History, String> {
    let failed = |e: async_imap::error::Error| format!("IMAP history of {from}: {e}");
    session.examine(&config.folder).await.map_err(failed)?;
    let mut uids: Vec<u32> = session
        .uid_search(format!("FROM {}", quoted(from)?))
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    uids.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(before) = &page.before {
        let wire = crate::convert::ids::wire_id(before);
        let found = session
            .uid_search(format!(
                "HEADER Message-ID {}",
                quoted(&format!("<{wire}>"))?
            ))
            .await
            .map_err(failed)?;
        let Some(anchor) = found.into_iter().min() else {
            return Err(format!("{before} is not in the folder {:?}", config.folder));
        };
        uids.retain(|uid| *uid < anchor);
    }
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let more = uids.len() > limit;
    uids.truncate(limit);
    let mut signals = Vec::with_capacity(uids.len());
    if !uids.is_empty() {
        let mut ascending = uids.clone();
        ascending.sort_unstable();
        let mut fetched: Vec<_> = session
            .uid_fetch(uid_set(&ascending), "(UID BODY.PEEK[])")
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        fetched.sort_by_key(|f| std::cmp::Reverse(f.uid.unwrap_or(0)));
        for fetch in &fetched {
            if let (crate::convert::Inbound::Signal(signal), _) =
                shared.mapper.inbound(fetch.body().unwrap_or_default())
            {
                signals.push(*signal);
            }
        }
    }
    let next = match (more, signals.last()) {
        (true, Some(oldest)) => Some(Page {
            limit: page.limit,
            before: Some(oldest.meta.id.clone()),
        }),
        _ => None,
    };
    Ok(History { signals, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[1, 2, 3, 5, 8, 9]), "1:3,5,8:9");
        assert_eq!(uid_set(&[4, 6, 8]), "4,6,8");
    }

    #[test]
    fn search_strings_are_quoted_or_refused() {
        assert_eq!(quoted("a@b").unwrap(), "\"a@b\"");
        assert!(quoted("a\"b").is_err());
        assert!(quoted("a\r\nb").is_err());
    }
}
