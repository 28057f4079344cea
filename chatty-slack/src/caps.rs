//! What the session carries: see the capability table in the crate documentation.

use chatty_core::{Capabilities, Features, Signals};

/// The session's capabilities, the same for every address.
pub(crate) const CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::PRESENCE)
        .union(Signals::IN_ROOM)
        .union(Signals::USER_DEFINED)
        .union(Signals::DOWNLOAD_FILE),
    Features::HTML
        .union(Features::ATTACHMENTS)
        .union(Features::REPLIES)
        .union(Features::EDITS)
        .union(Features::CHOICES)
        .union(Features::REACTIONS),
);
