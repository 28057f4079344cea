//! `reactions.*`: reactions.add, reactions.remove, reactions.get (of messages; reactions to
//! files and file comments are not kept).

use serde_json::json;

use super::entry::{Args, Call};
use crate::workspace::args::str_arg;
use crate::workspace::{Reply, Workspace};

/// The `channel`, `timestamp` and `name` arguments; `no_item_specified` without channel or
/// timestamp, `invalid_name` without a name (api.slack.com/methods/reactions.add, "Errors").
fn item(args: &Args) -> Result<(&str, &str, &str), Reply> {
    let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "timestamp")) else {
        return Err(Reply::error("no_item_specified"));
    };
    let name = str_arg(args, "name").ok_or_else(|| Reply::error("invalid_name"))?;
    Ok((channel, ts, name))
}

/// api.slack.com/methods/reactions.add: `{"ok": true}`, or `already_reacted`,
/// `message_not_found`, `invalid_name`, `channel_not_found`, `no_item_specified`.
pub(super) fn add(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    match item(call.args) {
        Ok((channel, ts, name)) => match ws.react(call.me, channel, ts, name) {
            Ok(()) => Reply::ok(json!({})),
            Err(code) => Reply::error(code),
        },
        Err(refused) => refused,
    }
}

/// api.slack.com/methods/reactions.remove: `{"ok": true}`, or `no_reaction`,
/// `message_not_found`, `invalid_name`, `channel_not_found`, `no_item_specified`.
pub(super) fn remove(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    match item(call.args) {
        Ok((channel, ts, name)) => match ws.unreact(call.me, channel, ts, name) {
            Ok(()) => Reply::ok(json!({})),
            Err(code) => Reply::error(code),
        },
        Err(refused) => refused,
    }
}

/// api.slack.com/methods/reactions.get: `{"ok": true, "type": "message", "channel": …,
/// "message": …}`, the message with its `reactions` (each with every user: `full` changes
/// nothing here, where no list is cut short).
pub(super) fn get(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let args = call.args;
    let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "timestamp")) else {
        return Reply::error("no_item_specified");
    };
    if ws.visible(channel, call.me).is_none() {
        return Reply::error("channel_not_found");
    }
    match ws.find_message(channel, ts) {
        Some(message) => {
            let mut message = message.clone();
            if let Some(m) = message.as_object_mut() {
                m.remove("metadata");
            }
            Reply::ok(json!({"type": "message", "channel": channel, "message": message}))
        }
        None => Reply::error("message_not_found"),
    }
}
