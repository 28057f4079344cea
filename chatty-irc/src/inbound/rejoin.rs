//! Joining a channel again after the bot was kicked from it: after a short wait that doubles
//! with each try ([`IrcConfig::rejoin_delay`](crate::IrcConfig::rejoin_delay)), giving up after
//! `rejoin_attempts` tries, or at once on a ban (`474`). The kick itself reaches the bot as its
//! own room presence ending (`InRoom`, `present: false`, the reason as the status message), a
//! join again as its presence starting; giving up, and a join the server refuses, as a
//! `SystemError`.

use std::time::{Duration, Instant};

use chatty_core::Secret;

use super::effect::Effect;
use crate::config::IrcConfig;
use crate::kicks::Rejoin;
use crate::proto::{CaseMapping, Line};
use crate::state::Shared;

/// Kicks within this long of the first count their tries together (a channel that kicks the
/// bot each time it comes back is given up too).
const SERIES: Duration = Duration::from_secs(600);

/// The numerics refusing a `JOIN`: too many channels, full, invite only, banned, bad key,
/// registered nicks only, TLS only.
pub(crate) const REFUSALS: [&str; 7] = ["405", "471", "473", "474", "475", "477", "489"];

/// The bot was kicked from `channel`: a `JOIN` after the next wait, or giving up.
pub(crate) fn kicked(shared: &Shared, channel: &str) -> Vec<Effect> {
    if shared.config.rejoin_attempts == 0 {
        return vec![];
    }
    let mut live = shared.live();
    let key = live.fold(channel);
    let mapping = live.casemapping;
    let fresh = || Rejoin {
        name: channel.to_owned(),
        tries: 0,
        since: Instant::now(),
        pending: false,
    };
    let rejoin = live
        .rejoins
        .entry(key.clone())
        .and_modify(|r| {
            if r.since.elapsed() > SERIES {
                *r = fresh();
            }
        })
        .or_insert_with(fresh);
    let effect = again(
        &shared.config,
        mapping,
        rejoin,
        "kicked each time it came back",
    );
    if effect.is_report() {
        live.rejoins.remove(&key);
    }
    vec![effect]
}

/// A numeric refusing a `JOIN` (`474 me #chat :Cannot join channel (+b)`): another try after
/// the next wait for a channel the bot was kicked from (none on a ban), else the bot is told.
pub(crate) fn refused(shared: &Shared, line: &Line) -> Vec<Effect> {
    let Some(channel) = line.param(1) else {
        return vec![];
    };
    let text = line.param(2).unwrap_or_default();
    let why = format!("{text} ({})", line.command);
    let mut live = shared.live();
    let key = live.fold(channel);
    let mapping = live.casemapping;
    let Some(rejoin) = live.rejoins.get_mut(&key).filter(|r| r.pending) else {
        return vec![Effect::Report(format!("joining {channel} failed: {why}"))];
    };
    rejoin.pending = false;
    let effect = if line.command == "474" {
        Effect::Report(format!(
            "{channel}: the bot was kicked and is banned now ({why}): it does not join again"
        ))
    } else {
        again(&shared.config, mapping, rejoin, &why)
    };
    if effect.is_report() {
        live.rejoins.remove(&key);
    }
    vec![effect]
}

/// The bot joined `channel` (its own `JOIN` echoed): a try that succeeded.
pub(crate) fn joined(shared: &Shared, channel: &str) {
    let mut live = shared.live();
    let key = live.fold(channel);
    if let Some(rejoin) = live.rejoins.get_mut(&key) {
        rejoin.pending = false;
    }
}

/// Whether `join`, a try whose wait is over, is still wanted: the bot did not leave the
/// channel meanwhile (nor did a new connection start).
pub(crate) fn wanted(shared: &Shared, join: &Line) -> bool {
    let Some(channel) = join.param(0) else {
        return false;
    };
    let live = shared.live();
    live.rejoins
        .get(&live.fold(channel))
        .is_some_and(|r| r.pending)
}

/// The next try for `rejoin` (a `JOIN` after its wait), or, with every try used, giving up
/// (`last`: what went wrong the last time).
fn again(config: &IrcConfig, mapping: CaseMapping, rejoin: &mut Rejoin, last: &str) -> Effect {
    if rejoin.tries >= config.rejoin_attempts {
        return Effect::Report(format!(
            "{}: the bot was kicked and could not join again in {} tries (last: {last}): it \
             does not try again",
            rejoin.name, rejoin.tries
        ));
    }
    rejoin.tries += 1;
    rejoin.pending = true;
    let mut params = vec![rejoin.name.clone()];
    let configured = config
        .channels
        .iter()
        .find(|c| mapping.same(&c.name, &rejoin.name));
    if let Some(key) = configured.and_then(|c| c.key.as_ref()).and_then(reveal) {
        params.push(key);
    }
    Effect::Rejoin(config.rejoin_delay(rejoin.tries), Line::new("JOIN", params))
}

fn reveal(key: &Secret) -> Option<String> {
    key.reveal().ok().map(|k| k.expose().to_owned())
}
