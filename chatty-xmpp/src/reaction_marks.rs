//! The reaction memory ([`Reactions`](crate::reactions::Reactions)) in the router's journal:
//! read from its marks when a journaled session first connects, and each change written as a
//! mark, in order after the signals that made it, so a change is never durable without them.

use chatty_core::driver::Link;
use chatty_core::session::Closed;

use crate::mapper::Mapper;

/// Fills the memory from the journal's marks (after a restart). A mark that cannot be read or
/// parsed is left out with a warning: the memory then starts without it, as it did before it
/// was kept.
pub(crate) async fn restore(mapper: &Mapper, link: &Link) {
    let names = mapper.reactions().mark_names();
    let mut marks = Vec::new();
    for name in names {
        match link.mark(&name).await {
            Ok(Some(value)) => marks.push((name, value)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("reading the reaction memory from the journal: {e}");
                return;
            }
        }
    }
    for error in mapper.reactions().restore(&marks) {
        tracing::warn!("{error}");
    }
}

/// Keeps what changed in the senders' sets; call once the signals of the change were handed
/// on. `Err` once the session is ending (the journal's pipe is gone).
pub(crate) async fn keep_seen(mapper: &Mapper, link: &Link) -> Result<(), Closed> {
    let changes = mapper.reactions().take_seen_changes();
    for (name, value) in changes {
        link.feed_mark(&name, &value).await?;
    }
    Ok(())
}

/// Keeps what changed in the bot's own sets; call once the stanza is handed to the connection.
pub(crate) async fn keep_sent(mapper: &Mapper, link: &Link) -> Result<(), Closed> {
    let changes = mapper.reactions().take_sent_changes();
    for (name, value) in changes {
        link.feed_mark(&name, &value).await?;
    }
    Ok(())
}
