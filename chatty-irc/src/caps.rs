//! What the session can carry: IRC carries plain text, room presence, and typing, replies and
//! reactions where the server has message-tags; questions with options go as numbered lines.

use chatty_core::{Address, Capabilities, Features, Signals};

use crate::state::Live;

/// What the session can carry to `address` (any address when `None`), on the connection as it
/// is now: typing notifications need the server's `message-tags` capability, joining and
/// leaving need a channel.
pub(crate) fn capabilities(live: &Live, address: Option<&Address>) -> Capabilities {
    let mut signals = Signals::MESSAGE;
    let mut features = Features::ORDERED | Features::STATUS_MESSAGE;
    if live.has("message-tags") {
        signals |= Signals::TYPING;
        // A reply's `+draft/reply` tag; a reaction's `TAGMSG` with `+draft/react`.
        features |= Features::REPLIES | Features::REACTIONS;
    }
    if address.is_none_or(|a| live.is_channel(a.id())) {
        signals |= Signals::IN_ROOM;
    }
    // Servers relay what one client sends to one target in order (one TCP stream each way, and
    // server links keep order). A status message is a PART's reason (with typing it is not
    // sent).
    Capabilities::new(signals, features).with_degraded(Features::CHOICES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IrcConfig;
    use crate::state::Shared;
    use chatty_core::{Choice, Message, Signal};

    #[test]
    fn plain_text_rooms_and_typing_only_with_message_tags() {
        let shared = Shared::new(IrcConfig::new("s", "bot"));
        let room = shared.channel("#chat").unwrap();
        let alice = shared.person("alice").unwrap();
        let caps = capabilities(&shared.live(), Some(&room));
        assert_eq!(caps.signals, Signals::MESSAGE | Signals::IN_ROOM);
        assert_eq!(
            capabilities(&shared.live(), Some(&alice)).signals,
            Signals::MESSAGE
        );
        assert!(!caps.features.contains(Features::REPLIES));
        assert!(!caps.features.contains(Features::REACTIONS));
        shared.live().caps.insert("message-tags".into());
        let tagged = capabilities(&shared.live(), Some(&alice));
        assert!(tagged.signals.contains(Signals::TYPING));
        assert!(tagged.features.contains(Features::REPLIES));
        assert!(tagged.features.contains(Features::REACTIONS));
        let check = |m: Message| caps.check(&Signal::new(m));
        assert!(check(Message::text("hi")).is_ok());
        assert!(check(Message::text("hi").with_subject("s")).is_err());
        assert!(check(Message::text("hi").with_html("<b>hi</b>")).is_err());
        let question = Message::text("Which?").with_choice(Choice::new("q").option("a", "A"));
        assert!(check(question).is_ok());
    }
}
