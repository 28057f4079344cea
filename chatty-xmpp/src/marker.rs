//! The archive marks: the id of the last archived message the bot was given (handed on to the
//! router's journal), kept as the session's journal mark [`MARK`] for the account's archive, and
//! as [`room_mark`] for each room's (XEP-0313 in a MUC), so that a catch-up after a restart of
//! the process starts there.
//!
//! The mark is written in the background, one write at a time, always the newest id: a write
//! per message would double the journal's writes on the way of every message, and a mark that
//! lags behind only makes a catch-up fetch again what the journal drops as seen. Each id is
//! handed over only after its message was handed on, and a mark goes through the journal's pipe
//! behind the signals before it, so the mark is never durable before the message it names.

use std::collections::HashMap;

use chatty_core::driver::Link;
use tokio::sync::watch;
use tokio_xmpp::jid::BareJid;

/// The name of the session's journal mark: the archive id (XEP-0313) to catch up after.
pub(crate) const MARK: &str = "mam";

/// The mark's value meaning "the whole archive": the archive was empty when the session first
/// started, so everything in it came after.
pub(crate) const FROM_THE_START: &str = "";

/// The name of the journal mark of `room`'s archive: `mam:` and the room's bare JID.
pub(crate) fn room_mark(room: &BareJid) -> String {
    format!("{MARK}:{room}")
}

/// Writes the newest archive id handed to it as a journal mark, in the background.
#[derive(Debug)]
pub(crate) struct Marker {
    newest: watch::Sender<Option<String>>,
}

impl Marker {
    /// A marker writing the mark `name` through `link` (nothing is written without a journal).
    pub(crate) fn spawn(link: Link, name: String) -> Self {
        let (newest, mut changes) = watch::channel(None::<String>);
        tokio::spawn(async move {
            // Ends once the marker is dropped (the session ended), after its last write.
            while changes.changed().await.is_ok() {
                let Some(id) = changes.borrow_and_update().clone() else {
                    continue;
                };
                if let Err(e) = link.set_mark(&name, &id).await {
                    // The journal tells the bot itself when it fails; a mark not kept only
                    // means a longer catch-up.
                    tracing::warn!("keeping the archive mark {name}: {e}");
                }
            }
        });
        Marker { newest }
    }

    /// Hands over `id`, the archive id of a message that was handed on (or needed no signal).
    pub(crate) fn advance(&self, id: &str) {
        self.newest.send_replace(Some(id.to_owned()));
    }
}

/// The marks of the rooms' archives, one [`Marker`] for each room, made on its first id.
#[derive(Debug, Default)]
pub(crate) struct RoomMarkers {
    /// Where the marks go: `None` without a journal (nothing is written).
    link: Option<Link>,
    /// Each room's marker.
    markers: HashMap<BareJid, Marker>,
}

impl RoomMarkers {
    /// Markers writing through `link` (a router with a journal).
    pub(crate) fn new(link: Link) -> Self {
        RoomMarkers {
            link: Some(link),
            markers: HashMap::new(),
        }
    }

    /// Hands over `id`, the archive id in `room` of a message that was handed on (or needed no
    /// signal).
    pub(crate) fn advance(&mut self, room: &BareJid, id: &str) {
        let Some(link) = &self.link else {
            return;
        };
        self.markers
            .entry(room.clone())
            .or_insert_with(|| Marker::spawn(link.clone(), room_mark(room)))
            .advance(id);
    }
}
