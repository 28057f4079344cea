//! What `send` and `query` hand to the connection task.

use chatty_core::{SessionEnd, Signal};
use tokio::sync::oneshot;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::mam::Fin;

use crate::archive::ArchivedMessage;

/// What `send` hands to the connection task.
pub(crate) enum Command {
    /// Stanzas to send.
    Send(Vec<Stanza>),
    /// End the session.
    End(SessionEnd),
    /// Send an IQ request and hand its answer (a result or an error) back.
    Iq(Box<Iq>, oneshot::Sender<Iq>),
    /// Fetch a file for a `DownloadFile` signal.
    Download(Box<Signal>),
    /// Query the archive (MAM): the IQ, its query id, and where the results go.
    Archive(Box<Iq>, String, oneshot::Sender<ArchiveAnswer>),
}

/// The messages an archive query found, and how it ended; or why it failed.
pub(crate) type ArchiveAnswer = Result<(Vec<ArchivedMessage>, Fin), String>;
