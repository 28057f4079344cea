//! What a line read from the server asks of the serving loop, beside the session's state it
//! changes: the mapping's ([`map`](super::map)) and the rejoin tries' ([`rejoin`](super::rejoin))
//! answer.

use chatty_core::{DeliveryStatus, Signal, SignalId};

use crate::proto::Line;

/// What a line asks of the serving loop.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Give the bot this signal.
    Push(Box<Signal>),
    /// Send this line (a `PONG`).
    Send(Line),
    /// The server echoed a line the bot sent: this signal reached the server.
    Confirmed(SignalId),
    /// A signal of the bot failed (its new delivery status).
    Failed(SignalId, DeliveryStatus),
    /// The server closes the connection (`ERROR`), with its words.
    Closing(String),
    /// The bot joined this channel (folded name): its history position must be known before
    /// the lines that follow (a history batch) are mapped.
    Joined(String),
    /// The server takes `CHATHISTORY` requests: ask who wrote to the bot in private since the
    /// private conversations' position (`CHATHISTORY TARGETS`).
    Targets,
    /// This nick (folded) wrote to the bot while it was away (an answer to `CHATHISTORY
    /// TARGETS`): ask for what came after its conversation's position.
    Target(String),
    /// Set the journal mark (name, value), behind the signals before it.
    Mark(String, String),
    /// Tell the bot of a problem (a `SystemError`), the connection going on.
    Report(String),
    /// Send this line (a `JOIN` after a kick) once this long has passed, on this connection.
    Rejoin(std::time::Duration, Line),
}

impl Effect {
    /// Whether it tells the bot of a problem.
    pub(crate) fn is_report(&self) -> bool {
        matches!(self, Effect::Report(_))
    }
}
