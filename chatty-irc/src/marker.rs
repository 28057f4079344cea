//! The channels' history marks (see [`history`](crate::history)), written to the router's
//! journal in the background: one write at a time per channel, always its newest position. A
//! write per message would double the journal's writes on the way of every message, and a mark
//! that lags behind only makes a catch-up look at lines the journal drops as seen. Each position
//! is handed over after its message was handed on, and a mark goes through the journal's pipe
//! behind the signals before it, so a mark is never durable before the message it names.

use std::collections::HashMap;

use chatty_core::driver::Link;
use tokio::sync::watch;

/// The background writers of one connection's marks, one per mark name.
#[derive(Debug)]
pub(crate) struct Markers {
    link: Link,
    newest: HashMap<String, watch::Sender<String>>,
}

impl Markers {
    /// Markers writing through `link` (nothing is written without a journal).
    pub(crate) fn new(link: Link) -> Self {
        Markers {
            link,
            newest: HashMap::new(),
        }
    }

    /// Hands over `value` as the newest of mark `name`.
    pub(crate) fn advance(&mut self, name: String, value: String) {
        if let Some(newest) = self.newest.get(&name) {
            newest.send_replace(value);
            return;
        }
        let (newest, mut changes) = watch::channel(value);
        changes.mark_changed();
        let link = self.link.clone();
        let mark = name.clone();
        tokio::spawn(async move {
            // Ends once the markers are dropped (the connection ended), after the last write.
            while changes.changed().await.is_ok() {
                let value = changes.borrow_and_update().clone();
                if let Err(e) = link.set_mark(&mark, &value).await {
                    // The journal tells the bot itself when it fails; a mark not kept only
                    // means that a catch-up looks further back.
                    tracing::warn!("keeping the history mark {mark}: {e}");
                }
            }
        });
        self.newest.insert(name, newest);
    }
}
