//! The channels the bot was kicked from, kept in the session's state while it tries to join
//! them again (the tries themselves: [`inbound`](crate::inbound)'s rejoin module).

use std::time::Instant;

/// A channel the bot was kicked from, and its tries to join it again.
#[derive(Debug)]
pub(crate) struct Rejoin {
    /// The channel's name as the server gave it.
    pub(crate) name: String,
    /// Tries so far (in this series of kicks).
    pub(crate) tries: u32,
    /// When the series began.
    pub(crate) since: Instant,
    /// A `JOIN` went (or waits to go) and has had no answer yet.
    pub(crate) pending: bool,
}
