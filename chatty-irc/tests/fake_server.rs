//! The session against a scripted server in the test: registration with a nick collision,
//! joining, messages both ways (a long answer split and confirmed by its echoes), a malformed
//! line reported as a system error with the next message still read, and a polite quit.

use std::time::Duration;

mod common;

use chatty_core::{
    Answer, Body, DeliveryStatus, Message, Query, Router, SendError, Signal, Status, StatusChange,
    TypingState,
};
use chatty_irc::{ChannelConfig, IrcConfig, IrcSession, TlsMode};
use common::{WAIT, next_where, spy, text};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

/// The server's side of one client connection.
struct Client {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Client {
    async fn expect(&mut self, want: &str) -> String {
        let line = self.read().await;
        assert_eq!(line, want);
        line
    }

    async fn read(&mut self) -> String {
        timeout(WAIT, self.lines.next_line())
            .await
            .expect("a line in time")
            .expect("reading")
            .expect("the client is still connected")
    }

    async fn say(&mut self, line: &[u8]) {
        self.write.write_all(line).await.unwrap();
        self.write.write_all(b"\r\n").await.unwrap();
    }
}

/// The signals the spy bot passes on, and the router running the session.
type Started = (
    TcpListener,
    tokio::sync::mpsc::UnboundedReceiver<(Signal, chatty_core::Handle)>,
    tokio::task::JoinHandle<Result<(), chatty_core::BotError>>,
);

/// A scripted server's listener on a free port of 127.0.0.1, and a session to it (plain text,
/// `configure`d further) under a router with the spy bot.
async fn start(configure: impl FnOnce(IrcConfig) -> IrcConfig) -> Started {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = IrcConfig::new("127.0.0.1", "bot")
        .with_tls(TlsMode::Plaintext)
        .with_port(port);
    let session = IrcSession::new(configure(config)).unwrap();
    let (bot, rx) = spy();
    let running = tokio::spawn(Router::new().session(session).run(bot));
    (listener, rx, running)
}

/// Accepts the session's connection.
async fn accept(listener: &TcpListener) -> Client {
    let (socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    let (read, write) = socket.into_split();
    Client {
        lines: BufReader::new(read).lines(),
        write,
    }
}

#[tokio::test]
async fn registers_joins_and_carries_messages_both_ways() {
    let (listener, mut rx, running) = start(|c| {
        c.with_pacing(100, Duration::ZERO)
            .with_channel(ChannelConfig::new("#chat"))
    })
    .await;
    let mut c = accept(&listener).await;
    c.expect("CAP LS 302").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv CAP * LS :message-tags echo-message labeled-response multi-prefix")
        .await;
    c.expect("CAP REQ :message-tags echo-message labeled-response")
        .await;
    c.say(b":srv CAP * ACK :message-tags echo-message labeled-response")
        .await;
    c.expect("CAP END").await;
    c.say(b":srv 433 * bot :Nickname is already in use").await;
    c.expect("NICK bot_").await;
    c.say(b":srv 001 bot_ :Welcome").await;
    c.expect("JOIN #chat").await;
    c.say(b":bot_!~bot@host JOIN #chat").await;

    let (started, _) = next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    assert_eq!(
        started.meta.origin.unwrap().to_string(),
        "irc:bot_;kind=individual"
    );
    next_where(&mut rx, |s| {
        matches!(&s.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: true, .. }))
    })
    .await;

    // A message in the channel; a line in Latin-1; a line that is no message; a private
    // message after them.
    c.say(b"@msgid=m1 :alice!a@h PRIVMSG #chat :hello bot")
        .await;
    c.say(b":alice!a@h PRIVMSG #chat :caf\xe9 \xe0 3\xa3").await;
    c.say(b":alice!a@h").await;
    c.say(b":alice!a@h PRIVMSG bot_ :in private").await;
    let (hello, handle) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&hello), Some("hello bot"));
    assert_eq!(hello.meta.id.as_str(), "m1");
    assert_eq!(
        hello.meta.visible_to[0].to_string(),
        "irc:#chat;kind=channel"
    );
    let (latin1, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&latin1), Some("café à 3£"));
    let (error, _) = next_where(&mut rx, |s| matches!(s.body, Body::SystemError(_))).await;
    let Body::SystemError(error) = &error.body else {
        unreachable!()
    };
    assert!(
        error.message.contains("not an IRC message"),
        "{}",
        error.message
    );
    let (private, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&private), Some("in private"));
    assert_eq!(
        private.meta.addressees[0].to_string(),
        "irc:bot_;kind=individual"
    );

    // A long answer in the channel: split, each line labeled, confirmed by the last echo.
    let long = "ü".repeat(200) + " " + &"word ".repeat(80);
    let answer = hello.reply_all(Message::text(long.clone()));
    let id = handle.send(answer).await.unwrap();
    let mut parts = Vec::new();
    let mut labels = Vec::new();
    while parts.iter().map(String::len).sum::<usize>() < long.len() {
        let line: chatty_irc::proto::Line = c.read().await.parse().unwrap();
        assert_eq!(line.command, "PRIVMSG");
        assert_eq!(line.params[0], "#chat");
        // The message without its tags (which do not count) fits in 512 bytes with CRLF.
        let mut bare = line.clone();
        bare.tags.clear();
        assert!(bare.format().unwrap().len() + 2 <= 512);
        // A reply: the first line names the message answered.
        let reply_tag = if parts.is_empty() { Some("m1") } else { None };
        assert_eq!(line.tag("+draft/reply"), reply_tag);
        labels.push(line.tag("label").expect("labeled").to_owned());
        parts.push(line.params[1].clone());
    }
    assert!(parts.len() > 1);
    assert_eq!(parts.concat(), long);
    let status = || async {
        match handle.query(Query::DeliveryStatus { id: id.clone() }).await {
            Ok(Answer::DeliveryStatus(status)) => status,
            other => panic!("{other:?}"),
        }
    };
    // Sent once its last line is written (the server relays it before it echoes it).
    timeout(WAIT, async {
        while status().await != DeliveryStatus::Sent {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("sent once written");
    for (label, part) in labels.iter().zip(&parts) {
        let echo = format!("@label={label} :bot_!~bot@host PRIVMSG #chat :{part}");
        c.say(echo.as_bytes()).await;
    }
    // The echoes are the bot's own lines: not messages to it.
    assert!(
        timeout(Duration::from_millis(300), async {
            loop {
                let (signal, _) = rx.recv().await.expect("the bot runs");
                if matches!(signal.body, chatty_core::Body::Message(_)) {
                    return signal;
                }
            }
        })
        .await
        .is_err(),
        "an echo given as a message"
    );

    // Ending: the session quits, the server closes.
    handle.end_sessions("done").await.unwrap();
    let quit = c.read().await;
    assert!(quit.starts_with("QUIT"), "{quit}");
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_server_without_ircv3_and_a_refused_sasl_login() {
    // No CAP at all (421): registration goes on, messages are confirmed once written.
    let (listener, mut rx, running) = start(|c| c.with_pacing(100, Duration::ZERO)).await;
    let mut c = accept(&listener).await;
    c.expect("CAP LS 302").await;
    c.say(b":srv 421 * CAP :Unknown command").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv 001 bot :Welcome").await;
    let (_, handle) = next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    let to: chatty_core::Address = "irc:alice".parse().unwrap();
    // What IRC cannot carry is refused by the router, typed, before it reaches the session;
    // typing too, on a server without message-tags.
    let subject = Signal::new(Message::text("x").with_subject("s")).to(to.clone());
    let refused = handle.send(subject).await;
    assert!(
        matches!(refused, Err(SendError::Unsupported { .. })),
        "{refused:?}"
    );
    let typing = Signal::new(StatusChange::new(Status::Typing {
        conversation: to.clone(),
        state: TypingState::Composing,
    }));
    let refused = handle.send(typing).await;
    assert!(
        matches!(refused, Err(SendError::Unsupported { .. })),
        "{refused:?}"
    );
    let id = handle.say(&to, "hi alice").await.unwrap();
    c.expect("PRIVMSG alice :hi alice").await;
    timeout(WAIT, async {
        loop {
            let answer = handle.query(Query::DeliveryStatus { id: id.clone() }).await;
            if matches!(answer, Ok(Answer::DeliveryStatus(DeliveryStatus::Sent))) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("sent once written");
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"));
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();

    // SASL configured, refused by the server: the session ends with an authentication error.
    let (listener, mut rx, running) = start(|c| c.with_sasl(None, "wrong")).await;
    let mut c = accept(&listener).await;
    c.expect("CAP LS 302").await;
    c.say(b":srv CAP * LS :sasl=PLAIN").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.expect("CAP REQ sasl").await;
    c.say(b":srv CAP * ACK sasl").await;
    c.expect("AUTHENTICATE PLAIN").await;
    c.say(b"AUTHENTICATE +").await;
    c.expect("AUTHENTICATE Ym90AGJvdAB3cm9uZw==").await;
    c.say(b":srv 904 bot :SASL authentication failed").await;
    let (failed, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(error) = &failed.body else {
        unreachable!()
    };
    assert_eq!(error.kind, chatty_core::ConnectionErrorKind::Authentication);
    assert_eq!(error.retry_in, None);
    // No retry: the router ends with its only session.
    timeout(WAIT, running)
        .await
        .expect("the session ended without trying again")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn pong_goes_ahead_of_a_paced_backlog() {
    // One line, then one every 30 s: the backlog below would take a minute.
    let (listener, mut rx, running) = start(|c| c.with_pacing(1, Duration::from_secs(30))).await;
    let mut c = accept(&listener).await;
    c.expect("CAP LS 302").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv CAP * LS :multi-prefix").await;
    c.expect("CAP END").await;
    c.say(b":srv 001 bot :Welcome").await;
    let (_, handle) = next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    let to = "irc:alice".parse().unwrap();
    handle.say(&to, "one").await.unwrap();
    handle.say(&to, "two").await.unwrap();
    handle.say(&to, "three").await.unwrap();
    c.expect("PRIVMSG alice one").await;
    c.say(b"PING :are-you-there").await;
    c.expect("PONG are-you-there").await;
    running.abort();
}

/// Accepts one connection and registers it as `bot` without capabilities.
async fn accept_registered(listener: &TcpListener) -> Client {
    let mut c = accept(listener).await;
    c.expect("CAP LS 302").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv CAP * LS :").await;
    c.expect("CAP END").await;
    c.say(b":srv 001 bot :Welcome").await;
    c
}

#[tokio::test]
async fn a_lost_connection_is_reported_and_made_again_with_the_channels() {
    let (listener, mut rx, running) = start(|c| {
        c.with_pacing(100, Duration::ZERO)
            .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(100))
            .with_channel(ChannelConfig::new("#chat"))
    })
    .await;
    let mut c = accept_registered(&listener).await;
    c.expect("JOIN #chat").await;
    next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    c.say(b"ERROR :Closing link: (bot@127.0.0.1) [Ping timeout]")
        .await;
    drop(c);
    let (lost, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(error) = &lost.body else {
        unreachable!()
    };
    assert!(error.cause.contains("Ping timeout"), "{}", error.cause);
    assert!(error.retry_in.is_some());
    // The second connection registers and joins again; messages flow.
    let mut c = accept_registered(&listener).await;
    c.expect("JOIN #chat").await;
    c.say(b":alice!a@h PRIVMSG #chat :back?").await;
    let (back, handle) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&back), Some("back?"));
    handle
        .send(back.reply_all(Message::text("yes")))
        .await
        .unwrap();
    c.expect("PRIVMSG #chat yes").await;
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"));
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

/// Whether `signal` says that `nick` left a room.
fn left(signal: &Signal, nick: &str) -> bool {
    matches!(&signal.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: false, .. }))
        && signal.meta.origin.as_ref().is_some_and(|o| o.id() == nick)
}

#[tokio::test]
async fn names_compare_as_the_servers_casemapping_says() {
    let (listener, mut rx, running) = start(|c| {
        c.with_pacing(100, Duration::ZERO)
            .with_channel(ChannelConfig::new("#chat"))
    })
    .await;
    let mut c = accept_registered(&listener).await;
    c.say(b":srv 005 bot CHANTYPES=# CASEMAPPING=ascii :are supported")
        .await;
    c.expect("JOIN #chat").await;
    c.say(b":bot!b@h JOIN #chat").await;
    c.say(b":srv 353 bot = #chat :bot x[y] x{y}").await;
    let (_, handle) = next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    // `x{y}` leaving is not `x[y]` leaving (under RFC 1459's mapping both were one nick).
    c.say(b":x{y}!a@h QUIT :bye").await;
    next_where(&mut rx, |s| left(s, "x{y}")).await;
    let chat: chatty_core::Address = "irc:#chat".parse().unwrap();
    let members = handle
        .query(Query::Members {
            address: chat.clone(),
        })
        .await
        .unwrap();
    let Answer::Members { members } = members else {
        panic!("{members:?}")
    };
    let nicks: Vec<&str> = members.iter().map(chatty_core::Address::id).collect();
    assert_eq!(nicks, ["bot", "x[y]"]);
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"));
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

/// Whether `signal` is the bot's own room presence in `#chat`, `present` or not.
fn own_in_room(signal: &Signal, present: bool) -> bool {
    matches!(&signal.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: p, .. } if p == present))
        && signal.meta.origin.as_ref().is_some_and(|o| o.id() == "bot")
}

#[tokio::test]
async fn kicked_the_bot_joins_again_until_banned() {
    let (listener, mut rx, running) = start(|c| {
        c.with_pacing(100, Duration::ZERO)
            .with_rejoin(Duration::from_millis(50), 3)
            .with_channel(ChannelConfig::new("#chat"))
    })
    .await;
    let mut c = accept_registered(&listener).await;
    c.expect("JOIN #chat").await;
    c.say(b":bot!b@h JOIN #chat").await;
    let (_, handle) = next_where(&mut rx, |s| own_in_room(s, true)).await;
    // Kicked: told (its presence ended, with the reason), and it joins again by itself.
    c.say(b":op!o@h KICK #chat bot :behave").await;
    let (kicked, _) = next_where(&mut rx, |s| own_in_room(s, false)).await;
    let Body::StatusChange(change) = &kicked.body else {
        unreachable!()
    };
    assert_eq!(change.message.as_deref(), Some("behave"));
    c.expect("JOIN #chat").await;
    c.say(b":bot!b@h JOIN #chat").await;
    next_where(&mut rx, |s| own_in_room(s, true)).await;
    // Kicked and banned: one try, the ban, a system error, no more tries.
    c.say(b":op!o@h KICK #chat bot :enough").await;
    c.expect("JOIN #chat").await;
    c.say(b":srv 474 bot #chat :Cannot join channel (you're banned)")
        .await;
    let (error, _) = next_where(&mut rx, |s| matches!(s.body, Body::SystemError(_))).await;
    let Body::SystemError(error) = &error.body else {
        unreachable!()
    };
    assert!(error.message.contains("banned"), "{}", error.message);
    assert!(error.message.contains("#chat"), "{}", error.message);
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle.end_sessions("done").await.unwrap();
    let quit = c.read().await;
    assert!(quit.starts_with("QUIT"), "no other JOIN first: {quit}");
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn replies_carry_the_msgid_they_answer_both_ways() {
    let (listener, mut rx, running) = start(|c| c.with_pacing(100, Duration::ZERO)).await;
    let mut c = accept(&listener).await;
    c.expect("CAP LS 302").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv CAP * LS :message-tags").await;
    c.expect("CAP REQ message-tags").await;
    c.say(b":srv CAP * ACK message-tags").await;
    c.expect("CAP END").await;
    c.say(b":srv 001 bot :Welcome").await;
    c.say(b"@msgid=q1;+draft/reply=a0 :alice!a@h PRIVMSG bot :about your answer")
        .await;
    let (question, handle) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(
        question.meta.response_to.as_ref().map(|id| id.as_str()),
        Some("a0")
    );
    handle
        .send(question.reply(Message::text("noted")))
        .await
        .unwrap();
    let line: chatty_irc::proto::Line = c.read().await.parse().unwrap();
    assert_eq!(line.command, "PRIVMSG");
    assert_eq!(line.params, ["alice", "noted"]);
    assert_eq!(line.tag("+draft/reply"), Some("q1"));
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"));
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

/// A session to a scripted server, as [`start`], under a router with `journal` (one run of the
/// bot's process).
async fn start_journaled(journal: &chatty_core::journal::MemoryJournal) -> Started {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = IrcConfig::new("127.0.0.1", "bot")
        .with_tls(TlsMode::Plaintext)
        .with_port(port)
        .with_pacing(100, Duration::ZERO);
    let session = IrcSession::new(config).unwrap();
    let (bot, rx) = spy();
    let router = Router::new().session(session).journal(journal.clone());
    (listener, rx, tokio::spawn(router.run(bot)))
}

/// Registers a connection with the capabilities a server keeping private history offers.
async fn accept_with_chathistory(listener: &TcpListener) -> Client {
    let mut c = accept(listener).await;
    c.expect("CAP LS 302").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv CAP * LS :message-tags server-time batch draft/chathistory")
        .await;
    c.expect("CAP REQ :message-tags server-time batch draft/chathistory")
        .await;
    c.say(b":srv CAP * ACK :message-tags server-time batch draft/chathistory")
        .await;
    c.expect("CAP END").await;
    c.say(b":srv 001 bot :Welcome").await;
    c.say(b":srv 005 bot CHANTYPES=# CHATHISTORY=50 :are supported")
        .await;
    c
}

/// Waits until the journal's mark `name` of the session is `want` (or is set, for `None`).
async fn mark_is(journal: &chatty_core::journal::MemoryJournal, name: &str, want: Option<&str>) {
    use chatty_core::journal::Journal as _;
    timeout(WAIT, async {
        loop {
            let mark = journal.mark("irc", name).await.unwrap();
            if mark.is_some() && (want.is_none() || mark.as_deref() == want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the mark {name} set to {want:?}"));
}

/// An RFC 3339 time `seconds` from now, with milliseconds, as server-time writes it.
fn server_time(seconds: i64) -> String {
    let time = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time.format(format).unwrap()
}

#[tokio::test]
async fn private_messages_from_while_away_come_from_chathistory_targets() {
    let journal = chatty_core::journal::MemoryJournal::new();
    // The first run: no mark, so the private past is not asked for; a message is given live.
    let (listener, mut rx, running) = start_journaled(&journal).await;
    let mut c = accept_with_chathistory(&listener).await;
    let (_, handle) = next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    mark_is(&journal, "history-private", None).await;
    let first = format!(
        "@msgid=p1;time={} :alice!a@h PRIVMSG bot :first",
        server_time(0)
    );
    c.say(first.as_bytes()).await;
    let (given, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&given), Some("first"));
    mark_is(&journal, "history:alice", None).await;
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"), "no CHATHISTORY before");
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();

    // The second run: who wrote since, then what each wrote after their position.
    let (listener, mut rx, running) = start_journaled(&journal).await;
    let mut c = accept_with_chathistory(&listener).await;
    let targets = c.read().await;
    assert!(
        targets.starts_with("CHATHISTORY TARGETS timestamp=") && targets.ends_with(" 50"),
        "{targets}"
    );
    c.say(b":srv BATCH +t draft/chathistory-targets").await;
    for target in ["alice", "#chat", "bob"] {
        let line = format!(
            "@batch=t :srv CHATHISTORY TARGETS {target} {}",
            server_time(2)
        );
        c.say(line.as_bytes()).await;
    }
    c.say(b":srv BATCH -t").await;
    c.expect("CHATHISTORY AFTER alice msgid=p1 50").await;
    let bob = c.read().await;
    assert!(
        bob.starts_with("CHATHISTORY AFTER bob timestamp="),
        "from the private messages' time: {bob}"
    );
    let history = [
        ":srv BATCH +a chathistory alice".to_owned(),
        format!(
            "@batch=a;msgid=p1;time={} :alice!a@h PRIVMSG bot :first",
            server_time(0)
        ),
        format!(
            "@batch=a;msgid=p2;time={} :alice!a@h PRIVMSG bot :while away",
            server_time(1)
        ),
        format!(
            "@batch=a;msgid=p3;time={} :bot!b@h PRIVMSG alice :answer",
            server_time(1)
        ),
        ":srv BATCH -a".to_owned(),
        ":srv BATCH +b chathistory bob".to_owned(),
        format!(
            "@batch=b;msgid=b1;time={} :bob!b@h PRIVMSG bot :hello from bob",
            server_time(2)
        ),
        ":srv BATCH -b".to_owned(),
    ];
    for line in &history {
        c.say(line.as_bytes()).await;
    }
    let (away, handle) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&away), Some("while away"));
    assert_eq!(away.meta.id.as_str(), "p2");
    let (from_bob, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&from_bob), Some("hello from bob"));
    assert_eq!(from_bob.meta.origin.as_ref().unwrap().id(), "bob");
    mark_is(&journal, "history:bob", None).await;
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"));
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn kicked_the_bot_does_not_join_again_once_it_left_itself() {
    let (listener, mut rx, running) = start(|c| {
        c.with_pacing(100, Duration::ZERO)
            .with_rejoin(Duration::from_millis(300), 3)
            .with_channel(ChannelConfig::new("#chat"))
    })
    .await;
    let mut c = accept_registered(&listener).await;
    c.expect("JOIN #chat").await;
    c.say(b":bot!b@h JOIN #chat").await;
    let (joined, handle) = next_where(&mut rx, |s| own_in_room(s, true)).await;
    c.say(b":op!o@h KICK #chat bot :out").await;
    next_where(&mut rx, |s| own_in_room(s, false)).await;
    // The bot leaves the channel itself before the try: there is none.
    let Body::StatusChange(change) = &joined.body else {
        unreachable!()
    };
    let Status::InRoom { room, .. } = &change.status else {
        unreachable!()
    };
    let leave = StatusChange::new(Status::InRoom {
        room: room.clone(),
        present: false,
        role: None,
    });
    handle.send(Signal::new(leave)).await.unwrap();
    c.expect("PART #chat").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.end_sessions("done").await.unwrap();
    let quit = c.read().await;
    assert!(quit.starts_with("QUIT"), "no JOIN first: {quit}");
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn reactions_go_and_come_as_tagmsg_with_react_and_reply() {
    let (listener, mut rx, running) = start(|c| c.with_pacing(100, Duration::ZERO)).await;
    let mut c = accept(&listener).await;
    c.expect("CAP LS 302").await;
    c.expect("NICK bot").await;
    c.expect("USER bot 0 * :Chatty bot").await;
    c.say(b":srv CAP * LS :message-tags echo-message").await;
    c.expect("CAP REQ :message-tags echo-message").await;
    c.say(b":srv CAP * ACK :message-tags echo-message").await;
    c.expect("CAP END").await;
    c.say(b":srv 001 bot :Welcome").await;
    // Someone's message, reacted to by its msgid.
    c.say(b"@msgid=q1 :alice!a@h PRIVMSG bot :tea?").await;
    let (question, handle) = next_where(&mut rx, |s| text(s).is_some()).await;
    let alice = question.meta.origin.clone().unwrap();
    handle
        .send(Signal::new(Message::reaction(question.meta.id.clone(), "👍")).to(alice.clone()))
        .await
        .unwrap();
    let line: chatty_irc::proto::Line = c.read().await.parse().unwrap();
    assert_eq!(
        (line.command.as_str(), &line.params[..]),
        ("TAGMSG", &["alice".to_owned()][..])
    );
    assert_eq!(line.tag("+draft/react"), Some("👍"));
    assert_eq!(line.tag("+draft/reply"), Some("q1"));
    // The bot's own message, reacted to at once: the reaction waits for the echo's msgid.
    let own = handle.say(&alice, "yes").await.unwrap();
    let reacting = {
        let (handle, alice) = (handle.clone(), alice.clone());
        tokio::spawn(async move {
            handle
                .send(Signal::new(Message::reaction(own, "☕")).to(alice))
                .await
        })
    };
    let line: chatty_irc::proto::Line = c.read().await.parse().unwrap();
    assert_eq!(line.params, ["alice", "yes"]);
    c.say(b"@msgid=e1 :bot!b@h PRIVMSG alice yes").await;
    let line: chatty_irc::proto::Line = c.read().await.parse().unwrap();
    assert_eq!(line.command, "TAGMSG");
    assert_eq!(line.tag("+draft/react"), Some("☕"));
    assert_eq!(line.tag("+draft/reply"), Some("e1"));
    reacting.await.unwrap().unwrap();
    // A message without a msgid the session knows: refused, typed.
    let unknown = handle
        .send(Signal::new(Message::reaction("nowhere".into(), "👎")).to(alice.clone()))
        .await
        .unwrap();
    let (failure, _) = next_where(&mut rx, |s| matches!(&s.body, Body::SendFailure(_))).await;
    let Body::SendFailure(failure) = &failure.body else {
        unreachable!()
    };
    assert_eq!(failure.failed, unknown);
    assert_eq!(failure.kind, chatty_core::FailureKind::Rejected);
    // Alice's reaction to the bot's message, and the echo of the bot's own, not news.
    c.say(b"@+draft/react=x;+draft/reply=q1 :bot!b@h TAGMSG alice")
        .await;
    c.say(b"@msgid=r1;+draft/react=\xf0\x9f\x8e\x89;+draft/reply=e1 :alice!a@h TAGMSG bot")
        .await;
    let (reaction, _) = next_where(
        &mut rx,
        |s| matches!(&s.body, Body::Message(m) if m.is_reaction()),
    )
    .await;
    let Body::Message(m) = &reaction.body else {
        unreachable!()
    };
    assert_eq!(m.text, "🎉");
    assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "e1");
    assert_eq!(reaction.meta.id.as_str(), "r1");
    assert_eq!(reaction.meta.origin.as_ref(), Some(&alice));
    assert_eq!(reaction.meta.addressees[0].id(), "bot");
    handle.end_sessions("done").await.unwrap();
    assert!(c.read().await.starts_with("QUIT"));
    drop(c);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}
