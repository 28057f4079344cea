//! Built-in bots for operators and tests: an echo bot and a relay.

use chatty_core::{Address, Body, Bot, BotError, Handle, Inbound, Signal};
use futures::StreamExt;

/// Answers every message with everything it carried (text, subject, HTML, media, attachments),
/// to everyone who saw it ([`Signal::reply_all`]: in a room the room, in a one-to-one chat the
/// person, in a mail the sender and the other recipients as copies); files and user-defined
/// signals come back unchanged. Typing, presence and edits are not answered, and neither is
/// anything a machine sent ([`Signal::is_automatic`]: an out-of-office, a bounce, a list,
/// another bot), so that two responders never answer each other forever.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use chatty::direct::Harness;
///
/// let harness = Harness::start(chatty::EchoBot).await;
/// harness.say("hello").await;
/// let (_, reply) = harness.expect_message().await;
/// assert_eq!(reply.text, "hello");
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoBot;

impl Bot for EchoBot {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if signal.is_automatic() {
                continue;
            }
            let answer = match &signal.body {
                Body::Message(m) if m.edit.is_none() => signal.body.clone(),
                Body::File(_) | Body::UserDefined(_) => signal.body.clone(),
                _ => continue,
            };
            // A refusal (an addressee that cannot take a file, the answer limit) skips this
            // answer; only a closed connection ends the bot.
            match handle.send(signal.reply_all(answer)).await {
                Err(e) if e.is_closed() => break,
                Err(e) => tracing::debug!("echo bot: not answered: {e}"),
                Ok(_) => {}
            }
        }
        Ok(())
    }
}

/// Passes signals between pairs of addresses, both ways: what one says (a message, a file, a
/// user-defined signal) goes to the other, a message's text labelled with who said it unless
/// labels are off. What a machine sent ([`Signal::is_automatic`]) is not passed on: relayed to
/// another responder, an out-of-office would start a loop.
///
/// ```
/// use chatty::RelayBot;
///
/// let relay = RelayBot::new()
///     .pair("xmpp:alice@example.org".parse().unwrap(), "email:bob@example.org".parse().unwrap());
/// # let _ = relay;
/// ```
#[derive(Debug, Clone)]
pub struct RelayBot {
    pairs: Vec<(Address, Address)>,
    label: bool,
}

impl Default for RelayBot {
    fn default() -> Self {
        RelayBot::new()
    }
}

impl RelayBot {
    /// A relay with no pairs yet, labelling relayed text.
    pub fn new() -> Self {
        RelayBot {
            pairs: Vec::new(),
            label: true,
        }
    }

    /// Relays between `a` and `b`, both ways.
    #[must_use]
    pub fn pair(mut self, a: Address, b: Address) -> Self {
        self.pairs.push((a, b));
        self
    }

    /// Whether relayed text starts with who said it (`alice@example.org: hi`).
    #[must_use]
    pub fn label(mut self, label: bool) -> Self {
        self.label = label;
        self
    }

    /// Where a signal from `origin` goes.
    fn targets(&self, origin: &Address) -> Vec<Address> {
        let mut out = Vec::new();
        for (a, b) in &self.pairs {
            if a.matches(origin) {
                out.push(b.clone());
            }
            if b.matches(origin) {
                out.push(a.clone());
            }
        }
        out
    }

    fn relayed(&self, signal: &Signal, origin: &Address) -> Option<Body> {
        match &signal.body {
            Body::Message(m) => {
                let mut m = m.clone();
                // An edit refers to an id the other side never saw.
                m.edit = None;
                if self.label {
                    m.text = format!("{}: {}", origin.id(), m.text);
                }
                Some(Body::Message(m))
            }
            Body::File(_) | Body::UserDefined(_) => Some(signal.body.clone()),
            _ => None,
        }
    }
}

impl Bot for RelayBot {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if signal.is_automatic() {
                continue;
            }
            let Some(origin) = signal.meta.origin.clone() else {
                continue;
            };
            let Some(body) = self.relayed(&signal, &origin) else {
                continue;
            };
            for target in self.targets(&origin) {
                match handle.send(Signal::new(body.clone()).to(target)).await {
                    Err(e) if e.is_closed() => return Ok(()),
                    Err(e) => tracing::debug!("relay bot: not relayed: {e}"),
                    Ok(_) => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "direct"))]
mod tests {
    use super::*;
    use chatty_core::Message;
    use chatty_direct::{Harness, Network, Person};

    #[tokio::test]
    async fn echo_answers_messages_files_and_user_defined_signals() {
        let harness = Harness::start(EchoBot).await;
        let asked = harness
            .send(Signal::new(Message::text("hi").with_subject("s")))
            .await
            .unwrap();
        let (signal, reply) = harness.expect_message().await;
        assert_eq!(
            (reply.text.as_str(), reply.subject.as_deref()),
            ("hi", Some("s"))
        );
        assert_eq!(signal.meta.response_to, Some(asked));
        let payload = chatty_core::UserDefined::new("ping", &1).unwrap();
        harness.send(Signal::new(payload.clone())).await.unwrap();
        let back = harness.next().await.unwrap();
        assert_eq!(back.body, Body::UserDefined(payload));
    }

    #[tokio::test]
    async fn echo_answers_with_everything_a_message_carried() {
        let harness = Harness::start(EchoBot).await;
        let report = chatty_core::File::bytes("report.pdf", Some("application/pdf"), &b"%PDF"[..]);
        let logo = chatty_core::File::bytes("logo.png", Some("image/png"), &b"\x89PNG"[..]);
        let message = Message::text("see attached")
            .with_subject("Report")
            .with_html("<p>see <img src=\"cid:logo\"></p>")
            .with_media(chatty_core::Media::new(logo).with_id("logo"))
            .with_attachment(report);
        harness.send(Signal::new(message.clone())).await.unwrap();
        let (_, reply) = harness.expect_message().await;
        assert_eq!(reply, message);
    }

    #[tokio::test]
    async fn echo_never_answers_what_a_machine_sent() {
        let harness = Harness::start(EchoBot).await;
        for automatic in [
            chatty_core::Automatic::Replied,
            chatty_core::Automatic::Generated,
            chatty_core::Automatic::Bulk,
            chatty_core::Automatic::Report,
            chatty_core::Automatic::Bot,
        ] {
            let mut out_of_office = Signal::message("I am away");
            out_of_office.meta.automatic = Some(automatic);
            harness.send(out_of_office).await.unwrap();
        }
        harness.say("are you there?").await;
        // The first answer is the person's: nothing was answered before it.
        let (_, reply) = harness.expect_message().await;
        assert_eq!(reply.text, "are you there?");
    }

    #[tokio::test]
    async fn relay_passes_nothing_a_machine_sent() {
        let network = Network::new();
        let relay = RelayBot::new().pair(network.address("alice"), network.address("bob"));
        let _harness = Harness::start_on(network.clone(), "relay", relay).await;
        let alice = Person::join(&network, "alice").await;
        let bob = Person::join(&network, "bob").await;
        let relay = network.address("relay");
        let mut away = Signal::message("I am away").to(relay.clone());
        away.meta.automatic = Some(chatty_core::Automatic::Replied);
        alice.send(away).await.unwrap();
        alice.say(&relay, "hi bob").await;
        let (_, m) = bob.expect_message().await;
        assert_eq!(m.text, "alice: hi bob");
    }

    #[tokio::test]
    async fn relay_passes_both_ways_with_labels() {
        let network = Network::new();
        let relay = RelayBot::new().pair(network.address("alice"), network.address("bob"));
        let _harness = Harness::start_on(network.clone(), "relay", relay).await;
        let alice = Person::join(&network, "alice").await;
        let bob = Person::join(&network, "bob").await;
        let relay = network.address("relay");
        alice.say(&relay, "hi bob").await;
        let (_, m) = bob.expect_message().await;
        assert_eq!(m.text, "alice: hi bob");
        bob.say(&relay, "hi alice").await;
        let (_, m) = alice.expect_message().await;
        assert_eq!(m.text, "bob: hi alice");
    }
}
