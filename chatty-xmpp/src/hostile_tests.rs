//! Hostile input: property tests (proptest) of the inbound mapping. Arbitrary and mutated
//! stanzas (messages, presences and IQs with random attributes, missing ids, bad JIDs, huge
//! bodies, unknown and duplicate children, bad delay stamps, bad OOB URLs, corrections and
//! retractions without ids, MUC stanzas, data forms) go the way a stanza from the wire goes: serialized,
//! parsed again as XML, parsed by xmpp-parsers (what it refuses, tokio-xmpp drops with a
//! warning), then mapped by the session's mapper, or answered for IQs.
//!
//! The properties: nothing panics; a stanza that carries something (a message with a body, an
//! error, a contact's presence, an IQ request) gives a signal or a clear error (a `SystemError`
//! of component `xmpp` with a short message), never nothing; a signal has an id, an origin,
//! addressees and a send time; and bad stanzas between good ones do not lose the good ones.
//! A few hundred cases each, so that the crate's tests stay fast.

use chatty_core::{Body, Signal};
use proptest::prelude::*;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

use crate::automatic::is_room_history;
use crate::guard::{Guard, MAX_TOKEN};
use crate::iq::answer_iq;
use crate::mapper::Mapper;
use crate::mapper::test_support::mapper_in_room;

mod forms;

const CLIENT: &str = "jabber:client";
/// The room the mapper is in (as `bot`).
const ROOM: &str = "r@rooms.example.org";
/// The longest system error message: enough to say what is wrong, short enough to log.
const MAX_ERROR: usize = 4096;

/// An element before it is built: mutations work on these.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    ns: String,
    attrs: Vec<(String, String)>,
    text: Option<String>,
    children: Vec<Node>,
}

impl Node {
    fn new(name: &str, ns: &str) -> Self {
        Node {
            name: name.to_owned(),
            ns: ns.to_owned(),
            attrs: Vec::new(),
            text: None,
            children: Vec::new(),
        }
    }

    fn attr(mut self, name: &str, value: Option<String>) -> Self {
        if let Some(value) = value {
            self.attrs.push((name.to_owned(), value));
        }
        self
    }

    fn text(mut self, text: Option<String>) -> Self {
        self.text = text;
        self
    }

    fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    fn build(&self) -> Element {
        let mut builder = Element::builder(self.name.as_str(), self.ns.as_str());
        for (name, value) in &self.attrs {
            if let Ok(name) = NcName::try_from(name.as_str()) {
                builder = builder.attr(name, value.as_str());
            }
        }
        if let Some(text) = &self.text {
            builder = builder.append(text.as_str());
        }
        for child in &self.children {
            builder = builder.append(child.build());
        }
        builder.build()
    }
}

/// Text as a peer may send it: plain, any Unicode, markup characters, empty, whitespace.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,30}",
        2 => "\\PC{0,12}",
        1 => Just(String::new()),
        1 => "[ \t\n]{1,4}",
    ]
}

/// A body: text, or now and then a huge one (up to a megabyte).
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => text(),
        1 => (1usize..150_000).prop_map(|n| "é<&>'\"x".repeat(n)),
    ]
}

fn opt<T: std::fmt::Debug + Clone>(
    strategy: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.8, strategy)
}

/// Ids: the goods' own among them, empty, random, huge.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("good-1".to_owned()),
        Just("good-2".to_owned()),
        Just(String::new()),
        "[a-z0-9-]{1,12}",
        "\\PC{1,8}",
        (1usize..5000).prop_map(|n| "i".repeat(n)),
    ]
}

/// JIDs: people, the server, services, the room and its occupants (the bot's own nick, a nick
/// with a space), the bot itself, and malformed ones.
fn jid() -> impl Strategy<Value = String> {
    let valid = vec![
        "alice@example.org/phone",
        "alice@example.org",
        "mallory@example.org/x",
        "example.org",
        "example.org/announce/online",
        "rooms.example.org",
        "r@rooms.example.org",
        "r@rooms.example.org/alice",
        "r@rooms.example.org/bot",
        "r@rooms.example.org/John Doe",
        "other@rooms.example.org/x",
        "bot@example.org/r",
        "bot@example.org",
        "ünïcødé@exämple.org/ресурс",
    ];
    let invalid = vec![
        "",
        "@example.org",
        "a@b@c",
        "a@/r",
        "a@example.org/",
        "a b@example.org",
    ];
    prop_oneof![
        12 => prop::sample::select(valid).prop_map(str::to_owned),
        1 => prop::sample::select(invalid).prop_map(str::to_owned),
        1 => "[a-z@/. ]{0,20}",
        1 => (1020usize..1100).prop_map(|n| format!("{}@example.org", "l".repeat(n))),
    ]
}

fn stamp() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "2026-12-06T11:05:30Z",
            "2026-12-06T11:05:30.123+02:00",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-13-45T99:99:99Z",
            "yesterday",
            "",
        ])
        .prop_map(str::to_owned),
        "[0-9TZ:.+-]{0,25}",
    ]
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "https://example.org/f.pdf",
            "http://127.0.0.1:15280/file_share/x/y.png",
            "report.pdf",
            "",
            "  ",
            "https://example.org/a file.pdf",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "://x",
        ])
        .prop_map(str::to_owned),
        text(),
        (1usize..20_000).prop_map(|n| format!("https://example.org/{}", "u".repeat(n))),
    ]
}

/// A payload of a message: every kind the mapper reads, in good and bad forms, and unknown ones.
fn payload() -> impl Strategy<Value = Node> {
    let sid = "urn:xmpp:sid:0";
    prop_oneof![
        3 => body().prop_map(|t| Node::new("body", CLIENT).text(Some(t))),
        1 => text().prop_map(|t| Node::new("subject", CLIENT).text(Some(t))),
        1 => text().prop_map(|t| Node::new("thread", CLIENT).text(Some(t))),
        2 => opt(id()).prop_map(move |i| Node::new("origin-id", sid).attr("id", i)),
        1 => (opt(id()), opt(jid()))
            .prop_map(move |(i, by)| Node::new("stanza-id", sid).attr("id", i).attr("by", by)),
        1 => (opt(id()), opt(jid()))
            .prop_map(|(i, to)| Node::new("reply", crate::ns::NS_REPLY).attr("id", i).attr("to", to)),
        1 => opt(id()).prop_map(|i| Node::new("replace", "urn:xmpp:message-correct:0").attr("id", i)),
        1 => opt(id()).prop_map(|i| Node::new("retract", crate::ns::NS_RETRACT).attr("id", i)),
        1 => opt(text()).prop_map(|f| Node::new("fallback", crate::ns::NS_FALLBACK).attr("for", f)),
        2 => (stamp(), opt(jid()))
            .prop_map(|(s, from)| Node::new("delay", "urn:xmpp:delay").attr("stamp", Some(s)).attr("from", from)),
        1 => (opt(prop_oneof!["[a-z]{0,8}|\\PC{0,5}", (1usize..10_000).prop_map(|n| "n".repeat(n))]), text())
            .prop_map(|(name, json)| Node::new("signal", crate::ns::NS_SIGNAL).attr("name", name).text(Some(json))),
        1 => (Just("{\"a\":[1,2.5,null]}".to_owned()), opt("[a-z]{1,8}"))
            .prop_map(|(json, name)| Node::new("signal", crate::ns::NS_SIGNAL).attr("name", name).text(Some(json))),
        2 => (prop::collection::vec(url(), 0..3), opt(text())).prop_map(|(urls, desc)| {
            let mut x = Node::new("x", crate::ns::NS_OOB);
            for u in urls {
                x = x.child(Node::new("url", crate::ns::NS_OOB).text(Some(u)));
            }
            match desc {
                Some(d) => x.child(Node::new("desc", crate::ns::NS_OOB).text(Some(d))),
                None => x,
            }
        }),
        1 => prop::sample::select(vec!["active", "composing", "paused", "inactive", "gone", "typing"])
            .prop_map(|s| Node::new(s, "http://jabber.org/protocol/chatstates")),
        1 => Just(Node::new("request", crate::ns::NS_RECEIPTS)),
        1 => opt(id()).prop_map(|i| Node::new("received", crate::ns::NS_RECEIPTS).attr("id", i)),
        1 => muc_user(),
        1 => forms::form(),
        1 => error(),
        1 => unknown(),
    ]
}

/// MUC user data (XEP-0045): status codes, an invitation, an item.
fn muc_user() -> impl Strategy<Value = Node> {
    let ns = "http://jabber.org/protocol/muc#user";
    (
        prop::collection::vec(
            prop::sample::select(vec!["110", "100", "172", "201", "x"]),
            0..3,
        ),
        opt(jid()),
        opt(prop::sample::select(vec![
            "moderator",
            "participant",
            "visitor",
            "none",
            "",
        ])),
    )
        .prop_map(move |(codes, invite, role)| {
            let mut x = Node::new("x", ns);
            for code in codes {
                x = x.child(Node::new("status", ns).attr("code", Some(code.to_owned())));
            }
            if let Some(to) = invite {
                x = x.child(Node::new("invite", ns).attr("to", Some(to)));
            }
            if let Some(role) = role {
                x = x.child(Node::new("item", ns).attr("role", Some(role.to_owned())));
            }
            x
        })
}

/// A stanza error (RFC 6120 §8.3), well-formed or not.
fn error() -> impl Strategy<Value = Node> {
    let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
    (
        opt(prop::sample::select(vec![
            "cancel", "wait", "auth", "modify", "continue", "x",
        ])),
        opt(prop::sample::select(vec![
            "service-unavailable",
            "item-not-found",
            "forbidden",
            "resource-constraint",
            "no-such-condition",
        ])),
        opt(text()),
    )
        .prop_map(move |(kind, condition, text)| {
            let mut e = Node::new("error", CLIENT).attr("type", kind.map(str::to_owned));
            if let Some(c) = condition {
                e = e.child(Node::new(c, stanzas));
            }
            if let Some(t) = text {
                e = e.child(Node::new("text", stanzas).text(Some(t)));
            }
            e
        })
}

/// An element nobody asked for, in a namespace the session knows or not.
fn unknown() -> impl Strategy<Value = Node> {
    (
        prop::sample::select(vec!["x", "body", "html", "foo", "delay", "query"]),
        prop::sample::select(vec![
            "urn:example:unknown",
            "jabber:x:oob",
            "urn:xmpp:delay",
            "http://jabber.org/protocol/xhtml-im",
            CLIENT,
        ]),
        prop::collection::vec(("[a-z]{1,6}", text()), 0..3),
        opt(text()),
    )
        .prop_map(|(name, ns, attrs, text)| {
            let mut node = Node::new(name, ns).text(text);
            node.attrs = attrs;
            node
        })
}

/// The stanza-level attributes: from, to, type, id, and random extra ones.
fn header(name: &'static str, types: Vec<&'static str>) -> impl Strategy<Value = Node> {
    (
        opt(jid()),
        opt(jid()),
        opt(prop::sample::select(types)),
        opt(id()),
        prop::collection::vec(("[a-z]{1,6}", text()), 0..2),
    )
        .prop_map(move |(from, to, kind, id, extra)| {
            let mut node = Node::new(name, CLIENT)
                .attr("from", from)
                .attr("to", to)
                .attr("type", kind.map(str::to_owned))
                .attr("id", id);
            node.attrs.extend(extra);
            node
        })
}

fn message() -> impl Strategy<Value = Node> {
    (
        header(
            "message",
            vec![
                "chat",
                "normal",
                "headline",
                "groupchat",
                "error",
                "bogus",
                "",
            ],
        ),
        prop::collection::vec(payload(), 0..7),
    )
        .prop_map(|(mut m, children)| {
            m.children = children;
            m
        })
}

fn presence() -> impl Strategy<Value = Node> {
    let child = prop_oneof![
        prop::sample::select(vec!["away", "chat", "dnd", "xa", "busy", ""])
            .prop_map(|s| Node::new("show", CLIENT).text(Some(s.to_owned()))),
        text().prop_map(|t| Node::new("status", CLIENT).text(Some(t))),
        prop::sample::select(vec!["0", "-5", "200", "abc"])
            .prop_map(|p| Node::new("priority", CLIENT).text(Some(p.to_owned()))),
        (stamp(), opt(jid())).prop_map(|(s, from)| Node::new("delay", "urn:xmpp:delay")
            .attr("stamp", Some(s))
            .attr("from", from)),
        (
            opt("[a-z:/.]{0,20}"),
            opt("[A-Za-z0-9+/=]{0,30}"),
            opt(prop::sample::select(vec!["sha-1", "md5", "x"]))
        )
            .prop_map(|(node, ver, hash)| Node::new(
                "c",
                "http://jabber.org/protocol/caps"
            )
            .attr("node", node)
            .attr("ver", ver)
            .attr("hash", hash.map(str::to_owned))),
        muc_user(),
        error(),
        unknown(),
    ];
    (
        header(
            "presence",
            vec!["unavailable", "subscribe", "error", "probe"],
        ),
        prop::collection::vec(child, 0..5),
    )
        .prop_map(|(mut p, children)| {
            p.children = children;
            p
        })
}

fn iq() -> impl Strategy<Value = Node> {
    let query = prop_oneof![
        Just(Node::new("ping", "urn:xmpp:ping")),
        opt("[a-z:/.#]{0,30}").prop_map(|node| {
            Node::new("query", "http://jabber.org/protocol/disco#info").attr("node", node)
        }),
        Just(Node::new("query", "jabber:iq:version")),
        error(),
        unknown(),
    ];
    (
        header("iq", vec!["get", "set", "result", "error"]),
        prop::collection::vec(query, 0..3),
    )
        .prop_map(|(mut iq, children)| {
            iq.children = children;
            iq
        })
}

/// A good message from Alice, as a full-featured client sends it.
fn good(id: &str, body: &str) -> Node {
    Node::new("message", CLIENT)
        .attr("from", Some("alice@example.org/phone".into()))
        .attr("to", Some("bot@example.org".into()))
        .attr("type", Some("chat".into()))
        .attr("id", Some(id.into()))
        .child(Node::new("body", CLIENT).text(Some(body.into())))
        .child(Node::new("origin-id", "urn:xmpp:sid:0").attr("id", Some(id.into())))
        .child(
            Node::new("reply", crate::ns::NS_REPLY)
                .attr("id", Some("q-0".into()))
                .attr("to", Some("bot@example.org".into())),
        )
        .child(
            Node::new("delay", "urn:xmpp:delay").attr("stamp", Some("2026-12-06T11:05:30Z".into())),
        )
        .child(Node::new("active", "http://jabber.org/protocol/chatstates"))
}

/// How a good stanza is mutated.
#[derive(Debug, Clone)]
enum Mutation {
    RemoveChild(prop::sample::Index),
    DuplicateChild(prop::sample::Index),
    RemoveAttr(prop::sample::Index),
    SetAttr(&'static str, String),
    AddChild(Node),
    Text(prop::sample::Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::RemoveChild),
        any::<prop::sample::Index>().prop_map(Mutation::DuplicateChild),
        any::<prop::sample::Index>().prop_map(Mutation::RemoveAttr),
        (
            prop::sample::select(vec!["from", "to", "type", "id"]),
            prop_oneof![jid(), id(), text()]
        )
            .prop_map(|(name, value)| Mutation::SetAttr(name, value)),
        payload().prop_map(Mutation::AddChild),
        (any::<prop::sample::Index>(), text()).prop_map(|(i, t)| Mutation::Text(i, t)),
    ]
}

/// A good message, mutated a few times.
fn mutated() -> impl Strategy<Value = Node> {
    prop::collection::vec(mutation(), 1..5).prop_map(|mutations| {
        let mut m = good("good-m", "mutated");
        for mutation in mutations {
            match mutation {
                Mutation::RemoveChild(i) if !m.children.is_empty() => {
                    m.children.remove(i.index(m.children.len()));
                }
                Mutation::DuplicateChild(i) if !m.children.is_empty() => {
                    let copy = m.children[i.index(m.children.len())].clone();
                    m.children.push(copy);
                }
                Mutation::RemoveAttr(i) if !m.attrs.is_empty() => {
                    m.attrs.remove(i.index(m.attrs.len()));
                }
                Mutation::SetAttr(name, value) => {
                    m.attrs.retain(|(n, _)| n != name);
                    m.attrs.push((name.to_owned(), value));
                }
                Mutation::AddChild(child) => m.children.push(child),
                Mutation::Text(i, t) if !m.children.is_empty() => {
                    let n = m.children.len();
                    m.children[i.index(n)].text = Some(t);
                }
                _ => {}
            }
        }
        m
    })
}

/// Any stanza: arbitrary ones of each kind, and mutated good messages.
fn stanza() -> impl Strategy<Value = Node> {
    prop_oneof![3 => message(), 2 => mutated(), 2 => presence(), 1 => iq()]
}

/// What the mapper made of one stanza from the wire.
#[derive(Debug)]
enum Outcome {
    /// Not XML that parses back, or refused by xmpp-parsers: tokio-xmpp drops it.
    Dropped,
    /// Mapped (or answered, for an IQ); `expected`: it carries something, so it must give a
    /// signal or an error.
    Mapped {
        signal: Option<Box<Signal>>,
        expected: bool,
    },
}

/// Takes `node` the way a stanza from the wire goes: serialized, parsed again, parsed by
/// xmpp-parsers, then mapped.
fn feed(mapper: &Mapper, node: &Node) -> Outcome {
    let wire = String::from(&node.build());
    let Ok(element) = wire.parse::<Element>() else {
        return Outcome::Dropped;
    };
    match Stanza::try_from(element) {
        Err(_) => Outcome::Dropped,
        Ok(Stanza::Message(message)) => {
            let expected = carries_something(&message);
            Outcome::Mapped {
                signal: mapper.inbound_message(message).map(Box::new),
                expected,
            }
        }
        Ok(Stanza::Presence(presence)) => {
            let expected = presence_carries_something(&presence);
            let own = Jid::new("bot@example.org/r").ok();
            Outcome::Mapped {
                signal: mapper
                    .inbound_presence(presence, own.as_ref())
                    .map(Box::new),
                expected,
            }
        }
        Ok(Stanza::Iq(iq)) => {
            let request = matches!(iq, Iq::Get { .. } | Iq::Set { .. });
            let answer = answer_iq(iq, crate::config::ClientType::Bot);
            // Requests get an answer (a result or an error); results and errors none.
            assert_eq!(answer.is_some(), request, "{wire}");
            assert!(matches!(
                answer,
                None | Some(Iq::Result { .. } | Iq::Error { .. })
            ));
            Outcome::Mapped {
                signal: None,
                expected: false,
            }
        }
    }
}

/// A message that must give a signal or an error: an error, a body from anyone but the room's
/// own reflection or history, or a body in a room the session is not in (ignored by design).
fn carries_something(message: &Message) -> bool {
    let Some(from) = &message.from else {
        return true; // no sender: a system error
    };
    let room = tokio_xmpp::jid::BareJid::new(ROOM).expect("a JID");
    match message.type_ {
        MessageType::Error => true,
        MessageType::Groupchat => {
            from.to_bare() == room
                && from.resource().is_some_and(|nick| nick.as_str() != "bot")
                && !message.bodies.is_empty()
                && !is_room_history(message, &room)
        }
        MessageType::Chat | MessageType::Normal | MessageType::Headline => {
            !message.bodies.is_empty()
        }
    }
}

/// A presence that must give a signal or an error: an error with an id or from a room (a
/// contact's error without one is a bounce of the bot's broadcast presence, only traced), or a
/// contact's availability (not the bot's own echo, not a room occupant's, whose unchanged
/// presence shows nothing).
fn presence_carries_something(presence: &Presence) -> bool {
    let Some(from) = &presence.from else {
        return true;
    };
    if from.as_str() == "bot@example.org/r" {
        return false; // the server's echo of the bot's own presence
    }
    let in_room = from.to_bare().as_str() == ROOM;
    match presence.type_ {
        PresenceType::Error => in_room || presence.id.as_deref().is_some_and(|id| !id.is_empty()),
        PresenceType::None | PresenceType::Unavailable => !in_room,
        _ => false,
    }
}

/// Checks what came out of one stanza; `fresh`: it was the mapper's first (in a sequence, a
/// sender's repeat of an id it used already is rightly dropped).
fn check(outcome: &Outcome, fresh: bool) -> Result<(), TestCaseError> {
    let Outcome::Mapped { signal, expected } = outcome else {
        return Ok(());
    };
    let Some(signal) = signal else {
        prop_assert!(
            !(fresh && *expected),
            "nothing came of a stanza that carries something"
        );
        return Ok(());
    };
    match &signal.body {
        Body::SystemError(e) => {
            prop_assert_eq!(e.component.as_str(), "xmpp");
            prop_assert!(!e.message.is_empty());
            prop_assert!(
                e.message.len() <= MAX_ERROR,
                "a system error of {} bytes: {:.200}",
                e.message.len(),
                e.message
            );
        }
        _ => {
            prop_assert!(!signal.meta.id.as_str().is_empty());
            prop_assert!(signal.meta.origin.is_some(), "{signal:?}");
            prop_assert!(!signal.meta.addressees.is_empty(), "{signal:?}");
            prop_assert!(signal.meta.sent.is_some(), "{signal:?}");
        }
    }
    Ok(())
}

/// The text of a message signal with `id`, if that is what `outcome` is.
fn good_text(outcome: &Outcome, id: &str) -> Option<String> {
    match outcome {
        Outcome::Mapped {
            signal: Some(signal),
            ..
        } if signal.meta.id.as_str() == id => match &signal.body {
            Body::Message(m) => Some(m.text.clone()),
            _ => None,
        },
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_stanza_gives_a_signal_or_a_clear_error_and_never_panics(node in stanza()) {
        let mapper = mapper_in_room();
        check(&feed(&mapper, &node), true)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn bad_stanzas_between_good_ones_lose_none_of_them(
        bad in prop::collection::vec(stanza(), 1..5),
    ) {
        let mapper = mapper_in_room();
        for (n, mut bad) in bad.into_iter().enumerate() {
            // Someone else's: Alice's own repeat of an id would rightly be dropped.
            for (name, value) in &mut bad.attrs {
                if name == "from" && value.starts_with("alice@") {
                    *value = "mallory@example.org/x".into();
                }
            }
            let before = format!("good-{}", 2 * n + 1);
            let after = format!("good-{}", 2 * n + 2);
            let first = feed(&mapper, &good(&before, "before"));
            let heard = good_text(&first, &before);
            prop_assert_eq!(heard.as_deref(), Some("before"), "{:?}", first);
            let outcome = feed(&mapper, &bad);
            check(&outcome, false)?;
            let second = feed(&mapper, &good(&after, "after"));
            let heard = good_text(&second, &after);
            prop_assert_eq!(heard.as_deref(), Some("after"), "{:?}", second);
        }
    }
}

/// A message with an over-long name or attribute value somewhere (tokio-xmpp's parser refuses
/// more than 8 192 bytes as an error of the whole stream).
fn long_tokens() -> impl Strategy<Value = Node> {
    (
        1usize..10_000,
        1usize..10_000,
        prop::sample::select(vec!["v", "é", "&", "'", "\"", "<", "€x"]),
        message(),
    )
        .prop_map(|(name, value, unit, mut m)| {
            m.children.push(
                Node::new(&"n".repeat(name), "urn:example:x")
                    .attr("data", Some(unit.repeat(value)))
                    .child(Node::new(&"n".repeat(name), "urn:example:x")),
            );
            m
        })
}

/// Whether every name and attribute value in `node` is short enough that its serialized form
/// (escaped: at most six bytes a character) stays within the guard's limit.
fn all_short(node: &Node) -> bool {
    let short = |s: &str| s.chars().count() * 6 <= MAX_TOKEN;
    short(&node.name)
        && node.attrs.iter().all(|(n, v)| short(n) && short(v))
        && node.children.iter().all(all_short)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_guard_keeps_any_stanza_parsable_and_changes_only_what_is_too_long(
        node in prop_oneof![stanza(), long_tokens()],
        pieces in prop::collection::vec(1usize..3000, 1..6),
    ) {
        let wire = String::from(&node.build());
        let mut guard = Guard::default();
        let mut out = Vec::new();
        let mut rest = wire.as_bytes();
        for piece in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*piece).min(rest.len()));
            let mut chunk = chunk.to_vec();
            let kept = guard.filter(&mut chunk);
            out.extend_from_slice(&chunk[..kept]);
            rest = tail;
        }
        let out = String::from_utf8(out);
        prop_assert!(out.is_ok(), "characters cut in half");
        let out = out.unwrap_or_default();
        let parsed = out.parse::<Element>();
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        if all_short(&node) {
            prop_assert_eq!(out, wire);
        }
    }
}

#[test]
fn the_generators_reach_the_mapper() {
    // Most generated stanzas must get past xmpp-parsers, or the properties test little.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut mapped, mut signals, total) = (0, 0, 200);
    for _ in 0..total {
        let node = stanza().new_tree(&mut runner).unwrap().current();
        if let Outcome::Mapped { signal, .. } = feed(&mapper_in_room(), &node) {
            mapped += 1;
            signals += usize::from(signal.is_some());
        }
    }
    assert!(mapped * 2 > total, "only {mapped} of {total} parsed");
    assert!(
        signals * 4 > total,
        "only {signals} of {total} gave a signal"
    );
}
