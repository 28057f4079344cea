//! What the server has not acknowledged yet (XEP-0198), to send again on a fresh stream.

use tokio_xmpp::stanzastream::StanzaStage;

/// Messages sent on the stream that the server has not acknowledged yet (XEP-0198), to send
/// again on a fresh stream when the old one could not be resumed.
#[derive(Default)]
pub(crate) struct Unacked {
    sent: std::collections::VecDeque<(
        tokio_xmpp::parsers::message::Message,
        tokio_xmpp::stanzastream::StanzaToken,
    )>,
    /// Whether the server ever acknowledged anything: without Stream Management nothing is
    /// acknowledged, and nothing can be known to be lost.
    acks_seen: bool,
}

/// The most messages kept for sending again.
const UNACKED_LIMIT: usize = 10_000;

impl Unacked {
    pub(crate) fn push(
        &mut self,
        stanza: tokio_xmpp::parsers::message::Message,
        token: tokio_xmpp::stanzastream::StanzaToken,
    ) {
        self.prune();
        if self.sent.len() >= UNACKED_LIMIT {
            self.sent.pop_front();
        }
        self.sent.push_back((stanza, token));
    }

    /// Forgets what the server acknowledged.
    fn prune(&mut self) {
        while let Some((_, token)) = self.sent.front() {
            if StanzaStage::from(&token.state()) == StanzaStage::Acked {
                self.acks_seen = true;
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// What was sent or failed but never acknowledged (what is still queued, tokio-xmpp sends
    /// itself).
    pub(crate) fn take_unacknowledged(&mut self) -> Vec<tokio_xmpp::parsers::message::Message> {
        self.prune();
        if !self.acks_seen {
            self.sent.clear();
            return Vec::new();
        }
        let (again, queued): (Vec<_>, Vec<_>) = self.sent.drain(..).partition(|(_, token)| {
            !matches!(
                StanzaStage::from(&token.state()),
                StanzaStage::Acked | StanzaStage::Queued
            )
        });
        self.sent.extend(queued);
        again.into_iter().map(|(stanza, _)| stanza).collect()
    }
}
