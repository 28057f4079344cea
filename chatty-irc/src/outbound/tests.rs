//! The outbound mapping: lines per signal, refusals.

use chatty_core::{
    Address, Automatic, Choice, FailureKind, Message, Signal, Status, StatusChange, TypingState,
};

use super::lines;
use crate::config::IrcConfig;
use crate::state::Shared;

fn shared() -> Shared {
    let shared = Shared::new(IrcConfig::new("s", "bot"));
    {
        let mut live = shared.live();
        live.user = Some("~bot".into());
        live.host = Some("host".into());
    }
    shared
}

fn texts(shared: &Shared, signal: &Signal) -> Vec<String> {
    lines(shared, signal)
        .unwrap()
        .iter()
        .map(|o| o.line.to_string())
        .collect()
}

fn to(address: &str, body: impl Into<chatty_core::Body>) -> Signal {
    Signal::new(body).to(address.parse::<Address>().unwrap())
}

#[test]
fn messages_to_channels_and_nicks_with_the_last_line_confirming() {
    let s = shared();
    let signal = to("irc:#chat;kind=channel", Message::text("hi\nthere"));
    let out = lines(&s, &signal).unwrap();
    let sent: Vec<_> = out.iter().map(|o| o.line.to_string()).collect();
    assert_eq!(sent, ["PRIVMSG #chat hi", "PRIVMSG #chat there"]);
    assert!(out[0].confirms.is_none());
    assert_eq!(out[1].confirms.as_ref(), Some(&signal.meta.id));
    let mask = to("irc:alice!a@h", Message::text("yo"));
    assert_eq!(texts(&s, &mask), ["PRIVMSG alice yo"]);
    let action = to("irc:alice", Message::text("/me waves"));
    assert_eq!(
        texts(&s, &action),
        ["PRIVMSG alice :\u{1}ACTION waves\u{1}"]
    );
    let mut notice = to("irc:alice", Message::text("auto"));
    notice.meta.automatic = Some(Automatic::Generated);
    assert_eq!(texts(&s, &notice), ["NOTICE alice auto"]);
}

#[test]
fn a_long_message_is_split_to_fit_the_relay_prefix() {
    let s = shared();
    let text = "é".repeat(300) + " " + &"word ".repeat(100);
    let signal = to("irc:#chat", Message::text(text.clone()));
    let out = lines(&s, &signal).unwrap();
    assert!(out.len() > 1);
    let prefix = ":bot!~bot@host PRIVMSG #chat :".len();
    let mut joined = String::new();
    for o in &out {
        let part = &o.line.params[1];
        assert!(prefix + part.len() + 2 <= 512, "{} bytes", part.len());
        joined.push_str(part);
    }
    assert_eq!(joined, text);
}

#[test]
fn choices_are_numbered_lines_and_the_rest_is_refused() {
    let s = shared();
    let question = Message::text("Priority?")
        .with_choice(Choice::new("p").option("l", "Low").option("h", "High"));
    let lines_out = texts(&s, &to("irc:alice", question));
    assert_eq!(lines_out[0], "PRIVMSG alice Priority?");
    assert_eq!(lines_out[1], "PRIVMSG alice :1. Low");
    let refused = |signal: Signal| lines(&s, &signal).unwrap_err();
    assert_eq!(
        refused(to("irc:#chat", Message::text("x").with_subject("s"))).kind,
        FailureKind::Rejected
    );
    assert!(
        refused(to("irc:#chat", Message::text("x").with_html("<b>x</b>")))
            .message
            .contains("HTML")
    );
    assert_eq!(
        refused(to("irc:#chat", Message::text("\n"))).kind,
        FailureKind::Rejected
    );
    assert_eq!(
        refused(Signal::new(Message::text("nowhere"))).kind,
        FailureKind::UnknownAddressee
    );
    assert_eq!(
        refused(to("irc:a,b", Message::text("x"))).kind,
        FailureKind::UnknownAddressee
    );
    // Typing needs message-tags.
    let conversation: Address = "irc:#chat".parse().unwrap();
    let typing = Signal::new(StatusChange::new(Status::Typing {
        conversation,
        state: TypingState::Composing,
    }));
    assert!(lines(&s, &typing).is_err());
    s.live().caps.insert("message-tags".into());
    assert_eq!(texts(&s, &typing), ["@+typing=active TAGMSG #chat"]);
}

#[test]
fn join_and_part() {
    let s = shared();
    let room: Address = "irc:#chat".parse().unwrap();
    let join = Signal::new(StatusChange::new(Status::InRoom {
        room: room.clone(),
        present: true,
        role: None,
    }));
    assert_eq!(texts(&s, &join), ["JOIN #chat"]);
    let part = Signal::new(
        StatusChange::new(Status::InRoom {
            room,
            present: false,
            role: None,
        })
        .with_message("bye all"),
    );
    assert_eq!(texts(&s, &part), ["PART #chat :bye all"]);
}

#[test]
fn a_reply_names_what_it_answers_on_its_first_line_where_tags_go() {
    let s = shared();
    let mut reply = to("irc:#chat", Message::text("one\ntwo"));
    reply.meta.response_to = Some("msg-1".into());
    // Without message-tags: no tag.
    assert_eq!(
        texts(&s, &reply),
        ["PRIVMSG #chat one", "PRIVMSG #chat two"]
    );
    s.live().caps.insert("message-tags".into());
    let out = lines(&s, &reply).unwrap();
    assert_eq!(out[0].line.tag("+draft/reply"), Some("msg-1"));
    assert_eq!(out[1].line.tag("+draft/reply"), None);
    // An id no server gives as a msgid: left out, the message still goes.
    reply.meta.response_to = Some("x".repeat(600).into());
    let out = lines(&s, &reply).unwrap();
    assert_eq!(out[0].line.tag("+draft/reply"), None);
}

#[test]
fn a_reaction_is_a_tagmsg_naming_a_known_msgid_else_refused() {
    let s = shared();
    let reaction = to("irc:#chat", Message::reaction("m1".into(), "👍"));
    // Without message-tags: no reactions.
    let refused = lines(&s, &reaction).unwrap_err();
    assert_eq!(refused.kind, FailureKind::Rejected);
    s.live().caps.insert("message-tags".into());
    // A message whose msgid the session does not know: nothing to attach it to.
    let refused = lines(&s, &reaction).unwrap_err();
    assert_eq!(refused.kind, FailureKind::Rejected);
    assert!(refused.message.contains("msgid"), "{}", refused.message);
    s.msgids().seen("m1");
    let out = lines(&s, &reaction).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].line.command, "TAGMSG");
    assert_eq!(out[0].line.params, ["#chat"]);
    assert_eq!(out[0].line.tag("+draft/react"), Some("👍"));
    assert_eq!(out[0].line.tag("+draft/reply"), Some("m1"));
    assert_eq!(out[0].confirms.as_ref(), Some(&reaction.meta.id));
    // The bot's own message, by its signal id, once its echo brought the msgid.
    let own = chatty_core::SignalId::from("sig-1");
    s.msgids().queued(&own);
    s.msgids().echoed(&own, Some("m9"));
    let to_own = to("irc:alice", Message::reaction(own, "ok"));
    assert_eq!(
        texts(&s, &to_own),
        ["@+draft/react=ok;+draft/reply=m9 TAGMSG alice"]
    );
    let empty = to("irc:alice", Message::reaction("m1".into(), " "));
    assert_eq!(lines(&s, &empty).unwrap_err().kind, FailureKind::Rejected);
}
