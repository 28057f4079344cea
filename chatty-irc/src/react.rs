//! Reactions over IRCv3's client tag `+draft/react`
//! (<https://ircv3.net/specs/client-tags/react>): a `TAGMSG` to the conversation carrying the
//! reaction (`+draft/react=<key>`) and the `msgid` of the message reacted to
//! (`+draft/reply=<msgid>`), both ways, where the server has `message-tags`.
//!
//! A reaction names what it annotates by the server's `msgid`. The session knows the msgids of
//! the messages it was given (their signal id is the msgid) and, from their echoes
//! (echo-message), those of the bot's own messages, by the bot's signal id (a message split into
//! several lines: its last line's). A reaction to anything else is refused: IRC has nothing to
//! attach it to.

use std::time::Duration;

use chatty_core::session::Refusal;
use chatty_core::{AddressKind, Body, FailureKind, Message, Signal, SignalId};

use crate::proto::{Line, REPLY_TAG};
use crate::state::Shared;

/// The client tag carrying a reaction (an emoji, or a short text).
pub(crate) const REACT_TAG: &str = "+draft/react";

/// How long a reaction to a message of the bot waits for that message's echo (its msgid).
const ECHO_WAIT: Duration = Duration::from_secs(10);

/// How often it looks.
const EVERY: Duration = Duration::from_millis(10);

/// What a reaction `signal` annotates, when it is a reaction.
fn reacted_to(signal: &Signal) -> Option<&SignalId> {
    match &signal.body {
        Body::Message(m) if m.is_reaction() => m.edit.as_ref().map(|e| &e.of),
        _ => None,
    }
}

/// Waits, up to [`ECHO_WAIT`], while what the reaction `signal` annotates is a message of the
/// bot whose echo (with its msgid) has not come yet: a bot reacting at once to its own message.
pub(crate) async fn settle(shared: &Shared, signal: &Signal) {
    let Some(of) = reacted_to(signal) else {
        return;
    };
    let waiting = || {
        let ids = shared.msgids();
        ids.msgid(of.as_str()).is_none() && ids.is_pending(of.as_str())
    };
    let _ = tokio::time::timeout(ECHO_WAIT, async {
        while waiting() {
            tokio::time::sleep(EVERY).await;
        }
    })
    .await;
}

/// The `TAGMSG` lines carrying the reaction `message` to each of `targets`; refused when the
/// message reacted to has no msgid the session knows, or the reaction is empty.
pub(crate) fn lines(
    shared: &Shared,
    message: &Message,
    targets: &[(String, AddressKind)],
) -> Result<Vec<Line>, Refusal> {
    let rejected = |reason: String| Refusal::new(FailureKind::Rejected, reason);
    let of = message.edit.as_ref().map(|e| e.of.as_str()).unwrap_or("");
    let key = message.text.trim();
    if key.is_empty() {
        return Err(rejected("IRC cannot send an empty reaction".into()));
    }
    let msgid = shared
        .msgids()
        .msgid(of)
        .map(str::to_owned)
        .ok_or_else(|| {
            rejected(format!(
                "cannot react to {of}: not a message whose IRC msgid this session knows"
            ))
        })?;
    Ok(targets
        .iter()
        .map(|(target, _)| {
            Line::new("TAGMSG", [target.as_str()])
                .with_tag(REACT_TAG, Some(key))
                .with_tag(REPLY_TAG, Some(&msgid))
        })
        .collect())
}

/// A `TAGMSG` with `+draft/react` and `+draft/reply` from someone else: their reaction to the
/// message with that msgid, addressed as a `PRIVMSG` from them would be (to a channel: its
/// room; to the bot: the bot). The bot's own (echoed) reactions and reactions naming no
/// message are not news.
pub(crate) fn inbound(shared: &Shared, line: &Line) -> Option<Signal> {
    let source = line.source.as_ref()?;
    let target = line.param(0)?;
    let key = line.tag(REACT_TAG).filter(|k| !k.is_empty())?;
    let of = line
        .tag(REPLY_TAG)
        .or_else(|| line.tag("+reply"))
        .filter(|id| !id.is_empty())?;
    // Server notices (no user@host) carry no reactions.
    source.user.as_ref()?;
    let channel = {
        let live = shared.live();
        if live.is_own(&source.nick) {
            return None;
        }
        // STATUSMSG (`@#chat`) is still the channel's.
        let bare = target.strip_prefix(['@', '+', '%', '~', '&']);
        if live.is_channel(target) {
            Some(target)
        } else {
            bare.filter(|rest| live.is_channel(rest))
        }
    };
    let mut signal = Signal::new(Message::reaction(SignalId::from(of), key));
    if let Some(id) = line.tag("msgid").filter(|id| !id.is_empty()) {
        signal.meta.id = SignalId::from(id);
    }
    signal.meta.sent = line.tag("time").and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    signal.meta.received = Some(chatty_core::now());
    signal.meta.origin = Some(shared.person(&source.nick)?);
    match channel {
        Some(channel) => {
            let room = shared.channel(channel)?;
            signal.meta.addressees = vec![room.clone()];
            signal.meta.visible_to = vec![room];
        }
        None => signal.meta.addressees = shared.own().into_iter().collect(),
    }
    Some(signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IrcConfig;
    use chatty_core::EditKind;

    fn reaction(line: &str) -> Option<Signal> {
        let shared = Shared::new(IrcConfig::new("s", "bot"));
        inbound(&shared, &line.parse().unwrap())
    }

    #[test]
    fn a_tagmsg_with_react_is_a_reaction_addressed_as_a_privmsg() {
        let signal =
            reaction("@msgid=r1;+draft/react=👍;+draft/reply=m1 :alice!a@h TAGMSG #Chat").unwrap();
        let Body::Message(m) = &signal.body else {
            panic!("{signal:?}")
        };
        assert!(m.is_reaction());
        assert_eq!(m.text, "👍");
        let edit = m.edit.as_ref().unwrap();
        assert_eq!((edit.of.as_str(), edit.kind), ("m1", EditKind::Reaction));
        assert_eq!(signal.meta.id.as_str(), "r1");
        assert_eq!(signal.meta.origin.as_ref().unwrap().id(), "alice");
        assert_eq!(signal.meta.addressees[0].id(), "#chat");
        assert_eq!(signal.meta.visible_to[0].id(), "#chat");
        let private = reaction("@+draft/react=ok;+draft/reply=m2 :alice!a@h TAGMSG bot").unwrap();
        assert_eq!(private.meta.addressees[0].id(), "bot");
        assert!(private.meta.visible_to.is_empty());
        let statusmsg = reaction("@+draft/react=x;+draft/reply=m :a!a@h TAGMSG @#chat").unwrap();
        assert_eq!(statusmsg.meta.visible_to[0].id(), "#chat");
    }

    #[test]
    fn own_empty_unanchored_and_server_reactions_are_not_news() {
        for line in [
            "@+draft/react=👍;+draft/reply=m1 :bot!b@h TAGMSG #chat",
            "@+draft/react=;+draft/reply=m1 :alice!a@h TAGMSG #chat",
            "@+draft/react=👍 :alice!a@h TAGMSG #chat",
            "@+draft/react=👍;+draft/reply= :alice!a@h TAGMSG #chat",
            "@+draft/react=👍;+draft/reply=m1 :srv TAGMSG #chat",
            "@+draft/react=👍;+draft/reply=m1 :alice!a@h TAGMSG",
        ] {
            assert!(reaction(line).is_none(), "{line}");
        }
    }
}
