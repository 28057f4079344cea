//! IMAP extras: the commands the serve loop ([`inbound`](crate::inbound)) and the history
//! query ([`query`](crate::query)) use, over async-imap on the session's rustls stream. IDLE
//! where the server offers it; UIDs in ranges; handled mail flagged, moved or deleted.

use std::time::Duration;

use async_imap::Session as ImapSession;
use async_imap::types::{Fetch, UnsolicitedResponse};
use chatty_core::ConnectionErrorKind;
use chatty_core::driver::{Failure, Link};
use futures::TryStreamExt as _;

use crate::config::{Handled, ImapConfig};
use crate::net::Stream;

/// A logged-in IMAP session on the session's stream.
pub(crate) type Imap = ImapSession<Stream>;

/// A failed IMAP command as a connection failure: I/O is `Unreachable`, the rest `Protocol`.
pub(crate) fn lost(error: async_imap::error::Error) -> Failure {
    use async_imap::error::Error as E;
    let kind = match &error {
        E::Io(_) | E::ConnectionLost => ConnectionErrorKind::Unreachable,
        _ => ConnectionErrorKind::Protocol,
    };
    Failure::new(kind, format!("IMAP: {error}"))
}

/// What the server can do that matters here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    /// IDLE, where the config allows it.
    pub(crate) idle: bool,
    uidplus: bool,
    moves: bool,
}

impl Caps {
    /// Asks the server (CAPABILITY).
    pub(crate) async fn of(session: &mut Imap, config: &ImapConfig) -> Result<Caps, Failure> {
        let caps = session.capabilities().await.map_err(lost)?;
        Ok(Caps {
            idle: config.idle && caps.has_str("IDLE"),
            uidplus: caps.has_str("UIDPLUS"),
            moves: caps.has_str("MOVE"),
        })
    }
}

/// A selected folder: its UIDVALIDITY and the UID its next mail will get.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Folder {
    pub(crate) validity: u32,
    pub(crate) uid_next: u32,
}

/// Opens `folder` read-write (SELECT).
pub(crate) async fn select(session: &mut Imap, folder: &str) -> Result<Folder, Failure> {
    let mailbox = session.select(folder).await.map_err(|e| {
        Failure::new(
            ConnectionErrorKind::Protocol,
            format!("cannot select the folder {folder:?}: {e}"),
        )
    })?;
    Ok(Folder {
        validity: mailbox.uid_validity.unwrap_or(0),
        uid_next: mailbox.uid_next.unwrap_or(1),
    })
}

/// The UIDs of new mail, ascending: after `last` or, without it, the unseen mail.
pub(crate) async fn new_uids(session: &mut Imap, last: Option<u32>) -> Result<Vec<u32>, Failure> {
    let mut uids: Vec<u32> = match last {
        Some(last) => session
            .uid_search(format!("UID {}:*", last.saturating_add(1)))
            .await
            .map_err(lost)?
            .into_iter()
            // `n:*` includes the highest UID even when it is below `n`.
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
    Ok(uids)
}

/// The mails `uids` (ascending), whole, in UID order; unsolicited FETCHes (flag changes) and
/// mails expunged meanwhile are left out.
pub(crate) async fn fetch(session: &mut Imap, uids: &[u32]) -> Result<Vec<Fetch>, Failure> {
    let mut fetched: Vec<Fetch> = session
        .uid_fetch(uid_set(uids), "(UID BODY.PEEK[])")
        .await
        .map_err(lost)?
        .try_collect()
        .await
        .map_err(lost)?;
    fetched.retain(|f| f.uid.is_some_and(|uid| uids.contains(&uid)));
    fetched.sort_by_key(|f| f.uid);
    Ok(fetched)
}

/// Which of `uids` (ascending) are still in the folder, ascending: after a FETCH that left some
/// out, those the server could not give (a damaged mail: Dovecot's `NO [SERVERBUG]`, Gmail's
/// "Some messages could not be FETCHed") rather than ones expunged meanwhile.
pub(crate) async fn still_there(session: &mut Imap, uids: &[u32]) -> Result<Vec<u32>, Failure> {
    let mut there: Vec<u32> = session
        .uid_search(format!("UID {}", uid_set(uids)))
        .await
        .map_err(lost)?
        .into_iter()
        .filter(|uid| uids.contains(uid))
        .collect();
    answered_whole(session).await.map_err(lost)?;
    there.sort_unstable();
    Ok(there)
}

/// Fails if the answers just read ended at the end of the connection rather than at their
/// command's tagged reply. async-imap ends a FETCH's or a SEARCH's answers (and a NOOP's,
/// through `noop`) at either alike, so a server that closed the connection mid-answer
/// (Dovecot's `BYE` after a mail it cannot read) looks like one that found fewer mails. A NOOP
/// read to its tagged `OK` tells them apart (its unsolicited answers, such as EXISTS, are kept
/// for [`announced`]).
pub(crate) async fn answered_whole(session: &mut Imap) -> Result<(), async_imap::error::Error> {
    session.run_command_and_check_ok("NOOP").await
}

/// Whether the server announced new mail (EXISTS, RECENT) since the last look; empties the
/// queue of unsolicited responses.
pub(crate) fn announced(session: &mut Imap) -> bool {
    let mut announced = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        announced |= matches!(
            response,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        );
    }
    announced
}

/// Waits in IDLE until the server reports a change, `poll` passes or the session is to stop
/// (then `true`).
pub(crate) async fn idle(
    session: Imap,
    poll: Duration,
    link: &Link,
) -> Result<(Imap, bool), Failure> {
    let mut handle = session.idle();
    handle.init().await.map_err(lost)?;
    let outcome = {
        let (wait, _interrupt) = handle.wait_with_timeout(poll);
        tokio::select! {
            result = wait => Some(result),
            () = link.stopping() => None,
        }
    };
    let session = handle.done().await.map_err(lost)?;
    match outcome {
        None => Ok((session, true)),
        Some(Ok(_)) => Ok((session, false)),
        Some(Err(e)) => Err(lost(e)),
    }
}

/// Marks, moves or deletes the mails `set` as configured.
pub(crate) async fn mark_handled(
    config: &ImapConfig,
    session: &mut Imap,
    set: &str,
    caps: &Caps,
) -> Result<(), Failure> {
    match &config.handled {
        Handled::Keep => Ok(()),
        Handled::Seen => flag_seen(session, set).await,
        Handled::Delete => delete(session, set, caps).await,
        Handled::MoveTo(folder) => {
            if caps.moves {
                session.uid_mv(set, folder).await.map_err(lost)
            } else {
                session.uid_copy(set, folder).await.map_err(lost)?;
                delete(session, set, caps).await
            }
        }
    }
}

/// Flags the mails `set` `\Seen`.
pub(crate) async fn flag_seen(session: &mut Imap, set: &str) -> Result<(), Failure> {
    store_flags(session, set, "+FLAGS.SILENT (\\Seen)").await
}

/// Deletes the mails `set`: flags them `\Deleted` and expunges them (only them with UIDPLUS,
/// every mail flagged `\Deleted` without).
pub(crate) async fn delete(session: &mut Imap, set: &str, caps: &Caps) -> Result<(), Failure> {
    store_flags(session, set, "+FLAGS.SILENT (\\Deleted)").await?;
    expunge(session, set, caps).await
}

async fn store_flags(session: &mut Imap, set: &str, flags: &str) -> Result<(), Failure> {
    let _: Vec<_> = session
        .uid_store(set, flags)
        .await
        .map_err(lost)?
        .try_collect()
        .await
        .map_err(lost)?;
    Ok(())
}

async fn expunge(session: &mut Imap, set: &str, caps: &Caps) -> Result<(), Failure> {
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

/// An IMAP quoted string; text with control characters, quotes or backslashes is refused.
pub(crate) fn quoted(text: &str) -> Result<String, String> {
    if text
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(format!("{text:?} cannot be searched for"));
    }
    Ok(format!("\"{text}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Stream;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A session with a scripted server: after the login, each command line gets what
    /// `answer` gives for it (`{tag}` replaced by the command's tag), and the connection is
    /// closed after an answer without the tag or on `None`.
    async fn scripted(answer: fn(&str) -> Option<&'static str>) -> Imap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            write.write_all(b"* OK ready\r\n").await.unwrap();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let (tag, command) = line.split_once(' ').unwrap();
                let reply = if command.starts_with("LOGIN") {
                    Some("{tag} OK logged in\r\n")
                } else {
                    answer(command)
                };
                let Some(reply) = reply else { return };
                write
                    .write_all(reply.replace("{tag}", tag).as_bytes())
                    .await
                    .unwrap();
                if !reply.contains("{tag}") {
                    return;
                }
            }
        });
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let client = async_imap::Client::new(Stream::Plain(tcp));
        client.login("u", "p").await.map_err(|(e, _)| e).unwrap()
    }

    /// A SEARCH cut off by the end of the connection is a lost connection, not "none of
    /// these mails is there": read as that, the mails asked about were skipped for good.
    #[tokio::test]
    async fn a_search_cut_off_by_the_connection_s_end_is_an_error() {
        let mut session =
            scripted(|command| command.starts_with("UID SEARCH").then_some("* SEARCH\r\n")).await;
        let there = still_there(&mut session, &[2, 3]).await;
        assert!(there.is_err(), "{there:?}");

        let mut session = scripted(|command| match command {
            c if c.starts_with("UID SEARCH") => Some("* SEARCH 3 9\r\n{tag} OK done\r\n"),
            "NOOP" => Some("{tag} OK done\r\n"),
            _ => None,
        })
        .await;
        assert_eq!(still_there(&mut session, &[2, 3]).await.unwrap(), [3]);
    }

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
