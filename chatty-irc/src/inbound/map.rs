//! Inbound mapping: what one line from the server means for the bot (signals), for the
//! connection (a `PONG`, an own line echoed) and for the session's state (nick, channels,
//! members, batches).

use chatty_core::{
    Automatic, Body, Message, Signal, SignalId, Status, StatusChange, TypingState, now,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::proto::Line;
use crate::state::{Shared, fold};

/// What a line asks of the serving loop.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Give the bot this signal.
    Push(Box<Signal>),
    /// Send this line (a `PONG`).
    Send(Line),
    /// The server echoed a line the bot sent: this signal reached the server.
    Confirmed(SignalId),
    /// The server closes the connection (`ERROR`), with its words.
    Closing(String),
}

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
            for token in line.params.iter().skip(1).take(tokens) {
                if let Some(types) = token.strip_prefix("CHANTYPES=") {
                    shared.live().chantypes = types.to_owned();
                }
            }
            vec![]
        }
        // RPL_VISIBLEHOST: the host others see (a cloak).
        "396" => {
            shared.live().host = Some(param(1).to_owned());
            vec![]
        }
        // RPL_NAMREPLY: `353 me = #chan :@alice +bob carol`.
        "353" => {
            let mut live = shared.live();
            if let Some(members) = live.channels.get_mut(&fold(param(2))) {
                for name in param(3).split(' ').filter(|n| !n.is_empty()) {
                    let nick = name.trim_start_matches(['@', '+', '%', '&', '~', '!']);
                    let nick = nick.split('!').next().unwrap_or(nick);
                    members.insert(nick.to_owned());
                }
            }
            vec![]
        }
        "BATCH" => {
            let reference = param(0);
            let mut live = shared.live();
            if let Some(reference) = reference.strip_prefix('+') {
                live.batches
                    .insert(reference.to_owned(), param(1).to_owned());
            } else if let Some(reference) = reference.strip_prefix('-') {
                live.batches.remove(reference);
            }
            vec![]
        }
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
        "JOIN" => join(shared, line),
        "PART" | "KICK" | "QUIT" => leave(shared, line),
        "PRIVMSG" | "NOTICE" => message(shared, line),
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
    {
        let mut live = shared.live();
        if live.is_own(&source.nick) {
            live.user.clone_from(&source.user);
            live.host.clone_from(&source.host);
            live.channels.insert(fold(channel), Default::default());
        }
        if let Some(members) = live.channels.get_mut(&fold(channel)) {
            members.insert(source.nick.clone());
        }
    }
    in_room(shared, line, &source.nick, channel, true, None)
        .into_iter()
        .collect()
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
                .filter(|(_, members)| members.iter().any(|m| fold(m) == fold(source)))
                .map(|(channel, _)| channel.clone())
                .collect();
            (source, shared_with, line.param(0))
        }
    };
    let mut effects = Vec::new();
    for channel in channels {
        {
            let mut live = shared.live();
            if live.is_own(nick) {
                live.channels.remove(&fold(&channel));
            } else if let Some(members) = live.channels.get_mut(&fold(&channel)) {
                members.retain(|m| fold(m) != fold(nick));
            }
        }
        effects.extend(in_room(shared, line, nick, &channel, false, reason));
    }
    effects
}

fn message(shared: &Shared, line: &Line) -> Vec<Effect> {
    let (Some(source), Some(target), Some(text)) =
        (line.source.as_ref(), line.param(0), line.param(1))
    else {
        return vec![];
    };
    let (own, channel, replayed) = {
        let live = shared.live();
        let replayed = line
            .tag("batch")
            .and_then(|b| live.batches.get(b))
            .is_some_and(|kind| kind.ends_with("chathistory"));
        (live.is_own(&source.nick), live.is_channel(target), replayed)
    };
    // STATUSMSG (`@#chat`: to the channel's operators only) is still the channel's.
    let (target, channel) = match target.strip_prefix(['@', '+', '%', '~', '&']) {
        Some(rest) if !channel && shared.live().is_channel(rest) => (rest, true),
        _ => (target, channel),
    };
    if own {
        return echo(shared, line);
    }
    // Server notices (no user@host) and history replayed on join are not messages to the bot.
    if source.user.is_none() || replayed {
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
    vec![Effect::Push(Box::new(signal))]
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
    echo.and_then(|e| e.confirms)
        .map(Effect::Confirmed)
        .into_iter()
        .collect()
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
