//! Outbound reactions: a reaction (`Message::reaction`) is `reactions.add` of the emoji's name
//! ([`crate::emoji`]) on the message it names, placed as corrections are (a message the session
//! sent or saw lately, or a `CHANNEL/TS` id); a retraction of a reaction's id (one the session
//! made, remembered, or one it delivered, `reaction/CHANNEL/TS/USER/NAME`) is
//! `reactions.remove`.

use chatty_core::driver::{Deliveries, lock};
use chatty_core::session::Refusal;
use chatty_core::{DeliveryStatus, EditKind, FailureKind, Message, Signal, SignalId};
use slack_morphism::prelude::*;

use crate::api::{ApiError, Named as _};
use crate::emoji;
use crate::ids::{Ids, Reacted};
use crate::state::{Conn, State};

/// What a message does to reactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// `reactions.add`.
    Add(Reacted),
    /// `reactions.remove` of the reaction the signal `of` made.
    Remove(Reacted, SignalId),
}

/// The change a message makes to reactions: `None` for a message that is neither a reaction
/// nor the retraction of one; a refusal (`rejected`) for a reaction to a message the session
/// cannot place, or whose key names no Slack emoji.
pub(super) fn change(ids: &Ids, message: &Message) -> Option<Result<Change, Refusal>> {
    let edit = message.edit.as_ref()?;
    match edit.kind {
        EditKind::Reaction => {
            let Some(place) = ids.place(&edit.of) else {
                return Some(Err(Refusal::new(
                    FailureKind::Rejected,
                    format!(
                        "cannot react to {}: not a message this session knows on Slack",
                        edit.of
                    ),
                )));
            };
            let Some(name) = emoji::name_of(&message.text) else {
                return Some(Err(Refusal::new(
                    FailureKind::Rejected,
                    format!(
                        "cannot react with {:?} on Slack: Slack names reactions by emoji name \
                         (`thumbsup`, `:tada:`), and this key names none",
                        message.text
                    ),
                )));
            };
            Some(Ok(Change::Add(Reacted {
                channel: place.channel,
                ts: place.ts,
                name,
            })))
        }
        EditKind::Retraction => ids
            .reaction(&edit.of)
            .map(|r| Ok(Change::Remove(r, edit.of.clone()))),
        _ => None,
    }
}

/// Carries a reaction change: the reaction added is remembered by the signal's id, so that a
/// retraction of that id removes it; the one removed is forgotten. `already_reacted` counts as
/// added (the bot's reaction is there: a reaction sent again after a restart is not a failure).
pub(super) async fn carry(
    state: &State,
    conn: &Conn,
    deliveries: &Deliveries,
    signal: &Signal,
    change: Change,
) -> Result<(), Refusal> {
    let session = conn.web.api.session();
    let refused = |(method, e): (&str, ApiError)| e.refusal(method);
    match change {
        Change::Add(reacted) => {
            let request = SlackApiReactionsAddRequest::new(
                reacted.channel.as_str().into(),
                SlackReactionName(reacted.name.clone()),
                SlackTs(reacted.ts.clone()),
            );
            tracing::debug!(channel = %reacted.channel, ts = %reacted.ts, name = %reacted.name, "reactions.add");
            match session.reactions_add(&request).await.named("reactions.add") {
                Ok(_) => {}
                Err((_, e)) if e.code() == Some("already_reacted") => {}
                Err(e) => return Err(refused(e)),
            }
            lock(&state.ids).remember_reaction(signal.meta.id.clone(), reacted);
        }
        Change::Remove(reacted, of) => {
            let request =
                SlackApiReactionsRemoveRequest::new(SlackReactionName(reacted.name.clone()))
                    .with_channel(reacted.channel.as_str().into())
                    .with_timestamp(SlackTs(reacted.ts.clone()));
            session
                .reactions_remove(&request)
                .await
                .named("reactions.remove")
                .map_err(refused)?;
            lock(&state.ids).forget_reaction(&of);
        }
    }
    deliveries.advance(&signal.meta.id, DeliveryStatus::Sent);
    Ok(())
}
