//! A proxy end to end on direct connections: a person on one network talks to an echo bot on
//! another through the proxy, with replies, failures and typing carried across.

use chatty_core::{
    Body, Bot, BotError, FailureKind, Handle, Inbound, Message, Router, Signal, Status,
    StatusChange, TypingState,
};
use chatty_direct::{Harness, Network, Person};
use chatty_proxy::Proxy;
use futures::StreamExt;

/// Echoes every message back as a reply, typing first.
struct Echo;

impl Bot for Echo {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if let Body::Message(m) = &signal.body {
                let origin = signal.meta.origin.clone().expect("origin");
                let typing = StatusChange::new(Status::Typing {
                    conversation: origin,
                    state: TypingState::Composing,
                });
                handle.send(signal.reply(typing)).await?;
                handle
                    .send(signal.reply(Message::text(format!("echo: {}", m.text))))
                    .await?;
            }
        }
        Ok(())
    }
}

/// A local network with the proxy and alice, and a far network with the echo bot.
async fn setup(remote_name: &str) -> (Network, Harness, Person) {
    let local = Network::named("near");
    let far = Network::named("far");
    let echo = Harness::start_on(far.clone(), "echo", Echo).await;
    let router = Router::new()
        .session(local.endpoint("proxy"))
        .session(far.endpoint("proxy"));
    let remote = far.address(remote_name);
    tokio::spawn(async move {
        let _ = router.run(Proxy::new(remote)).await;
    });
    let alice = Person::join(&local, "alice").await;
    (local, echo, alice)
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
