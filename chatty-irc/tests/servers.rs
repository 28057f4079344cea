//! The session against the real test servers (`scripts/test` starts them; see
//! `chatty_test::servers`): InspIRCd 3 with IRCv3 (plain, TLS, SASL through Atheme) and ngircd
//! without IRCv3, with a raw client in the test as the person on the other side.

mod common;

use std::time::Duration;

use chatty_core::{
    Answer, Body, ConnectionErrorKind, DeliveryStatus, Handle, Message, Query, Router, Signal,
    Status, StatusChange, TypingState,
};
use chatty_irc::{ChannelConfig, IrcConfig, IrcSession, TlsMode};
use chatty_test::servers::{IrcServer, irc_account, irc_server, ngircd_server};
use common::{Raw, WAIT, next_where, spy, text, unique};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

type Signals = mpsc::UnboundedReceiver<(Signal, Handle)>;

/// A plain-text session as `nick` on `server`, in `channel`, paced for the server (ngircd paces
/// clients itself).
fn config(server: &IrcServer, nick: &str, channel: &str) -> IrcConfig {
    IrcConfig::new(&server.host, nick)
        .with_tls(TlsMode::Plaintext)
        .with_port(server.port)
        .with_pacing(50, Duration::ZERO)
        .with_reconnect_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .with_channel(ChannelConfig::new(channel))
}

/// Runs a session with `config` under a router; its signals come to the returned receiver.
fn run(config: IrcConfig) -> (JoinHandle<Result<(), chatty_core::BotError>>, Signals) {
    let (bot, rx) = spy();
    let session = IrcSession::new(config).expect("a valid config");
    let running = tokio::spawn(Router::new().session(session).run(bot));
    (running, rx)
}

/// Waits for the session to start and join `channel`: the handle, and the bot's nick.
async fn started(rx: &mut Signals) -> (Handle, String) {
    let (started, handle) = next_where(rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    next_where(rx, |s| {
        matches!(&s.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: true, .. }))
            && s.meta.origin == started.meta.origin
    })
    .await;
    let nick = started
        .meta
        .origin
        .expect("the bot's address")
        .id()
        .to_owned();
    (handle, nick)
}

/// Waits until `id` is `Sent`.
async fn sent(handle: &Handle, id: &chatty_core::SignalId) {
    timeout(WAIT, async {
        loop {
            let answer = handle.query(Query::DeliveryStatus { id: id.clone() }).await;
            if matches!(answer, Ok(Answer::DeliveryStatus(DeliveryStatus::Sent))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("confirmed sent");
}

/// Ends the session and waits for the router to return.
async fn end(handle: &Handle, running: JoinHandle<Result<(), chatty_core::BotError>>) {
    handle.end_sessions("test over").await.unwrap();
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

/// A session running on a server, in a fresh channel, with a person there on a raw client.
struct InChannel {
    /// The router running the session.
    running: JoinHandle<Result<(), chatty_core::BotError>>,
    /// The bot's signals.
    rx: Signals,
    /// The bot's handle.
    handle: Handle,
    /// The nick the session was configured with.
    nick: String,
    /// The nick the session says it has.
    own: String,
    /// The channel.
    channel: String,
    /// The person's nick.
    person: String,
    /// The person's client, in the channel.
    alice: Raw,
}

/// Starts a session on `server` in a fresh channel named from `prefix`, and connects a person
/// (asking for `caps`) while it starts; the person then joins the channel.
async fn in_channel(server: &IrcServer, prefix: &str, caps: &[&str]) -> InChannel {
    let nick = unique("b");
    let channel = format!("#{}", unique(prefix));
    let (running, mut rx) = run(config(server, &nick, &channel));
    let person = unique("p");
    let (mut alice, (handle, own)) = tokio::join!(
        Raw::connect(&server.host, server.port, &person, caps),
        started(&mut rx)
    );
    alice.join(&channel).await;
    InChannel {
        running,
        rx,
        handle,
        nick,
        own,
        channel,
        person,
        alice,
    }
}

impl InChannel {
    /// The person says `said` in the channel: the message as the bot gets it.
    async fn says(&mut self, said: &str) -> Signal {
        let line = format!("PRIVMSG {} :{said}", self.channel);
        self.alice.say(&line).await;
        next_where(&mut self.rx, |s| text(s) == Some(said)).await.0
    }

    /// Ends the session and waits for the router to return.
    async fn end(self) {
        end(&self.handle, self.running).await;
    }
}

/// Whether `signal` says that `who` is in a room (`present`) or has left it.
fn in_room(signal: &Signal, who: &str, present: bool) -> bool {
    matches!(&signal.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: p, .. } if p == present))
        && signal.meta.origin.as_ref().is_some_and(|o| o.id() == who)
}

/// Messages both ways in a channel and in private, a long answer split on UTF-8 boundaries and
/// put back together by the reader, confirmed `Sent`, and a line in Latin-1 (not UTF-8) read as
/// Latin-1, with the next message still delivered.
async fn both_ways(server: IrcServer, ircv3: bool) {
    let InChannel {
        running,
        mut rx,
        handle,
        nick,
        own,
        channel,
        person,
        mut alice,
    } = in_channel(&server, "c", &[]).await;
    assert_eq!(own, nick);
    next_where(&mut rx, |s| {
        matches!(&s.body, Body::StatusChange(_))
            && s.meta.origin.as_ref().is_some_and(|o| o.id() == person)
    })
    .await;

    alice.say(&format!("PRIVMSG {channel} :hello bot")).await;
    let (hello, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&hello), Some("hello bot"));
    assert_eq!(hello.meta.origin.as_ref().unwrap().id(), person);
    assert_eq!(hello.meta.visible_to[0].id(), channel);
    if ircv3 {
        assert!(hello.meta.sent.is_some(), "server-time");
    }

    let long = "ü€😀".repeat(60) + " " + &"word ".repeat(120) + "end";
    let id = handle
        .send(hello.reply_all(Message::text(long.clone())))
        .await
        .unwrap();
    let mut parts = Vec::new();
    while parts.iter().map(String::len).sum::<usize>() < long.len() {
        let line = alice.until(|l| l.command == "PRIVMSG").await;
        assert_eq!(line.params[0], channel);
        parts.push(line.params[1].clone());
    }
    assert!(parts.len() > 1, "split");
    assert_eq!(parts.concat(), long);
    sent(&handle, &id).await;

    let mut latin1 = format!("PRIVMSG {channel} :caf").into_bytes();
    latin1.push(0xe9);
    alice.say_bytes(&latin1).await;
    alice.say(&format!("PRIVMSG {nick} :in private")).await;
    // Both servers pass the Latin-1 line on as it is; it is read as Latin-1.
    let (cafe, _) = next_where(&mut rx, |s| {
        text(s).is_some() || matches!(s.body, Body::SystemError(_))
    })
    .await;
    assert_eq!(text(&cafe), Some("café"), "{cafe:?}");
    let (private, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(text(&private), Some("in private"));
    assert_eq!(private.meta.addressees[0].id(), nick);
    handle
        .send(private.reply(Message::text("private answer")))
        .await
        .unwrap();
    let line = alice.until(|l| l.command == "PRIVMSG").await;
    assert_eq!(line.params, [person.as_str(), "private answer"]);

    alice.say(&format!("PART {channel} :bye now")).await;
    let (part, _) = next_where(
        &mut rx,
        |s| matches!(&s.body, Body::StatusChange(c) if c.message.is_some()),
    )
    .await;
    let Body::StatusChange(change) = &part.body else {
        unreachable!()
    };
    assert_eq!(change.message.as_deref(), Some("bye now"));
    end(&handle, running).await;
}

#[tokio::test]
async fn inspircd_messages_both_ways() {
    both_ways(irc_server(), true).await;
}

#[tokio::test]
async fn ngircd_without_ircv3_messages_both_ways() {
    both_ways(ngircd_server(), false).await;
}

/// A nick in use: the session takes `nick_`, and says so in its address.
#[tokio::test]
async fn nick_collision_falls_back() {
    let server = ngircd_server();
    let nick = unique("n");
    let _holder = Raw::connect(&server.host, server.port, &nick, &[]).await;
    let channel = format!("#{}", unique("c"));
    let (running, mut rx) = run(config(&server, &nick, &channel));
    let (handle, own) = started(&mut rx).await;
    assert_eq!(own, format!("{nick}_"));
    end(&handle, running).await;
}

/// TLS with the test CA, SASL PLAIN with a services account, typing both ways, and history
/// replayed on join not delivered as new messages.
#[tokio::test]
async fn inspircd_tls_sasl_typing_and_no_replayed_history() {
    let server = irc_server();
    let channel = format!("#{}", unique("h"));
    // Something said before the bot joins: the server replays it on join.
    let person = unique("p");
    let mut alice = Raw::connect(&server.host, server.port, &person, &["message-tags"]).await;
    alice.join(&channel).await;
    alice.say(&format!("PRIVMSG {channel} :said before")).await;

    let (account, password) = irc_account();
    let ca = chatty_test::servers::var("CHATTY_TEST_CA");
    let config = IrcConfig::new("localhost", &account)
        .with_port(server.tls_port.expect("a TLS port"))
        .with_ca_file(ca)
        .with_sasl(Some(&account), password)
        .with_pacing(50, Duration::ZERO)
        .with_channel(ChannelConfig::new(&channel));
    let (running, mut rx) = run(config);
    let (handle, own) = started(&mut rx).await;
    assert_eq!(own, account);

    alice
        .say(&format!("@+typing=active TAGMSG {channel}"))
        .await;
    alice.say(&format!("PRIVMSG {channel} :said after")).await;
    let (typing, _) = next_where(&mut rx, |s| {
        text(s).is_some()
            || matches!(&s.body, Body::StatusChange(c) if matches!(c.status, Status::Typing { .. }))
    })
    .await;
    assert!(
        matches!(&typing.body, Body::StatusChange(c) if matches!(c.status, Status::Typing { state: TypingState::Composing, .. })),
        "{typing:?}"
    );
    let (after, _) = next_where(&mut rx, |s| text(s).is_some()).await;
    assert_eq!(
        text(&after),
        Some("said after"),
        "the replayed line is not a new message"
    );
    assert!(!after.meta.id.as_str().is_empty());

    let conversation = after.meta.visible_to[0].clone();
    let typing = Signal::new(StatusChange::new(Status::Typing {
        conversation,
        state: TypingState::Composing,
    }));
    handle.send(typing).await.unwrap();
    let line = alice.until(|l| l.command == "TAGMSG").await;
    assert_eq!(line.tag("+typing"), Some("active"));
    end(&handle, running).await;
}

/// A wrong SASL password ends the session with an authentication error, without retrying.
#[tokio::test]
async fn inspircd_wrong_sasl_password_ends_the_session() {
    let server = irc_server();
    let (account, _) = irc_account();
    let config = IrcConfig::new(&server.host, &account)
        .with_tls(TlsMode::Plaintext)
        .with_port(server.port)
        .with_sasl(Some(&account), "not-the-password");
    let (running, mut rx) = run(config);
    let (failed, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(error) = &failed.body else {
        unreachable!()
    };
    assert_eq!(
        error.kind,
        ConnectionErrorKind::Authentication,
        "{}",
        error.cause
    );
    assert_eq!(error.retry_in, None);
    timeout(WAIT, running).await.unwrap().unwrap().unwrap();
}

/// InspIRCd compares names by ASCII (`CASEMAPPING=ascii`): `x[1]` and `x{1}` are two people,
/// and one of them leaving is not the other leaving.
#[tokio::test]
async fn inspircd_ascii_casemapping() {
    let server = irc_server();
    let channel = format!("#{}", unique("m"));
    let nick = unique("b");
    let (running, mut rx) = run(config(&server, &nick, &channel));
    let (handle, _) = started(&mut rx).await;
    let base = unique("x");
    let (square, curly) = (format!("{base}[1]"), format!("{base}{{1}}"));
    let mut first = Raw::connect(&server.host, server.port, &square, &[]).await;
    let mut second = Raw::connect(&server.host, server.port, &curly, &[]).await;
    first.join(&channel).await;
    second.join(&channel).await;
    next_where(&mut rx, |s| in_room(s, &curly, true)).await;
    second.say("QUIT :bye").await;
    next_where(&mut rx, |s| in_room(s, &curly, false)).await;
    let room: chatty_core::Address = format!("irc:{channel}").parse().unwrap();
    let Ok(Answer::Members { members }) = handle.query(Query::Members { address: room }).await
    else {
        panic!("members of the channel")
    };
    let mut nicks: Vec<&str> = members.iter().map(chatty_core::Address::id).collect();
    nicks.sort_unstable();
    let mut want = vec![nick.as_str(), square.as_str()];
    want.sort_unstable();
    assert_eq!(nicks, want);
    drop(first);
    end(&handle, running).await;
}

/// Kicked by a channel operator, the bot joins again; kicked once banned, it tries once, is
/// refused (`474`) and tells the bot. On ngircd: the test InspIRCd makes no one a channel's
/// operator (its `defaultmodes` has no `o`, and its services have no ChanServ).
#[tokio::test]
async fn ngircd_kicked_joins_again_until_banned() {
    let server = ngircd_server();
    let channel = format!("#{}", unique("k"));
    let op = unique("o");
    // The first to join a channel is its operator.
    let mut alice = Raw::connect(&server.host, server.port, &op, &[]).await;
    alice.join(&channel).await;
    let nick = unique("b");
    let config = config(&server, &nick, &channel).with_rejoin(Duration::from_millis(100), 3);
    let (running, mut rx) = run(config);
    let (handle, _) = started(&mut rx).await;
    let own_in_room = |s: &Signal, present: bool| in_room(s, &nick, present);
    alice.say(&format!("KICK {channel} {nick} :behave")).await;
    next_where(&mut rx, |s| own_in_room(s, false)).await;
    next_where(&mut rx, |s| own_in_room(s, true)).await;
    let joined = alice
        .until(|l| l.command == "JOIN" && l.nick() == Some(nick.as_str()))
        .await;
    assert_eq!(joined.params[0], channel);

    alice.say(&format!("MODE {channel} +b {nick}!*@*")).await;
    alice.say(&format!("KICK {channel} {nick} :enough")).await;
    next_where(&mut rx, |s| own_in_room(s, false)).await;
    let (error, _) = next_where(&mut rx, |s| matches!(s.body, Body::SystemError(_))).await;
    let Body::SystemError(error) = &error.body else {
        unreachable!()
    };
    assert!(error.message.contains("banned"), "{}", error.message);
    assert!(error.message.contains("474"), "{}", error.message);
    end(&handle, running).await;
}

/// Replies both ways through InspIRCd, which relays client tags (`ircv3_ctctags`): the bot's
/// answer names the person's message by its `msgid`, and the person's reply to the answer
/// comes with the answer's `msgid` as `response_to`.
#[tokio::test]
async fn inspircd_replies_both_ways() {
    let server = irc_server();
    let mut chat = in_channel(&server, "r", &["message-tags"]).await;
    let question = chat.says("a question").await;
    chat.handle
        .send(question.reply_all(Message::text("an answer")))
        .await
        .unwrap();
    let answer = chat.alice.until(|l| l.command == "PRIVMSG").await;
    assert_eq!(answer.tag("+draft/reply"), Some(question.meta.id.as_str()));
    let answer_id = answer.tag("msgid").expect("a msgid").to_owned();
    let channel = &chat.channel;
    chat.alice
        .say(&format!(
            "@+draft/reply={answer_id} PRIVMSG {channel} :thanks"
        ))
        .await;
    let (thanks, _) = next_where(&mut chat.rx, |s| text(s) == Some("thanks")).await;
    assert_eq!(
        thanks.meta.response_to.as_ref().map(|id| id.as_str()),
        Some(answer_id.as_str())
    );
    chat.end().await;
}

#[tokio::test]
async fn inspircd_reactions_both_ways() {
    let server = irc_server();
    let mut chat = in_channel(&server, "x", &["message-tags"]).await;
    let question = chat.says("lunch?").await;
    let (handle, channel) = (&chat.handle, &chat.channel);
    let room = question.meta.visible_to[0].clone();
    // The bot reacts to her message (its id is the server's msgid) …
    handle
        .send(Signal::new(Message::reaction(question.meta.id.clone(), "👍")).to(room.clone()))
        .await
        .unwrap();
    let reaction = chat.alice.until(|l| l.command == "TAGMSG").await;
    assert_eq!(reaction.params, [channel.as_str()]);
    assert_eq!(reaction.tag("+draft/react"), Some("👍"));
    assert_eq!(
        reaction.tag("+draft/reply"),
        Some(question.meta.id.as_str())
    );
    // … and to its own answer at once, by the answer's signal id: the echo's msgid.
    let own = handle.say(&room, "at noon").await.unwrap();
    handle
        .send(Signal::new(Message::reaction(own, "🍜")).to(room.clone()))
        .await
        .unwrap();
    let answer = chat.alice.until(|l| l.command == "PRIVMSG").await;
    let answer_id = answer.tag("msgid").expect("a msgid").to_owned();
    let reaction = chat.alice.until(|l| l.command == "TAGMSG").await;
    assert_eq!(reaction.tag("+draft/react"), Some("🍜"));
    assert_eq!(reaction.tag("+draft/reply"), Some(answer_id.as_str()));
    // She reacts to the answer; InspIRCd relays the client-only tags.
    chat.alice
        .say(&format!(
            "@+draft/react=🎉;+draft/reply={answer_id} TAGMSG {channel}"
        ))
        .await;
    let (got, _) = next_where(
        &mut chat.rx,
        |s| matches!(&s.body, Body::Message(m) if m.is_reaction()),
    )
    .await;
    let Body::Message(m) = &got.body else {
        unreachable!()
    };
    assert_eq!(m.text, "🎉");
    assert_eq!(m.edit.as_ref().unwrap().of.as_str(), answer_id);
    assert_eq!(got.meta.origin.as_ref().unwrap().id(), chat.person);
    assert_eq!(got.meta.visible_to, [room]);
    chat.end().await;
}
