//! `conversations.*`: open, info, members, history, replies, list, join, leave.

use serde_json::{Value, json};

use super::entry::{Args, Call};
use crate::workspace::args::{bool_arg, cursor, list_arg, num_arg, parse_cursor, str_arg};
use crate::workspace::{Kind, Reply, Workspace};

/// The scope conversations.open needs of a bot: `im:write` for a DM, `mpim:write` for a group
/// DM (api.slack.com/methods/conversations.open, "Required scopes").
pub(super) fn open_scope(args: &Args) -> &'static str {
    if list_arg(args, "users").is_some_and(|u| u.is_ok_and(|u| u.len() > 1)) {
        "mpim:write"
    } else {
        "im:write"
    }
}

/// api.slack.com/methods/conversations.open: a conversation by `channel`, or the DM (group DM)
/// with `users`, opened if new. `users` is a comma-separated string, or, in a JSON body, an
/// array of user ids (see [`list_arg`]).
pub(super) fn open(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    if let Some(channel) = str_arg(args, "channel") {
        return match ws.channels.get(channel) {
            Some(ch) => Reply::ok(json!({"channel": ws.channel_json(ch, me)})),
            None => Reply::error("channel_not_found"),
        };
    }
    let mut list = match list_arg(args, "users") {
        None => return Reply::error("users_list_not_supplied"),
        Some(Err(())) => return Reply::error("invalid_arguments"),
        Some(Ok(list)) => list,
    };
    if list.iter().any(|u| !ws.users.contains_key(u)) {
        return Reply::error("user_not_found");
    }
    if list.len() > 8 {
        return Reply::error("too_many_users");
    }
    list.push(me.to_owned());
    let existed_before = ws.channels.len();
    let id = ws.open_conversation(list);
    let ch = &ws.channels[&id];
    let mut body = if bool_arg(args, "return_im") {
        json!({"channel": ws.channel_json(ch, me)})
    } else {
        json!({"channel": {"id": id}})
    };
    if ws.channels.len() == existed_before {
        body["no_op"] = true.into();
        body["already_open"] = true.into();
    }
    Reply::ok(body)
}

/// api.slack.com/methods/conversations.info.
pub(super) fn info(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    match str_arg(args, "channel").and_then(|c| ws.visible(c, me)) {
        Some(ch) => {
            let mut channel = ws.channel_json(ch, me);
            if bool_arg(args, "include_num_members") {
                channel["num_members"] = ch.members.len().into();
            }
            Reply::ok(json!({"channel": channel}))
        }
        None => Reply::error("channel_not_found"),
    }
}

/// api.slack.com/methods/conversations.members: paginated with cursors.
pub(super) fn members(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(ch) = str_arg(args, "channel").and_then(|c| ws.visible(c, me)) else {
        return Reply::error("channel_not_found");
    };
    let limit = num_arg(args, "limit").unwrap_or(100).clamp(1, 1000) as usize;
    let start = match str_arg(args, "cursor") {
        Some(c) => match parse_cursor(c) {
            Some(n) => n,
            None => return Reply::error("invalid_cursor"),
        },
        None => 0,
    };
    let page: Vec<&String> = ch.members.iter().skip(start).take(limit).collect();
    let next = if start + page.len() < ch.members.len() {
        cursor(start + page.len())
    } else {
        String::new()
    };
    Reply::ok(json!({"members": page, "response_metadata": {"next_cursor": next}}))
}

/// The timestamp of a stored message as a number, for `oldest`/`latest` windows.
fn ts_of(message: &Value) -> f64 {
    message
        .get("ts")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// The time window of `oldest`, `latest` and `inclusive` (api.slack.com/methods/
/// conversations.history and conversations.replies, "Arguments"): `latest` defaults to now,
/// `oldest` to 0, and a message with the very timestamp of either is left out unless
/// `inclusive` is set.
fn in_window(args: &Args) -> impl Fn(&Value) -> bool + use<> {
    let inclusive = bool_arg(args, "inclusive");
    let parse = |v: Option<&str>| v.and_then(|s| s.parse::<f64>().ok());
    let latest = parse(str_arg(args, "latest"));
    let oldest = parse(str_arg(args, "oldest"));
    move |m: &Value| {
        let ts = ts_of(m);
        let below = latest.is_none_or(|l| if inclusive { ts <= l } else { ts < l });
        let above = oldest.is_none_or(|o| if inclusive { ts >= o } else { ts > o });
        below && above
    }
}

/// One page of `messages` from the `cursor` argument on, at most `limit` (`default_limit`
/// unless given; at most 999), `metadata` only with `include_all_metadata`, with `has_more`
/// and the next cursor.
fn page_of(args: &Args, messages: Vec<Value>, default_limit: u64) -> Reply {
    let limit = num_arg(args, "limit")
        .unwrap_or(default_limit)
        .clamp(1, 999) as usize;
    let start = match str_arg(args, "cursor") {
        Some(c) => match parse_cursor(c) {
            Some(n) => n,
            None => return Reply::error("invalid_cursor"),
        },
        None => 0,
    };
    let total = messages.len();
    let mut page: Vec<Value> = messages.into_iter().skip(start).take(limit).collect();
    if !bool_arg(args, "include_all_metadata") {
        for m in &mut page {
            if let Some(o) = m.as_object_mut() {
                o.remove("metadata");
            }
        }
    }
    let has_more = start + page.len() < total;
    let next = if has_more {
        cursor(start + page.len())
    } else {
        String::new()
    };
    Reply::ok(json!({
        "messages": page,
        "has_more": has_more,
        "response_metadata": {"next_cursor": next},
    }))
}

/// api.slack.com/methods/conversations.history: newest first, thread replies left out, in the
/// `oldest`/`latest` window, 100 a page unless `limit` says, `metadata` only with
/// `include_all_metadata`.
pub(super) fn history(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(ch) = str_arg(args, "channel").and_then(|c| ws.visible(c, me)) else {
        return Reply::error("channel_not_found");
    };
    if !ch.members.iter().any(|m| m == me) {
        return Reply::error("not_in_channel");
    }
    let window = in_window(args);
    let roots: Vec<Value> = ch
        .messages
        .iter()
        .rev()
        .filter(|m| {
            let ts = m.get("ts").and_then(Value::as_str).unwrap_or_default();
            match m.get("thread_ts").and_then(Value::as_str) {
                Some(t) => t == ts,
                None => true,
            }
        })
        .filter(|m| window(m))
        .cloned()
        .collect();
    let mut reply = page_of(args, roots, 100);
    reply.body["pin_count"] = 0.into();
    reply
}

/// api.slack.com/methods/conversations.replies: the thread's root and its replies, oldest
/// first; `ts` may name the root or any reply. Like `history`: the `oldest`/`latest` window,
/// `limit` (1 000 by default) and cursors, `metadata` only with `include_all_metadata`.
pub(super) fn replies(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(ch) = str_arg(args, "channel").and_then(|c| ws.visible(c, me)) else {
        return Reply::error("channel_not_found");
    };
    if !ch.members.iter().any(|m| m == me) {
        return Reply::error("not_in_channel");
    }
    let Some(ts) = str_arg(args, "ts") else {
        return Reply::error("thread_not_found");
    };
    let Some(parent) = ws.find_message(&ch.id, ts) else {
        return Reply::error("thread_not_found");
    };
    let root = parent
        .get("thread_ts")
        .and_then(Value::as_str)
        .unwrap_or(ts)
        .to_owned();
    let window = in_window(args);
    let messages: Vec<Value> = ch
        .messages
        .iter()
        .filter(|m| {
            m.get("ts").and_then(Value::as_str) == Some(&root)
                || m.get("thread_ts").and_then(Value::as_str) == Some(&root)
        })
        .filter(|m| window(m))
        .cloned()
        .collect();
    page_of(args, messages, 1000)
}

/// api.slack.com/methods/conversations.list: the `types` asked for (public channels unless
/// told), of those the caller may see.
pub(super) fn list(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let types = str_arg(args, "types").unwrap_or("public_channel");
    let wanted: Vec<Kind> = types
        .split(',')
        .filter_map(|t| match t.trim() {
            "public_channel" => Some(Kind::Public),
            "private_channel" => Some(Kind::Private),
            "im" => Some(Kind::Im),
            "mpim" => Some(Kind::Mpim),
            _ => None,
        })
        .collect();
    let channels: Vec<Value> = ws
        .channels
        .values()
        .filter(|c| wanted.contains(&c.kind))
        .filter(|c| c.kind == Kind::Public || c.members.iter().any(|m| m == me))
        .map(|c| ws.channel_json(c, me))
        .collect();
    Reply::ok(json!({"channels": channels, "response_metadata": {"next_cursor": ""}}))
}

/// api.slack.com/methods/conversations.join: public channels only; `already_in_channel` as a
/// warning.
pub(super) fn join(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(id) = str_arg(args, "channel") else {
        return Reply::error("channel_not_found");
    };
    let Some(kind) = ws.channels.get(id).map(|c| c.kind) else {
        return Reply::error("channel_not_found");
    };
    if kind != Kind::Public {
        return Reply::error("method_not_supported_for_channel_type");
    }
    let joined = ws.join(me, id);
    let mut body = json!({"channel": ws.channel_json(&ws.channels[id], me)});
    if !joined {
        body["warning"] = "already_in_channel".into();
        body["response_metadata"] = json!({"warnings": ["already_in_channel"]});
    }
    Reply::ok(body)
}

/// api.slack.com/methods/conversations.leave: `not_in_channel: true` if the caller was not in
/// it.
pub(super) fn leave(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(id) = str_arg(args, "channel") else {
        return Reply::error("channel_not_found");
    };
    if ws.visible(id, me).is_none() {
        return Reply::error("channel_not_found");
    }
    if ws.leave(me, id) {
        Reply::ok(json!({}))
    } else {
        Reply::ok(json!({"not_in_channel": true}))
    }
}
