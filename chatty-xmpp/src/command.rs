//! What `send` and `query` hand to the connection.

use tokio::sync::oneshot;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::iq::Iq;

use crate::archive::ArchiveAnswer;

/// What `send` and `query` hand to the connection, which owns the stanza stream.
pub(crate) enum Command {
    /// Stanzas to send.
    Send(Vec<Stanza>),
    /// Send an IQ request and hand its answer (a result or an error) back.
    Iq(Box<Iq>, oneshot::Sender<Iq>),
    /// Query the archive (MAM): the IQ, its query id, and where the results go.
    Archive(Box<Iq>, String, oneshot::Sender<ArchiveAnswer>),
}
