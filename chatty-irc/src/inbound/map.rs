//! Inbound mapping: what one line from the server means for the bot (signals), for the
//! connection (a `PONG`, an own line echoed) and for the session's state (nick, channels,
//! members, batches).

use chatty_core::{
    Automatic, Body, DeliveryStatus, FailureKind, Message, SendFailure, Signal, SignalId, Status,
    StatusChange, TypingState, now,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{catch_up, rejoin};
use crate::history::{ID_TAG, PRIVATE_MARK, Position, Selected, mark_name};
use crate::proto::CaseMapping;
use crate::proto::REPLY_TAG;
use crate::proto::{CHATHISTORY_CAP, Line};
use crate::react::{self, REACT_TAG};
use crate::state::Shared;

pub(crate) use super::effect::Effect;

/// The CTCP ACTION (`/me`) prefix of a PRIVMSG's text.
const ACTION: &str = "\u{1}ACTION ";

/// Maps one line; updates the session's state on the way.
pub(crate) fn handle(shared: &Shared, line: &Line) -> Vec<Effect> {
    let param = |i| line.param(i).unwrap_or_default();
    match line.command.as_str() {
        "PING" => vec![Effect::Send(Line::new("PONG", line.params.iter().cloned()))],
        "ERROR" => vec![Effect::Closing(param(0).to_owned())],
        "005" => {
            // `005 nick TOKEN… :are supported`: the tokens between the nick and the text.
            let tokens = line.params.len().saturating_sub(2);
            let mut effects = Vec::new();
            for token in line.params.iter().skip(1).take(tokens) {
                if let Some(types) = token.strip_prefix("CHANTYPES=") {
                    shared.live().chantypes = types.to_owned();
                }
                // How names compare; a mapping not known here leaves RFC 1459's.
                if let Some(mapping) = token
                    .strip_prefix("CASEMAPPING=")
                    .and_then(CaseMapping::from_token)
                {
                    shared.live().casemapping = mapping;
                    shared.history().casemapping = mapping;
                }
                // `CHATHISTORY=limit` (0: no limit) where `draft/chathistory` was acknowledged.
                if let Some(limit) = token.strip_prefix("CHATHISTORY=") {
                    let mut live = shared.live();
                    if live.has(CHATHISTORY_CAP) {
                        let limit = limit.parse().unwrap_or(0);
                        if live.chathistory.is_none() {
                            effects.push(Effect::Targets);
                        }
                        live.chathistory = Some(if limit == 0 { 100 } else { limit.min(100) });
                    }
                }
            }
            effects
        }
        // `CHATHISTORY TARGETS <target> <time>`: one who wrote (a nick) or where (a channel,
        // caught up on joining it).
        "CHATHISTORY" if param(0) == "TARGETS" => {
            let live = shared.live();
            let target = param(1);
            if target.is_empty() || live.is_channel(target) || live.is_own(target) {
                return vec![];
            }
            vec![Effect::Target(live.fold(target))]
        }
        // RPL_VISIBLEHOST: the host others see (a cloak).
        "396" => {
            shared.live().host = Some(param(1).to_owned());
            vec![]
        }
        // RPL_NAMREPLY: `353 me = #chan :@alice +bob carol`.
        "353" => {
            let mut live = shared.live();
            let channel = live.fold(param(2));
            if let Some(members) = live.channels.get_mut(&channel) {
                for name in param(3).split(' ').filter(|n| !n.is_empty()) {
                    let nick = name.trim_start_matches(['@', '+', '%', '&', '~', '!']);
                    let nick = nick.split('!').next().unwrap_or(nick);
                    members.insert(nick.to_owned());
                }
            }
            vec![]
        }
        "BATCH" => batch(shared, line),
        "NICK" => {
            let (Some(old), new) = (line.nick(), param(0)) else {
                return vec![];
            };
            let mut live = shared.live();
            if live.is_own(old) {
                new.clone_into(&mut live.nick);
            }
            for members in live.channels.values_mut() {
                if members.remove(old) {
                    members.insert(new.to_owned());
                }
            }
            vec![]
        }
        // ERR_NOSUCHNICK, ERR_NOSUCHCHANNEL, ERR_CANNOTSENDTOCHAN: a message that failed.
        "401" | "403" | "404" => send_failed(shared, line),
        code if rejoin::REFUSALS.contains(&code) => rejoin::refused(shared, line),
        "JOIN" => join(shared, line),
        "PART" | "KICK" | "QUIT" => leave(shared, line),
        "PRIVMSG" | "NOTICE" => message(shared, line),
        "TAGMSG" if line.tag(REACT_TAG).is_some() => react::inbound(shared, line)
            .map(|signal| Effect::Push(Box::new(signal)))
            .into_iter()
            .collect(),
        "TAGMSG" => typing(shared, line),
        _ => vec![],
    }
}

/// The metadata every inbound signal shares: id from `msgid`, sent time from `time`.
fn stamp(line: &Line, mut signal: Signal) -> Signal {
    if let Some(id) = line.tag("msgid") {
        signal.meta.id = SignalId::from(id);
    }
    signal.meta.sent = line
        .tag("time")
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    signal.meta.received = Some(now());
    signal
}

/// A room presence signal from `nick` for `channel`.
fn in_room(
    shared: &Shared,
    line: &Line,
    nick: &str,
    channel: &str,
    present: bool,
    reason: Option<&str>,
) -> Option<Effect> {
    let room = shared.channel(channel)?;
    let status = Status::InRoom {
        room: room.clone(),
        present,
        role: None,
    };
    let mut change = StatusChange::new(status);
    if let Some(reason) = reason.filter(|r| !r.is_empty()) {
        change = change.with_message(reason);
    }
    let mut signal = stamp(line, Signal::new(change));
    signal.meta.origin = Some(shared.person(nick)?);
    signal.meta.visible_to = vec![room];
    Some(Effect::Push(Box::new(signal)))
}

fn join(shared: &Shared, line: &Line) -> Vec<Effect> {
    let (Some(source), Some(channel)) = (line.source.as_ref(), line.param(0)) else {
        return vec![];
    };
    let own = {
        let mut live = shared.live();
        let own = live.is_own(&source.nick);
        if own {
            live.user.clone_from(&source.user);
            live.host.clone_from(&source.host);
            let folded = live.fold(channel);
            live.channels.insert(folded, Default::default());
        }
        let folded = live.fold(channel);
        if let Some(members) = live.channels.get_mut(&folded) {
            members.insert(source.nick.clone());
        }
        own
    };
    let mut effects: Vec<Effect> = in_room(shared, line, &source.nick, channel, true, None)
        .into_iter()
        .collect();
    if own {
        rejoin::joined(shared, channel);
        effects.push(Effect::Joined(shared.fold(channel)));
    }
    effects
}

/// `BATCH +ref type params…` opens a batch, `BATCH -ref` closes it: a history batch's
/// messages are held until it closes, then what is new of them is given.
fn batch(shared: &Shared, line: &Line) -> Vec<Effect> {
    let reference = line.param(0).unwrap_or_default();
    if let Some(reference) = reference.strip_prefix('+') {
        let target = line.param(2).map(|t| shared.fold(t));
        let kind = line.param(1).unwrap_or_default();
        shared.history().open(reference, kind, target);
        return vec![];
    }
    let Some(reference) = reference.strip_prefix('-') else {
        return vec![];
    };
    let own = shared.live().nick.clone();
    let closed = shared.history().close(reference, &own, ID_TAG);
    closed.map(|s| caught_up(shared, s)).unwrap_or_default()
}

/// The effects of a history batch: what is new of it as messages, then the channel's mark.
fn caught_up(shared: &Shared, selected: Selected) -> Vec<Effect> {
    let Selected {
        channel,
        new,
        position,
        gap,
        live,
        count,
    } = selected;
    let mut effects = Vec::new();
    // An answer to CHATHISTORY AFTER starts after the position's message, so only a history
    // replayed on join can tell a gap.
    if gap && shared.live().chathistory.is_none() {
        effects.push(Effect::Report(format!(
            "messages in {channel} from while the bot was away may be missing: the server's \
             history no longer reaches back to the last one the bot was given"
        )));
    }
    for line in &new {
        effects.extend(message_of(shared, line, true));
    }
    if let Some(position) = position {
        // A full page of an answer to CHATHISTORY: there may be more after it.
        let limit = shared.live().chathistory;
        if limit.is_some_and(|limit| count >= limit)
            && let Some(ask) = catch_up::request(shared, &channel, &position)
        {
            effects.push(Effect::Send(ask));
        }
        effects.push(Effect::Mark(mark_name(&channel), position.to_mark()));
        let private = !shared.live().is_channel(&channel);
        if private && shared.history().private_given(&position) {
            effects.push(Effect::Mark(PRIVATE_MARK.to_owned(), position.to_mark()));
        }
    }
    // What came live while the history was read, after it.
    for line in &live {
        effects.extend(message_of(shared, line, false));
    }
    effects
}

fn leave(shared: &Shared, line: &Line) -> Vec<Effect> {
    let Some(source) = line.nick() else {
        return vec![];
    };
    let (nick, channels, reason) = match line.command.as_str() {
        "PART" => (
            source,
            vec![line.param(0).unwrap_or_default().to_owned()],
            line.param(1),
        ),
        "KICK" => (
            line.param(1).unwrap_or_default(),
            vec![line.param(0).unwrap_or_default().to_owned()],
            line.param(2),
        ),
        // QUIT: every channel the bot shares with them.
        _ => {
            let live = shared.live();
            let shared_with: Vec<String> = live
                .channels
                .iter()
                .filter(|(_, members)| members.iter().any(|m| live.casemapping.same(m, source)))
                .map(|(channel, _)| channel.clone())
                .collect();
            (source, shared_with, line.param(0))
        }
    };
    let mut effects = Vec::new();
    for channel in channels {
        let kicked = {
            let mut live = shared.live();
            let folded = live.fold(&channel);
            let mapping = live.casemapping;
            if live.is_own(nick) {
                live.channels.remove(&folded);
            } else if let Some(members) = live.channels.get_mut(&folded) {
                members.retain(|m| !mapping.same(m, nick));
            }
            line.command == "KICK" && live.is_own(nick)
        };
        effects.extend(in_room(shared, line, nick, &channel, false, reason));
        if kicked {
            effects.extend(rejoin::kicked(shared, &channel));
        }
    }
    effects
}

fn message(shared: &Shared, line: &Line) -> Vec<Effect> {
    // A line of a history batch, or of its conversation while one is read, waits for the
    // batch's end.
    let sender = {
        let live = shared.live();
        let target = line.param(0).unwrap_or_default();
        let private = !live.is_channel(target) && !live.is_channel(target.get(1..).unwrap_or(""));
        line.nick().filter(|_| private).map(|nick| live.fold(nick))
    };
    if shared.history().hold(line, sender.as_deref()) {
        return vec![];
    }
    message_of(shared, line, false)
}

/// Maps a message, live or (`replayed`) from a history batch, once: a message id given before
/// is dropped; a channel's message moves its position and then its journal mark.
fn message_of(shared: &Shared, line: &Line, replayed: bool) -> Vec<Effect> {
    let (Some(source), Some(target), Some(text)) =
        (line.source.as_ref(), line.param(0), line.param(1))
    else {
        return vec![];
    };
    let (own, channel) = {
        let live = shared.live();
        (live.is_own(&source.nick), live.is_channel(target))
    };
    // STATUSMSG (`@#chat`: to the channel's operators only) is still the channel's.
    let (target, channel) = match target.strip_prefix(['@', '+', '%', '~', '&']) {
        Some(rest) if !channel && shared.live().is_channel(rest) => (rest, true),
        _ => (target, channel),
    };
    if own {
        if let Some(id) = line.tag(ID_TAG) {
            shared.history().left(id);
            // Its msgid (also from a history), for a reaction to it.
            shared
                .msgids()
                .echoed(&SignalId::from(id), line.tag("msgid"));
        }
        // The bot's own lines in a history batch are no echoes of lines waiting.
        return if replayed { vec![] } else { echo(shared, line) };
    }
    // Server notices (no user@host) are not messages to the bot.
    if source.user.is_none() {
        return vec![];
    }
    // The conversation whose position the message moves: its channel, or (where the server
    // keeps private history) the private conversation with its sender.
    let (folded, private) = {
        let live = shared.live();
        if channel {
            (Some(live.fold(target)), false)
        } else if live.chathistory.is_some() {
            (Some(live.fold(&source.nick)), true)
        } else {
            (None, false)
        }
    };
    if !replayed && !shared.history().given(folded.as_deref(), line) {
        return vec![];
    }
    let text = match text.strip_prefix(ACTION) {
        Some(action) => format!("/me {}", action.trim_end_matches('\u{1}')),
        // Other CTCP (VERSION, PING, …) queries are not messages.
        None if text.starts_with('\u{1}') => return vec![],
        None => text.to_owned(),
    };
    let Some(origin) = shared.person(&source.nick) else {
        return vec![];
    };
    let mut signal = stamp(line, Signal::new(Message::text(text)));
    signal.meta.origin = Some(origin);
    // A reply names the message it answers by its msgid (`+draft/reply`; `+reply` once the
    // specification is ratified).
    signal.meta.response_to = line
        .tag(REPLY_TAG)
        .or_else(|| line.tag("+reply"))
        .filter(|id| !id.is_empty())
        .map(SignalId::from);
    if channel {
        let Some(room) = shared.channel(target) else {
            return vec![];
        };
        signal.meta.addressees = vec![room.clone()];
        signal.meta.visible_to = vec![room];
    } else {
        signal.meta.addressees = shared.own().into_iter().collect();
    }
    if line.command == "NOTICE" {
        // NOTICE is IRC's automatic traffic: never to be answered automatically (RFC 2812).
        signal.meta.automatic = Some(Automatic::Generated);
    }
    // A reaction can name it.
    if let Some(msgid) = line.tag("msgid") {
        shared.msgids().seen(msgid);
    }
    let mut effects = vec![Effect::Push(Box::new(signal))];
    // A batch marks once, after its last message.
    if let (Some(folded), false) = (folded, replayed)
        && let Some(position) = Position::of(line)
    {
        effects.push(Effect::Mark(mark_name(&folded), position.to_mark()));
        if private && shared.history().private_given(&position) {
            effects.push(Effect::Mark(PRIVATE_MARK.to_owned(), position.to_mark()));
        }
    }
    effects
}

/// A reply saying a message of the bot failed (`401 me nick :No such nick`): the signal it
/// was the last line of, by its `label` (labeled-response), else the last one sent to that
/// target, comes back as a [`SendFailure`].
fn send_failed(shared: &Shared, line: &Line) -> Vec<Effect> {
    let (Some(target), text) = (line.param(1), line.param(2).unwrap_or_default()) else {
        return vec![];
    };
    let id = {
        let mut live = shared.live();
        let labeled = line.tag("label").and_then(|label| {
            let at = live
                .echoes
                .iter()
                .position(|e| e.label.as_deref() == Some(label))?;
            let echo = live.echoes.remove(at)?;
            // It reached the server, which answered: the confirmation is the failure.
            if let Some(done) = echo.done {
                let _ = done.send(());
            }
            echo.confirms
        });
        match labeled {
            Some(id) => {
                let target = live.fold(target);
                live.sent_to.remove(&target);
                Some(id)
            }
            None if line.tag("label").is_some() => None,
            None => {
                let target = live.fold(target);
                live.sent_to.remove(&target)
            }
        }
    };
    let Some(id) = id else {
        return vec![];
    };
    let kind = match line.command.as_str() {
        "404" => FailureKind::Rejected,
        _ => FailureKind::UnknownAddressee,
    };
    let words = if text.is_empty() {
        format!("{target}: the server refused the message")
    } else {
        format!("{target}: {text}")
    };
    let failure = SendFailure::new(id.clone(), kind, words.clone()).with_code(&line.command);
    let mut signal = Signal::new(failure);
    signal.meta.response_to = Some(id.clone());
    signal.meta.sent = Some(now());
    let is_channel = shared.live().is_channel(target);
    signal.meta.origin = if is_channel {
        shared.channel(target)
    } else {
        shared.person(target)
    };
    signal.meta.addressees = shared.own().into_iter().collect();
    // A machine's answer: never one to answer in turn.
    signal.meta.automatic = Some(Automatic::Report);
    vec![
        Effect::Failed(
            id,
            DeliveryStatus::Failed {
                kind,
                message: words,
            },
        ),
        Effect::Push(Box::new(signal)),
    ]
}

/// An echo of the bot's own line (echo-message): matched by its label, else the oldest.
fn echo(shared: &Shared, line: &Line) -> Vec<Effect> {
    let mut live = shared.live();
    let found = match line.tag("label") {
        Some(label) => live
            .echoes
            .iter()
            .position(|e| e.label.as_deref() == Some(label)),
        None if live.echoes.is_empty() => None,
        None => Some(0),
    };
    let echo = found.and_then(|at| live.echoes.remove(at));
    let Some(echo) = echo else {
        return vec![];
    };
    if let Some(done) = echo.done {
        let _ = done.send(());
    }
    drop(live);
    // Its msgid, for a reaction to it.
    if let Some(id) = &echo.confirms {
        shared.msgids().echoed(id, line.tag("msgid"));
    }
    echo.confirms.map(Effect::Confirmed).into_iter().collect()
}

/// A `TAGMSG` with `+typing` (or the older `+draft/typing`).
fn typing(shared: &Shared, line: &Line) -> Vec<Effect> {
    let (Some(nick), Some(target)) = (line.nick(), line.param(0)) else {
        return vec![];
    };
    let Some(value) = line.tag("+typing").or_else(|| line.tag("+draft/typing")) else {
        return vec![];
    };
    let state = match value {
        "active" => TypingState::Composing,
        "paused" => TypingState::Paused,
        "done" => TypingState::Active,
        _ => return vec![],
    };
    let (own, channel) = {
        let live = shared.live();
        (live.is_own(nick), live.is_channel(target))
    };
    if own {
        return vec![];
    }
    let conversation = if channel {
        shared.channel(target)
    } else {
        shared.person(nick)
    };
    let (Some(conversation), Some(origin)) = (conversation, shared.person(nick)) else {
        return vec![];
    };
    let status = Status::Typing {
        conversation: conversation.clone(),
        state,
    };
    let mut signal = stamp(
        line,
        Signal::new(Body::StatusChange(StatusChange::new(status))),
    );
    signal.meta.origin = Some(origin);
    if channel {
        signal.meta.visible_to = vec![conversation];
    } else {
        signal.meta.addressees = shared.own().into_iter().collect();
    }
    vec![Effect::Push(Box::new(signal))]
}
