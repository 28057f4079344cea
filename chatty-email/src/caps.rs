//! What the session carries: the capability table the router checks signals against and
//! answers capability queries from.

use chatty_core::{Capabilities, Features, Signals};

/// Messages with every feature but edits, files and user-defined signals; delivery reports
/// from SMTP acceptance and bounces. No status changes: email has no presence, rooms or
/// typing, so the router refuses those at once (`SendError::Unsupported`).
pub(crate) const CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::USER_DEFINED),
    Features::SUBJECT
        .union(Features::HTML)
        .union(Features::MEDIA)
        .union(Features::ATTACHMENTS)
        .union(Features::REPLIES)
        .union(Features::DELIVERY_REPORTS),
);

#[cfg(test)]
mod tests {
    use chatty_core::Signal;

    use super::*;

    #[test]
    fn status_changes_are_not_carried() {
        let signal = Signal::new(chatty_core::StatusChange::new(
            chatty_core::Status::Presence {
                availability: chatty_core::Availability::Away,
            },
        ));
        assert!(CAPABILITIES.check(&signal).is_err());
        let edit = Signal::new(chatty_core::Message::text("x").correcting("y".into()));
        assert!(CAPABILITIES.check(&edit).is_err());
        assert!(CAPABILITIES.check(&Signal::message("x")).is_ok());
    }
}
