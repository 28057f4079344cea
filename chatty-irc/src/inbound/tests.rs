//! The inbound mapping, line by line.

use chatty_core::{Automatic, Body, Signal, Status, TypingState};

use super::{Effect, handle};
use crate::config::IrcConfig;
use crate::history::Position;
use crate::proto::Line;
use crate::state::{Echo, Shared};

fn shared() -> Shared {
    let shared = Shared::new(IrcConfig::new("s", "bot"));
    shared.live().caps.insert("message-tags".into());
    shared
}

fn feed(shared: &Shared, line: &str) -> Vec<Effect> {
    handle(shared, &line.parse::<Line>().unwrap())
}

fn signals(effects: Vec<Effect>) -> Vec<Signal> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Push(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn one(shared: &Shared, line: &str) -> Signal {
    let mut all = signals(feed(shared, line));
    assert_eq!(all.len(), 1, "{line}: {all:?}");
    all.remove(0)
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn channel_message_with_msgid_and_time() {
    let s = shared();
    let m = one(
        &s,
        "@msgid=abc;time=2026-12-07T08:00:00.123Z :Alice!al@host PRIVMSG #Chat :hello all",
    );
    assert_eq!(text(&m), "hello all");
    assert_eq!(m.meta.id.as_str(), "abc");
    assert_eq!(m.meta.sent.unwrap().unix_timestamp(), 1_796_630_400);
    assert_eq!(
        m.meta.origin.unwrap().to_string(),
        "irc:Alice;kind=individual"
    );
    assert_eq!(m.meta.visible_to[0].to_string(), "irc:#chat;kind=channel");
    assert_eq!(m.meta.addressees[0].to_string(), "irc:#chat;kind=channel");
    assert_eq!(m.meta.automatic, None);
}

#[test]
fn private_message_notice_action_and_what_is_dropped() {
    let s = shared();
    let m = one(&s, ":alice!a@h PRIVMSG bot :hi bot");
    assert_eq!(m.meta.addressees[0].to_string(), "irc:bot;kind=individual");
    assert!(m.meta.visible_to.is_empty());
    let n = one(&s, ":alice!a@h NOTICE bot :automatic");
    assert_eq!(n.meta.automatic, Some(Automatic::Generated));
    let ops = one(&s, ":alice!a@h PRIVMSG @#chat :ops only");
    assert_eq!(ops.meta.visible_to[0].id(), "#chat");
    let a = one(&s, ":alice!a@h PRIVMSG #c :\u{1}ACTION waves\u{1}");
    assert_eq!(text(&a), "/me waves");
    // Other CTCP, server notices, history replayed in a batch: no signal.
    assert!(signals(feed(&s, ":alice!a@h PRIVMSG bot :\u{1}VERSION\u{1}")).is_empty());
    assert!(
        signals(feed(
            &s,
            ":irc.server NOTICE * :*** Looking up your hostname"
        ))
        .is_empty()
    );
    feed(&s, ":srv BATCH +h1 chathistory #c");
    assert!(signals(feed(&s, "@batch=h1 :alice!a@h PRIVMSG #c :old")).is_empty());
    feed(&s, ":srv BATCH -h1");
    assert_eq!(
        signals(feed(&s, "@batch=h1 :alice!a@h PRIVMSG #c :new")).len(),
        1
    );
}

#[test]
fn own_echo_confirms_by_label_or_in_order() {
    let s = shared();
    s.live().echoes.push_back(Echo {
        label: None,
        confirms: Some("one".into()),
        done: None,
    });
    s.live().echoes.push_back(Echo {
        label: Some("c2".into()),
        confirms: Some("two".into()),
        done: None,
    });
    let by_label = feed(&s, "@label=c2 :bot!b@h PRIVMSG #c :second");
    assert!(matches!(&by_label[..], [Effect::Confirmed(id)] if id.as_str() == "two"));
    let in_order = feed(&s, ":BOT!b@h PRIVMSG #c :first");
    assert!(matches!(&in_order[..], [Effect::Confirmed(id)] if id.as_str() == "one"));
    assert!(feed(&s, ":bot!b@h PRIVMSG #c :unexpected").is_empty());
}

#[test]
fn join_part_kick_quit_as_room_presence() {
    let s = shared();
    let own = one(&s, ":bot!~b@cloak JOIN #chat");
    assert!(
        matches!(&own.body, Body::StatusChange(c) if matches!(c.status, Status::InRoom { present: true, .. }))
    );
    assert_eq!(s.live().host.as_deref(), Some("cloak"));
    feed(&s, ":srv 353 bot = #chat :@bot +alice carol");
    one(&s, ":dave!d@h JOIN #chat");
    assert_eq!(s.live().channels["#chat"].len(), 4);
    let part = one(&s, ":carol!c@h PART #chat :bye now");
    match &part.body {
        Body::StatusChange(c) => {
            assert!(matches!(c.status, Status::InRoom { present: false, .. }));
            assert_eq!(c.message.as_deref(), Some("bye now"));
        }
        other => panic!("{other:?}"),
    }
    let kick = one(&s, ":bot!b@h KICK #chat dave :spam");
    assert_eq!(kick.meta.origin.unwrap().id(), "dave");
    let quit = one(&s, ":alice!a@h QUIT :Quit: gone");
    assert_eq!(quit.meta.visible_to[0].id(), "#chat");
    assert!(signals(feed(&s, ":alice!a@h QUIT :again")).is_empty());
    feed(&s, ":bot!b@h NICK :bot2");
    assert_eq!(s.live().nick, "bot2");
    assert!(s.live().channels["#chat"].contains("bot2"));
}

#[test]
fn typing_tags_ping_error_and_isupport() {
    let s = shared();
    let t = one(&s, "@+typing=active :alice!a@h TAGMSG #c");
    match &t.body {
        Body::StatusChange(c) => assert!(matches!(
            c.status,
            Status::Typing {
                state: TypingState::Composing,
                ..
            }
        )),
        other => panic!("{other:?}"),
    }
    let done = one(&s, "@+draft/typing=done :alice!a@h TAGMSG bot");
    assert_eq!(done.meta.addressees[0].id(), "bot");
    assert!(signals(feed(&s, "@+typing=bogus :alice!a@h TAGMSG #c")).is_empty());
    let pong = feed(&s, "PING :x y");
    assert!(matches!(&pong[..], [Effect::Send(l)] if l.to_string() == "PONG :x y"));
    let error = feed(&s, "ERROR :Closing link");
    assert!(matches!(&error[..], [Effect::Closing(t)] if t == "Closing link"));
    feed(&s, ":srv 005 bot CHANTYPES=#! NICKLEN=30 :are supported");
    assert!(s.live().is_channel("!x"));
    assert!(!s.live().is_channel("&x"));
}

/// The effects other than signals, as text, for checking their order.
fn kinds(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Push(s) => match &s.body {
                Body::Message(m) => format!("message {}", m.text),
                other => format!("{:?}", other.kind()),
            },
            Effect::Mark(name, value) => format!("mark {name} {value}"),
            Effect::Joined(channel) => format!("joined {channel}"),
            Effect::Report(_) => "report".to_owned(),
            Effect::Send(line) => format!("send {}", line.format().unwrap()),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn history_after_a_reconnection_is_given_once_and_marked() {
    let s = shared();
    let joined = feed(&s, ":bot!b@h JOIN #Chat");
    assert_eq!(kinds(&joined)[1], "joined #chat");
    // The first join: the channel's past is not given; its newest line is the position.
    s.history().learn("#chat", None);
    feed(&s, ":srv BATCH +h1 chathistory #Chat");
    let old = "@batch=h1;msgid=m1;time=2026-12-07T08:00:01.000Z :alice!a@h PRIVMSG #Chat :old";
    assert!(feed(&s, old).is_empty());
    assert_eq!(
        kinds(&feed(&s, ":srv BATCH -h1")),
        ["mark history:#chat 2026-12-07T08:00:01Z m1"]
    );
    // Live, then the connection is lost; meanwhile two more lines; joining again replays all.
    let live = "@msgid=m2;time=2026-12-07T08:00:02.500Z :alice!a@h PRIVMSG #chat :live";
    assert_eq!(
        kinds(&feed(&s, live)),
        [
            "message live",
            "mark history:#chat 2026-12-07T08:00:02.5Z m2"
        ]
    );
    s.history().connection_lost();
    feed(&s, ":srv BATCH +h2 chathistory #chat");
    let replayed = [
        "@batch=h2;msgid=m1;time=2026-12-07T08:00:01Z :alice!a@h PRIVMSG #chat :old",
        "@batch=h2;msgid=m2;time=2026-12-07T08:00:02Z :alice!a@h PRIVMSG #chat :live",
        "@batch=h2;msgid=m3;time=2026-12-07T08:00:03Z :bot!b@h PRIVMSG #chat :own answer",
        "@batch=h2;msgid=m4;time=2026-12-07T08:00:04Z :bob!b@h PRIVMSG #chat :missed",
    ];
    for line in replayed {
        assert!(feed(&s, line).is_empty());
    }
    // A live line while the history is read comes after it.
    let during = "@msgid=m5;time=2026-12-07T08:00:05Z :bob!b@h PRIVMSG #chat :during";
    assert!(feed(&s, during).is_empty());
    let effects = feed(&s, ":srv BATCH -h2");
    assert_eq!(
        kinds(&effects),
        [
            "message missed",
            "mark history:#chat 2026-12-07T08:00:04Z m4",
            "message during",
            "mark history:#chat 2026-12-07T08:00:05Z m5"
        ]
    );
    let missed = signals(effects).remove(0);
    assert_eq!(missed.meta.id.as_str(), "m4");
    assert_eq!(missed.meta.origin.unwrap().id(), "bob");
    // The same line live again (a server relaying it twice): not given.
    assert!(signals(feed(&s, during)).is_empty());
    // The bot's own line in the history confirmed nothing.
    assert!(s.live().echoes.is_empty());
}

#[test]
fn chathistory_requests_where_the_server_takes_them_page_by_page() {
    let s = shared();
    s.live().caps.insert("draft/chathistory".into());
    feed(&s, ":srv 005 bot CHATHISTORY=2 CHANTYPES=# :are supported");
    assert_eq!(s.live().chathistory, Some(2));
    s.history().learn(
        "#chat",
        crate::history::Position::from_mark("2026-12-07T08:00:01Z m1"),
    );
    feed(&s, ":srv BATCH +p chathistory #chat");
    feed(
        &s,
        "@batch=p;msgid=m2;time=2026-12-07T08:00:02Z :alice!a@h PRIVMSG #chat :two",
    );
    feed(
        &s,
        "@batch=p;msgid=m3;time=2026-12-07T08:00:03Z :alice!a@h PRIVMSG #chat :three",
    );
    // A full page: the next is asked for, after its newest line.
    assert_eq!(
        kinds(&feed(&s, ":srv BATCH -p")),
        [
            "message two",
            "message three",
            "send CHATHISTORY AFTER #chat msgid=m3 2",
            "mark history:#chat 2026-12-07T08:00:03Z m3"
        ]
    );
    // Without the capability, the token is ignored.
    let plain = shared();
    feed(&plain, ":srv 005 bot CHATHISTORY=50 :are supported");
    assert_eq!(plain.live().chathistory, None);
}

#[test]
fn a_history_that_no_longer_reaches_the_position_is_reported() {
    let s = shared();
    s.history().learn(
        "#chat",
        crate::history::Position::from_mark("2026-12-07T07:00:00Z gone"),
    );
    feed(&s, ":srv BATCH +h chathistory #chat");
    feed(
        &s,
        "@batch=h;msgid=m9;time=2026-12-07T08:00:00Z :alice!a@h PRIVMSG #chat :later",
    );
    assert_eq!(
        kinds(&feed(&s, ":srv BATCH -h")),
        [
            "report",
            "message later",
            "mark history:#chat 2026-12-07T08:00:00Z m9"
        ]
    );
}

#[test]
fn no_such_nick_fails_the_message_by_label_or_target() {
    let s = shared();
    // Labeled: the echo waiting for the label is the failed signal.
    s.live().echoes.push_back(Echo {
        label: Some("c7".into()),
        confirms: Some("sig-1".into()),
        done: None,
    });
    let effects = feed(&s, "@label=c7 :srv 401 bot nobody :No such nick");
    assert!(s.live().echoes.is_empty());
    assert!(matches!(
        &effects[0],
        Effect::Failed(id, chatty_core::DeliveryStatus::Failed { .. }) if id.as_str() == "sig-1"
    ));
    let failure = signals(effects).remove(0);
    let Body::SendFailure(f) = &failure.body else {
        panic!("{failure:?}");
    };
    assert_eq!(f.failed.as_str(), "sig-1");
    assert_eq!(f.kind, chatty_core::FailureKind::UnknownAddressee);
    assert_eq!(f.code.as_deref(), Some("401"));
    assert_eq!(failure.meta.response_to.as_ref().unwrap().as_str(), "sig-1");
    assert_eq!(failure.meta.automatic, Some(Automatic::Report));
    // Without a label: the last message to that target.
    s.live().sent_to.insert("#quiet".into(), "sig-2".into());
    let failure = one(&s, ":srv 404 bot #Quiet :Cannot send to channel");
    let Body::SendFailure(f) = &failure.body else {
        panic!("{failure:?}");
    };
    assert_eq!(f.failed.as_str(), "sig-2");
    assert_eq!(f.kind, chatty_core::FailureKind::Rejected);
    // A 401 answering nothing the bot sent (a WHOIS): nothing.
    assert!(feed(&s, ":srv 401 bot someone :No such nick").is_empty());
}

#[test]
fn names_compare_as_the_servers_casemapping_says() {
    // RFC 1459's until the server says: `{` is the lower case of `[`.
    let s = Shared::new(IrcConfig::new("s", "bot[1]"));
    assert!(signals(feed(&s, ":BOT{1}!b@h PRIVMSG #c :mine")).is_empty());
    let s = Shared::new(IrcConfig::new("s", "bot[1]"));
    feed(
        &s,
        ":srv 005 bot[1] CHANTYPES=# CASEMAPPING=ascii :are supported",
    );
    assert_eq!(s.live().casemapping, crate::proto::CaseMapping::Ascii);
    // ASCII: another nick, whose message is the bot's to read; the bot's own in other case
    // is still the bot's.
    assert_eq!(text(&one(&s, ":BOT{1}!b@h PRIVMSG #c :theirs")), "theirs");
    assert!(signals(feed(&s, ":BOT[1]!b@h PRIVMSG #c :mine")).is_empty());
    // Channels: `#[x]` and `#{x}` are two.
    feed(&s, ":bot[1]!b@h JOIN #[x]");
    feed(&s, ":srv 353 bot[1] = #{x} :alice");
    feed(&s, ":srv 353 bot[1] = #[X] :carol");
    let members = s.live().channels.get("#[x]").cloned().unwrap();
    assert_eq!(members.into_iter().collect::<Vec<_>>(), ["bot[1]", "carol"]);
    // A mapping not known here leaves the one the session has.
    feed(&s, ":srv 005 bot[1] CASEMAPPING=rfc7613 :are supported");
    assert_eq!(s.live().casemapping, crate::proto::CaseMapping::Ascii);
    assert_eq!(
        s.history().casemapping,
        crate::proto::CaseMapping::Ascii,
        "the histories fold as the connection does"
    );
}

/// What the effects ask, for rejoining: `rejoin <secs> <line>`, `report <text>`, `in-room`.
fn rejoin_kinds(effects: Vec<Effect>) -> Vec<String> {
    effects
        .into_iter()
        .map(|e| match e {
            Effect::Rejoin(after, line) => {
                format!("rejoin {} {}", after.as_secs(), line.format().unwrap())
            }
            Effect::Report(text) => format!("report {text}"),
            Effect::Push(_) => "in-room".to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn kicked_joins_again_with_backoff_and_gives_up() {
    let config = IrcConfig::new("s", "bot")
        .with_rejoin(std::time::Duration::from_secs(1), 2)
        .with_channel(crate::ChannelConfig::new("#chat").with_key("k3y"));
    let s = Shared::new(config);
    let kinds = |line: &str| rejoin_kinds(feed(&s, line));
    feed(&s, ":bot!b@h JOIN #Chat");
    let kick = ":op!o@h KICK #Chat bot :out";
    assert_eq!(kinds(kick), ["in-room", "rejoin 1 JOIN #Chat k3y"]);
    let full = ":srv 471 bot #Chat :Cannot join channel (+l)";
    assert_eq!(kinds(full), ["rejoin 2 JOIN #Chat k3y"]);
    let gave_up = kinds(full);
    assert_eq!(gave_up.len(), 1);
    assert!(gave_up[0].starts_with("report #Chat:"), "{gave_up:?}");
    assert!(gave_up[0].contains("2 tries"), "{gave_up:?}");
    assert!(gave_up[0].contains("(+l) (471)"), "{gave_up:?}");
    // A ban: given up at once.
    feed(&s, ":bot!b@h JOIN #chat");
    assert_eq!(kinds(kick), ["in-room", "rejoin 1 JOIN #Chat k3y"]);
    let banned = kinds(":srv 474 bot #chat :Cannot join channel (+b)");
    assert!(banned[0].contains("banned"), "{banned:?}");
    // Kicked each time it comes back: the tries count together.
    feed(&s, ":bot!b@h JOIN #chat");
    assert_eq!(kinds(kick), ["in-room", "rejoin 1 JOIN #Chat k3y"]);
    feed(&s, ":bot!b@h JOIN #chat");
    assert_eq!(kinds(kick), ["in-room", "rejoin 2 JOIN #Chat k3y"]);
    feed(&s, ":bot!b@h JOIN #chat");
    let again = kinds(kick);
    assert_eq!(again[0], "in-room");
    assert!(again[1].contains("kicked each time"), "{again:?}");
    // Someone else kicked: no rejoin; a refused join of a channel not kicked from: reported.
    feed(&s, ":bot!b@h JOIN #chat");
    assert_eq!(kinds(":op!o@h KICK #chat alice :out"), ["in-room"]);
    let refused = kinds(":srv 473 bot #other :Cannot join channel (+i)");
    assert_eq!(
        refused,
        ["report joining #other failed: Cannot join channel (+i) (473)"]
    );
    // Rejoining turned off.
    let s = Shared::new(IrcConfig::new("s", "bot").with_rejoin(std::time::Duration::ZERO, 0));
    feed(&s, ":bot!b@h JOIN #chat");
    assert_eq!(rejoin_kinds(feed(&s, kick)), ["in-room"]);
}

#[test]
fn a_reply_tag_is_what_the_message_answers() {
    let s = shared();
    let m = one(
        &s,
        "@+draft/reply=abc;msgid=def :alice!a@h PRIVMSG #chat :yes",
    );
    assert_eq!(
        m.meta.response_to.as_ref().map(|id| id.as_str()),
        Some("abc")
    );
    let m = one(&s, "@+reply=ghi :alice!a@h PRIVMSG bot :ratified");
    assert_eq!(
        m.meta.response_to.as_ref().map(|id| id.as_str()),
        Some("ghi")
    );
    let m = one(&s, "@+draft/reply= :alice!a@h PRIVMSG bot :empty");
    assert_eq!(m.meta.response_to, None);
}

#[test]
fn private_history_by_targets_where_the_server_keeps_it() {
    let s = shared();
    s.live().caps.insert("draft/chathistory".into());
    let effects = feed(&s, ":srv 005 bot CHATHISTORY=50 CHANTYPES=# :are supported");
    assert_eq!(kinds(&effects), ["Targets"]);
    // Once per connection.
    assert!(feed(&s, ":srv 005 bot CHATHISTORY=50 :are supported").is_empty());
    // Who wrote: nicks are asked after; channels (caught up on joining) and the bot are not.
    feed(&s, ":srv BATCH +t draft/chathistory-targets");
    let target = |t: &str| {
        kinds(&feed(
            &s,
            &format!("@batch=t :srv CHATHISTORY TARGETS {t} 2026-12-07T08:00:03Z"),
        ))
    };
    assert_eq!(target("Alice"), ["Target(\"alice\")"]);
    assert!(target("#chat").is_empty());
    assert!(target("BOT").is_empty());
    assert!(feed(&s, ":srv BATCH -t").is_empty());
    // Alice's conversation after its position: hers given, the bot's own not, a live line of
    // hers while it is read after it; marks for her and for the private messages as a whole.
    s.history()
        .learn("alice", Position::from_mark("2026-12-07T08:00:01Z m1"));
    s.history()
        .learn_private(Position::from_mark("2026-12-07T08:00:01Z m1"));
    feed(&s, ":srv BATCH +p chathistory alice");
    for line in [
        "@batch=p;msgid=m1;time=2026-12-07T08:00:01Z :alice!a@h PRIVMSG bot :seen",
        "@batch=p;msgid=m2;time=2026-12-07T08:00:02Z :alice!a@h PRIVMSG bot :missed",
        "@batch=p;msgid=m3;time=2026-12-07T08:00:03Z :bot!b@h PRIVMSG alice :answer",
    ] {
        assert!(feed(&s, line).is_empty());
    }
    let during = "@msgid=m4;time=2026-12-07T08:00:04Z :Alice!a@h PRIVMSG bot :during";
    assert!(feed(&s, during).is_empty(), "held");
    let effects = feed(&s, ":srv BATCH -p");
    assert_eq!(
        kinds(&effects),
        [
            "message missed",
            "mark history:alice 2026-12-07T08:00:03Z m3",
            "mark history-private 2026-12-07T08:00:03Z m3",
            "message during",
            "mark history:alice 2026-12-07T08:00:04Z m4",
            "mark history-private 2026-12-07T08:00:04Z m4"
        ]
    );
    let missed = signals(effects).remove(0);
    assert_eq!(missed.meta.addressees[0].id(), "bot");
    assert!(missed.meta.visible_to.is_empty());
    // An older private message of someone else does not move the private position back.
    let late = "@msgid=m0;time=2026-12-07T07:00:00Z :carol!c@h PRIVMSG bot :late";
    assert_eq!(
        kinds(&feed(&s, late)),
        ["message late", "mark history:carol 2026-12-07T07:00:00Z m0"]
    );
    // Without chathistory, private messages keep no position.
    let plain = shared();
    assert_eq!(kinds(&feed(&plain, during)), ["message during"], "no marks");
}

#[test]
fn a_try_to_join_again_is_not_wanted_once_the_bot_left() {
    let s = Shared::new(IrcConfig::new("s", "bot"));
    feed(&s, ":bot!b@h JOIN #chat");
    let effects = feed(&s, ":op!o@h KICK #chat bot :out");
    let Some(Effect::Rejoin(_, join)) = effects.into_iter().last() else {
        panic!("no rejoin")
    };
    assert!(super::rejoin::wanted(&s, &join));
    s.cancel_rejoin("#CHAT");
    assert!(!super::rejoin::wanted(&s, &join));
    assert!(!super::rejoin::wanted(
        &s,
        &Line::new("JOIN", [] as [&str; 0])
    ));
}

#[test]
fn reactions_come_as_tagmsg_and_msgids_are_learned_for_reacting() {
    let s = shared();
    s.live().echoes.push_back(Echo {
        label: None,
        confirms: Some("sig".into()),
        done: None,
    });
    feed(&s, "@msgid=own1 :bot!b@h PRIVMSG #c :mine");
    assert_eq!(s.msgids().msgid("sig"), Some("own1"));
    // The bot's own message in a history, by its id tag.
    feed(
        &s,
        "@batch=h;msgid=own0;+chatty-rs.github.io/id=old :bot!b@h PRIVMSG #c :before",
    );
    one(&s, "@msgid=in1 :alice!a@h PRIVMSG #c :theirs");
    assert_eq!(s.msgids().msgid("in1"), Some("in1"));
    assert_eq!(s.msgids().msgid("old"), Some("own0"));
    let reaction = one(
        &s,
        "@msgid=r1;+draft/react=🎉;+draft/reply=own1 :alice!a@h TAGMSG #c",
    );
    let Body::Message(m) = &reaction.body else {
        panic!("{reaction:?}")
    };
    assert!(m.is_reaction());
    assert_eq!(m.edit.as_ref().unwrap().of.as_str(), "own1");
    assert_eq!(reaction.meta.visible_to[0].id(), "#c");
    // The echo of the bot's own reaction is not news; typing still is typing.
    assert!(feed(&s, "@+draft/react=x;+draft/reply=in1 :bot!b@h TAGMSG #c").is_empty());
    let typing = one(&s, "@+typing=active :alice!a@h TAGMSG #c");
    assert!(matches!(typing.body, Body::StatusChange(_)));
}
