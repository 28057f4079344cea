//! What `send` and `query` hand to the connection, and how a send learns that the server has
//! its messages.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::stanzastream::{StanzaStage, StanzaToken};

use crate::archive::ArchiveAnswer;

/// How long a send waits for the server to acknowledge its messages before it returns all the
/// same (they stay in the session's keeping, to send again on a fresh stream).
pub(crate) const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// What `send` and `query` hand to the connection, which owns the stanza stream.
pub(crate) enum Command {
    /// Stanzas to send; with a sender, the send waits until the server has its messages.
    Send(Vec<Stanza>, Option<oneshot::Sender<Confirm>>),
    /// Send an IQ request and hand its answer (a result or an error) back.
    Iq(Box<Iq>, oneshot::Sender<Iq>),
    /// Query the archive (MAM): the IQ, its query id, and where the results go.
    Archive(Box<Iq>, String, oneshot::Sender<ArchiveAnswer>),
}

/// The messages of a send, on the stream, and the stage that says the server has them:
/// acknowledged (XEP-0198) where the stream has Stream Management, else written out.
pub(crate) struct Confirm {
    pub(crate) tokens: Vec<StanzaToken>,
    pub(crate) stage: StanzaStage,
}

impl Confirm {
    /// Waits until every message reached the stage, or [`CONFIRM_TIMEOUT`] passed. A message
    /// whose stream broke first is sent again on the fresh stream (the session keeps what the
    /// server did not acknowledge), so that ends the wait too.
    pub(crate) async fn wait(mut self) {
        let deadline = Instant::now() + CONFIRM_TIMEOUT;
        for token in &mut self.tokens {
            match tokio::time::timeout_at(deadline, token.wait_for(self.stage)).await {
                Ok(Some(state)) if StanzaStage::from(&state) == self.stage => {}
                Ok(_) => tracing::debug!(
                    "a message's stream broke before the server acknowledged it; it goes again on the fresh one"
                ),
                Err(_) => {
                    tracing::warn!(
                        "the server did not acknowledge a message within {CONFIRM_TIMEOUT:?}"
                    );
                    return;
                }
            }
        }
    }
}
