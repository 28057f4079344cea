//! Whether an answer the bot sent just before its process stopped reached the server
//! ([`Protocol::sent`](chatty_core::driver::Protocol::sent)), asked by the router's journal
//! for an answer that may have left (recorded as leaving, not yet as gone).
//!
//! IRC has no idempotency key, but servers with `message-tags` relay client tags, and keep them
//! in a channel's history: each message of the bot carries its signal's id on its last line
//! ([`ID_TAG`](crate::history::ID_TAG)). Once the history of the channels an answer went to was
//! read on the new connection (replayed on join), an answer whose id is in it left; one whose id
//! is not did not. A private message has no history, and a server without `message-tags` keeps
//! no tags: the answer is then sent again (the platform cannot tell).

use std::time::Duration;

use chatty_core::{Body, Signal};

use crate::state::Shared;

/// How long the question waits for the channels' histories (the session connecting and
/// joining).
const WAIT: Duration = Duration::from_secs(15);

/// How often it looks.
const EVERY: Duration = Duration::from_millis(50);

/// Whether `signal`, a message of the bot, is in the history of the channels it went to.
pub(crate) async fn sent(shared: &Shared, signal: &Signal) -> Option<bool> {
    if !matches!(signal.body, Body::Message(_)) {
        return None;
    }
    let id = signal.meta.id.as_str();
    if shared.history().has_left(id) {
        return Some(true);
    }
    let targets: Vec<&str> = signal
        .meta
        .addressees
        .iter()
        .chain(&signal.meta.visible_to)
        .map(|a| a.id())
        .collect();
    let mut channels: Vec<String> = Vec::new();
    {
        let live = shared.live();
        for target in targets {
            if !live.is_channel(target) {
                // A private message: no history to look in.
                return None;
            }
            channels.push(live.fold(target));
        }
    }
    if channels.is_empty() {
        return None;
    }
    let read = tokio::time::timeout(WAIT, async {
        loop {
            {
                let history = shared.history();
                if history.has_left(id) || channels.iter().all(|c| history.was_read(c)) {
                    return;
                }
            }
            tokio::time::sleep(EVERY).await;
        }
    })
    .await;
    let left = shared.history().has_left(id);
    if left {
        return Some(true);
    }
    // Without the histories, or without tags in them, the server cannot tell.
    (read.is_ok() && shared.live().has("message-tags")).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IrcConfig;
    use chatty_core::{Address, Message};

    fn answer(to: &str) -> Signal {
        let mut signal = Signal::new(Message::text("hi"));
        signal.meta.id = "answer-1".into();
        signal.meta.addressees = vec![Address::new("irc", to).unwrap()];
        signal
    }

    #[tokio::test(start_paused = true)]
    async fn from_the_histories_of_its_channels() {
        let shared = Shared::new(IrcConfig::new("s", "bot"));
        shared.live().caps.insert("message-tags".into());
        // A private message: cannot tell.
        assert_eq!(sent(&shared, &answer("alice")).await, None);
        // The channel's history not read (no join yet): waits, then cannot tell.
        assert_eq!(sent(&shared, &answer("#chat")).await, None);
        // Read, without the id: it did not leave.
        let read: crate::proto::Line = "@batch=h;msgid=x :alice!a@h PRIVMSG #chat :hello"
            .parse()
            .unwrap();
        shared
            .history()
            .open("h", "chathistory", Some("#chat".into()));
        assert!(shared.history().hold(&read, None));
        shared.history().close("h", "bot", crate::history::ID_TAG);
        assert_eq!(sent(&shared, &answer("#chat")).await, Some(false));
        // Echoed, or seen in the history: it left.
        shared.history().left("answer-1");
        assert_eq!(sent(&shared, &answer("#chat")).await, Some(true));
    }
}
