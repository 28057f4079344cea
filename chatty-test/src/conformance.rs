//! The session conformance suite: what every session must do the same way.
//!
//! A protocol crate implements [`Pair`] (two fresh sessions that can reach each other: two
//! endpoints of a direct network, two XMPP accounts on a test server, two mailboxes) and calls
//! [`session_conformance_tests!`](crate::session_conformance_tests), which expands to one
//! `#[tokio::test]` per check below. Each check runs two [`Probe`] bots, one per session,
//! through a real [`Router`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::session::Session;
use chatty_core::{
    Address, Answer, Body, Content, DeliveryStatus, Features, File, Media, Message, Page, Query,
    QueryError, Router, SessionEnd, Signal, SignalId, SignalKind, Status, StatusChange,
    TypingState, UserDefined,
};
use tokio::task::JoinHandle;

use crate::probe::{Probe, ProbeRemote};

/// One side of a connected pair.
pub struct Side {
    /// The session serving that side's bot.
    pub session: Arc<dyn Session>,
    /// The address the other side reaches this side at.
    pub address: Address,
}

impl std::fmt::Debug for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Side")
            .field("session", &self.session.name())
            .field("address", &self.address)
            .finish()
    }
}

/// Two sessions that can reach each other, made fresh for each check.
pub trait Pair: Send + Sync + 'static {
    /// Two fresh, connected sessions (not yet running).
    fn connect(&self) -> BoxFuture<'_, (Side, Side)>;

    /// An address on side A's platform that does not exist, for the send-failure check; `None`
    /// skips that check (a platform that only learns of it much later, as email does).
    fn unknown_address(&self) -> Option<Address> {
        None
    }

    /// Whether the address `seen` (an origin or addressee as the platform shows it) names the
    /// party `side` (for XMPP, a full JID names the bare JID's party).
    fn same_party(&self, seen: &Address, side: &Address) -> bool {
        seen.matches(side) || side.matches(seen)
    }

    /// How long to wait for signals that must come.
    fn wait(&self) -> Duration {
        Duration::from_secs(10)
    }

    /// How long to watch for signals that must not come.
    fn settle(&self) -> Duration {
        Duration::from_millis(300)
    }

    /// Whether the receiver sees the id the sender gave a signal: the platform carries it (an
    /// XMPP stanza id, an email's `Message-ID`, Slack's message metadata, a direct connection's
    /// signal itself). A platform that carries no id of the sender's says `false`: IRC, whose
    /// receiver gets the id the server gave the line (the `msgid` tag) or a new one. The checks
    /// then match what arrived to what was sent by its text (and order, where promised), still
    /// require the receiver's ids to be unique, and check `response_to` only where it is kept.
    fn ids_kept(&self) -> bool {
        true
    }

    /// Whether the receiver sees the id the sender gave a reaction (by default as for other
    /// signals, [`ids_kept`](Pair::ids_kept)). Slack's reaction events carry the emoji's name
    /// and nothing of the sender's, though its messages keep their ids (in their metadata):
    /// the reaction's id is then not compared; its kind and key still are.
    fn reaction_ids_kept(&self) -> bool {
        self.ids_kept()
    }
}

/// Two probes running on a pair.
struct Running {
    a: ProbeRemote,
    b: ProbeRemote,
    a_side: Side,
    b_side: Side,
    tasks: Vec<JoinHandle<()>>,
}

async fn start<P: Pair>(pair: &P) -> Running {
    let (a_side, b_side) = pair.connect().await;
    let mut tasks = Vec::new();
    let mut remotes = Vec::new();
    for side in [&a_side, &b_side] {
        let (probe, mut remote) = Probe::new();
        remote.wait = pair.wait();
        let router = Router::new().shared_session(side.session.clone());
        tasks.push(tokio::spawn(async move {
            let _ = router.run(probe).await;
        }));
        remote.started().await;
        remotes.push(remote);
    }
    let b = remotes.pop().expect("two remotes");
    let a = remotes.pop().expect("two remotes");
    Running {
        a,
        b,
        a_side,
        b_side,
        tasks,
    }
}

impl Running {
    /// Ends both sessions and waits for the routers.
    async fn finish(mut self) {
        for remote in [&mut self.a, &mut self.b] {
            let handle = remote.handle().await;
            let _ = handle
                .send(Signal::new(Body::InitiateSessionEnd(SessionEnd::default())))
                .await;
        }
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    }

    /// The next signal B receives that is not lifecycle or a status change.
    async fn b_next_io(&self) -> Option<Signal> {
        next_io(&self.b).await
    }
}

/// `received` are `sent` (ids, or texts where the platform does not keep ids): in the same order
/// if A's session promises order to B ([`Features::ORDERED`]), else in any order.
fn assert_same_ids<T: Ord + std::fmt::Debug>(
    run: &Running,
    mut received: Vec<T>,
    mut sent: Vec<T>,
    what: &str,
) {
    let ordered = run
        .a_side
        .session
        .capabilities(Some(&run.b_side.address))
        .carries(Features::ORDERED);
    if ordered {
        assert_eq!(received, sent, "{what}: in order");
    } else {
        received.sort();
        sent.sort();
        assert_eq!(received, sent, "{what}: each once");
    }
}

async fn next_io(remote: &ProbeRemote) -> Option<Signal> {
    loop {
        let signal = remote.next().await?;
        // Presence, and room presence: a platform that opens a room for a conversation between
        // two (Matrix's direct chats) reports the joins to it.
        let presence = matches!(&signal.body, Body::StatusChange(c)
            if matches!(c.status, Status::Presence { .. } | Status::InRoom { .. }));
        if !ProbeRemote::is_lifecycle(&signal) && !presence {
            return Some(signal);
        }
    }
}

/// The first signal is `SessionStarted` from the session's own address; after an
/// `InitiateSessionEnd`, `SessionAboutToEnd` and `SessionEnded` come in that order, last, and
/// the inbound stream ends.
pub async fn lifecycle_in_order<P: Pair>(pair: &P) {
    let (side, _other) = pair.connect().await;
    let (probe, mut remote) = Probe::new();
    remote.wait = pair.wait();
    let platform = side.session.platform().to_owned();
    let router = Router::new().shared_session(side.session.clone());
    let task = tokio::spawn(async move { router.run(probe).await.map_err(|e| e.to_string()) });
    let first = remote.next().await.expect("a first signal");
    match &first.body {
        Body::SessionStarted(started) => assert_eq!(started.platform, platform),
        other => panic!("the first signal must be SessionStarted, got {other:?}"),
    }
    let own = first
        .meta
        .origin
        .clone()
        .expect("SessionStarted names the own address");
    assert_eq!(own.platform(), platform);

    let handle = remote.handle().await;
    handle
        .send(Signal::new(Body::InitiateSessionEnd(SessionEnd::because(
            "conformance",
        ))))
        .await
        .expect("the end request is accepted");
    let mut rest = Vec::new();
    while let Some(signal) = remote.next().await {
        rest.push(signal.kind());
    }
    let lifecycle: Vec<_> = rest
        .iter()
        .copied()
        .filter(|k| matches!(k, SignalKind::SessionAboutToEnd | SignalKind::SessionEnded))
        .collect();
    assert_eq!(
        lifecycle,
        [SignalKind::SessionAboutToEnd, SignalKind::SessionEnded],
        "{rest:?}"
    );
    assert_eq!(rest.last(), Some(&SignalKind::SessionEnded), "{rest:?}");
    let result = tokio::time::timeout(pair.wait(), task)
        .await
        .expect("the router ends once its session has ended")
        .expect("the router task does not panic");
    assert_eq!(result, Ok(()));
}

/// Ids are kept from sender to receiver, and every generated id is unique.
pub async fn ids_unique_and_kept<P: Pair>(pair: &P) {
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    let mut sent = Vec::new();
    let mut texts = Vec::new();
    for i in 0..10 {
        let text = format!("message {i}");
        let id = a
            .send(Signal::message(text.clone()).to(run.b_side.address.clone()))
            .await
            .expect("sent");
        sent.push(id);
        texts.push(text);
    }
    let mut received = Vec::new();
    let mut received_texts = Vec::new();
    for _ in 0..10 {
        let signal = run.b_next_io().await.expect("every message arrives");
        received.push(signal.meta.id.clone());
        received_texts.push(text_of(&signal));
    }
    if pair.ids_kept() {
        assert_same_ids(&run, received, sent.clone(), "ids kept");
    } else {
        assert_same_ids(&run, received_texts, texts, "every message once");
        let unique: HashSet<_> = received.iter().collect();
        assert_eq!(unique.len(), received.len(), "the receiver's ids unique");
    }
    let unique: HashSet<_> = sent.iter().collect();
    assert_eq!(unique.len(), sent.len(), "ids unique");
    run.finish().await;
}

/// A reply's `response_to` names the signal it answers, on the other side too, where the
/// replying session carries replies ([`Features::REPLIES`]) and the platform keeps ids
/// ([`Pair::ids_kept`]); elsewhere the answer arrives, naming no other signal.
pub async fn response_to_kept<P: Pair>(pair: &P) {
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    let b = run.b.handle().await;
    let asked = a
        .send(Signal::message("question").to(run.b_side.address.clone()))
        .await
        .expect("sent");
    let question = run.b_next_io().await.expect("the question arrives");
    let kept = pair.ids_kept();
    if kept {
        assert_eq!(question.meta.id, asked);
    }
    let answered = b
        .send(question.reply(Message::text("answer")))
        .await
        .expect("sent");
    let answer = next_io(&run.a).await.expect("the answer arrives");
    assert_eq!(text_of(&answer), "answer");
    let replies = run
        .b_side
        .session
        .capabilities(Some(&run.a_side.address))
        .carries(Features::REPLIES);
    if kept {
        assert_eq!(answer.meta.id, answered);
    }
    if kept && replies {
        assert_eq!(answer.meta.response_to, Some(asked));
    } else if let Some(to) = &answer.meta.response_to {
        assert!(
            *to == asked || *to == question.meta.id,
            "response_to {to} names a signal that was not asked"
        );
    }
    run.finish().await;
}

/// Origin, addressees, visible-to and times are filled in as the platform tells them.
pub async fn addresses_and_times_right<P: Pair>(pair: &P) {
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    a.send(Signal::message("hello").to(run.b_side.address.clone()))
        .await
        .expect("sent");
    let got = run.b_next_io().await.expect("arrives");
    let origin = got.meta.origin.as_ref().expect("origin is set");
    assert!(
        pair.same_party(origin, &run.a_side.address),
        "origin {origin} names A ({})",
        run.a_side.address
    );
    assert!(
        got.meta
            .addressees
            .iter()
            .any(|x| pair.same_party(x, &run.b_side.address)),
        "addressees {:?} include B ({})",
        got.meta.addressees,
        run.b_side.address
    );
    assert!(
        got.meta.visible_to.iter().all(|v| !v.kind().is_shared()),
        "a one-to-one message is not visible to a room: {:?}",
        got.meta.visible_to
    );
    assert!(got.meta.sent.is_some(), "sent time is set");
    assert!(got.meta.received.is_some(), "received time is set");
    run.finish().await;
}

/// The signals a check sends, one of each kind and message feature.
fn samples(to: &Address) -> Vec<(&'static str, Signal)> {
    let file = File::bytes(
        "hello.txt",
        Some("text/plain"),
        Bytes::from_static(b"hello file"),
    );
    let list = [
        ("plain message", Signal::message("plain")),
        (
            "message with subject",
            Signal::new(Message::text("body").with_subject("subject")),
        ),
        (
            "message with html",
            Signal::new(Message::text("bold").with_html("<b>bold</b>")),
        ),
        (
            "message with attachment",
            Signal::new(Message::text("see attached").with_attachment(file.clone())),
        ),
        (
            "message with inline media",
            Signal::new(
                Message::text("look").with_media(
                    Media::new(File::bytes(
                        "p.png",
                        Some("image/png"),
                        Bytes::from_static(b"\x89PNG"),
                    ))
                    .with_id("pic"),
                ),
            ),
        ),
        (
            "correction",
            Signal::new(Message::text("corrected").correcting("an-earlier-message".into())),
        ),
        (
            // Of the signal sent just before (see `REACTS_TO_PREVIOUS`).
            "reaction",
            Signal::new(Message::reaction(REACTS_TO_PREVIOUS.into(), "👍")),
        ),
        ("file", Signal::new(file)),
        (
            "user-defined",
            Signal::new(
                UserDefined::new("order", &serde_json_value()).expect("a JSON value serializes"),
            ),
        ),
        (
            "typing",
            Signal::new(StatusChange::new(Status::Typing {
                conversation: to.clone(),
                state: TypingState::Composing,
            })),
        ),
    ];
    list.into_iter()
        .map(|(name, signal)| {
            let signal = match &signal.body {
                Body::StatusChange(_) => signal,
                _ => signal.to(to.clone()),
            };
            (name, signal)
        })
        .collect()
}

/// The id a sample reaction names for the signal sent just before it, which the platform knows
/// (a reaction needs a message to annotate: Matrix relates it to the message's event).
const REACTS_TO_PREVIOUS: &str = "the-previous-signal";

fn serde_json_value() -> chatty_core::reexports::serde_json::Value {
    chatty_core::reexports::serde_json::json!({"item": "tea", "count": 2, "notes": ["hot"]})
}

/// Every signal is either delivered (same id, same kind, same content) or refused at once by
/// the send ([`SendError::Unsupported`](chatty_core::SendError::Unsupported)), as the session's
/// declared capabilities say; never both, never neither.
pub async fn every_signal_delivered_or_unsupported<P: Pair>(pair: &P) {
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    let to = run.b_side.address.clone();
    let mut previous: Option<SignalId> = None;
    for (name, mut signal) in samples(&to) {
        if let Body::Message(m) = &mut signal.body
            && let Some(edit) = &mut m.edit
            && edit.of.as_str() == REACTS_TO_PREVIOUS
        {
            edit.of = previous.clone().expect("a signal sent before the reaction");
        }
        let expected = run.a_side.session.capabilities(Some(&to)).check(&signal);
        let sent = a.send(signal.clone()).await;
        if let Ok(id) = &sent {
            previous = Some(id.clone());
        }
        match expected {
            Ok(()) => {
                let id = sent.unwrap_or_else(|e| panic!("{name}: carried per capabilities: {e}"));
                let got = run.b_next_io().await.unwrap_or_else(|| {
                    panic!("{name}: carried per capabilities, but not delivered")
                });
                let reaction = matches!(&signal.body, Body::Message(m) if m.is_reaction());
                let kept = if reaction {
                    pair.reaction_ids_kept()
                } else {
                    pair.ids_kept()
                };
                if kept {
                    assert_eq!(got.meta.id, id, "{name}: the same signal");
                }
                assert_eq!(got.kind(), signal.kind(), "{name}: the same kind");
                assert_same_content(name, &signal.body, &got.body);
            }
            Err(reason) => match sent {
                Err(chatty_core::SendError::Unsupported { .. }) => {}
                other => panic!("{name}: not carried ({reason}), but the send said {other:?}"),
            },
        }
    }
    let extra: Vec<_> = run
        .b
        .drain_for(pair.settle())
        .await
        .into_iter()
        .filter(|s| !ProbeRemote::is_lifecycle(s))
        .collect();
    assert!(
        extra
            .iter()
            .all(|s| matches!(&s.body, Body::StatusChange(c) if matches!(c.status, Status::Presence { .. }))),
        "nothing else arrives: {extra:?}"
    );
    let unsupported: Vec<_> = run
        .a
        .drain_for(pair.settle())
        .await
        .into_iter()
        .filter(|s| s.kind() == SignalKind::Unsupported)
        .collect();
    assert!(
        unsupported.is_empty(),
        "no stray Unsupported: {unsupported:?}"
    );
    run.finish().await;
}

/// A message's text, or `""` for any other signal.
fn text_of(signal: &Signal) -> String {
    match &signal.body {
        Body::Message(m) => m.text.trim_end().to_owned(),
        _ => String::new(),
    }
}

fn assert_same_content(name: &str, sent: &Body, got: &Body) {
    match (sent, got) {
        (Body::Message(s), Body::Message(g)) => {
            assert_eq!(g.text.trim_end(), s.text, "{name}: text");
            assert_eq!(g.subject, s.subject, "{name}: subject");
            if s.html.is_some() {
                assert!(g.html.is_some(), "{name}: html");
            }
            assert_eq!(
                g.attachments.iter().map(|f| &f.name).collect::<Vec<_>>(),
                s.attachments.iter().map(|f| &f.name).collect::<Vec<_>>(),
                "{name}: attachment names"
            );
            assert_eq!(g.media.len(), s.media.len(), "{name}: media");
            assert_eq!(
                g.edit.as_ref().map(|e| e.kind),
                s.edit.as_ref().map(|e| e.kind),
                "{name}: edit"
            );
            for (gf, sf) in g.attachments.iter().zip(&s.attachments) {
                assert_same_file(name, sf, gf);
            }
        }
        (Body::File(s), Body::File(g)) => assert_same_file(name, s, g),
        (Body::UserDefined(s), Body::UserDefined(g)) => assert_eq!(g, s, "{name}"),
        (Body::StatusChange(s), Body::StatusChange(g)) => {
            assert_eq!(
                std::mem::discriminant(&g.status),
                std::mem::discriminant(&s.status),
                "{name}"
            );
        }
        (s, g) => assert_eq!(g.kind(), s.kind(), "{name}"),
    }
}

/// Bytes may come back as a URL (platforms upload files); bytes that come back must be equal.
fn assert_same_file(name: &str, sent: &File, got: &File) {
    assert_eq!(got.name, sent.name, "{name}: file name");
    if let (Content::Bytes { data: s }, Content::Bytes { data: g }) = (&sent.content, &got.content)
    {
        assert_eq!(g, s, "{name}: file bytes");
    }
}

/// A burst of messages arrives exactly once each, in order where the session promises order
/// ([`Features::ORDERED`]).
pub async fn nothing_delivered_twice<P: Pair>(pair: &P) {
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    let mut sent = Vec::new();
    let mut texts = Vec::new();
    for i in 0..30 {
        let text = format!("burst {i}");
        sent.push(
            a.send(Signal::message(text.clone()).to(run.b_side.address.clone()))
                .await
                .expect("sent"),
        );
        texts.push(text);
    }
    let mut received = Vec::new();
    let mut received_texts = Vec::new();
    for _ in 0..30 {
        let signal = run.b_next_io().await.expect("arrives");
        received_texts.push(text_of(&signal));
        received.push(signal.meta.id);
    }
    if pair.ids_kept() {
        assert_same_ids(&run, received, sent, "a burst");
    } else {
        assert_same_ids(&run, received_texts, texts, "a burst");
    }
    let extra: Vec<SignalId> = run
        .b
        .drain_for(pair.settle())
        .await
        .into_iter()
        .filter(|s| s.kind() == SignalKind::Message)
        .map(|s| s.meta.id)
        .collect();
    assert!(extra.is_empty(), "delivered twice: {extra:?}");
    run.finish().await;
}

/// A signal to an address that does not exist comes back as a `SendFailure` naming it.
pub async fn unknown_addressee_fails<P: Pair>(pair: &P) {
    let Some(nobody) = pair.unknown_address() else {
        return;
    };
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    let id = a
        .send(Signal::message("anyone there?").to(nobody))
        .await
        .expect("sent");
    let failure = run
        .a
        .next_of(SignalKind::SendFailure)
        .await
        .expect("a SendFailure comes back");
    match &failure.body {
        Body::SendFailure(f) => assert_eq!(f.failed, id),
        _ => unreachable!("next_of returns the kind asked for"),
    }
    assert_eq!(failure.meta.response_to, Some(id));
    run.finish().await;
}

/// Each of the ten queries is answered with the right kind of answer, or refused with a typed
/// error; delivery status of a delivered signal is at least `Sent`.
pub async fn queries_answered_or_refused<P: Pair>(pair: &P) {
    let mut run = start(pair).await;
    let a = run.a.handle().await;
    let b_address = run.b_side.address.clone();
    let id = a
        .send(Signal::message("for the record").to(b_address.clone()))
        .await
        .expect("sent");
    run.b_next_io().await.expect("arrives");
    let queries = [
        Query::AddressKind {
            address: b_address.clone(),
        },
        Query::Members {
            address: b_address.clone(),
        },
        Query::Status {
            address: b_address.clone(),
        },
        Query::ReceivedFrom {
            address: b_address.clone(),
            page: Page::first(5),
        },
        Query::SentTo {
            address: b_address.clone(),
            page: Page::first(5),
        },
        Query::DeliveryStatus { id: id.clone() },
        Query::MemberStatus {
            member: b_address.clone(),
            channel: b_address.clone(),
        },
        Query::OwnStatus {
            channel: b_address.clone(),
        },
        Query::SupportedSignals {
            address: b_address.clone(),
        },
        Query::SupportedFeatures {
            address: b_address.clone(),
        },
    ];
    for query in queries {
        let kind = query.kind();
        match a.query(query).await {
            Ok(answer) => assert!(answer_fits(&kind, &answer), "{kind:?} answered {answer:?}"),
            Err(QueryError::NotSupported { query, .. }) => assert_eq!(query, kind),
            Err(QueryError::Failed { .. }) => {}
            Err(other) => panic!("{kind:?}: {other}"),
        }
    }
    match a.delivery_status(&id).await {
        Ok(status) => assert!(
            status.rank() >= DeliveryStatus::Sent.rank(),
            "a delivered signal is at least Sent: {status:?}"
        ),
        Err(e) => assert!(e.is_not_supported(), "{e}"),
    }
    assert!(a.supported_signals(&b_address).await.is_ok());
    assert!(a.supported_features(&b_address).await.is_ok());
    run.finish().await;
}

fn answer_fits(kind: &chatty_core::QueryKind, answer: &Answer) -> bool {
    use chatty_core::QueryKind as K;
    matches!(
        (kind, answer),
        (K::AddressKind, Answer::AddressKind { .. })
            | (K::Members, Answer::Members { .. })
            | (K::Status, Answer::Status(_))
            | (K::ReceivedFrom | K::SentTo, Answer::History(_))
            | (K::DeliveryStatus, Answer::DeliveryStatus(_))
            | (K::MemberStatus | K::OwnStatus, Answer::MemberStatus(_))
            | (K::SupportedSignals, Answer::SupportedSignals { .. })
            | (K::SupportedFeatures, Answer::SupportedFeatures { .. })
    )
}

/// Expands to one `#[tokio::test]` per conformance check, for the [`Pair`] that `$pair`
/// evaluates to.
///
/// ```ignore
/// chatty_test::session_conformance_tests!(DirectPair);
/// ```
#[macro_export]
macro_rules! session_conformance_tests {
    ($pair:expr) => {
        $crate::session_conformance_tests!(@tests $pair;
            lifecycle_in_order,
            ids_unique_and_kept,
            response_to_kept,
            addresses_and_times_right,
            every_signal_delivered_or_unsupported,
            nothing_delivered_twice,
            unknown_addressee_fails,
            queries_answered_or_refused,
        );
    };
    (@tests $pair:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::conformance::$check(&$pair).await;
            }
        )*
    };
}
