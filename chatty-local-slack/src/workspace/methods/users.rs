//! `users.*`: users.info, users.getPresence, users.setPresence.

use serde_json::json;

use super::entry::Call;
use crate::workspace::args::str_arg;
use crate::workspace::{Reply, Workspace, now_secs};

/// api.slack.com/methods/users.info.
pub(super) fn info(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    match str_arg(call.args, "user").and_then(|u| ws.users.get(u)) {
        Some(u) => Reply::ok(json!({"user": ws.user_json(u)})),
        None => Reply::error("user_not_found"),
    }
}

/// api.slack.com/methods/users.getPresence: the caller's own presence in full, another's as
/// `presence` only.
pub(super) fn get_presence(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let me = call.me;
    let who = str_arg(call.args, "user").unwrap_or(me);
    let Some(u) = ws.users.get(who) else {
        return Reply::error("user_not_found");
    };
    let active = ws.is_active(u);
    let presence = if active { "active" } else { "away" };
    if who == me {
        Reply::ok(json!({
            "presence": presence,
            "online": active,
            "auto_away": false,
            "manual_away": u.manual_away,
            "connection_count": if active { 1 } else { 0 },
            "last_activity": now_secs(),
        }))
    } else {
        Reply::ok(json!({"presence": presence}))
    }
}

/// api.slack.com/methods/users.setPresence: `auto` or `away`.
pub(super) fn set_presence(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let away = match str_arg(call.args, "presence") {
        Some("away") => true,
        Some("auto") => false,
        _ => return Reply::error("invalid_presence"),
    };
    if let Some(u) = ws.users.get_mut(call.me) {
        u.manual_away = away;
    }
    Reply::ok(json!({}))
}
