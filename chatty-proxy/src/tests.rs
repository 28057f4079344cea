//! The proxy's routing and id translation, signal by signal.

use chatty_core::session::Refusal;
use chatty_core::{
    Address, Body, EditKind, FailureKind, Message, SendError, SendFailure, Signal, Status,
    StatusChange, TypingState, Unsupported,
};

use super::{Proxy, State};
use crate::ids::IdTable;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn state(proxy: Proxy) -> State {
    State {
        ids: IdTable::new(proxy.remember),
        last_local: None,
        waiting: Default::default(),
        proxy,
    }
}

fn from(origin: &str, body: impl Into<Body>) -> Signal {
    let mut signal = Signal::new(body);
    signal.meta.origin = Some(addr(origin));
    signal
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn forwards_and_answers_with_response_to_kept() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    let question = from("direct:alice", Message::text("ping"));
    let out = s.handle(question.clone());
    assert_eq!(out.len(), 1);
    let forwarded = &out[0].signal;
    assert_eq!(
        forwarded.meta.addressees,
        vec![addr("xmpp:echo@example.org")]
    );
    assert_ne!(
        forwarded.id(),
        question.id(),
        "a fresh id on the remote side"
    );
    assert_eq!(text(forwarded), "ping");

    let mut answer = from("xmpp:echo@example.org", Message::text("pong"));
    answer.meta.response_to = Some(forwarded.id().clone());
    let back = s.handle(answer);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].signal.meta.addressees, vec![addr("direct:alice")]);
    assert_eq!(
        back[0].signal.meta.response_to.as_ref(),
        Some(question.id())
    );
    assert_eq!(text(&back[0].signal), "pong");
}

#[test]
fn answers_go_to_whoever_asked_even_when_two_parties_talk() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    let a = s.handle(from("direct:alice", Message::text("a")));
    let _b = s.handle(from("direct:bob", Message::text("b")));
    let mut answer = from("xmpp:echo@example.org", Message::text("to alice"));
    answer.meta.response_to = Some(a[0].signal.id().clone());
    let back = s.handle(answer);
    assert_eq!(back[0].signal.meta.addressees, vec![addr("direct:alice")]);
    // Unprompted: the last speaker.
    let back = s.handle(from("xmpp:echo@example.org", Message::text("hello?")));
    assert_eq!(back[0].signal.meta.addressees, vec![addr("direct:bob")]);
    assert_eq!(back[0].signal.meta.response_to, None);
}

#[test]
fn unprompted_signals_wait_for_a_local_party_or_go_to_the_configured_one() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    assert!(
        s.handle(from("xmpp:echo@example.org", Message::text("early")))
            .is_empty()
    );
    let out = s.handle(from("direct:alice", Message::text("hi")));
    assert_eq!(out.len(), 2, "the waiting signal, then the forwarded one");
    assert_eq!(text(&out[0].signal), "early");
    assert_eq!(out[0].signal.meta.addressees, vec![addr("direct:alice")]);
    assert_eq!(
        out[1].signal.meta.addressees,
        vec![addr("xmpp:echo@example.org")]
    );

    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")).local(addr("direct:operator")));
    let out = s.handle(from("xmpp:echo@example.org", Message::text("now")));
    assert_eq!(out[0].signal.meta.addressees, vec![addr("direct:operator")]);
}

#[test]
fn local_replies_and_edits_name_the_remote_ids() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    s.handle(from("direct:alice", Message::text("hi")));
    let remote_said = from("xmpp:echo@example.org", Message::text("question?"));
    let relayed = s.handle(remote_said.clone()).remove(0).signal;

    let mut reply = from("direct:alice", Message::text("answer"));
    reply.meta.response_to = Some(relayed.id().clone());
    let out = s.handle(reply);
    assert_eq!(
        out[0].signal.meta.response_to.as_ref(),
        Some(remote_said.id())
    );

    // The remote corrects its message: the local copy's id is named.
    let fix = from(
        "xmpp:echo@example.org",
        Message::text("question!").correcting(remote_said.id().clone()),
    );
    let out = s.handle(fix);
    let Body::Message(m) = &out[0].signal.body else {
        panic!()
    };
    let edit = m.edit.as_ref().unwrap();
    assert_eq!((&edit.of, edit.kind), (relayed.id(), EditKind::Correction));
}

#[test]
fn failures_come_back_with_the_local_id() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    let question = from("direct:alice", Message::text("ping"));
    let forwarded = s.handle(question.clone()).remove(0).signal;
    let failure = from(
        "xmpp:bot@example.org",
        SendFailure::new(
            forwarded.id().clone(),
            FailureKind::UnknownAddressee,
            "no such user",
        )
        .with_code("item-not-found"),
    );
    let out = s.handle(failure);
    let Body::SendFailure(f) = &out[0].signal.body else {
        panic!()
    };
    assert_eq!(&f.failed, question.id());
    assert_eq!(f.code.as_deref(), Some("item-not-found"));
    assert_eq!(out[0].signal.meta.addressees, vec![addr("direct:alice")]);

    let question = from("direct:alice", Message::text("typing"));
    let forwarded = s.handle(question.clone()).remove(0).signal;
    let refused = from(
        "xmpp:bot@example.org",
        Unsupported::new(forwarded.id().clone(), "no subjects"),
    );
    let out = s.handle(refused);
    let Body::SendFailure(f) = &out[0].signal.body else {
        panic!()
    };
    assert_eq!((&f.failed, f.kind), (question.id(), FailureKind::Rejected));
    // A failure of something unknown is not passed on.
    let unknown = from(
        "xmpp:bot@example.org",
        SendFailure::new("nobody-knows".into(), FailureKind::Other, String::new()),
    );
    assert!(s.handle(unknown).is_empty());
}

/// The one send failure in `out`: its failure, and its addressee.
fn failure(out: &[super::Outgoing]) -> (&SendFailure, &Address) {
    assert_eq!(out.len(), 1, "{out:?}");
    let Body::SendFailure(f) = &out[0].signal.body else {
        panic!("not a send failure: {:?}", out[0].signal)
    };
    assert_eq!(out[0].signal.meta.response_to.as_ref(), Some(&f.failed));
    (f, &out[0].signal.meta.addressees[0])
}

#[test]
fn a_forward_refused_at_once_is_a_failure_for_the_local_party() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    let alice = addr("direct:alice");
    let refusals = [
        (
            SendError::NoRoute {
                address: addr("xmpp:echo@example.org"),
            },
            FailureKind::UnknownAddressee,
            None,
        ),
        (
            SendError::Unsupported {
                reason: "this session cannot carry files".into(),
            },
            FailureKind::Rejected,
            None,
        ),
        (
            SendError::Refused(
                Refusal::new(FailureKind::RateLimited, "too many answers")
                    .with_code("answer-limit"),
            ),
            FailureKind::RateLimited,
            Some("answer-limit"),
        ),
    ];
    for (error, kind, code) in refusals {
        let question = from("direct:alice", Message::text("ping"));
        let forwarded = s.handle(question.clone()).remove(0).signal;
        let out = s.refused(forwarded.id(), &error);
        let (f, to) = failure(&out);
        assert_eq!((&f.failed, f.kind), (question.id(), kind), "{error}");
        assert_eq!(f.code.as_deref(), code);
        assert_eq!(to, &alice);
        // The notice itself refused: nobody left to tell, and no loop.
        assert!(s.refused(out[0].signal.id(), &error).is_empty());
    }
    // A closed connection is no failure to pass on: the run stops.
    let forwarded = s
        .handle(from("direct:alice", Message::text("x")))
        .remove(0)
        .signal;
    assert!(s.refused(forwarded.id(), &SendError::Closed).is_empty());
}

#[test]
fn a_relayed_signal_refused_is_a_failure_for_the_remote_address_but_not_a_room() {
    let mut s = state(Proxy::new(addr("direct:echo")));
    s.handle(from("direct:alice", Message::text("hi")));
    let said = from("direct:echo", Message::text("hello alice"));
    let relayed = s.handle(said.clone()).remove(0).signal;
    let error = SendError::Unsupported {
        reason: "this session cannot carry messages".into(),
    };
    let out = s.refused(relayed.id(), &error);
    let (f, to) = failure(&out);
    assert_eq!((&f.failed, f.kind), (said.id(), FailureKind::Rejected));
    assert_eq!(to, &addr("direct:echo"));
    // A failure that comes back later for a relayed signal goes the same way.
    let later = from(
        "direct:proxy",
        SendFailure::new(relayed.id().clone(), FailureKind::Unreachable, "gone"),
    );
    let out = s.handle(later);
    let (f, to) = failure(&out);
    assert_eq!((&f.failed, to), (said.id(), &addr("direct:echo")));

    // A room is not told of one member's relayed signal.
    let room = addr("direct:lobby;kind=channel");
    let mut s = state(Proxy::new(room.clone()));
    s.handle(from("direct:alice", Message::text("hi room")));
    let mut said = from("direct:carol", Message::text("hi alice"));
    said.meta.visible_to = vec![room];
    let relayed = s.handle(said).remove(0).signal;
    assert!(s.refused(relayed.id(), &error).is_empty());
}

#[test]
fn typing_and_presence_cross_over_and_lifecycle_does_not() {
    let mut s = state(Proxy::new(addr("xmpp:echo@example.org")));
    let typing = from(
        "direct:alice",
        StatusChange::new(Status::Typing {
            conversation: addr("direct:proxy"),
            state: TypingState::Composing,
        }),
    );
    let out = s.handle(typing);
    let Body::StatusChange(change) = &out[0].signal.body else {
        panic!()
    };
    assert_eq!(
        change.status,
        Status::Typing {
            conversation: addr("xmpp:echo@example.org"),
            state: TypingState::Composing
        }
    );
    let mut away = StatusChange::new(Status::Presence {
        availability: chatty_core::Availability::Away,
    });
    away.message = Some("lunch".into());
    let out = s.handle(from("xmpp:echo@example.org", away.clone()));
    assert_eq!(out[0].signal.body, Body::StatusChange(away));
    assert_eq!(out[0].signal.meta.addressees, vec![addr("direct:alice")]);

    let started = from(
        "xmpp:bot@example.org",
        chatty_core::SessionStarted::new("xmpp", "xmpp"),
    );
    assert!(s.handle(started).is_empty());
}

#[test]
fn room_messages_count_as_the_remote_room_speaking() {
    let mut s = state(Proxy::new(addr("xmpp:room@rooms.example.org;kind=channel")));
    s.handle(from("direct:alice", Message::text("hi room")));
    let mut said = from(
        "xmpp:room@rooms.example.org/carol",
        Message::text("hi alice"),
    );
    said.meta.visible_to = vec![addr("xmpp:room@rooms.example.org;kind=channel")];
    let out = s.handle(said);
    assert_eq!(out[0].signal.meta.addressees, vec![addr("direct:alice")]);
}

#[test]
fn the_id_table_is_bounded() {
    let mut table = IdTable::new(3);
    for i in 0..10 {
        table.pair(
            format!("l{i}").as_str().into(),
            format!("r{i}").as_str().into(),
            None,
        );
    }
    assert_eq!(table.len(), 3);
    assert_eq!(table.to_remote(&"l9".into()), "r9".into());
    assert_eq!(
        table.to_remote(&"l0".into()),
        "l0".into(),
        "forgotten: unchanged"
    );
    assert!(table.by_remote(&"r6".into()).is_none());
}
