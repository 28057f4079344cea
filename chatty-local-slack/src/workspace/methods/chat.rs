//! `chat.*`: chat.postMessage, chat.update, chat.delete.

use serde_json::{Value, json};

use super::entry::Call;
use crate::workspace::args::{json_arg, str_arg};
use crate::workspace::blocks;
use crate::workspace::{Caller, Kind, Reply, Workspace};

/// api.slack.com/methods/chat.postMessage: `channel` is a conversation id, or a user id for
/// the DM with that user; `blocks` are stored (and checked against Block Kit's limits:
/// `invalid_blocks` with `errors`, as Slack answers).
pub(super) fn post_message(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(target) = str_arg(args, "channel").map(str::to_owned) else {
        return Reply::error("channel_not_found");
    };
    let channel =
        if (target.starts_with('U') || target.starts_with('W')) && ws.users.contains_key(&target) {
            ws.open_conversation(vec![me.to_owned(), target.clone()])
        } else {
            target
        };
    let Some(ch) = ws.channels.get(&channel) else {
        return Reply::error("channel_not_found");
    };
    let member = ch.members.iter().any(|m| m == me);
    if !member {
        return Reply::error(if ch.kind == Kind::Public {
            "not_in_channel"
        } else {
            "channel_not_found"
        });
    }
    let text = str_arg(args, "text").map(str::to_owned);
    let blocks = json_arg(args, "blocks");
    if blocks == Some(Value::Null) {
        return Reply::error("invalid_blocks");
    }
    if let Some(b) = &blocks
        && let Err(refused) = blocks::check(b)
    {
        return refused;
    }
    if text.is_none() && blocks.is_none() {
        return Reply::error("no_text");
    }
    if text.as_ref().is_some_and(|t| t.chars().count() > 40_000) {
        return Reply::error("msg_too_long");
    }
    let thread_ts = str_arg(args, "thread_ts").map(str::to_owned);
    if let Some(t) = &thread_ts
        && ws.find_message(&channel, t).is_none()
    {
        // Slack posts to the channel when the parent does not exist; it does not fail.
        tracing::debug!(thread_ts = %t, "no such parent: posting to the channel");
    }
    let mut message = json!({"user": me, "text": text.clone().unwrap_or_default()});
    if let Some(b) = blocks {
        message["blocks"] = b;
    }
    if let Some(t) = thread_ts.filter(|t| ws.find_message(&channel, t).is_some()) {
        message["thread_ts"] = t.into();
    }
    if let Some(meta) = json_arg(args, "metadata") {
        if meta.get("event_type").and_then(Value::as_str).is_none()
            || !meta.get("event_payload").is_some_and(Value::is_object)
        {
            return Reply::error("invalid_metadata_format");
        }
        message["metadata"] = meta;
    }
    if let Caller::Bot { app } = call.caller
        && let Some(a) = ws.apps.get(app)
    {
        message["bot_id"] = a.bot_id.clone().into();
        message["app_id"] = a.id.clone().into();
        message["bot_profile"] = ws.bot_profile(a);
    }
    let stored = ws.post(&channel, message);
    let ts = stored.get("ts").cloned().unwrap_or(Value::Null);
    Reply::ok(json!({"channel": channel, "ts": ts, "message": stored}))
}

/// api.slack.com/methods/chat.update: the caller's own message, with `message_changed`.
pub(super) fn update(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let args = call.args;
    let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts")) else {
        return Reply::error(if str_arg(args, "channel").is_none() {
            "channel_not_found"
        } else {
            "message_not_found"
        });
    };
    let text = str_arg(args, "text");
    let blocks = json_arg(args, "blocks");
    if text.is_none() && blocks.is_none() {
        return Reply::error("no_text");
    }
    if let Some(b) = &blocks
        && let Err(refused) = blocks::check(b)
    {
        return refused;
    }
    match ws.edit(call.me, channel, ts, text, blocks) {
        Ok(message) => Reply::ok(json!({
            "channel": channel,
            "ts": ts,
            "text": message.get("text").cloned().unwrap_or_default(),
            "message": message,
        })),
        Err(code) => Reply::error(code),
    }
}

/// api.slack.com/methods/chat.delete: the caller's own message, with `message_deleted`.
pub(super) fn delete(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let args = call.args;
    let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts")) else {
        return Reply::error("message_not_found");
    };
    match ws.delete(call.me, channel, ts) {
        Ok(()) => Reply::ok(json!({"channel": channel, "ts": ts})),
        Err(code) => Reply::error(code),
    }
}
