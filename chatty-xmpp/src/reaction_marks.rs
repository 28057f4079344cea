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

/// Keeps `marks` (what changed in the memory: `Reactions::take_seen_changes` once the
/// signals of the change were handed on, `take_sent_changes` once the bot's stanza is handed to
/// the connection). `Err` once the session is ending (the journal's pipe is gone).
pub(crate) async fn keep(link: &Link, marks: Vec<(String, String)>) -> Result<(), Closed> {
    for (name, value) in marks {
        link.feed_mark(&name, &value).await?;
    }
    Ok(())
}
