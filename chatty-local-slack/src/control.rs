//! What the server tells a socket's task (the workspace wakes it, faults are injected).

/// What the server tells one socket's task.
#[derive(Debug)]
pub(crate) enum Control {
    /// New events are queued: deliver them.
    Wake,
    /// Send `{"type": "disconnect", "reason": …}`, deliver nothing more on this socket, and
    /// close it after a short grace period (or when the client closes it first).
    Disconnect(String),
    /// Drop the connection at once, without a close frame (a network failure).
    Kill,
    /// Send this text frame as it is (fault injection).
    Raw(String),
}
