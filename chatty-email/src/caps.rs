//! What the session carries: the capability table the router checks signals against and
//! answers capability queries from.

use chatty_core::{Capabilities, Features, Signals};

/// Messages with every feature but edits, files and user-defined signals; delivery reports
/// from SMTP acceptance and bounces. Questions with options degraded: numbered lines in the
/// text (an ordered list in the HTML), answered by text. No status changes: email has no
/// presence, rooms or typing, so the router refuses those at once (`SendError::Unsupported`).
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
)
.with_degraded(Features::CHOICES);

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

    #[test]
    fn choices_are_carried_degraded() {
        let question = chatty_core::Message::text("?")
            .with_choice(chatty_core::Choice::new("p").option("a", "A"));
        assert!(CAPABILITIES.check(&Signal::new(question)).is_ok());
        assert!(CAPABILITIES.degraded.contains(Features::CHOICES));
        assert!(!CAPABILITIES.features.contains(Features::CHOICES));
    }
}
