//! What the session can carry: text with HTML, replies, edits, reactions, room presence and
//! typing; questions
//! with options go as numbered lines.

use chatty_core::{Capabilities, Features, Signals};

/// What the session carries, to any address: messages (text, HTML, `/me`, notices for
/// automatic messages, files and inline media), files and their download, replies, joining and leaving rooms (a leave's reason as the status
/// message), typing.
pub(crate) fn capabilities() -> Capabilities {
    // A send returns once the server put the event in the room's timeline, so messages sent
    // one after the other keep their order; the timeline is given in its order.
    Capabilities::new(
        Signals::MESSAGE
            | Signals::FILE
            | Signals::DOWNLOAD_FILE
            | Signals::PRESENCE
            | Signals::IN_ROOM
            | Signals::TYPING,
        Features::HTML
            | Features::ATTACHMENTS
            | Features::MEDIA
            | Features::REPLIES
            | Features::EDITS
            | Features::REACTIONS
            | Features::DELIVERY_REPORTS
            | Features::ORDERED
            | Features::STATUS_MESSAGE,
    )
    .with_degraded(Features::CHOICES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::{Choice, Message, Signal};

    #[test]
    fn text_html_replies_rooms_and_typing() {
        let caps = capabilities();
        let check = |m: Message| caps.check(&Signal::new(m));
        assert!(check(Message::text("hi")).is_ok());
        assert!(check(Message::text("hi").with_html("<b>hi</b>")).is_ok());
        assert!(check(Message::text("hi").with_subject("s")).is_err());
        let file = chatty_core::File::url("a.txt", None, "mxc://localhost/a");
        assert!(check(Message::text("hi").with_attachment(file.clone())).is_ok());
        assert!(caps.check(&Signal::new(file)).is_ok());
        let question = Message::text("Which?").with_choice(Choice::new("q").option("a", "A"));
        assert!(check(question).is_ok());
        assert!(caps.signals.contains(Signals::TYPING | Signals::IN_ROOM));
        assert!(caps.signals.contains(Signals::PRESENCE));
        assert!(
            caps.signals
                .contains(Signals::FILE | Signals::DOWNLOAD_FILE)
        );
    }
}
