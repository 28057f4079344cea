//! A proxy end to end on direct connections: a person on one network talks to an echo bot on
//! another through the proxy, with replies, failures and typing carried across.

use std::time::Duration;

use chatty_core::{
    Address, Body, Bot, BotError, Capabilities, FailureKind, Features, File, Handle, Inbound,
    Message, Router, SendFailure, Signal, SignalId, Signals, Status, StatusChange, TypingState,
};
use chatty_direct::{Harness, Network, Person};
use chatty_proxy::Proxy;
use futures::StreamExt;
use tokio::sync::mpsc;

/// What the echo bot did and heard, for the tests that look at the remote side.
#[derive(Debug)]
enum Heard {
    /// It sent a typing notification with this id.
    Typing(SignalId),
    /// A send failure reached it.
    Failure(SendFailure),
}

/// Echoes every message back as a reply, typing first; tells the test what it did and heard.
struct Echo(Option<mpsc::UnboundedSender<Heard>>);

impl Bot for Echo {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let tell = |heard| {
            if let Some(tx) = &self.0 {
                let _ = tx.send(heard);
            }
        };
        while let Some(signal) = inbound.next().await {
            match &signal.body {
                Body::Message(m) => {
                    let origin = signal.meta.origin.clone().expect("origin");
                    let typing = StatusChange::new(Status::Typing {
                        conversation: origin,
                        state: TypingState::Composing,
                    });
                    tell(Heard::Typing(handle.send(signal.reply(typing)).await?));
                    handle
                        .send(signal.reply(Message::text(format!("echo: {}", m.text))))
                        .await?;
                }
                Body::SendFailure(f) => tell(Heard::Failure(f.clone())),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A local network with the proxy and alice, and a far network with the echo bot.
async fn setup(remote_name: &str) -> (Network, Harness, Person) {
    let local = Network::named("near");
    let far = Network::named("far");
    let echo = Harness::start_on(far.clone(), "echo", Echo(None)).await;
    start_proxy(&local, &far, far.address(remote_name));
    let alice = Person::join(&local, "alice").await;
    (local, echo, alice)
}

/// Serves a proxy for `remote` on both networks, as `proxy`.
fn start_proxy(local: &Network, far: &Network, remote: Address) {
    let router = Router::new()
        .session(local.endpoint("proxy"))
        .session(far.endpoint("proxy"));
    tokio::spawn(async move {
        let _ = router.run(Proxy::new(remote)).await;
    });
}

/// [`setup`], with the echo bot able to receive only `echo_caps` and alice only `alice_caps`,
/// and a channel hearing what the echo bot did and heard.
async fn setup_with(
    echo_caps: Capabilities,
    alice_caps: Capabilities,
) -> (Network, Person, mpsc::UnboundedReceiver<Heard>) {
    let local = Network::named("near");
    let far = Network::named("far");
    let (tx, heard) = mpsc::unbounded_channel();
    let echo = Router::new().session(far.endpoint_with("echo", echo_caps));
    tokio::spawn(async move {
        let _ = echo.run(Echo(Some(tx))).await;
    });
    start_proxy(&local, &far, far.address("echo"));
    let alice = Person::join(&local, "alice").await;
    // What alice's endpoint can receive (her session is running already).
    drop(local.endpoint_with("alice", alice_caps));
    (local, alice, heard)
}

/// The send failure that must come next to alice, skipping status changes.
async fn next_failure(alice: &Person) -> SendFailure {
    let signal = next_message(alice).await;
    match signal.body {
        Body::SendFailure(f) => {
            assert_eq!(signal.meta.response_to.as_ref(), Some(&f.failed));
            f
        }
        other => panic!("expected a send failure, got {other:?}"),
    }
}

/// The next message alice gets, skipping status changes.
async fn next_message(alice: &Person) -> Signal {
    loop {
        let signal = alice.next().await.expect("alice's connection is open");
        match &signal.body {
            Body::StatusChange(_) => continue,
            _ => return signal,
        }
    }
}

#[tokio::test]
async fn a_question_through_the_proxy_gets_its_answer_with_response_to_kept() {
    let (local, _echo, alice) = setup("echo").await;
    let proxy = local.address("proxy");
    for i in 0..20 {
        let asked = alice.say(&proxy, format!("ping {i}")).await;
        let answer = next_message(&alice).await;
        let Body::Message(m) = &answer.body else {
            panic!("expected a message, got {answer:?}")
        };
        assert_eq!(m.text, format!("echo: ping {i}"));
        assert_eq!(answer.meta.response_to.as_ref(), Some(&asked));
        assert_eq!(answer.meta.origin.as_ref(), Some(&proxy));
    }
}

#[tokio::test]
async fn the_remote_typing_shows_as_the_proxy_typing() {
    let (local, _echo, alice) = setup("echo").await;
    let proxy = local.address("proxy");
    alice.say(&proxy, "hello").await;
    let typing = alice.next().await.unwrap();
    let Body::StatusChange(change) = &typing.body else {
        panic!("expected typing first, got {typing:?}")
    };
    assert!(
        matches!(
            &change.status,
            Status::Typing {
                state: TypingState::Composing,
                ..
            }
        ),
        "{change:?}"
    );
    assert_eq!(typing.meta.origin.as_ref(), Some(&proxy));
}

#[tokio::test]
async fn a_remote_address_that_does_not_exist_is_a_send_failure_for_the_local_signal() {
    let (local, _echo, alice) = setup("nobody").await;
    let asked = alice.say(&local.address("proxy"), "anyone?").await;
    let failure = next_message(&alice).await;
    let Body::SendFailure(f) = &failure.body else {
        panic!("expected a send failure, got {failure:?}")
    };
    assert_eq!(f.failed, asked);
    assert_eq!(f.kind, FailureKind::UnknownAddressee);
}

#[tokio::test]
async fn a_remote_address_no_session_serves_is_a_send_failure_and_the_proxy_goes_on() {
    let local = Network::named("near");
    let router = Router::new().session(local.endpoint("proxy"));
    let remote: Address = "xmpp:echo@example.org".parse().unwrap();
    tokio::spawn(async move {
        let _ = router.run(Proxy::new(remote)).await;
    });
    let alice = Person::join(&local, "alice").await;
    let proxy = local.address("proxy");
    // The router refuses each forward at once (no XMPP session); the proxy tells alice, every
    // time: it does not stop on a refusal.
    for text in ["anyone?", "still nobody?"] {
        let asked = alice.say(&proxy, text).await;
        let f = next_failure(&alice).await;
        assert_eq!((f.failed, f.kind), (asked, FailureKind::UnknownAddressee));
        assert!(f.message.contains("xmpp:echo@example.org"), "{}", f.message);
    }
}

#[tokio::test]
async fn a_signal_the_remote_side_cannot_carry_is_a_send_failure_for_the_local_signal() {
    let messages_only = Capabilities::new(Signals::MESSAGE | Signals::TYPING, Features::empty());
    let (local, alice, _heard) = setup_with(messages_only, Capabilities::all()).await;
    let proxy = local.address("proxy");
    let file = Signal::new(File::bytes("a.txt", Some("text/plain"), &b"hi"[..])).to(proxy.clone());
    let sent = alice.send(file).await.unwrap();
    let f = next_failure(&alice).await;
    assert_eq!((f.failed, f.kind), (sent, FailureKind::Rejected));
    assert!(f.message.contains("files"), "{}", f.message);
    // A message still goes through.
    let asked = alice.say(&proxy, "ping").await;
    let answer = next_message(&alice).await;
    assert_eq!(answer.meta.response_to.as_ref(), Some(&asked));
}

#[tokio::test]
async fn a_relayed_signal_the_local_side_cannot_carry_is_a_send_failure_for_the_remote_bot() {
    let no_typing = Capabilities::new(Signals::all() - Signals::TYPING, Features::all());
    let (local, alice, mut heard) = setup_with(Capabilities::all(), no_typing).await;
    alice.say(&local.address("proxy"), "hello").await;
    // Alice gets the answer; the typing before it was refused on her side.
    let answer = next_message(&alice).await;
    assert!(matches!(&answer.body, Body::Message(m) if m.text == "echo: hello"));
    let wait = Duration::from_secs(10);
    let Some(Heard::Typing(typing)) = tokio::time::timeout(wait, heard.recv()).await.unwrap()
    else {
        panic!("the echo bot types first")
    };
    // The echo bot hears that its typing notification did not arrive, by its own id.
    let failure = tokio::time::timeout(wait, heard.recv()).await.unwrap();
    let Some(Heard::Failure(f)) = failure else {
        panic!("expected a send failure, got {failure:?}")
    };
    assert_eq!((f.failed, f.kind), (typing, FailureKind::Rejected));
    assert!(f.message.contains("typing"), "{}", f.message);
}
